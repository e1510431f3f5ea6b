package train_test

import (
	"context"
	"math"
	"math/rand/v2"
	"sync/atomic"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// synthetic is a pretrain dataset of random full-length rows (every
// position a target), deterministic per index.
type synthetic struct {
	n, maxLen, vocab int
	kind             data.Kind // pretrain when zero
}

func (s synthetic) Kind() data.Kind { return max(s.kind, data.KindPretrain) }
func (s synthetic) Len() int        { return s.n }
func (s synthetic) MaxSeqLen() int  { return s.maxLen }
func (s synthetic) Sample(i int, dst *data.Sample) error {
	r := rand.New(rand.NewPCG(uint64(i), 5))
	T := s.maxLen - 1
	dst.X, dst.Y, dst.LossMask = make([]int32, T), make([]int32, T), make([]float32, T)
	prev := int32(r.IntN(s.vocab))
	for t := 0; t < T; t++ {
		next := int32(r.IntN(s.vocab))
		dst.X[t], dst.Y[t], dst.LossMask[t] = prev, next, 1
		prev = next
	}
	return nil
}

// tinyConfig is modeltest's tiny model with the synthetic data's 60-token
// vocabulary.
func tinyConfig(moe bool) model.Config {
	c := modeltest.TinyConfig(moe)
	c.VocabSize = 60
	return c
}

func tinyModel(t testing.TB, moe bool) *model.Model {
	t.Helper()
	return modeltest.Model(t, tinyConfig(moe), 11, cpu.New(cpu.Options{}))
}

func newTrainer(t testing.TB, moe bool, batch, accum, epochs int) *train.Trainer {
	t.Helper()
	m := tinyModel(t, moe)
	l, err := data.NewLoader(synthetic{n: 37, maxLen: 9, vocab: 60}, data.LoaderOptions{BatchSize: batch, Seed: 3, Shuffle: true})
	if err != nil {
		t.Fatal(err)
	}
	o := train.DefaultOptions()
	o.Epochs, o.Accumulation, o.LearningRate, o.WarmupIters, o.SaveInterval = epochs, accum, 3e-3, 2, 0
	return &train.Trainer{Model: m, Loader: l, Opt: train.NewAdamW(m.Params, o.AdamW), Options: o}
}

// cancelAfter is a context whose Err turns to Canceled after n calls: it
// stops the loop at a precise point, also between micro-batches.
type cancelAfter struct {
	context.Context
	n atomic.Int64
}

func (c *cancelAfter) Err() error {
	if c.n.Add(-1) < 0 {
		return context.Canceled
	}
	return nil
}

// TestExactResume: a run interrupted (at a step boundary, or in the middle
// of gradient accumulation) and resumed from its saved state produces
// bit-identical per-step losses and final weights.
func TestExactResume(t *testing.T) {
	for _, moe := range []bool{false, true} {
		ref := newTrainer(t, moe, 3, 2, 2)
		var want []float64
		ref.OnStep = func(s train.Step) { want = append(want, s.Loss) }
		if err := ref.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		// Each step calls ctx.Err once in Run and once per Next: cutting
		// after 3k+1 calls lands between the micro-batches of step k+1.
		for _, cut := range []int64{7, 8, 14, 22} {
			first := newTrainer(t, moe, 3, 2, 2)
			var got []float64
			first.OnStep = func(s train.Step) { got = append(got, s.Loss) }
			var saved *train.ResumeState
			first.OnSave = func(_ context.Context, reason string, st *train.ResumeState) error {
				if reason == "interrupt" {
					// Copy: the slabs keep changing in a live run.
					c := *st
					c.Params = append([]float32(nil), st.Params...)
					c.M, c.V = append([]float32(nil), st.M...), append([]float32(nil), st.V...)
					saved = &c
				}
				return nil
			}
			ctx := &cancelAfter{Context: context.Background()}
			ctx.n.Store(cut)
			if err := first.Run(ctx); err != context.Canceled {
				t.Fatalf("cut %d: Run = %v, want context.Canceled", cut, err)
			}
			if saved == nil || saved.Step != len(got) {
				t.Fatalf("cut %d: saved state %v after %d steps", cut, saved, len(got))
			}
			second := newTrainer(t, moe, 3, 2, 2)
			if err := second.Restore(saved, 0); err != nil {
				t.Fatal(err)
			}
			second.OnStep = func(s train.Step) { got = append(got, s.Loss) }
			if err := second.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) {
				t.Fatalf("moe=%v cut %d: %d steps, want %d", moe, cut, len(got), len(want))
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("moe=%v cut %d: step %d loss %.17g, want %.17g (interrupted after %d steps)", moe, cut, i+1, got[i], want[i], saved.Step)
				}
			}
			for i, v := range ref.Model.Params.Data {
				if second.Model.Params.Data[i] != v {
					t.Fatalf("moe=%v cut %d: final weight %d differs", moe, cut, i)
				}
			}
		}
	}
}

// TestAccumulationEquivalence: 4 micro-batches of 2 give the same update as
// one batch of 8 (every row has the same number of targets).
func TestAccumulationEquivalence(t *testing.T) {
	a := newTrainer(t, false, 2, 4, 1)
	b := newTrainer(t, false, 8, 1, 1)
	for _, tr := range []*train.Trainer{a, b} {
		tr.Loader, _ = data.NewLoader(synthetic{n: 8, maxLen: 9, vocab: 60}, data.LoaderOptions{BatchSize: map[bool]int{true: 2, false: 8}[tr == a], Seed: 3})
		tr.Options.WarmupIters = 0
	}
	var la, lb float64
	a.OnStep = func(s train.Step) { la = s.Loss }
	b.OnStep = func(s train.Step) { lb = s.Loss }
	if err := a.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := b.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if a.Step != 1 || b.Step != 1 {
		t.Fatalf("steps %d and %d, want 1", a.Step, b.Step)
	}
	if math.Abs(la-lb) > 1e-6 {
		t.Errorf("loss %.8f (4×2) vs %.8f (1×8)", la, lb)
	}
	var maxd float64
	for i, v := range a.Model.Params.Data {
		maxd = math.Max(maxd, math.Abs(float64(v-b.Model.Params.Data[i])))
	}
	if maxd > 1e-6 {
		t.Errorf("weights differ by %g after one step", maxd)
	}
	t.Logf("accumulate 4×2 vs batch 8: loss diff %.2g, max weight diff %.2g", math.Abs(la-lb), maxd)
}

func TestResumeWorldSize(t *testing.T) {
	tr := newTrainer(t, false, 3, 1, 1)
	st := tr.State()
	st.WorldSize = 2
	if err := tr.Restore(st, 0); err == nil {
		t.Fatal("restoring a 2-rank state in a 1-rank run succeeded")
	}
}
