package main

import (
	"bytes"
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/generate/generatetest"
)

// tinyModelDir writes a random tiny model with the default tokenizer's
// vocabulary as an HF directory.
func tinyModelDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "tiny")
	p := generatetest.Params(t, generatetest.Config(6400, 512), 1)
	if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGenerateCommand(t *testing.T) {
	dir := tinyModelDir(t)
	g := &globalOptions{threads: 2, quiet: true}
	run := func(opts GenerateOptions) (string, error) {
		var out, errOut bytes.Buffer
		opts.Inference.Model, opts.Inference.ContextLen = dir, 256
		err := runGenerate(context.Background(), opts, g, &out, &errOut)
		return out.String(), err
	}
	greedy := SamplingFlags{MaxNewTokens: 12, Temperature: 0, TopP: 1, RepetitionPenalty: 1}
	cases := []struct {
		name string
		opts GenerateOptions
	}{
		{"raw prompt", GenerateOptions{Sampling: greedy, Prompts: []string{"大语言模型是"}}},
		{"chat prompt", GenerateOptions{Sampling: greedy, Prompts: []string{"你好"}, Chat: true, System: "Be brief."}},
		{"batch", GenerateOptions{Sampling: greedy, Prompts: []string{"one", "two", "three"}, Chat: true}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := run(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			b, err := run(c.opts)
			if err != nil {
				t.Fatal(err)
			}
			if a != b || strings.TrimSpace(a) == "" {
				t.Fatalf("greedy output differs between runs or is empty:\n%q\n%q", a, b)
			}
			if want := len(c.opts.Prompts); want > 1 && strings.Count(a, "=== ") != want {
				t.Fatalf("want %d replies:\n%s", want, a)
			}
		})
	}
	usage := []struct {
		name string
		opts GenerateOptions
	}{
		{"no prompt", GenerateOptions{Sampling: greedy}},
		{"bad top_p", GenerateOptions{Sampling: SamplingFlags{TopP: 3}, Prompts: []string{"x"}}},
	}
	for _, c := range usage {
		t.Run(c.name, func(t *testing.T) {
			if _, err := run(c.opts); !errors.Is(err, errUsage) {
				t.Fatalf("err = %v, want a usage error", err)
			}
		})
	}
	if _, err := run(GenerateOptions{Sampling: greedy, Prompts: []string{strings.Repeat("long prompt ", 200)}}); err == nil || !strings.Contains(err.Error(), "context window") {
		t.Fatalf("over-long prompt: %v", err)
	}
}
