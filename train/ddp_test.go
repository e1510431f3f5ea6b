package train_test

import (
	"context"
	"math"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/train"
)

// group is an in-process all-reduce over size goroutines: each call
// blocks until every rank has contributed, then all read the sum.
type group struct {
	mu      sync.Mutex
	cond    *sync.Cond
	size    int
	sum     []float32
	result  []float32
	arrived int
	gen     int
}

func newGroup(size int) *group {
	g := &group{size: size}
	g.cond = sync.NewCond(&g.mu)
	return g
}

func (g *group) allReduceSum(buf []float32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.arrived == 0 {
		g.sum = make([]float32, len(buf))
	}
	for i, v := range buf {
		g.sum[i] += v
	}
	g.arrived++
	if gen := g.gen; g.arrived < g.size {
		for gen == g.gen {
			g.cond.Wait()
		}
	} else {
		g.result, g.arrived = g.sum, 0
		g.gen++
		g.cond.Broadcast()
	}
	copy(buf, g.result)
}

// rank is one member of a group, a train.Reducer.
type rank struct {
	g    *group
	r    int
	size int
}

func (r rank) Rank() int { return r.r }
func (r rank) Size() int { return r.size }
func (r rank) AllReduceSum(_ context.Context, buf []float32) error {
	r.g.allReduceSum(buf)
	return nil
}

// ragged is synthetic with row i's targets cut to its first 1+i%(T)
// positions: rows hold different numbers of targets.
type ragged struct{ synthetic }

func (s ragged) Sample(i int, dst *data.Sample) error {
	if err := s.synthetic.Sample(i, dst); err != nil {
		return err
	}
	for t := 1 + i%len(dst.LossMask); t < len(dst.LossMask); t++ {
		dst.LossMask[t] = 0
	}
	return nil
}

// TestDataParallelUneven: 2 ranks × batch 2 take the steps of 1 process ×
// batch 4 — losses and final weights — when rows hold different numbers of
// targets and the last global batch is split 2+1 or 1+0, with and without
// accumulation. Before ranks weighed their means by their targets, the
// last step's loss was halved.
func TestDataParallelUneven(t *testing.T) {
	for _, c := range []struct {
		name      string
		n, accum  int
		wantSteps int
	}{
		{"11 rows, last 2+1", 11, 1, 3},
		{"9 rows, last 1+0", 9, 1, 3},
		{"11 rows, accumulation 2", 11, 2, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			ds := ragged{synthetic{n: c.n, maxLen: 9, vocab: 60}}
			trainer := func(batch, r, world int, comm train.Reducer) *train.Trainer {
				m := tinyModel(t, false)
				l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: batch, Rank: r, World: world})
				if err != nil {
					t.Fatal(err)
				}
				o := train.DefaultOptions()
				o.Epochs, o.Accumulation, o.LearningRate = 1, c.accum, 3e-3
				return &train.Trainer{Model: m, Loader: l, Opt: train.NewAdamW(m.Params, o.AdamW), Options: o, Comm: comm}
			}
			one := trainer(4, 0, 1, nil)
			var want []float64
			one.OnStep = func(s train.Step) { want = append(want, s.Loss) }
			if err := one.Run(context.Background()); err != nil {
				t.Fatal(err)
			}
			g := newGroup(2)
			two := []*train.Trainer{trainer(2, 0, 2, rank{g, 0, 2}), trainer(2, 1, 2, rank{g, 1, 2})}
			var got []float64
			two[0].OnStep = func(s train.Step) { got = append(got, s.Loss) }
			var wg sync.WaitGroup
			errs := make([]error, 2)
			for i, tr := range two {
				wg.Go(func() { errs[i] = tr.Run(context.Background()) })
			}
			wg.Wait()
			for _, err := range errs {
				if err != nil {
					t.Fatal(err)
				}
			}
			if len(want) != c.wantSteps || len(got) != len(want) {
				t.Fatalf("steps: %d (1 process) vs %d (2 ranks), want %d", len(want), len(got), c.wantSteps)
			}
			for i := range want {
				if math.Abs(want[i]-got[i]) > 1e-5 {
					t.Errorf("step %d: loss %.7f (1 process) vs %.7f (2 ranks)", i+1, want[i], got[i])
				}
			}
			var maxd float64
			for i, v := range one.Model.Params.Data {
				for _, tr := range two {
					maxd = math.Max(maxd, math.Abs(float64(v-tr.Model.Params.Data[i])))
				}
			}
			if maxd > 1e-5 {
				t.Errorf("final weights differ by up to %g", maxd)
			}
		})
	}
}
