package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"strings"
	"testing"
	"time"
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
