package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sort"
	"time"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/gemm"
	"github.com/minimind-go/minimind/kernels/parallel"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// BenchOptions are the flags of `minimind bench train|generate`.
type BenchOptions struct {
	Model      ModelFlags
	Device     DeviceFlags
	Path       string
	BatchSize  int
	SeqLen     int
	Steps      int
	PromptLen  int
	NewTokens  int
	PeakGFLOPs float64
	GEMM       string
	DType      string
	JSON       bool
}

// AddFlags registers bench's flags.
func (o *BenchOptions) AddFlags(f *pflag.FlagSet, batch int) {
	o.Model.AddFlags(f)
	o.Device.AddFlags(f)
	f.StringVar(&o.Path, "model", "", "benchmark this model (HF directory or .pth) instead of random weights")
	f.IntVar(&o.BatchSize, "batch_size", batch, "sequences per step")
	f.IntVar(&o.Steps, "steps", 5, "timed steps (after one warm-up step); the median is reported")
	f.Float64Var(&o.PeakGFLOPs, "peak_gflops", 0, "fp32 peak for MFU in GFLOP/s (0 = on the CPU, measure it: an FMA loop on every kernel thread before and after the run, the faster counts; other devices report no MFU unless given)")
	f.StringVar(&o.GEMM, "gemm", "auto", "GEMM micro-kernel: auto, avx512, avx2 or generic")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object as the last line")
}

func newBenchCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench train|generate",
		Short: "Measure training and generation speed",
		Long: `Measure how fast this machine trains and runs MiniMind models: the
default-size model (or --model) with random tokens, the median of several
steps after a warm-up. Timings vary with machine load; compare runs made at
the same time.`,
	}
	var tr BenchOptions
	train := &cobra.Command{
		Use:   "train [--batch_size 8] [--max_seq_len 512] [--use_moe] [--steps 5] [--json]",
		Short: "Tokens/s, step time, GFLOP/s and MFU of a training step",
		Long: `Time full training steps (forward, backward, gradient clipping and AdamW)
and print tokens/s, the median step time, the achieved GFLOP/s, the model
FLOPs utilisation against the machine's fp32 peak (measured with an FMA
loop on the kernel threads, or --peak_gflops), and memory.

Examples:
  minimind bench train
  minimind bench train --use_moe --batch_size 4 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchTrain(cmd.Context(), tr, g, cmd.OutOrStdout())
		},
	}
	tr.AddFlags(train.Flags(), 8)
	train.Flags().IntVar(&tr.SeqLen, "max_seq_len", 512, "tokens per sequence")
	var ge BenchOptions
	gen := &cobra.Command{
		Use:   "generate [--batch_size 1] [--prompt_len 128] [--new_tokens 128] [--json]",
		Short: "Prefill and decode tokens/s with the KV cache",
		Long: `Time prompt processing (prefill) and token-by-token decoding with the KV
cache, for --batch_size sequences at once.

Examples:
  minimind bench generate
  minimind bench generate --batch_size 8 --json
  minimind bench generate --dtype q8_0`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchGenerate(cmd.Context(), ge, g, cmd.OutOrStdout())
		},
	}
	ge.AddFlags(gen.Flags(), 1)
	gen.Flags().StringVar(&ge.DType, "dtype", "f32", "inference weight precision: f32, f16 or bf16 (16-bit weights are used for decode steps), or q8_0 (8-bit weights for prefill and decode)")
	gen.Flags().IntVar(&ge.PromptLen, "prompt_len", 128, "prompt tokens per sequence")
	gen.Flags().IntVar(&ge.NewTokens, "new_tokens", 128, "decoded tokens per sequence")
	cmd.AddCommand(train, gen, newBenchServeCommand(g), newBenchScalingCommand(g))
	return cmd
}

func benchModel(opts BenchOptions, g *globalOptions) (*model.Model, func(), error) {
	be, closeBackend, err := selectDevice(g, opts.Device, opts.GEMM)
	if err != nil {
		return nil, nil, err
	}
	var p *model.Params
	if opts.Path != "" {
		p, err = loadModelParams(opts.Path, opts.Model.NumAttentionHeads)
	} else {
		var cfg model.Config
		if cfg, err = opts.Model.Config(); err == nil {
			if p, err = model.NewParams(cfg); err == nil {
				p.Init(1)
			}
		}
	}
	if err != nil {
		closeBackend()
		return nil, nil, err
	}
	return model.New(p, be), closeBackend, nil
}

func median(xs []float64) float64 {
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func randomIDs(n, vocab int, seed uint64) []int32 {
	r := rand.New(rand.NewPCG(seed, 3))
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(3 + r.IntN(vocab-3))
	}
	return ids
}

// backendPool is be's worker pool, or nil for a backend without one.
func backendPool(be kernels.Backend) *parallel.Pool {
	if p, ok := be.(interface{ Pool() *parallel.Pool }); ok {
		return p.Pool()
	}
	return nil
}

// threadReport is how busy the kernel threads were over the timed steps.
type threadReport struct {
	workers int
	total   time.Duration // wall time covered
	busy    float64       // worker time in kernels ÷ (workers × total), the serial part counted as one busy worker
	serial  float64       // share of total outside any kernel: one thread works, the others idle
	tasks   []parallel.TaskStats
}

func newThreadReport(p *parallel.Pool) threadReport {
	tasks, serial := p.Stats()
	r := threadReport{workers: p.Workers(), tasks: tasks}
	var busy time.Duration
	r.total = serial
	for _, t := range tasks {
		r.total += t.Wall
		busy += t.Busy
	}
	if r.total > 0 {
		r.busy = float64(busy+serial) / (float64(r.workers) * float64(r.total))
		r.serial = float64(serial) / float64(r.total)
	}
	return r
}

// print writes the summary line and the kernels that took ≥ 1% of the
// time, with their per-step medians (ms, GFLOP/s where counted).
func (r threadReport) print(w io.Writer, perStep map[string]kernelTime) {
	if r.total <= 0 {
		return
	}
	fmt.Fprintf(w, "threads     %d, busy %.1f%% of the time; serial (between kernels) %.1f%% of wall time\n",
		r.workers, 100*r.busy, 100*r.serial)
	for _, t := range r.tasks {
		share := float64(t.Wall) / float64(r.total)
		if share < 0.01 {
			continue
		}
		rate := ""
		if k := perStep[t.Name]; k.GFLOPs > 0 {
			rate = fmt.Sprintf(", %6.1f GFLOP/s", k.GFLOPs)
		}
		fmt.Fprintf(w, "  %-24s %5.1f%% of wall time, %8.1f ms/step, %6d calls, %5.1f%% parallel efficiency%s\n",
			t.Name, 100*share, perStep[t.Name].MS, t.Calls, 100*t.Efficiency(r.workers), rate)
	}
}

// kernelTime is one kernel's share of a training step: milliseconds of
// wall time in its pool calls and, for kernels that count their FLOPs
// (GEMMs, attention), the rate achieved.
type kernelTime struct {
	MS     float64 `json:"ms"`
	GFLOPs float64 `json:"gflops,omitempty"`
}

// serialName is the kernels entry for the time outside any pool call
// (model code between kernels, one thread working).
const serialName = "(serial)"

// kernelSteps collects per-step kernel times from cumulative pool
// statistics: add takes a snapshot after each step and keeps the
// difference from the previous one.
type kernelSteps struct {
	prev  map[string]parallel.TaskStats
	prevS time.Duration
	steps []map[string]kernelTime
}

func (k *kernelSteps) add(tasks []parallel.TaskStats, serial time.Duration) {
	step := map[string]kernelTime{}
	cur := map[string]parallel.TaskStats{}
	for _, t := range tasks {
		cur[t.Name] = t
		p := k.prev[t.Name]
		wall, flops := (t.Wall - p.Wall).Seconds(), t.FLOPs-p.FLOPs
		kt := kernelTime{MS: 1e3 * wall}
		if flops > 0 && wall > 0 {
			kt.GFLOPs = flops / wall / 1e9
		}
		step[t.Name] = kt
	}
	step[serialName] = kernelTime{MS: 1e3 * (serial - k.prevS).Seconds()}
	k.prev, k.prevS = cur, serial
	k.steps = append(k.steps, step)
}

// medians returns each kernel's median ms and GFLOP/s over the steps (a
// kernel absent from a step counts 0 ms there).
func (k *kernelSteps) medians() map[string]kernelTime {
	names := map[string]bool{}
	for _, s := range k.steps {
		for n := range s {
			names[n] = true
		}
	}
	out := map[string]kernelTime{}
	for n := range names {
		var ms, gf []float64
		for _, s := range k.steps {
			ms = append(ms, s[n].MS)
			if s[n].GFLOPs > 0 {
				gf = append(gf, s[n].GFLOPs)
			}
		}
		kt := kernelTime{MS: median(ms)}
		if len(gf) > 0 {
			kt.GFLOPs = median(gf)
		}
		out[n] = kt
	}
	return out
}

func peakRSS() int64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.Sys)
}

func runBenchTrain(ctx context.Context, opts BenchOptions, g *globalOptions, out io.Writer) error {
	if err := firstError(positiveInt("batch_size", opts.BatchSize), positiveInt("max_seq_len", opts.SeqLen),
		positiveInt("steps", opts.Steps), nonNegativeFloat("peak_gflops", opts.PeakGFLOPs)); err != nil {
		return err
	}
	if residentDevice(opts.Device) { // the GPU's device-resident trainer (device_resident.go)
		if ran, err := runBenchTrainResident(ctx, opts, g, out); ran || err != nil {
			return err
		}
		opts.Device.Device = "cpu"
	}
	m, closeFn, err := benchModel(opts, g)
	if err != nil {
		return err
	}
	defer closeFn()
	c := m.Config
	B, T := opts.BatchSize, opts.SeqLen
	ids := randomIDs(B*(T+1), c.VocabSize, 1)
	x, y := make([]int32, B*T), make([]int32, B*T)
	for b := 0; b < B; b++ {
		copy(x[b*T:(b+1)*T], ids[b*(T+1):])
		copy(y[b*T:(b+1)*T], ids[b*(T+1)+1:])
	}
	mask := make([]float32, B*T)
	for i := range mask {
		mask[i] = 1
	}
	opt := train.NewAdamW(m.Params, train.DefaultAdamW())
	be := m.Backend()
	pool := backendPool(be)
	// The FMA loop measures this CPU: it is the peak only for a backend
	// whose kernels run on the CPU's threads (one with a worker pool). It
	// runs before and after the steps and the faster counts: one taken
	// while something else ran would understate the peak and overstate MFU.
	cpuPeak := opts.PeakGFLOPs <= 0 && pool != nil
	var peak0 float64
	var peak0Desc string
	if cpuPeak {
		peak0, peak0Desc = gemm.MeasurePeakGFLOPs(pool.Workers())
	}
	fmt.Fprintf(out, "bench train: %s, %s params, batch %d × seq %d, %s\n", describeModel(&c), humanCount(len(m.Params.Data)), B, T, be.Name())
	var times []float64
	var loss float64
	var perStep kernelSteps
	for s := 0; s <= opts.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		t0 := time.Now()
		m.ZeroGrad()
		st, err := m.ForwardBackward(x, y, mask, B, T, 1)
		if err != nil {
			return err
		}
		_, coef := train.GradNorm(be, m.Grads, 1)
		opt.StepScaled(be, m.Params.Data, m.Grads, 1e-4, train.ClipScale(coef, 1))
		dt := time.Since(t0).Seconds()
		loss = st.Loss
		if s == 0 && pool != nil {
			pool.EnableStats(true) // from the first timed step on
		}
		if s > 0 { // step 0 is the warm-up (allocations, page faults)
			times = append(times, dt)
			if pool != nil {
				perStep.add(pool.Stats())
			}
			if !opts.JSON && !g.quiet {
				fmt.Fprintf(out, "  step %d: %.3f s, loss %.4f\n", s, dt, loss)
			}
		}
	}
	step := median(times)
	tps := float64(B*T) / step
	gflops := model.TrainFLOPs(&c, B, T) / step / 1e9
	var threads threadReport
	if pool != nil {
		threads = newThreadReport(pool)
		pool.EnableStats(false)
	}
	peak, peakDesc := opts.PeakGFLOPs, "--peak_gflops"
	if cpuPeak {
		if peak, peakDesc = gemm.MeasurePeakGFLOPs(pool.Workers()); peak0 > peak {
			peak, peakDesc = peak0, peak0Desc
		}
	}
	var mfu float64
	fmt.Fprintf(out, "tokens/s    %.1f\n", tps)
	fmt.Fprintf(out, "step        %.3f s (median of %d)\n", step, len(times))
	if peak > 0 {
		mfu = gflops / peak
		fmt.Fprintf(out, "compute     %.1f GFLOP/s, MFU %.1f%% of %.0f GFLOP/s (%s)\n", gflops, 100*mfu, peak, peakDesc)
	} else {
		fmt.Fprintf(out, "compute     %.1f GFLOP/s (MFU: give this device's peak with --peak_gflops)\n", gflops)
	}
	fmt.Fprintf(out, "memory      activations %s, weights+grads+AdamW %s, process %s\n",
		humanBytes(m.ActivationBytes()), humanBytes(int64(len(m.Params.Data))*16), humanBytes(peakRSS()))
	kernelMedians := perStep.medians()
	if pool != nil {
		threads.print(out, kernelMedians)
	}
	if opts.JSON {
		b, err := json.Marshal(map[string]any{
			"tokens_per_s": tps, "step_s": step, "mfu": mfu, "gflops": gflops, "peak_gflops": peak,
			"batch_size": B, "seq_len": T, "use_moe": c.UseMoE, "activation_bytes": m.ActivationBytes(), "backend": be.Name(),
			"busy_fraction": threads.busy, "serial_fraction": threads.serial, "kernels": kernelMedians,
		})
		if err != nil { // a non-finite figure (a step too short to time)
			return fmt.Errorf("bench train --json: %w", err)
		}
		fmt.Fprintf(out, "%s\n", b)
	}
	return nil
}

func describeModel(c *model.Config) string {
	s := fmt.Sprintf("hidden %d × %d layers, FFN %d", c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize)
	if c.HeadDim > 0 && c.HeadDim != c.HiddenSize/c.NumAttentionHeads {
		s += fmt.Sprintf(", head_dim %d", c.HeadDim)
	}
	if c.UseMoE {
		s += fmt.Sprintf(", MoE %d+%d top-%d", c.Experts(), c.SharedExperts(), c.NumExpertsPerTok)
	}
	if c.IsMiniMind3() {
		s += " (minimind-3)"
	}
	return s
}

func runBenchGenerate(ctx context.Context, opts BenchOptions, g *globalOptions, out io.Writer) error {
	if err := firstError(positiveInt("batch_size", opts.BatchSize), positiveInt("prompt_len", opts.PromptLen),
		positiveInt("new_tokens", opts.NewTokens), positiveInt("steps", opts.Steps), nonNegativeFloat("peak_gflops", opts.PeakGFLOPs)); err != nil {
		return err
	}
	if residentDevice(opts.Device) && opts.DType == "f32" { // the GPU's device-resident decode (device_resident.go)
		if ran, err := runBenchGenerateResident(ctx, opts, out); ran || err != nil {
			return err
		}
		opts.Device.Device = "cpu"
	}
	m, closeFn, err := benchModel(opts, g)
	if err != nil {
		return err
	}
	defer closeFn()
	if err := m.SetInferenceDType(opts.DType); err != nil {
		return fmt.Errorf("%w: --dtype: %v", errUsage, err)
	}
	c := m.Config
	B, P, N := opts.BatchSize, opts.PromptLen, opts.NewTokens
	avail, known := memAvailable()
	if P+N > c.MaxPositionEmbeddings {
		return fmt.Errorf("%w: --prompt_len %d + --new_tokens %d exceed the model's max_position_embeddings %d", errUsage, P, N, c.MaxPositionEmbeddings)
	}
	if err := checkFits(fmt.Sprintf("the KV cache and activations for --batch_size %d × %d positions", B, P+N), engineBytes(c, P+N, B), avail, known); err != nil {
		return err
	}
	kv, err := m.NewKVCache(B, P+N)
	if err != nil {
		return err
	}
	prompt := randomIDs(B*P, c.VocabSize, 2)
	tok := randomIDs(B, c.VocabSize, 3)
	fmt.Fprintf(out, "bench generate: %s, batch %d, prompt %d, %d new tokens, %s weights, %s\n", describeModel(&c), B, P, N, m.InferenceDType(), m.Backend().Name())
	var pre, dec []float64
	for s := 0; s <= opts.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		kv.Reset()
		t0 := time.Now()
		if _, err := m.Forward(kv, prompt, P, nil, 1); err != nil {
			return err
		}
		t1 := time.Now()
		for i := 0; i < N; i++ {
			if _, err := m.Forward(kv, tok, 1, nil, 1); err != nil {
				return err
			}
		}
		t2 := time.Now()
		if s > 0 {
			pre = append(pre, float64(B*P)/t1.Sub(t0).Seconds())
			dec = append(dec, float64(B*N)/t2.Sub(t1).Seconds())
		}
	}
	p, d := median(pre), median(dec)
	fmt.Fprintf(out, "prefill     %.1f tokens/s\n", p)
	fmt.Fprintf(out, "decode      %.1f tokens/s (%.1f per sequence)\n", d, d/float64(B))
	wb := decodeWeightBytes(m)
	fmt.Fprintf(out, "weights     %.1f MB read per decode step (%s)\n", float64(wb)/1e6, m.InferenceDType())
	if opts.JSON {
		b, err := json.Marshal(map[string]any{"prefill_tokens_per_s": p, "decode_tokens_per_s": d, "batch_size": B, "dtype": m.InferenceDType(), "backend": m.Backend().Name(), "decode_weight_bytes": wb})
		if err != nil {
			return fmt.Errorf("bench generate --json: %w", err)
		}
		fmt.Fprintf(out, "%s\n", b)
	}
	return nil
}

// decodeWeightBytes is what one decode step reads of the weights: the
// inference copy (16-bit or Q8_0) when there is one, else the float32
// slab (norms and the one embedding row per token included: a bound).
func decodeWeightBytes(m *model.Model) int64 {
	if b := m.InferenceCopyBytes(); b > 0 {
		return b
	}
	return 4 * int64(len(m.Params.Data))
}
