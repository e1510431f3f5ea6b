package train_test

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/train"
)

// pairs is a DPO dataset of n random pairs sharing a 3-token prompt; the
// answer (in the loss mask) differs in length per side. Pair empty (if
// >= 0) has a rejected side with no answer tokens.
type pairs struct {
	n, maxLen, vocab int
	empty            int
}

func (s pairs) Kind() data.Kind { return data.KindDPO }
func (s pairs) Len() int        { return s.n }
func (s pairs) MaxSeqLen() int  { return s.maxLen }
func (s pairs) Sample(i int, dst *data.Sample) error {
	r := rand.New(rand.NewPCG(uint64(i), 9))
	T := s.maxLen - 1
	prompt := []int32{int32(r.IntN(s.vocab)), int32(r.IntN(s.vocab)), int32(r.IntN(s.vocab))}
	side := func(d *data.Sample, answer int) {
		ids := append([]int32(nil), prompt...)
		for range answer {
			ids = append(ids, int32(r.IntN(s.vocab)))
		}
		d.X, d.Y, d.LossMask = make([]int32, T), make([]int32, T), make([]float32, T)
		for t := range T {
			if t < len(ids) {
				d.X[t] = ids[t]
			}
			if t+1 < len(ids) {
				d.Y[t] = ids[t+1]
				if t+1 >= len(prompt) {
					d.LossMask[t] = 1
				}
			}
		}
	}
	side(dst, 2+r.IntN(T-3))
	dst.Rejected = new(data.Sample)
	n := 2 + r.IntN(T-3)
	if i == s.empty {
		n = 0
	}
	side(dst.Rejected, n)
	return nil
}

// dpoConfig is a DPO run of 10 pairs, batch 2 (5 steps), against the SFT
// checkpoint full_sft_32.pth it writes into dir.
func dpoConfig(t *testing.T, dir string) train.Config {
	c := train.DefaultConfig(train.StageDPO)
	c.Model = tinyConfig(false)
	c.Options.BatchSize, c.Options.LearningRate, c.Options.SaveInterval = 2, 1e-2, 0
	c.Data = pairs{n: 10, maxLen: 12, vocab: 60, empty: -1}
	c.Backend = cpu.New(cpu.Options{Threads: 1})
	c.OutDir, c.SaveDType = dir, "f32"
	savePth(t, filepath.Join(dir, "full_sft_32.pth"), 5)
	return c
}

// TestDPORun: a DPO run starts from the SFT checkpoint (its first step's
// rewards are exactly 0: policy = reference), writes dpo_32.pth and the
// rewards into metrics.jsonl, and learns (the margin grows).
func TestDPORun(t *testing.T) {
	dir := t.TempDir()
	c := dpoConfig(t, dir)
	var logs []string
	c.OnLog = func(m string) { logs = append(logs, m) }
	res := mustRun(t, c)
	if res.Weights != filepath.Join(dir, "dpo_32.pth") || !strings.Contains(res.Source, "full_sft_32.pth") {
		t.Errorf("weights %s from %s, want dpo_32.pth from full_sft_32.pth", res.Weights, res.Source)
	}
	if _, err := os.Stat(res.Weights); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "dpo: sum loss, beta 0.15") {
		t.Errorf("logs do not name the loss: %q", logs)
	}
	h := res.Steps
	if len(h) != 5 || h[0].Stage != train.StageDPO {
		t.Fatalf("%d steps of stage %q, want 5 of dpo", len(h), h[0].Stage)
	}
	if s := h[0]; s.RewardChosen != 0 || s.RewardRejected != 0 || s.RewardMargin != 0 || math.Abs(s.Loss-math.Ln2) > 1e-6 {
		t.Errorf("step 1: %+v, want rewards 0 and loss ln 2 (policy = reference)", s)
	}
	last := h[len(h)-1]
	if !(last.RewardMargin > 0) || last.RewardAcc == 0 || !(last.Loss < math.Ln2) {
		t.Errorf("last step: %+v, want a positive margin and a loss below ln 2", last)
	}
	if math.Abs(last.RewardMargin-(last.RewardChosen-last.RewardRejected)) > 1e-6 {
		t.Errorf("margin %g ≠ chosen %g − rejected %g", last.RewardMargin, last.RewardChosen, last.RewardRejected)
	}
}

// TestDPOResume: a DPO run interrupted after step 2 and resumed takes the
// same steps, bit for bit, as an uninterrupted one (the reference is
// reloaded from the SFT checkpoint, not the resume state).
func TestDPOResume(t *testing.T) {
	whole := mustRun(t, dpoConfig(t, t.TempDir()))
	dir := t.TempDir()
	c := dpoConfig(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	c.OnStep = func(s train.Step) {
		if s.Step == 2 {
			cancel()
		}
	}
	if _, err := train.Run(ctx, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	c = dpoConfig(t, dir)
	c.Resume = true
	res := mustRun(t, c)
	if res.Step != 2 || len(res.Steps) != len(whole.Steps) {
		t.Fatalf("resumed at step %d with %d steps, want 2 and %d", res.Step, len(res.Steps), len(whole.Steps))
	}
	for i, s := range whole.Steps {
		g := res.Steps[i]
		if g.Loss != s.Loss || g.RewardMargin != s.RewardMargin || g.GradNorm != s.GradNorm {
			t.Errorf("step %d: loss %.17g margin %.17g, want %.17g %.17g", i+1, g.Loss, g.RewardMargin, s.Loss, s.RewardMargin)
		}
	}
}

// TestDPODataParallel: 2 ranks × 1 pair take the steps of 1 process × 2
// pairs, with a last global batch of 1 pair (1+0).
func TestDPODataParallel(t *testing.T) {
	ds := pairs{n: 5, maxLen: 12, vocab: 60, empty: -1}
	trainer := func(batch, r, world int, comm train.Reducer) *train.Trainer {
		m, ref := tinyModel(t, false), tinyModel(t, false)
		d, err := train.NewDPO(m, ref, train.DPOOptions{})
		if err != nil {
			t.Fatal(err)
		}
		l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: batch, Rank: r, World: world})
		if err != nil {
			t.Fatal(err)
		}
		o := train.DefaultDPOOptions()
		o.LearningRate = 3e-3
		return &train.Trainer{Model: m, Loader: l, Opt: train.NewAdamW(m.Params, o.AdamW), Options: o, Comm: comm, Micro: d.Step}
	}
	one := trainer(2, 0, 1, nil)
	var want []train.Step
	one.OnStep = func(s train.Step) { want = append(want, s) }
	if err := one.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := newGroup(2)
	two := []*train.Trainer{trainer(1, 0, 2, rank{g, 0, 2}), trainer(1, 1, 2, rank{g, 1, 2})}
	var got []train.Step
	two[0].OnStep = func(s train.Step) { got = append(got, s) }
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, tr := range two {
		wg.Go(func() { errs[i] = tr.Run(context.Background()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if len(want) != 3 || len(got) != 3 {
		t.Fatalf("steps: %d (1 process) vs %d (2 ranks), want 3", len(want), len(got))
	}
	for i := range want {
		w, g := want[i], got[i]
		if math.Abs(w.Loss-g.Loss) > 1e-5 || math.Abs(w.RewardMargin-g.RewardMargin) > 1e-5 || w.RewardAcc != g.RewardAcc {
			t.Errorf("step %d: 1 process %+v\n2 ranks %+v", i+1, w, g)
		}
	}
	var maxd float64
	for i, v := range one.Model.Params.Data {
		maxd = math.Max(maxd, math.Abs(float64(v-two[1].Model.Params.Data[i])))
	}
	t.Logf("final weights differ by up to %g", maxd)
	if maxd > 1e-5 {
		t.Errorf("final weights differ by up to %g", maxd)
	}
}

// TestDPOBadInput: a pair whose rejected side has no answer tokens, no SFT
// checkpoint, and bad loss settings are errors that say so.
func TestDPOBadInput(t *testing.T) {
	dir := t.TempDir()
	c := dpoConfig(t, dir)
	c.Data = pairs{n: 10, maxLen: 12, vocab: 60, empty: 3}
	c.Options.Shuffle = false
	_, err := train.Run(context.Background(), c)
	if !errors.Is(err, train.ErrEmptySpan) || !strings.Contains(err.Error(), "example 3") || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("empty answer: %v", err)
	}
	c = dpoConfig(t, t.TempDir())
	c.OutDir = t.TempDir()
	if _, err := train.Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "full_sft_32.pth is not there") {
		t.Errorf("no SFT model: %v", err)
	}
	for _, o := range []train.DPOOptions{{Loss: "avg"}, {Beta: -1}} {
		c = dpoConfig(t, t.TempDir())
		c.DPO = o
		if _, err := train.Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "--") {
			t.Errorf("%+v: %v", o, err)
		}
	}
}
