package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/train"
)

// TestStepWatchLogLines: off a terminal a long step is reported by a line
// every logEvery (not a bar), a short one not at all, and Ctrl-C is
// acknowledged naming the step that will be saved.
func TestStepWatchLogLines(t *testing.T) {
	var b bytes.Buffer
	w := newStepWatch(&b, 30*time.Second)
	t0 := time.Unix(1000, 0)
	w.interrupted() // before training starts: nothing to say
	w.setBar(nil)
	w.micro(train.Micro{Step: 3, Total: 10, K: 1, N: 4}, t0)
	w.tick(t0.Add(time.Second))
	if b.Len() != 0 {
		t.Fatalf("a 1 s step printed %q", b.String())
	}
	w.micro(train.Micro{Step: 3, Total: 10, K: 2, N: 4}, t0.Add(20*time.Second))
	w.tick(t0.Add(31 * time.Second))
	w.tick(t0.Add(40 * time.Second)) // too soon for another line
	if got, want := b.String(), "step 3/10: micro-batch 2/4: working, 31s so far\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	w.stepDone()
	b.Reset()
	w.tick(t0.Add(90 * time.Second)) // no step running
	w.interrupted()
	if got, want := b.String(), "\ninterrupt: stopping after the current micro-batch, then saving the last completed step…\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestEvalProgressLines: off a terminal eval reports progress as lines at
// most every 10 s.
func TestEvalProgressLines(t *testing.T) {
	var b bytes.Buffer
	now := time.Unix(0, 0)
	p := evalProgress(&b, func() time.Time { return now })
	for i := 1; i <= 10; i++ {
		now = now.Add(4 * time.Second)
		p(i, 10)
	}
	if got, want := b.String(), "eval: 3/10 samples scored\neval: 6/10 samples scored\neval: 9/10 samples scored\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
	if evalProgress(nil, time.Now) != nil {
		t.Error("nil writer: want no hook")
	}
}

// TestTrainEvalData: --eval_data scores held-out data at every
// --eval_interval and at the end, printed and recorded as eval_loss; a
// dense run prints no aux loss.
func TestTrainEvalData(t *testing.T) {
	dir := t.TempDir()
	pre, held := filepath.Join(dir, "pre.jsonl"), filepath.Join(dir, "held.jsonl")
	writeTexts(t, pre, 8)
	writeTexts(t, held, 3)
	out, err := pretrain(t, pre, filepath.Join(dir, "out"), "--eval_data", held, "--eval_interval", "2", "--log_interval", "1")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if n := strings.Count(out, "eval step "); n != 2 {
		t.Errorf("%d eval lines, want 2 (steps 2 and 4):\n%s", n, out)
	}
	if !strings.Contains(out, "eval step 4/4: loss ") {
		t.Errorf("no evaluation at the end:\n%s", out)
	}
	if strings.Contains(out, "aux") {
		t.Errorf("dense run prints an aux loss:\n%s", out)
	}
	b, err := os.ReadFile(filepath.Join(dir, "out", "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(b), `"eval_loss"`); n != 2 {
		t.Errorf("metrics.jsonl: %d eval_loss fields, want 2:\n%s", n, b)
	}
}
