package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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

func TestChatCommand(t *testing.T) {
	dir := tinyModelDir(t)
	opts := ChatOptions{System: "You are a test.", Sampling: SamplingFlags{MaxNewTokens: 16, Temperature: 0.8, TopP: 0.9, TopK: 50, RepetitionPenalty: 1, Seed: 1}}
	opts.Inference.Model, opts.Inference.ContextLen = dir, 256
	in := strings.NewReader("你好\nTell me more.\n/reset\n\nagain\n/exit\nnever read\n")
	var out bytes.Buffer
	if err := runChat(context.Background(), opts, &globalOptions{threads: 2}, in, &out, nil); err != nil {
		t.Fatal(err)
	}
	s := out.String()
	t.Logf("transcript:\n%s", s)
	if n := strings.Count(s, "tokens/s]"); n != 3 {
		t.Errorf("%d replies with tokens/s, want 3", n)
	}
	if !strings.Contains(s, "(new conversation)") {
		t.Error("/reset not acknowledged")
	}
	// The history is long enough to be trimmed without failing.
	long := strings.NewReader(strings.Repeat(strings.Repeat("word ", 60)+"\n", 6))
	out.Reset()
	if err := runChat(context.Background(), opts, &globalOptions{threads: 2}, long, &out, nil); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(out.String(), "tokens/s]"); n != 6 {
		t.Errorf("long chat: %d replies, want 6:\n%s", n, out.String())
	}
}

// armedWriter sends an interrupt on the first write after the prompt of
// the first message: the reply has started streaming.
type armedWriter struct {
	bytes.Buffer
	intr    chan os.Signal
	prompts int
	fired   bool
}

func (w *armedWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte("> ")) {
		w.prompts++
	} else if w.prompts == 1 && !w.fired {
		w.fired = true
		w.intr <- os.Interrupt
	}
	return w.Buffer.Write(p)
}

// WriteString shadows bytes.Buffer's, which io.WriteString would call.
func (w *armedWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// TestChatInterrupt: Ctrl-C while a reply streams stops that reply (the
// chat goes on); Ctrl-C at the prompt only prints how to quit.
func TestChatInterrupt(t *testing.T) {
	dir := tinyModelDir(t)
	opts := ChatOptions{Sampling: SamplingFlags{MaxNewTokens: 200, Temperature: 1, TopP: 1, RepetitionPenalty: 1, Seed: 1}}
	opts.Inference.Model, opts.Inference.ContextLen = dir, 256
	intr := make(chan os.Signal, 1)
	w := &armedWriter{intr: intr}
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() { errc <- runChat(context.Background(), opts, &globalOptions{threads: 2}, pr, w, intr) }()
	io.WriteString(pw, "hello\n")
	time.Sleep(500 * time.Millisecond)
	intr <- os.Interrupt // at the prompt
	time.Sleep(100 * time.Millisecond)
	io.WriteString(pw, "/exit\n")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := w.String()
	t.Logf("transcript:\n%s", s)
	if !strings.Contains(s, "[interrupted]") {
		t.Error("the streaming reply was not interrupted")
	}
	if !strings.Contains(s, "(/exit or Ctrl-D quits)") {
		t.Error("Ctrl-C at the prompt printed no hint")
	}
	if strings.Contains(s, "200 tokens") {
		t.Error("the interrupted reply ran to its full length")
	}
}
