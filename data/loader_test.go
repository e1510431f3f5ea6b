package data_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/data"
)

// fakeDataset's example i is the row X = [i i ...], Y = [-i ...], mask 1.
type fakeDataset struct {
	kind data.Kind
	n, t int
}

func (d fakeDataset) Kind() data.Kind { return d.kind }
func (d fakeDataset) Len() int        { return d.n }
func (d fakeDataset) MaxSeqLen() int  { return d.t + 1 }
func (d fakeDataset) Sample(i int, dst *data.Sample) error {
	fill := func(s *data.Sample, v int32) {
		s.X, s.Y, s.LossMask = make([]int32, d.t), make([]int32, d.t), make([]float32, d.t)
		for j := range d.t {
			s.X[j], s.Y[j], s.LossMask[j] = v, -v, 1
		}
	}
	fill(dst, int32(i))
	if d.kind == data.KindDPO {
		dst.Rejected = new(data.Sample)
		fill(dst.Rejected, int32(1000+i))
	}
	return nil
}

// epoch returns the batches' example indices of one epoch.
func epoch(t *testing.T, l *data.Loader) [][]int {
	t.Helper()
	var out [][]int
	var b data.Batch
	for {
		ok, err := l.Next(context.Background(), &b)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			return out
		}
		if b.B != len(b.Indices) || len(b.X) != b.B*b.T {
			t.Fatalf("batch B %d, %d indices, %d X", b.B, len(b.Indices), len(b.X))
		}
		for r, i := range b.Indices {
			if b.X[r*b.T] != int32(i) || b.Y[r*b.T+b.T-1] != -int32(i) {
				t.Fatalf("row %d holds %d, want example %d", r, b.X[r*b.T], i)
			}
		}
		out = append(out, slices.Clone(b.Indices))
	}
}

func newLoader(t *testing.T, ds data.Dataset, o data.LoaderOptions) *data.Loader {
	t.Helper()
	l, err := data.NewLoader(ds, o)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func TestLoaderOrder(t *testing.T) {
	t.Parallel()
	ds := fakeDataset{data.KindPretrain, 10, 3}
	t.Run("file order keeps the partial batch", func(t *testing.T) {
		l := newLoader(t, ds, data.LoaderOptions{BatchSize: 4})
		want := [][]int{{0, 1, 2, 3}, {4, 5, 6, 7}, {8, 9}}
		for e := range 2 {
			if d := diff(want, epoch(t, l)); d != "" {
				t.Errorf("epoch %d: %s", e, d)
			}
		}
		if l.Epoch() != 2 || l.StepsPerEpoch() != 3 {
			t.Errorf("epoch %d, steps %d", l.Epoch(), l.StepsPerEpoch())
		}
	})
	t.Run("drop last", func(t *testing.T) {
		l := newLoader(t, ds, data.LoaderOptions{BatchSize: 4, DropLast: true})
		if d := diff([][]int{{0, 1, 2, 3}, {4, 5, 6, 7}}, epoch(t, l)); d != "" || l.StepsPerEpoch() != 2 {
			t.Error(d)
		}
	})
	t.Run("shuffle is a seeded permutation per epoch", func(t *testing.T) {
		o := data.LoaderOptions{BatchSize: 3, Shuffle: true, Seed: 7, Workers: 2}
		a, b := newLoader(t, ds, o), newLoader(t, ds, o)
		e0, e1 := epoch(t, a), epoch(t, a)
		if d := diff(e0, epoch(t, b)); d != "" {
			t.Errorf("same seed, different order: %s", d)
		}
		if diff(e0, e1) == "" {
			t.Error("epochs 0 and 1 have the same order")
		}
		seen := slices.Concat(e0...)
		slices.Sort(seen)
		if d := diff([]int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, seen); d != "" {
			t.Errorf("not a permutation: %s", d)
		}
		o.Seed = 8
		if diff(e0, epoch(t, newLoader(t, ds, o))) == "" {
			t.Error("seeds 7 and 8 give the same order")
		}
	})
}

func TestLoaderRestore(t *testing.T) {
	t.Parallel()
	ds := fakeDataset{data.KindSFT, 23, 2}
	o := data.LoaderOptions{BatchSize: 4, Shuffle: true, Seed: 1}
	ref := newLoader(t, ds, o)
	all := append(epoch(t, ref), epoch(t, ref)...)

	l := newLoader(t, ds, o)
	var b data.Batch
	for range 3 { // into epoch 0
		if ok, err := l.Next(context.Background(), &b); !ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	js, err := json.Marshal(l.State())
	if err != nil {
		t.Fatal(err)
	}
	var st data.LoaderState
	if err := json.Unmarshal(js, &st); err != nil {
		t.Fatal(err)
	}
	r := newLoader(t, ds, o)
	if err := r.Restore(st); err != nil {
		t.Fatal(err)
	}
	if r.Step() != 3 {
		t.Errorf("restored step %d, want 3", r.Step())
	}
	got := append(epoch(t, r), epoch(t, r)...)
	if d := diff(all[3:], got); d != "" {
		t.Errorf("restored order: %s", d)
	}
	// A state for another seed or dataset is refused.
	other := o
	other.Seed = 2
	if err := newLoader(t, ds, other).Restore(st); err == nil {
		t.Error("restore with another seed: no error")
	}
	if err := newLoader(t, fakeDataset{data.KindSFT, 24, 2}, o).Restore(st); err == nil {
		t.Error("restore on another dataset size: no error")
	}
}

// TestLoaderSharding checks that World ranks × BatchSize B see exactly the
// batches of one rank × World·B, in the same order.
func TestLoaderSharding(t *testing.T) {
	t.Parallel()
	for _, n := range []int{24, 23, 13} {
		ds := fakeDataset{data.KindPretrain, n, 2}
		single := epoch(t, newLoader(t, ds, data.LoaderOptions{BatchSize: 6, Shuffle: true, Seed: 3}))
		var ranks [3][][]int
		for r := range 3 {
			ranks[r] = epoch(t, newLoader(t, ds, data.LoaderOptions{BatchSize: 2, Shuffle: true, Seed: 3, Rank: r, World: 3}))
		}
		if len(ranks[0]) != len(single) || len(ranks[1]) != len(single) || len(ranks[2]) != len(single) {
			t.Fatalf("n=%d: steps %d %d %d, single %d", n, len(ranks[0]), len(ranks[1]), len(ranks[2]), len(single))
		}
		for s := range single {
			joined := slices.Concat(ranks[0][s], ranks[1][s], ranks[2][s])
			if d := diff(single[s], joined); d != "" {
				t.Errorf("n=%d step %d: %s", n, s, d)
			}
		}
	}
	if _, err := data.NewLoader(fakeDataset{data.KindSFT, 4, 2}, data.LoaderOptions{BatchSize: 1, Rank: 2, World: 2}); err == nil {
		t.Error("rank 2 of 2: no error")
	}
}

func TestLoaderDPO(t *testing.T) {
	t.Parallel()
	l := newLoader(t, fakeDataset{data.KindDPO, 5, 2}, data.LoaderOptions{BatchSize: 2})
	var b data.Batch
	if ok, err := l.Next(context.Background(), &b); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if b.B != 4 || b.Pairs != 2 {
		t.Fatalf("B %d pairs %d, want 4 rows for 2 pairs", b.B, b.Pairs)
	}
	var rows []int32
	for r := range b.B {
		rows = append(rows, b.X[r*b.T])
	}
	if d := diff([]int32{0, 1, 1000, 1001}, rows); d != "" {
		t.Errorf("rows are not chosen then rejected: %s", d)
	}
}

func TestLoaderCancel(t *testing.T) {
	t.Parallel()
	l := newLoader(t, fakeDataset{data.KindSFT, 5, 2}, data.LoaderOptions{BatchSize: 2})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := l.Next(ctx, new(data.Batch)); err == nil {
		t.Error("canceled context: no error")
	}
}
