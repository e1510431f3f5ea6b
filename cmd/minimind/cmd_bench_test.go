package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
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

// TestBenchTrain: the report has every figure, the JSON the keys scripts
// read, with plausible values (MFU a fraction, the busy share too).
func TestBenchTrain(t *testing.T) {
	for _, moe := range []bool{false, true} {
		var out bytes.Buffer
		if err := runBenchTrain(context.Background(), tinyBench(moe), &globalOptions{threads: 2}, &out); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		for _, want := range []string{"tokens/s", "median of 2", "MFU", "measured:", "activations", "threads     2, busy", "gemm.job"} {
			if !strings.Contains(s, want) {
				t.Errorf("moe=%v: report lacks %q:\n%s", moe, want, s)
			}
		}
		m := lastJSON(t, s)
		for _, k := range []string{"tokens_per_s", "step_s", "mfu", "peak_gflops", "busy_fraction"} {
			v, ok := m[k].(float64)
			if !ok || v <= 0 {
				t.Errorf("moe=%v: JSON %q = %v, want a positive number", moe, k, m[k])
			}
		}
		if mfu := m["mfu"].(float64); mfu >= 1 {
			t.Errorf("moe=%v: MFU %v ≥ 1", moe, mfu)
		}
		if b := m["busy_fraction"].(float64); b > 1.05 {
			t.Errorf("moe=%v: busy fraction %v > 1", moe, b)
		}
	}
}

// TestBenchGenerate: prefill and decode speeds for f32 and bf16 weights.
func TestBenchGenerate(t *testing.T) {
	for _, dt := range []string{"f32", "bf16"} {
		opts := tinyBench(false)
		opts.DType = dt
		var out bytes.Buffer
		if err := runBenchGenerate(context.Background(), opts, &globalOptions{threads: 2}, &out); err != nil {
			t.Fatal(err)
		}
		m := lastJSON(t, out.String())
		for _, k := range []string{"prefill_tokens_per_s", "decode_tokens_per_s"} {
			if v, ok := m[k].(float64); !ok || v <= 0 {
				t.Errorf("%s: JSON %q = %v, want a positive number", dt, k, m[k])
			}
		}
		if m["dtype"] != dt {
			t.Errorf("dtype %v, want %s", m["dtype"], dt)
		}
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
