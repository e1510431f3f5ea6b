package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/minimind-go/minimind/devmodel"
	"github.com/minimind-go/minimind/dist"
	"github.com/minimind-go/minimind/dist/nccl"
	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// openResident opens the GPU for the device-resident path (package
// devmodel) that --device cuda|auto selects for `bench train|generate`.
// ok is false when --device auto found no usable GPU: the caller then
// runs on the CPU. It prints the one line naming the device and precision.
func openResident(d DeviceFlags, log io.Writer) (dev *devmodel.CUDA, ok bool, err error) {
	return openResidentOn(d, 0, log)
}

// openResidentOn is openResident on GPU ordinal (a --ddp rank's local rank).
func openResidentOn(d DeviceFlags, ordinal int, log io.Writer) (dev *devmodel.CUDA, ok bool, err error) {
	if d.Precision == "" {
		d.Precision = "bf16"
	}
	p, err := cuda.ParsePrecision(d.Precision)
	if err != nil {
		return nil, true, fmt.Errorf("%w: --precision: %v", errUsage, err)
	}
	dev, err = devmodel.NewCUDA(cuda.Options{Device: ordinal, Precision: p})
	switch {
	case err == nil:
		info := dev.Backend().Info()
		if p == cuda.BF16 && info.Capability < 80 {
			// cuBLAS's bf16 products need Ampere (sm_80) or newer.
			dev.Close()
			return nil, true, fmt.Errorf("%w: --precision bf16 needs an sm_80 or newer GPU; %s is sm_%d: use --precision fp16 (as the seed's float16 on a T4)", errUsage, info.Name, info.Capability)
		}
		fmt.Fprintf(log, "device: cuda %d (%s, sm_%d, %s), precision %s\n", ordinal, info.Name, info.Capability, humanBytes(int64(info.Memory)), p)
		return dev, true, nil
	case d.Device == "auto" && noGPU(err):
		fmt.Fprintf(log, "device: cpu (--device auto: no usable GPU: %v), precision fp32\n", err)
		return nil, false, nil
	default:
		return nil, true, fmt.Errorf("--device %s: %w", d.Device, err)
	}
}

// residentDevice reports whether --device asks for the GPU.
func residentDevice(d DeviceFlags) bool { return d.Device == "cuda" || d.Device == "auto" }

// benchParams is benchModel's weights: --model, or a random preset.
func benchParams(opts BenchOptions) (*model.Params, error) {
	if opts.Path != "" {
		return loadModelParams(opts.Path, opts.Model.NumAttentionHeads)
	}
	cfg, err := opts.Model.Config()
	if err != nil {
		return nil, err
	}
	p, err := model.NewParams(cfg)
	if err != nil {
		return nil, err
	}
	p.Init(1)
	return p, nil
}

// runBenchTrainResident is `bench train --device cuda`: full training
// steps of the device-resident trainer (forward, backward, gradient norm
// and clipping, AdamW; the loss scaler in fp16), with the bytes each step
// copies between host and device. ran is false when --device auto found
// no GPU.
func runBenchTrainResident(ctx context.Context, opts BenchOptions, g *globalOptions, out io.Writer) (ran bool, err error) {
	dev, ok, err := openResident(opts.Device, os.Stderr)
	if !ok || err != nil {
		return ok, err
	}
	defer dev.Close()
	p, err := benchParams(opts)
	if err != nil {
		return true, err
	}
	c := p.Config
	B, T := opts.BatchSize, opts.SeqLen
	if T > c.MaxPositionEmbeddings {
		return true, fmt.Errorf("%w: --max_seq_len %d exceeds the model's max_position_embeddings %d", errUsage, T, c.MaxPositionEmbeddings)
	}
	m, err := devmodel.New(dev, p)
	if err != nil {
		return true, err
	}
	tr, err := devmodel.NewTrainer(m, devmodel.DefaultAdamW())
	if err != nil {
		return true, err
	}
	if err := m.Reserve(B, T); err != nil {
		return true, fmt.Errorf("--batch_size %d × --max_seq_len %d does not fit on %s: %w", B, T, dev.Name(), err)
	}
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
	fmt.Fprintf(out, "bench train: %s, %s params, batch %d × seq %d, %s (device-resident)\n", describeModel(&c), humanCount(len(p.Data)), B, T, dev.Name())
	var times []float64
	var loss float64
	var h2d, d2h int64
	var last devmodel.StepResult
	for s := 0; s <= opts.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		h0, d0 := dev.Traffic()
		t0 := time.Now()
		if err := m.ZeroGrad(); err != nil {
			return true, err
		}
		st, err := tr.Micro(x, y, mask, B, T, 1)
		if err != nil {
			return true, err
		}
		if last, err = tr.Step(1e-4, 1); err != nil { // downloads the norm: the step has finished
			return true, err
		}
		dt := time.Since(t0).Seconds()
		h1, d1 := dev.Traffic()
		h2d, d2h, loss = h1-h0, d1-d0, st.Loss
		if s > 0 {
			times = append(times, dt)
			if !opts.JSON && !g.quiet {
				fmt.Fprintf(out, "  step %d: %.4f s, loss %.4f, grad norm %.4f, loss scale %g%s\n", s, dt, loss, last.GradNorm, last.LossScale, skippedNote(last.Skipped))
			}
		}
	}
	step := median(times)
	tps := float64(B*T) / step
	gflops := model.TrainFLOPs(&c, B, T) / step / 1e9
	var mfu float64
	fmt.Fprintf(out, "tokens/s    %.1f\n", tps)
	fmt.Fprintf(out, "step        %.4f s (median of %d)\n", step, len(times))
	if opts.PeakGFLOPs > 0 {
		mfu = gflops / opts.PeakGFLOPs
		fmt.Fprintf(out, "compute     %.1f GFLOP/s, MFU %.1f%% of %.0f GFLOP/s (--peak_gflops)\n", gflops, 100*mfu, opts.PeakGFLOPs)
	} else {
		fmt.Fprintf(out, "compute     %.1f GFLOP/s (MFU: give this device's peak with --peak_gflops)\n", gflops)
	}
	used := dev.MemoryUsed()
	fmt.Fprintf(out, "memory      activations %s, weights+grads+AdamW %s, device in use %s\n",
		humanBytes(m.ActivationBytes()), humanBytes(int64(len(p.Data))*16), humanBytes(used))
	fmt.Fprintf(out, "copies      %d bytes host→device, %d bytes device→host per step\n", h2d, d2h)
	if opts.JSON {
		b, err := json.Marshal(map[string]any{
			"tokens_per_s": tps, "step_s": step, "mfu": mfu, "gflops": gflops, "peak_gflops": opts.PeakGFLOPs,
			"batch_size": B, "seq_len": T, "use_moe": c.UseMoE, "activation_bytes": m.ActivationBytes(), "backend": dev.Name(),
			"precision": dev.Precision().String(), "h2d_bytes_per_step": h2d, "d2h_bytes_per_step": d2h,
			"device_memory_bytes": used, "loss": loss, "grad_norm": last.GradNorm, "loss_scale": last.LossScale,
		})
		if err != nil {
			return true, fmt.Errorf("bench train --json: %w", err)
		}
		fmt.Fprintf(out, "%s\n", b)
	}
	return true, nil
}

func skippedNote(skipped bool) string {
	if skipped {
		return " (non-finite gradients: step skipped)"
	}
	return ""
}

// runBenchGenerateResident is `bench generate --device cuda`: prefill and
// decode with the device KV cache; each decode step uploads the token ids
// and downloads the logits rows.
func runBenchGenerateResident(ctx context.Context, opts BenchOptions, out io.Writer) (ran bool, err error) {
	dev, ok, err := openResident(opts.Device, os.Stderr)
	if !ok || err != nil {
		return ok, err
	}
	defer dev.Close()
	p, err := benchParams(opts)
	if err != nil {
		return true, err
	}
	c := p.Config
	B, P, N := opts.BatchSize, opts.PromptLen, opts.NewTokens
	if P+N > c.MaxPositionEmbeddings {
		return true, fmt.Errorf("%w: --prompt_len %d + --new_tokens %d exceed the model's max_position_embeddings %d", errUsage, P, N, c.MaxPositionEmbeddings)
	}
	m, err := devmodel.New(dev, p)
	if err != nil {
		return true, err
	}
	kv, err := m.NewKVCache(B, P+N)
	if err != nil {
		return true, err
	}
	prompt := randomIDs(B*P, c.VocabSize, 2)
	tok := randomIDs(B, c.VocabSize, 3)
	logits := make([]float32, B*c.VocabSize)
	fmt.Fprintf(out, "bench generate: %s, batch %d, prompt %d, %d new tokens, %s (device-resident)\n", describeModel(&c), B, P, N, dev.Name())
	var pre, dec []float64
	var h2d, d2h int64
	for s := 0; s <= opts.Steps; s++ {
		if err := ctx.Err(); err != nil {
			return true, err
		}
		if err := m.ResetKV(kv); err != nil {
			return true, err
		}
		t0 := time.Now()
		if err := m.Forward(kv, prompt, P, logits); err != nil {
			return true, err
		}
		t1 := time.Now()
		h0, d0 := dev.Traffic()
		for i := 0; i < N; i++ {
			if err := m.Forward(kv, tok, 1, logits); err != nil {
				return true, err
			}
		}
		t2 := time.Now()
		h1, d1 := dev.Traffic()
		h2d, d2h = (h1-h0)/int64(N), (d1-d0)/int64(N)
		if s > 0 {
			pre = append(pre, float64(B*P)/t1.Sub(t0).Seconds())
			dec = append(dec, float64(B*N)/t2.Sub(t1).Seconds())
		}
	}
	pr, d := median(pre), median(dec)
	fmt.Fprintf(out, "prefill     %.1f tokens/s\n", pr)
	fmt.Fprintf(out, "decode      %.1f tokens/s (%.1f per sequence)\n", d, d/float64(B))
	fmt.Fprintf(out, "copies      %d bytes host→device, %d bytes device→host per decode step\n", h2d, d2h)
	if opts.JSON {
		b, err := json.Marshal(map[string]any{"prefill_tokens_per_s": pr, "decode_tokens_per_s": d, "batch_size": B,
			"dtype": "f32", "precision": dev.Precision().String(), "backend": dev.Name(),
			"h2d_bytes_per_step": h2d, "d2h_bytes_per_step": d2h, "device_memory_bytes": dev.MemoryUsed()})
		if err != nil {
			return true, fmt.Errorf("bench generate --json: %w", err)
		}
		fmt.Fprintf(out, "%s\n", b)
	}
	return true, nil
}

// residentTraining picks the device-resident trainer for `pretrain|sft
// --device cuda|auto` (train.Config.Device). It returns the device flags
// for the host model (cpu when the GPU trains: the host keeps the weights
// that checkpoints and evaluations read), the factory (nil: no GPU path)
// and a close function. With several ranks (--ddp) each uses the GPU of
// its local rank and the gradients are summed over NCCL.
func residentTraining(ctx context.Context, d DeviceFlags, mode string, comm dist.Comm, adam train.AdamWConfig, log io.Writer) (DeviceFlags, func(*model.Params, int, int) (train.Resident, error), func(), error) {
	none := func() {}
	if !residentDevice(d) || (mode != train.StagePretrain && mode != train.StageSFT) {
		return d, nil, none, nil
	}
	ordinal := 0
	if comm.Size() > 1 {
		l, err := dist.Detect(os.LookupEnv)
		if err != nil {
			return d, nil, none, fmt.Errorf("--device %s with --ddp: %w", d.Device, err)
		}
		ordinal = l.LocalRank
	}
	dev, ok, err := openResidentOn(d, ordinal, log)
	if err != nil || !ok {
		return DeviceFlags{Device: "cpu"}, nil, none, err
	}
	var ranks *nccl.Comm
	closeAll := func() {
		if ranks != nil {
			ranks.Close()
		}
		dev.Close()
	}
	factory := func(p *model.Params, B, T int) (train.Resident, error) {
		r, err := devmodel.NewResident(dev, p, devmodel.AdamWConfig(adam), B, T)
		if err != nil {
			return nil, fmt.Errorf("--device %s: %w", d.Device, err)
		}
		if comm.Size() > 1 {
			if ranks, err = dev.NewNCCL(ctx, comm); err != nil {
				return nil, fmt.Errorf("--device %s --ddp: %w", d.Device, err)
			}
			if err := r.UseNCCL(ranks); err != nil {
				return nil, err
			}
		}
		return r, nil
	}
	return DeviceFlags{Device: "cpu"}, factory, closeAll, nil
}
