package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/model"
)

// tinyScaling is a bench scaling run small enough for a unit test, without
// PyTorch.
func tinyScaling() BenchScalingOptions {
	return BenchScalingOptions{
		Model: ModelFlags{HiddenSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
			IntermediateSize: 96, VocabSize: 256, MaxPositions: 128},
		Device:   DeviceFlags{Device: "cpu"},
		Variants: []string{"dense", "moe"}, Parts: []string{"train", "decode"}, Tokens: 64, SeqLens: []int{16, 32, 64}, Steps: 1,
		Contexts: []int{8, 24}, Batches: []int{1, 3}, DecodeTokens: 2, DType: "f32",
		TorchScript: "scripts/bench_torch.py", TorchTokens: 1, JSON: true,
	}
}

// TestBenchScaling: every cell is reported with its exact sizes, and at
// fixed tokens per step the model's activation memory is the same at every
// sequence length: attention keeps O(B·T) state (flash-style), never a
// T×T matrix, so the fit finds no T² term.
func TestBenchScaling(t *testing.T) {
	opts := tinyScaling()
	var out bytes.Buffer
	if err := runBenchScaling(context.Background(), opts, &globalOptions{threads: 2}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	s := out.String()
	if !strings.Contains(s, "PyTorch: not run (--python is empty)") {
		t.Errorf("report does not say PyTorch did not run:\n%s", s)
	}
	m := lastJSON(t, s)
	trains, _ := m["train"].([]any)
	if len(trains) != len(opts.Variants)*len(opts.SeqLens) {
		t.Fatalf("%d training cells, want %d:\n%s", len(trains), len(opts.Variants)*len(opts.SeqLens), s)
	}
	act := map[string]float64{}
	canReset := releaseMemory() // Linux: VmHWM can be reset, so every cell has a peak
	for i, x := range trains {
		r := x.(map[string]any)
		v, T := opts.Variants[i/len(opts.SeqLens)], opts.SeqLens[i%len(opts.SeqLens)]
		if r["variant"] != v || r["seq_len"] != float64(T) || r["batch_size"] != float64(opts.Tokens/T) {
			t.Errorf("cell %d: %v %v × %v, want %s %d × %d", i, r["variant"], r["batch_size"], r["seq_len"], v, opts.Tokens/T, T)
		}
		if tps, ok := r["tokens_per_s"].(float64); !ok || tps <= 0 {
			t.Errorf("cell %d: tokens_per_s %v", i, r["tokens_per_s"])
		}
		if canReset {
			if rss, _ := r["peak_rss_bytes"].(float64); rss <= 0 {
				t.Errorf("cell %d: peak_rss_bytes %v where the high-water mark can be reset", i, r["peak_rss_bytes"])
			}
		}
		a := r["activation_bytes"].(float64)
		if first, ok := act[v]; ok && a != first {
			t.Errorf("%s: activations %v bytes at T=%d, %v at T=%d: not constant at fixed tokens per step", v, a, T, first, opts.SeqLens[0])
		}
		act[v] = a
	}
	fits, _ := m["memory_fit"].([]any)
	if len(fits) != len(opts.Variants) {
		t.Fatalf("%d memory fits, want %d", len(fits), len(opts.Variants))
	}
	for _, x := range fits {
		if f := x.(map[string]any); f["linear"] != true {
			t.Errorf("memory fit %v: not linear", f)
		}
	}
	decodes, _ := m["decode"].([]any)
	if len(decodes) != len(opts.Variants)*len(opts.Batches)*len(opts.Contexts) {
		t.Fatalf("%d decode cells, want %d", len(decodes), len(opts.Variants)*len(opts.Batches)*len(opts.Contexts))
	}
	for i, x := range decodes {
		r := x.(map[string]any)
		per := len(opts.Batches) * len(opts.Contexts)
		v, B, C := opts.Variants[i/per], opts.Batches[i%per/len(opts.Contexts)], opts.Contexts[i%len(opts.Contexts)]
		if r["variant"] != v || r["batch_size"] != float64(B) || r["context"] != float64(C) {
			t.Errorf("decode cell %d: %v batch %v context %v, want %s %d %d", i, r["variant"], r["batch_size"], r["context"], v, B, C)
		}
		if tps, ok := r["tokens_per_s"].(float64); !ok || tps <= 0 {
			t.Errorf("decode cell %d: tokens_per_s %v", i, r["tokens_per_s"])
		}
	}
}

// TestFitMemory: a peak that grows like a materialised T×T score matrix
// is not linear; a flat one with noise is, and so is growth too small to
// tell from noise.
func TestFitMemory(t *testing.T) {
	c := model.DefaultConfig()
	const tokens = 4096
	perT := float64(tokens * c.NumAttentionHeads * 4 * c.NumHiddenLayers) // bytes per position of T
	for _, tc := range []struct {
		name   string
		growth float64 // share of the T² slope
		linear bool
	}{
		{"flat", 0, true},
		{"small", 0.05, true},
		{"materialised", 1, false},
		{"half", 0.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var rows []scalingTrain
			for i, T := range []int{256, 512, 1024, 2048} {
				noise := int64(i%2) << 20
				rows = append(rows, scalingTrain{SeqLen: T, ActivationBytes: 1 << 30,
					PeakRSSBytes: 2<<30 + noise + int64(tc.growth*perT*float64(T))})
			}
			f := fitMemory("dense", c, tokens, rows)
			if f.Linear != tc.linear {
				t.Errorf("linear %v, want %v (%+.1f MiB per 1k against %.1f)", f.Linear, tc.linear, f.MiBPer1k, f.T2MiBPer1k)
			}
			if want := perT * 1000 / (1 << 20); f.T2MiBPer1k != want {
				t.Errorf("T² slope %v MiB per 1k, want %v", f.T2MiBPer1k, want)
			}
		})
	}
	tiny := fitMemory("dense", model.Config{NumAttentionHeads: 4, NumHiddenLayers: 2}, 64,
		[]scalingTrain{{SeqLen: 16, PeakRSSBytes: 30 << 20}, {SeqLen: 64, PeakRSSBytes: 31 << 20}})
	if !tiny.Linear {
		t.Errorf("1 MiB of drift over T 16..64 counts as a T² term: %+v", tiny)
	}
}

// TestBenchScalingTorch: a PyTorch on the reference BLAS is refused, one on
// OpenBLAS runs beside every cell (a stand-in Python prints the JSON), and
// only the default architecture is compared.
func TestBenchScalingTorch(t *testing.T) {
	dir := t.TempDir()
	fake := func(blas string) string {
		p := filepath.Join(dir, blas+".sh")
		script := `#!/bin/sh
echo '{"tokens_per_s": 10, "decode_tokens_per_s": 5, "backend": "fake torch", "blas": "` + blas + `", "peak_rss_bytes": 1048576}'
`
		if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	opts := tinyScaling()
	opts.TorchScript = fake("reference") // any existing file
	opts.Python = fake("reference")
	if fn, why := torchRunner(context.Background(), opts); fn != nil || !strings.Contains(why, "reference BLAS") {
		t.Errorf("reference BLAS: runner %v, %q; want refused", fn != nil, why)
	}
	opts.Python = fake("openblas-pthread")
	fn, why := torchRunner(context.Background(), opts)
	if fn == nil {
		t.Fatalf("OpenBLAS refused: %s", why)
	}
	r, err := fn([]string{"train"}, "tokens_per_s")
	if err != nil || r.TokensPerS != 10 || r.PeakRSSBytes != 1<<20 {
		t.Errorf("torch figures %+v, %v; want 10 tokens/s, 1 MiB", r, err)
	}
	if _, err := fn([]string{"train"}, "missing_key"); err == nil {
		t.Error("a missing JSON key is no error")
	}
	// The tiny architecture is not what bench_torch.py builds: not compared.
	var out bytes.Buffer
	opts.SeqLens, opts.Parts = []int{16, 32}, []string{"train"}
	if err := runBenchScaling(context.Background(), opts, &globalOptions{threads: 1}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "models the default size only") {
		t.Errorf("tiny model compared with PyTorch:\n%s", out.String())
	}
	d := model.DefaultConfig()
	d.UseMoE = true
	if !torchModels(d) || torchModels(model.DefaultConfig3()) {
		t.Error("torchModels: want the default MoE config in, minimind-3 out")
	}
}

// TestBenchScalingBadFlags: bad sizes are usage errors.
func TestBenchScalingBadFlags(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*BenchScalingOptions)
	}{
		{"tokens not a multiple", func(o *BenchScalingOptions) { o.SeqLens = []int{48} }},
		{"zero seq", func(o *BenchScalingOptions) { o.SeqLens = []int{0} }},
		{"unknown variant", func(o *BenchScalingOptions) { o.Variants = []string{"sparse"} }},
		{"no variants", func(o *BenchScalingOptions) { o.Variants = nil }},
		{"unknown part", func(o *BenchScalingOptions) { o.Parts = []string{"prefill"} }},
		{"zero steps", func(o *BenchScalingOptions) { o.Steps = 0 }},
		{"negative batch", func(o *BenchScalingOptions) { o.Batches = []int{-1} }},
		{"context past the positions", func(o *BenchScalingOptions) { o.SeqLens = nil; o.Contexts = []int{200} }},
		{"seq past the positions", func(o *BenchScalingOptions) { o.Tokens = 256; o.SeqLens = []int{256} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tinyScaling()
			tc.edit(&opts)
			err := runBenchScaling(context.Background(), opts, &globalOptions{threads: 1}, &bytes.Buffer{})
			if !errors.Is(err, errUsage) {
				t.Errorf("error %v, want a usage error", err)
			}
		})
	}
}
