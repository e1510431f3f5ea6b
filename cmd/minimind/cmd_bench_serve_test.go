package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// tinyBenchServe drives an in-process server on a tiny random model with
// the default tokenizer's vocabulary.
func tinyBenchServe() BenchServeOptions {
	return BenchServeOptions{
		Bench: BenchOptions{
			Model: ModelFlags{HiddenSize: 64, NumHiddenLayers: 2, NumAttentionHeads: 4, NumKeyValueHeads: 2,
				IntermediateSize: 96, VocabSize: 6400, MaxPositions: 512},
			Device: DeviceFlags{Device: "cpu"}, GEMM: "auto", DType: "f32", JSON: true,
		},
		Clients: []int{1, 2}, Rounds: 2, MaxTokens: 8, Slots: 2, ContextLen: 256,
		Temperature: 0.85, TopP: 0.85, Prompt: "你好", Timeout: time.Minute,
	}
}

// TestBenchServe: one level per --clients value, each with every request
// answered in full (ignore_eos: clients × rounds × max_tokens tokens), the
// timings present and the mean decode batch within [1, min(clients,
// slots)]. The timings' values decide nothing.
func TestBenchServe(t *testing.T) {
	opts := tinyBenchServe()
	var out bytes.Buffer
	if err := runBenchServe(context.Background(), opts, &globalOptions{threads: 2}, &out); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	m := lastJSON(t, out.String())
	if m["slots"] != float64(opts.Slots) || m["max_tokens"] != float64(opts.MaxTokens) || m["rounds"] != float64(opts.Rounds) {
		t.Errorf("JSON slots %v, max_tokens %v, rounds %v; want %d, %d, %d", m["slots"], m["max_tokens"], m["rounds"], opts.Slots, opts.MaxTokens, opts.Rounds)
	}
	levels, _ := m["levels"].([]any)
	if len(levels) != len(opts.Clients) {
		t.Fatalf("%d levels, want %d:\n%s", len(levels), len(opts.Clients), out.String())
	}
	for i, l := range levels {
		lv := l.(map[string]any)
		n := opts.Clients[i]
		exact := map[string]float64{"clients": float64(n), "requests": float64(n * opts.Rounds), "errors": 0,
			"completion_tokens": float64(n * opts.Rounds * opts.MaxTokens)}
		for k, v := range exact {
			if lv[k] != v {
				t.Errorf("level %d: %q = %v, want %v", i, k, lv[k], v)
			}
		}
		for _, k := range []string{"wall_s", "tokens_per_s", "ttft_p50_ms", "ttft_p99_ms", "reply_tokens_per_s"} {
			if v, ok := lv[k].(float64); !ok || v <= 0 {
				t.Errorf("level %d: %q = %v, want a positive number", i, k, lv[k])
			}
		}
		if p50, p99 := lv["ttft_p50_ms"].(float64), lv["ttft_p99_ms"].(float64); p99 < p50 {
			t.Errorf("level %d: TTFT p99 %v < p50 %v", i, p99, p50)
		}
		if mb, ok := lv["mean_batch"].(float64); !ok || mb < 1 || mb > float64(min(n, opts.Slots)) {
			t.Errorf("level %d: mean_batch %v, want within [1, %d]", i, lv["mean_batch"], min(n, opts.Slots))
		}
		if pad, ok := lv["padded_rows"].(float64); !ok || pad < 0 || pad >= 1 {
			t.Errorf("level %d: padded_rows %v, want in [0, 1)", i, lv["padded_rows"])
		}
		if pb, ok := lv["prefill_batch"].(float64); !ok || pb < 1 || pb > float64(min(n, opts.Slots)) {
			t.Errorf("level %d: prefill_batch %v, want within [1, %d]", i, lv["prefill_batch"], min(n, opts.Slots))
		}
	}
	if !strings.Contains(out.String(), "TTFT p50 ms") {
		t.Errorf("no table header:\n%s", out.String())
	}
}

// TestBenchServeErrors: bad flags are usage errors, and a server that
// answers with errors makes the run fail after its report.
func TestBenchServeErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(*BenchServeOptions)
	}{
		{"no clients", func(o *BenchServeOptions) { o.Clients = nil }},
		{"zero clients", func(o *BenchServeOptions) { o.Clients = []int{1, 0} }},
		{"zero rounds", func(o *BenchServeOptions) { o.Rounds = 0 }},
		{"negative max_tokens", func(o *BenchServeOptions) { o.MaxTokens = -1 }},
		{"bad url", func(o *BenchServeOptions) { o.URL = "localhost:1" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tinyBenchServe()
			tc.edit(&opts)
			err := runBenchServe(context.Background(), opts, &globalOptions{threads: 1}, &bytes.Buffer{})
			if !errors.Is(err, errUsage) {
				t.Errorf("error %v, want a usage error", err)
			}
		})
	}
	t.Run("unreachable server", func(t *testing.T) {
		opts := tinyBenchServe()
		opts.URL, opts.Clients, opts.Rounds = "http://127.0.0.1:1", []int{1}, 1
		var out bytes.Buffer
		err := runBenchServe(context.Background(), opts, &globalOptions{threads: 1}, &out)
		if err == nil || !strings.Contains(out.String(), "1 of 1 requests failed") {
			t.Errorf("error %v, report:\n%s", err, out.String())
		}
	})
}
