package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"reflect"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// BenchScalingOptions are the flags of `minimind bench scaling`.
type BenchScalingOptions struct {
	Model        ModelFlags
	Device       DeviceFlags
	Variants     []string
	Parts        []string
	Tokens       int
	SeqLens      []int
	Steps        int
	Contexts     []int
	Batches      []int
	DecodeTokens int
	DType        string
	Python       string
	TorchScript  string
	TorchTokens  int
	TorchMaxKV   int
	JSON         bool
}

// AddFlags registers bench scaling's flags.
func (o *BenchScalingOptions) AddFlags(f *pflag.FlagSet) {
	o.Model.AddFlags(f)
	o.Device.AddFlags(f)
	f.StringSliceVar(&o.Variants, "variants", []string{"dense", "moe"}, "models to measure: dense, moe (--use_moe's 4 routed experts top-2 + 1 shared), or both")
	f.StringSliceVar(&o.Parts, "parts", []string{"train", "decode"}, "tables to measure: train, decode, or both")
	f.IntVar(&o.Tokens, "tokens", 4096, "training tokens per step: each --seq_lens value T trains batch tokens/T")
	f.IntSliceVar(&o.SeqLens, "seq_lens", []int{256, 512, 1024, 2048}, "training sequence lengths")
	f.IntVar(&o.Steps, "steps", 1, "timed training steps per cell, after one warm-up step; the median counts")
	f.IntSliceVar(&o.Contexts, "contexts", []int{128, 512, 1024, 2048, 4096}, "decode contexts: tokens already in the KV cache")
	f.IntSliceVar(&o.Batches, "batches", []int{1, 8, 32}, "decode batch sizes")
	f.IntVar(&o.DecodeTokens, "decode_tokens", 16, "timed decode steps per cell (after one warm-up step)")
	f.StringVar(&o.DType, "dtype", "f32", "decode weight precision: f32, f16, bf16 or q8_0")
	f.StringVar(&o.Python, "python", "/usr/bin/python3", "Python with PyTorch for the reference columns (empty: none)")
	f.StringVar(&o.TorchScript, "torch_script", "scripts/bench_torch.py", "the PyTorch benchmark (the repository's scripts/bench_torch.py)")
	f.IntVar(&o.TorchTokens, "torch_decode_tokens", 4, "PyTorch decode steps per cell (it runs them twice: warm-up and timed)")
	f.IntVar(&o.TorchMaxKV, "torch_max_kv", 16384, "PyTorch decode cells only where batch × context ≤ this (its per-step cache copies make larger ones take minutes); 0: all")
	f.BoolVar(&o.JSON, "json", false, "print one JSON object as the last line")
}

func newBenchScalingCommand(g *globalOptions) *cobra.Command {
	var opts BenchScalingOptions
	cmd := &cobra.Command{
		Use:   "scaling [--seq_lens 256,512,1024,2048] [--contexts 128,...,4096] [--batches 1,8,32] [--json]",
		Short: "How training and decoding cost grow with sequence length, context and batch, beside PyTorch",
		Long: `Print how cost grows with length, for the dense and the MoE model (random
weights of the default size, or the architecture flags):

Training: tokens/s and peak memory at each --seq_lens T with the same
--tokens per step (batch tokens/T: 16, 8, 4, 2 by default). Peak memory is
the process's resident high-water mark (VmHWM, reset before each cell),
beside the model's own activation accounting. At fixed tokens per step
everything but attention is the same size at every T, and attention is
flash-style here (one log-sum-exp per row and head kept for backward, no
T×T matrix), so memory must not grow with T: a least-squares line through
the peaks gives the growth per 1k positions, next to what a materialised
fp32 T×T score matrix per layer and head (as PyTorch keeps for backward)
would add. That check fails loudly (exit 1) when memory grows like T².

Decoding: tokens/s with --contexts positions already in the KV cache (filled
with random values rather than prefilled, which would dominate the time)
for each --batches size.

PyTorch (scripts/bench_torch.py under --python, fp32, 2 threads) runs the
same cells, each right after ours so load hits both alike; where its
BLAS is the reference one (20× slower than OpenBLAS: install
libopenblas0-pthread) it is refused rather than compared. Its peak memory
is the Python process's. A cell takes a few seconds to a minute: the
defaults should take 10-15 minutes on a quiet 2-core machine (an estimate
from the cells' costs; under heavy load several times longer).

Examples:
  minimind bench scaling
  minimind bench scaling --variants dense --seq_lens 256,512 --contexts 128,1024 --batches 1,8 --python ''
  minimind bench scaling --parts decode --variants moe --torch_max_kv 0
  minimind bench scaling --steps 3 --decode_tokens 32 --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchScaling(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// scalingTrain is one training cell.
type scalingTrain struct {
	Variant         string   `json:"variant"`
	SeqLen          int      `json:"seq_len"`
	BatchSize       int      `json:"batch_size"`
	TokensPerS      float64  `json:"tokens_per_s"`
	PeakRSSBytes    int64    `json:"peak_rss_bytes"` // 0: unknown
	ActivationBytes int64    `json:"activation_bytes"`
	Torch           *torchRe `json:"torch,omitempty"`
}

// scalingDecode is one decode cell.
type scalingDecode struct {
	Variant    string   `json:"variant"`
	Context    int      `json:"context"`
	BatchSize  int      `json:"batch_size"`
	TokensPerS float64  `json:"tokens_per_s"`
	Torch      *torchRe `json:"torch,omitempty"`
}

// torchRe is PyTorch's figures for a cell.
type torchRe struct {
	TokensPerS   float64 `json:"tokens_per_s"`
	PeakRSSBytes int64   `json:"peak_rss_bytes"`
}

// memoryFit is the least-squares line through a variant's peak memory
// against T, in MiB per 1k positions of sequence length.
type memoryFit struct {
	Variant string `json:"variant"`
	// MiBPer1k is the Go process's growth, TorchMiBPer1k PyTorch's (0
	// when it did not run), T2MiBPer1k what a materialised fp32 T×T score
	// matrix per layer and head would add.
	MiBPer1k      float64 `json:"mib_per_1k_positions"`
	TorchMiBPer1k float64 `json:"torch_mib_per_1k_positions,omitempty"`
	T2MiBPer1k    float64 `json:"t2_mib_per_1k_positions"`
	// ActivationMiB is the model's activation accounting at the shortest
	// and the longest T.
	ActivationMiB [2]float64 `json:"activation_mib"`
	Linear        bool       `json:"linear"`
}

func runBenchScaling(ctx context.Context, opts BenchScalingOptions, g *globalOptions, out io.Writer) error {
	checks := []error{positiveInt("tokens", opts.Tokens), positiveInt("steps", opts.Steps), positiveInt("decode_tokens", opts.DecodeTokens),
		positiveInt("torch_decode_tokens", opts.TorchTokens), intAtLeast("torch_max_kv", opts.TorchMaxKV, 0)}
	for _, T := range opts.SeqLens {
		checks = append(checks, positiveInt("seq_lens", T))
		if T > 0 && opts.Tokens%T != 0 {
			checks = append(checks, fmt.Errorf("%w: --tokens %d is not a multiple of --seq_lens %d", errUsage, opts.Tokens, T))
		}
	}
	for _, c := range opts.Contexts {
		checks = append(checks, positiveInt("contexts", c))
	}
	for _, b := range opts.Batches {
		checks = append(checks, positiveInt("batches", b))
	}
	if len(opts.Variants) == 0 {
		checks = append(checks, fmt.Errorf("%w: --variants needs dense, moe or both", errUsage))
	}
	for _, v := range opts.Variants {
		if v != "dense" && v != "moe" {
			checks = append(checks, fmt.Errorf("%w: --variants %q: want dense or moe", errUsage, v))
		}
	}
	parts := map[string]bool{}
	for _, p := range opts.Parts {
		if p != "train" && p != "decode" {
			checks = append(checks, fmt.Errorf("%w: --parts %q: want train or decode", errUsage, p))
		}
		parts[p] = true
	}
	if err := firstError(checks...); err != nil {
		return err
	}
	if !parts["train"] {
		opts.SeqLens = nil
	}
	if !parts["decode"] {
		opts.Contexts = nil
	}
	cfgs := map[string]model.Config{}
	for _, v := range opts.Variants {
		c, err := opts.Model.Config()
		if err != nil {
			return err
		}
		c.UseMoE = v == "moe"
		if err := c.Validate(); err != nil {
			return fmt.Errorf("%w: %v", errUsage, err)
		}
		cfgs[v] = c
	}
	torch, why := torchRunner(ctx, opts)
	for _, c := range cfgs {
		if torch != nil && !torchModels(c) {
			torch, why = nil, fmt.Sprintf("%s models the default size only (hidden 512 × 8 layers, FFN 1536), not %s", opts.TorchScript, describeModel(&c))
		}
	}
	if torch == nil {
		fmt.Fprintf(out, "PyTorch: not run (%s)\n", why)
	} else {
		fmt.Fprintf(out, "PyTorch: %s\n", why)
	}
	var trains []scalingTrain
	var fits []memoryFit
	var decodes []scalingDecode
	if len(opts.SeqLens) > 0 {
		fmt.Fprintf(out, "\ntraining, %d tokens per step (forward, backward, clipping, AdamW; median of %d step(s) after a warm-up)\n", opts.Tokens, opts.Steps)
		fmt.Fprintf(out, "%-7s %6s %6s %10s %12s %12s %12s %12s %7s\n", "model", "seq", "batch", "tokens/s", "peak RSS", "activations", "torch tok/s", "torch RSS", "ratio")
		for _, v := range opts.Variants {
			var rows []scalingTrain
			for _, T := range opts.SeqLens {
				r, err := scalingTrainCell(ctx, cfgs[v], opts, g, T)
				if err != nil {
					return err
				}
				r.Variant = v
				if torch != nil {
					args := []string{"train", "--batch_size", strconv.Itoa(r.BatchSize), "--max_seq_len", strconv.Itoa(T), "--steps", strconv.Itoa(opts.Steps)}
					if v == "moe" {
						args = append(args, "--use_moe")
					}
					if r.Torch, err = torch(args, "tokens_per_s"); err != nil {
						return err
					}
				}
				fmt.Fprintln(out, r.line())
				rows = append(rows, r)
			}
			trains = append(trains, rows...)
			if len(rows) >= 2 {
				fits = append(fits, fitMemory(v, cfgs[v], opts.Tokens, rows))
			}
		}
		for _, f := range fits {
			fmt.Fprintln(out, f.line())
		}
	}
	if len(opts.Contexts) > 0 && len(opts.Batches) > 0 {
		fmt.Fprintf(out, "\ndecoding, %s weights: tokens/s with the context already in the KV cache (%d steps after a warm-up; PyTorch %d)\n", opts.DType, opts.DecodeTokens, opts.TorchTokens)
		fmt.Fprintf(out, "%-7s %8s %6s %10s %12s %7s\n", "model", "context", "batch", "tokens/s", "torch tok/s", "ratio")
		for _, v := range opts.Variants {
			rows, err := scalingDecodeCells(ctx, v, cfgs[v], opts, g, torch, func(r scalingDecode) { fmt.Fprintln(out, r.line()) })
			if err != nil {
				return err
			}
			decodes = append(decodes, rows...)
		}
	}
	if opts.JSON {
		b, err := json.Marshal(map[string]any{"tokens_per_step": opts.Tokens, "train": trains, "memory_fit": fits, "decode": decodes, "dtype": opts.DType})
		if err != nil {
			return fmt.Errorf("bench scaling --json: %w", err)
		}
		fmt.Fprintf(out, "%s\n", b)
	}
	for _, f := range fits {
		if !f.Linear {
			return fmt.Errorf("bench scaling: %s training memory grows by %.0f MiB per 1k positions at fixed tokens per step, like a T×T attention matrix (%.0f MiB per 1k): attention is not O(T) in memory", f.Variant, f.MiBPer1k, f.T2MiBPer1k)
		}
	}
	return nil
}

func (r scalingTrain) line() string {
	s := fmt.Sprintf("%-7s %6d %6d %10.1f %12s %12s", r.Variant, r.SeqLen, r.BatchSize, r.TokensPerS, rssText(r.PeakRSSBytes), humanBytes(r.ActivationBytes))
	if r.Torch == nil {
		return s + fmt.Sprintf(" %12s %12s %7s", "-", "-", "-")
	}
	return s + fmt.Sprintf(" %12.1f %12s %6.2f×", r.Torch.TokensPerS, rssText(r.Torch.PeakRSSBytes), r.TokensPerS/r.Torch.TokensPerS)
}

func (r scalingDecode) line() string {
	s := fmt.Sprintf("%-7s %8d %6d %10.1f", r.Variant, r.Context, r.BatchSize, r.TokensPerS)
	if r.Torch == nil {
		return s + fmt.Sprintf(" %12s %7s", "-", "-")
	}
	return s + fmt.Sprintf(" %12.1f %6.2f×", r.Torch.TokensPerS, r.TokensPerS/r.Torch.TokensPerS)
}

func (f memoryFit) line() string {
	verdict := "O(T): no T² term"
	if !f.Linear {
		verdict = "grows like T² — attention is NOT O(T)"
	}
	s := fmt.Sprintf("memory %-5s peak RSS grows %+.1f MiB per 1k positions at fixed tokens (activations %.0f → %.0f MiB); a T×T fp32 score matrix per layer and head would add %.0f MiB per 1k: %s",
		f.Variant, f.MiBPer1k, f.ActivationMiB[0], f.ActivationMiB[1], f.T2MiBPer1k, verdict)
	if f.TorchMiBPer1k != 0 {
		s += fmt.Sprintf("; PyTorch %+.1f MiB per 1k", f.TorchMiBPer1k)
	}
	return s
}

func rssText(n int64) string {
	if n <= 0 {
		return "-"
	}
	return humanBytes(n)
}

// fitMemory fits peak RSS = a + b·T over a variant's training cells. At
// fixed tokens N per step, a materialised T×T score matrix per layer and
// head is B·NH·T²·4 = N·NH·4·T bytes per layer: that slope, times the
// layers, is what O(T²) attention would add. The growth counts as linear
// (no T² term) when it is under a tenth of that, or when over the whole
// range of T it stays under rssNoiseMiB (a tiny model, whose T² term
// would be too small to see).
// rssNoiseMiB is how far a process's peak memory drifts between cells for
// reasons of its own (the runtime's heap, thread stacks).
const rssNoiseMiB = 16

func fitMemory(v string, c model.Config, tokens int, rows []scalingTrain) memoryFit {
	f := memoryFit{Variant: v, T2MiBPer1k: float64(tokens) * float64(c.NumAttentionHeads) * 4 * float64(c.NumHiddenLayers) * 1000 / (1 << 20)}
	f.ActivationMiB = [2]float64{float64(rows[0].ActivationBytes) / (1 << 20), float64(rows[len(rows)-1].ActivationBytes) / (1 << 20)}
	slope := func(y func(scalingTrain) int64) (float64, bool) {
		var xs, ys []float64
		for _, r := range rows {
			if n := y(r); n > 0 {
				xs, ys = append(xs, float64(r.SeqLen)), append(ys, float64(n))
			}
		}
		if len(xs) < 2 {
			return 0, false
		}
		var mx, my float64
		for i := range xs {
			mx, my = mx+xs[i], my+ys[i]
		}
		mx, my = mx/float64(len(xs)), my/float64(len(xs))
		var sxy, sxx float64
		for i := range xs {
			sxy += (xs[i] - mx) * (ys[i] - my)
			sxx += (xs[i] - mx) * (xs[i] - mx)
		}
		if sxx == 0 {
			return 0, false
		}
		return sxy / sxx * 1000 / (1 << 20), true
	}
	var ok bool
	f.MiBPer1k, ok = slope(func(r scalingTrain) int64 { return r.PeakRSSBytes })
	if !ok { // no RSS figures (not Linux): the model's own accounting
		f.MiBPer1k, _ = slope(func(r scalingTrain) int64 { return r.ActivationBytes })
	}
	f.TorchMiBPer1k, _ = slope(func(r scalingTrain) int64 {
		if r.Torch == nil {
			return 0
		}
		return r.Torch.PeakRSSBytes
	})
	span := float64(rows[len(rows)-1].SeqLen-rows[0].SeqLen) / 1000
	f.Linear = f.MiBPer1k < f.T2MiBPer1k/10 || f.MiBPer1k*span < rssNoiseMiB
	return f
}

// scalingTrainCell times training steps of batch tokens/T × T on a fresh
// model and measures the process's peak memory meanwhile.
func scalingTrainCell(ctx context.Context, c model.Config, opts BenchScalingOptions, g *globalOptions, T int) (scalingTrain, error) {
	B := opts.Tokens / T
	r := scalingTrain{SeqLen: T, BatchSize: B}
	if T > c.MaxPositionEmbeddings {
		return r, fmt.Errorf("%w: --seq_lens %d exceeds max_position_embeddings %d", errUsage, T, c.MaxPositionEmbeddings)
	}
	resetPeak := releaseMemory()
	p, err := model.NewParams(c)
	if err != nil {
		return r, err
	}
	p.Init(1)
	be, closeBackend, err := selectDevice(g, opts.Device, "auto")
	if err != nil {
		return r, err
	}
	defer closeBackend()
	m := model.New(p, be)
	ids := randomIDs(B*(T+1), c.VocabSize, 1)
	x, y := make([]int32, B*T), make([]int32, B*T)
	for b := range B {
		copy(x[b*T:(b+1)*T], ids[b*(T+1):])
		copy(y[b*T:(b+1)*T], ids[b*(T+1)+1:])
	}
	mask := make([]float32, B*T)
	for i := range mask {
		mask[i] = 1
	}
	opt := train.NewAdamW(m.Params, train.DefaultAdamW())
	var times []float64
	for s := 0; s <= opts.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return r, err
		}
		t0 := time.Now()
		m.ZeroGrad()
		if _, err := m.ForwardBackward(x, y, mask, B, T, 1); err != nil {
			return r, err
		}
		_, coef := train.GradNorm(be, m.Grads, 1)
		opt.StepScaled(be, m.Params.Data, m.Grads, 1e-4, train.ClipScale(coef, 1))
		if s > 0 {
			times = append(times, time.Since(t0).Seconds())
		}
	}
	r.TokensPerS = float64(B*T) / median(times)
	r.ActivationBytes = m.ActivationBytes()
	if resetPeak {
		r.PeakRSSBytes = procStatusBytes("VmHWM:")
	}
	return r, nil
}

// releaseMemory returns the previous cell's memory to the OS and resets
// the process's resident high-water mark (Linux's clear_refs), so VmHWM
// then measures the next cell alone; false when the mark cannot be reset.
func releaseMemory() bool {
	runtime.GC()
	debug.FreeOSMemory()
	return os.WriteFile("/proc/self/clear_refs", []byte("5"), 0) == nil
}

// procStatusBytes reads a "Key:  N kB" line of /proc/self/status, or 0.
func procStatusBytes(key string) int64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) >= 2 && f[0] == key {
			n, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return 0
			}
			return n * 1024
		}
	}
	return 0
}

// scalingDecodeCells times decoding for every batch and context on one
// model: per batch size one KV cache of the longest context, its positions
// filled with random keys and values once, each context then set as every
// row's length.
func scalingDecodeCells(ctx context.Context, variant string, c model.Config, opts BenchScalingOptions, g *globalOptions, torch torchFunc, report func(scalingDecode)) ([]scalingDecode, error) {
	releaseMemory()
	p, err := model.NewParams(c)
	if err != nil {
		return nil, err
	}
	p.Init(1)
	be, closeBackend, err := selectDevice(g, opts.Device, "auto")
	if err != nil {
		return nil, err
	}
	defer closeBackend()
	m := model.New(p, be)
	if err := m.SetInferenceDType(opts.DType); err != nil {
		return nil, fmt.Errorf("%w: --dtype: %v", errUsage, err)
	}
	S := opts.DecodeTokens + 1
	for _, C := range opts.Contexts {
		S = max(S, C+opts.DecodeTokens+1)
	}
	if S > c.MaxPositionEmbeddings {
		return nil, fmt.Errorf("%w: --contexts up to %d plus --decode_tokens %d exceed max_position_embeddings %d", errUsage, S-opts.DecodeTokens-1, opts.DecodeTokens, c.MaxPositionEmbeddings)
	}
	avail, known := memAvailable()
	var rows []scalingDecode
	for _, B := range opts.Batches {
		if err := checkFits(fmt.Sprintf("the KV cache for --batches %d × %d positions", B, S), engineBytes(c, S, B), avail, known); err != nil {
			return nil, err
		}
		kv, err := m.NewKVCache(B, S)
		if err != nil {
			return nil, err
		}
		fillRandom(kv)
		tok := randomIDs(B, c.VocabSize, 3)
		for _, C := range opts.Contexts {
			var times []float64
			for s := 0; s <= opts.DecodeTokens; s++ {
				if err := ctx.Err(); err != nil {
					return nil, err
				}
				if s == 0 || s == 1 { // after the warm-up step, start again at C
					for b := range kv.Lens {
						kv.Lens[b] = int32(C)
					}
				}
				t0 := time.Now()
				if _, err := m.Forward(kv, tok, 1, nil, 1); err != nil {
					return nil, err
				}
				if s > 0 {
					times = append(times, time.Since(t0).Seconds())
				}
			}
			var sum float64
			for _, t := range times {
				sum += t
			}
			r := scalingDecode{Variant: variant, Context: C, BatchSize: B, TokensPerS: float64(B*len(times)) / sum}
			if torch != nil && (opts.TorchMaxKV == 0 || B*C <= opts.TorchMaxKV) {
				args := []string{"generate", "--fill_kv", "--batch_size", strconv.Itoa(B), "--prompt_len", strconv.Itoa(C),
					"--new_tokens", strconv.Itoa(opts.TorchTokens), "--steps", "1"}
				if c.UseMoE {
					args = append(args, "--use_moe")
				}
				if r.Torch, err = torch(args, "decode_tokens_per_s"); err != nil {
					return nil, err
				}
			}
			report(r)
			rows = append(rows, r)
		}
		kv = nil
		releaseMemory()
	}
	return rows, nil
}

// fillRandom fills every position of the cache with values in [-1, 1): a
// random block repeated, since what the keys hold does not change the
// time a decode step takes.
func fillRandom(kv *model.KVCache) {
	r := rand.New(rand.NewPCG(7, 11))
	block := make([]float32, 1<<16)
	for i := range block {
		block[i] = 2*r.Float32() - 1
	}
	for l := range kv.K {
		for _, s := range [][]float32{kv.K[l], kv.V[l]} {
			for i := 0; i < len(s); i += len(block) {
				copy(s[i:], block)
			}
		}
	}
}

// torchModels reports whether c is the model bench_torch.py builds: the
// default configuration, dense or MoE, at any max_position_embeddings.
func torchModels(c model.Config) bool {
	d := model.DefaultConfig()
	d.UseMoE, d.MaxPositionEmbeddings = c.UseMoE, c.MaxPositionEmbeddings
	return reflect.DeepEqual(c, d)
}

// torchFunc runs bench_torch.py with args and returns the figure under key
// and its peak memory.
type torchFunc func(args []string, key string) (*torchRe, error)

// torchRunner returns the PyTorch side, or nil and why not. It first checks
// which BLAS PyTorch loads, and refuses the reference BLAS.
func torchRunner(ctx context.Context, opts BenchScalingOptions) (torchFunc, string) {
	if opts.Python == "" {
		return nil, "--python is empty"
	}
	if _, err := os.Stat(opts.TorchScript); err != nil {
		return nil, fmt.Sprintf("--torch_script: %v", err)
	}
	run := func(args []string) (map[string]any, error) {
		cmd := exec.CommandContext(ctx, opts.Python, append([]string{opts.TorchScript}, args...)...)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		if err != nil {
			return nil, fmt.Errorf("%s %s %s: %w: %s", opts.Python, opts.TorchScript, strings.Join(args, " "), err, lastLines(stderr.String(), 3))
		}
		lines := strings.Split(strings.TrimSpace(string(b)), "\n")
		var m map[string]any
		if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
			return nil, fmt.Errorf("%s %s: last line is not JSON: %w", opts.TorchScript, strings.Join(args, " "), err)
		}
		return m, nil
	}
	probe, err := run([]string{"generate", "--prompt_len", "4", "--new_tokens", "1", "--steps", "1", "--fill_kv"})
	if err != nil {
		return nil, err.Error()
	}
	blas, _ := probe["blas"].(string)
	switch blas {
	case "":
		return nil, fmt.Sprintf("%s reports no BLAS: an older copy of bench_torch.py?", opts.TorchScript)
	case "reference":
		return nil, "PyTorch loads the reference BLAS, about 20× slower than OpenBLAS; no comparison against it (install libopenblas0-pthread)"
	}
	desc := fmt.Sprintf("%v with %s BLAS, beside each of our cells", probe["backend"], blas)
	return func(args []string, key string) (*torchRe, error) {
		m, err := run(args)
		if err != nil {
			return nil, err
		}
		tps, ok := m[key].(float64)
		if !ok {
			return nil, fmt.Errorf("%s %s: no %q in %v", opts.TorchScript, strings.Join(args, " "), key, m)
		}
		rss, _ := m["peak_rss_bytes"].(float64)
		return &torchRe{TokensPerS: tps, PeakRSSBytes: int64(rss)}, nil
	}, desc
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}
