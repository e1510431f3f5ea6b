package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/model"
)

// tinyBench is a bench configuration small enough for a unit test.
func tinyBench(moe bool) BenchOptions {
	return BenchOptions{
		Model: ModelFlags{HiddenSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
			IntermediateSize: 96, VocabSize: 256, MaxPositions: 128, UseMoE: moe},
		Device:    DeviceFlags{Device: "cpu"},
		BatchSize: 2, SeqLen: 16, Steps: 2, PromptLen: 8, NewTokens: 4,
		GEMM: "auto", DType: "f32", JSON: true,
	}
}

// lastJSON decodes the last line of out, which --json makes a JSON object.
func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var m map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &m); err != nil {
		t.Fatalf("last line is not JSON: %v\n%s", err, out)
	}
	return m
}

// TestBenchTrain: the report has every line and the JSON every key scripts
// read, and the figures that do not depend on timing are exact: the sizes,
// the parameter count, the activation memory and the FLOPs per token
// (gflops ÷ tokens/s, both from the same median step). Timings themselves
// decide nothing: on a shared machine any bound on them would be flaky.
func TestBenchTrain(t *testing.T) {
	for _, moe := range []bool{false, true} {
		opts := tinyBench(moe)
		g := &globalOptions{threads: 2}
		var out bytes.Buffer
		if err := runBenchTrain(context.Background(), opts, g, &out); err != nil {
			t.Fatal(err)
		}
		want := benchTrainWant(t, opts, g)
		s := out.String()
		for _, line := range []string{want.header, "tokens/s", "median of 2", "MFU", "measured:", "activations", "threads     2, busy"} {
			if !strings.Contains(s, line) {
				t.Errorf("moe=%v: report lacks %q:\n%s", moe, line, s)
			}
		}
		m := lastJSON(t, s)
		for _, k := range []string{"tokens_per_s", "step_s", "mfu", "gflops", "peak_gflops", "busy_fraction", "serial_fraction"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("moe=%v: JSON %q = %v, want a number", moe, k, m[k])
			}
		}
		// The per-kernel breakdown: the LM head's three products (vocab
		// 256, hidden 64) and attention count FLOPs; the rest only time.
		ks, _ := m["kernels"].(map[string]any)
		named := []string{"gemm.NT ·×256×64", "gemm.NN ·×64×256", "gemm.TN 256×64×·", "attention.fwd", "attention.bwd", "adamw", "(serial)"}
		if moe {
			named = append(named, "moe_route.fwd", "moe_route.bwd", "gather", "scatter_add")
		}
		for _, name := range named {
			k, ok := ks[name].(map[string]any)
			if ms, isNum := k["ms"].(float64); !ok || !isNum || ms < 0 {
				t.Errorf("moe=%v: kernels[%q] = %v, want {ms: ≥ 0, ...}", moe, name, ks[name])
				continue
			}
			_, hasRate := k["gflops"]
			if counted := strings.HasPrefix(name, "gemm.") || strings.HasPrefix(name, "attention."); hasRate != counted {
				t.Errorf("moe=%v: kernels[%q] = %v: gflops present %v, want %v", moe, name, k, hasRate, counted)
			}
		}
		exact := map[string]any{"batch_size": float64(opts.BatchSize), "seq_len": float64(opts.SeqLen), "use_moe": moe,
			"activation_bytes": float64(want.activations), "backend": want.backend}
		for k, v := range exact {
			if m[k] != v {
				t.Errorf("moe=%v: JSON %q = %v, want %v", moe, k, m[k], v)
			}
		}
		if tps, gf := m["tokens_per_s"].(float64), m["gflops"].(float64); tps > 0 {
			if got := gf * 1e9 / tps; math.Abs(got-want.flopsPerToken) > 1e-9*want.flopsPerToken {
				t.Errorf("moe=%v: FLOPs per token %.6g, want %.6g", moe, got, want.flopsPerToken)
			}
		}
	}
}

// benchTrainFigures are what bench train reports that timing cannot change.
type benchTrainFigures struct {
	header        string // the model line's parameter count and sizes
	backend       string
	activations   int64
	flopsPerToken float64
}

// benchTrainWant builds bench train's model for opts and takes one step on
// it, to know its parameter count and activation memory.
func benchTrainWant(t *testing.T, opts BenchOptions, g *globalOptions) benchTrainFigures {
	t.Helper()
	m, closeFn, err := benchModel(opts, g)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	B, T := opts.BatchSize, opts.SeqLen
	ids, mask := make([]int32, B*T), make([]float32, B*T)
	for i := range mask {
		mask[i] = 1
	}
	if _, err := m.ForwardBackward(ids, ids, mask, B, T, 1); err != nil {
		t.Fatal(err)
	}
	return benchTrainFigures{
		header:        fmt.Sprintf("%s params, batch %d × seq %d", humanCount(len(m.Params.Data)), B, T),
		backend:       m.Backend().Name(),
		activations:   m.ActivationBytes(),
		flopsPerToken: model.TrainFLOPs(&m.Config, B, T) / float64(B*T),
	}
}

// TestBenchGenerate: prefill and decode speeds are reported for f32, bf16
// and q8_0 weights (their values are timings and decide nothing), with the
// weight bytes a decode step reads: 4, 2 and 34/32 per matrix weight.
func TestBenchGenerate(t *testing.T) {
	wbytes := map[string]float64{}
	for _, dt := range []string{"f32", "bf16", "q8_0"} {
		opts := tinyBench(false)
		opts.DType = dt
		var out bytes.Buffer
		if err := runBenchGenerate(context.Background(), opts, &globalOptions{threads: 2}, &out); err != nil {
			t.Fatal(err)
		}
		m := lastJSON(t, out.String())
		for _, k := range []string{"prefill_tokens_per_s", "decode_tokens_per_s"} {
			if _, ok := m[k].(float64); !ok {
				t.Errorf("%s: JSON %q = %v, want a number", dt, k, m[k])
			}
		}
		if m["dtype"] != dt || m["batch_size"] != float64(opts.BatchSize) {
			t.Errorf("dtype %v, batch_size %v; want %s, %d", m["dtype"], m["batch_size"], dt, opts.BatchSize)
		}
		wbytes[dt], _ = m["decode_weight_bytes"].(float64)
	}
	// The 16-bit copy has the float32 slab's layout (norms included); the
	// Q8_0 copy holds the matrices only, so it is a little under 17/32 of it.
	if f, h, q := wbytes["f32"], wbytes["bf16"], wbytes["q8_0"]; h != f/2 || q >= h*17/32 || q < h*0.5 {
		t.Errorf("decode weight bytes f32 %v, bf16 %v, q8_0 %v: want bf16 = f32/2 and q8_0 just under 17/32 of bf16", f, h, q)
	}
}

// TestBenchBadFlags: non-positive sizes are usage errors, not panics.
func TestBenchBadFlags(t *testing.T) {
	opts := tinyBench(false)
	opts.Steps = 0
	if err := runBenchTrain(context.Background(), opts, &globalOptions{threads: 1}, &bytes.Buffer{}); err == nil {
		t.Error("bench train --steps 0: no error")
	}
	opts = tinyBench(false)
	opts.NewTokens = -1
	if err := runBenchGenerate(context.Background(), opts, &globalOptions{threads: 1}, &bytes.Buffer{}); err == nil {
		t.Error("bench generate --new_tokens -1: no error")
	}
}
