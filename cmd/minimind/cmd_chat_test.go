package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/internal/fixture"
)

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

// interruptingWriter records a chat transcript and plays the user's
// Ctrl-C at fixed points of it: once while the first reply streams (its
// first text), once at the second prompt. It closes hinted when the chat
// prints how to quit. Writes come from one goroutine at a time (the chat
// loop, or the engine while the loop waits), so it needs no lock.
type interruptingWriter struct {
	bytes.Buffer
	intr              chan os.Signal
	hinted            chan struct{}
	prompts           int
	inReply, atPrompt bool // interrupts sent
}

func (w *interruptingWriter) Write(p []byte) (int, error) {
	s := string(p)
	switch {
	case s == "\n> ":
		w.prompts++
		if w.prompts == 2 && !w.atPrompt {
			w.atPrompt = true
			w.intr <- os.Interrupt // read by the prompt's wait, which comes next
		}
	case strings.Contains(s, "(/exit or Ctrl-D quits)"):
		close(w.hinted)
	case w.prompts == 1 && !w.inReply && s != "":
		w.inReply = true
		w.intr <- os.Interrupt
	}
	return w.Buffer.Write(p)
}

// WriteString shadows bytes.Buffer's, which io.WriteString would call.
func (w *interruptingWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// TestChatInterrupt: Ctrl-C while a reply streams stops that reply and the
// chat goes on; Ctrl-C at the prompt only prints how to quit; /exit quits.
// The interrupts are sent at points of the transcript, not after sleeps,
// so the test does not depend on the machine's speed.
func TestChatInterrupt(t *testing.T) {
	dir := tinyModelDir(t)
	opts := ChatOptions{Sampling: SamplingFlags{MaxNewTokens: 200, Temperature: 1, TopP: 1, RepetitionPenalty: 1, Seed: 1}}
	opts.Inference.Model, opts.Inference.ContextLen = dir, 256
	w := &interruptingWriter{intr: make(chan os.Signal, 1), hinted: make(chan struct{})}
	pr, pw := io.Pipe()
	defer pr.Close()
	errc := make(chan error, 1)
	go func() { errc <- runChat(context.Background(), opts, &globalOptions{threads: 2}, pr, w, w.intr) }()
	io.WriteString(pw, "hello\n")
	select {
	case <-w.hinted:
	case err := <-errc:
		t.Fatalf("the chat ended before Ctrl-C at the prompt: %v\n%s", err, w.String())
	case <-time.After(2 * time.Minute):
		t.Fatal("no hint after Ctrl-C at the prompt") // a hang, not a timing assertion
	}
	io.WriteString(pw, "again\n/exit\n")
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s := w.String()
	t.Logf("transcript:\n%s", s)
	if n := strings.Count(s, "[interrupted]"); n != 1 {
		t.Errorf("%d interrupted replies, want 1", n)
	}
	if n := strings.Count(s, "(/exit or Ctrl-D quits)"); n != 1 {
		t.Errorf("%d hints, want 1", n)
	}
	if n := strings.Count(s, "tokens/s]"); n != 2 {
		t.Errorf("%d replies, want 2: the chat did not go on after Ctrl-C", n)
	}
	if _, first, _ := strings.Cut(s, "[interrupted]\n["); strings.HasPrefix(first, "200 tokens") {
		t.Error("the interrupted reply ran to its full length")
	}
}

func TestReplyPrinter(t *testing.T) {
	const openPrompt = "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n<think>\n"
	reply := "Add one and one.\n</think>\n\nIt is 2."
	cases := []struct {
		name, prompt, reply string
		dim, hide           bool
		want                string
	}{
		{"terminal", openPrompt, reply, true, false, "\x1b[2mAdd one and one.\x1b[0m\n\nIt is 2."},
		{"plain", openPrompt, reply, false, false, "[thinking]\nAdd one and one.\n[/thinking]\n\nIt is 2."},
		{"hidden", openPrompt, reply, true, true, "It is 2."},
		{"think in the reply", "<|im_start|>assistant\n", "<think>\nHmm.\n</think>\n\nYes.", false, false, "[thinking]\nHmm.\n[/thinking]\n\nYes."},
		{"stopped while thinking", openPrompt, "Add one", true, false, "\x1b[2mAdd one\x1b[0m\n\n"},
		{"no thinking", "<|im_start|>assistant\n<think>\n\n</think>\n\n", "Just 2.", true, false, "Just 2."},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &replyPrinter{out: &out, split: generate.NewReplySplitter(c.prompt, false), dim: c.dim, hide: c.hide}
			for _, r := range c.reply { // one character at a time, as a stream may cut it
				p.write(string(r))
			}
			p.end()
			if out.String() != c.want {
				t.Errorf("printed %q, want %q", out.String(), c.want)
			}
		})
	}
}

// TestChatOpenThinking chats with a model directory holding minimind-3's
// tokenizer and template: --open_thinking leaves the reply inside an open
// <think> block, so a random model's whole reply is thinking, shown
// between markers (the output is no terminal), or hidden.
func TestChatOpenThinking(t *testing.T) {
	dir := tinyModelDir(t)
	fix := fixture.Dir(t, "minimind3-tokenizer")
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		b, err := os.ReadFile(filepath.Join(fix, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	chatOut := func(open, hide bool) string {
		opts := ChatOptions{OpenThinking: open, HideThinking: hide, Sampling: SamplingFlags{MaxNewTokens: 8, Temperature: 0, TopP: 1, RepetitionPenalty: 1}}
		opts.Inference.Model, opts.Inference.ContextLen = dir, 256
		var out bytes.Buffer
		if err := runChat(context.Background(), opts, &globalOptions{threads: 2}, strings.NewReader("hi\n"), &out, nil); err != nil {
			t.Fatal(err)
		}
		return out.String()
	}
	if s := chatOut(true, false); !strings.Contains(s, "[thinking]\n") || !strings.Contains(s, "\n[/thinking]\n") {
		t.Errorf("--open_thinking: no thinking shown:\n%s", s)
	}
	if s := chatOut(true, true); !regexp.MustCompile(`> \n\[\d+ tokens,`).MatchString(s) {
		t.Errorf("--open_thinking --hide_thinking: the thinking shows:\n%q", s)
	}
	if s := chatOut(false, false); strings.Contains(s, "[thinking]") {
		t.Errorf("without --open_thinking the template closes the think block, yet:\n%s", s)
	}
}
