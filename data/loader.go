package data

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
)

// Batch is B rows of T positions, row-major: row b of X is X[b*T:(b+1)*T],
// ready for model.ForwardBackward(X, Y, LossMask, B, T, ...).
//
// A DPO batch holds Pairs examples as 2×Pairs rows: the chosen sides first
// (rows 0..Pairs-1), then the rejected sides in the same order, which is
// 2510's x = cat(chosen, rejected).
type Batch struct {
	B, T     int
	X, Y     []int32
	LossMask []float32
	// Indices are the dataset indices of the examples, in row order.
	Indices []int
	// Pairs is the number of DPO pairs (0 for other kinds).
	Pairs int
}

// LoaderOptions configure a Loader.
type LoaderOptions struct {
	// BatchSize is the number of examples per batch on this rank
	// (--batch_size).
	BatchSize int
	// Seed seeds the shuffle: epoch e's order is a permutation drawn from
	// PCG(Seed, e), so it depends on nothing else.
	Seed uint64
	// Shuffle draws a new order every epoch; false keeps file order.
	Shuffle bool
	// Rank and World shard the data for data-parallel training: every step
	// takes a global batch of World×BatchSize consecutive examples of the
	// epoch's order and rank r gets the r-th BatchSize of them. World 0 is 1.
	Rank, World int
	// DropLast drops an epoch's final partial global batch. Without it that
	// batch is kept (as 2510's SkipBatchSampler does) and cut the same way,
	// so some ranks get fewer rows than BatchSize, possibly none (B = 0):
	// every rank still takes the same number of steps.
	DropLast bool
	// Workers fills a batch's rows on this many goroutines (0 or 1: one).
	// It matters for JSONL datasets, which tokenize in Sample.
	Workers int
}

// LoaderState is a Loader's position, to store with a checkpoint. It is
// valid for any batch size and world size: the position is counted in
// examples of the epoch's global order.
type LoaderState struct {
	Epoch  int    `json:"epoch"`
	Offset int    `json:"offset"` // examples of the epoch's order consumed by all ranks
	Seed   uint64 `json:"seed"`
	Shfl   bool   `json:"shuffle"`
	Len    int    `json:"len"` // dataset size, checked on Restore
}

// Loader cuts a Dataset into batches. It is used by one goroutine.
type Loader struct {
	ds     Dataset
	opts   LoaderOptions
	epoch  int
	offset int
	perm   []int // the current epoch's order; nil until needed
	permOf int   // epoch perm belongs to
	rows   []Sample
}

// NewLoader returns a Loader at the start of epoch 0.
func NewLoader(ds Dataset, opts LoaderOptions) (*Loader, error) {
	if ds == nil {
		return nil, errors.New("data: loader: nil dataset")
	}
	if opts.World == 0 {
		opts.World = 1
	}
	if opts.BatchSize < 1 || opts.World < 1 || opts.Rank < 0 || opts.Rank >= opts.World {
		return nil, fmt.Errorf("data: loader: batch size %d, rank %d, world %d", opts.BatchSize, opts.Rank, opts.World)
	}
	switch ds.Kind() {
	case KindPretrain, KindSFT, KindDPO:
	default:
		return nil, fmt.Errorf("data: loader: %v datasets have no batches", ds.Kind())
	}
	return &Loader{ds: ds, opts: opts, permOf: -1}, nil
}

// Epoch returns the current epoch (0-based); it advances when Next reports
// the end of an epoch.
func (l *Loader) Epoch() int { return l.epoch }

// StepsPerEpoch returns the number of batches Next yields per epoch (the
// same on every rank).
func (l *Loader) StepsPerEpoch() int {
	g := l.opts.BatchSize * l.opts.World
	if l.opts.DropLast {
		return l.ds.Len() / g
	}
	return (l.ds.Len() + g - 1) / g
}

// Step returns the number of batches already taken in this epoch.
func (l *Loader) Step() int {
	g := l.opts.BatchSize * l.opts.World
	return (l.offset + g - 1) / g
}

// State returns the position to save.
func (l *Loader) State() LoaderState {
	return LoaderState{Epoch: l.epoch, Offset: l.offset, Seed: l.opts.Seed, Shfl: l.opts.Shuffle, Len: l.ds.Len()}
}

// Restore moves to a saved position. The seed, shuffle setting and dataset
// size must match the ones it was saved with.
func (l *Loader) Restore(s LoaderState) error {
	if s.Seed != l.opts.Seed || s.Shfl != l.opts.Shuffle || s.Len != l.ds.Len() {
		return fmt.Errorf("data: loader: state is for seed %d, shuffle %v, %d examples; loader has seed %d, shuffle %v, %d",
			s.Seed, s.Shfl, s.Len, l.opts.Seed, l.opts.Shuffle, l.ds.Len())
	}
	if s.Epoch < 0 || s.Offset < 0 || s.Offset > s.Len {
		return fmt.Errorf("data: loader: bad state epoch %d offset %d", s.Epoch, s.Offset)
	}
	l.epoch, l.offset = s.Epoch, s.Offset
	return nil
}

// order returns the example order of the current epoch.
func (l *Loader) order() []int {
	if l.permOf == l.epoch {
		return l.perm
	}
	n := l.ds.Len()
	switch {
	case l.opts.Shuffle:
		l.perm = rand.New(rand.NewPCG(l.opts.Seed, uint64(l.epoch))).Perm(n)
	case len(l.perm) != n: // file order, the same every epoch
		l.perm = make([]int, n)
		for i := range l.perm {
			l.perm[i] = i
		}
	}
	l.permOf = l.epoch
	return l.perm
}

// Next fills b with this rank's next batch and returns true, or returns
// false at the end of the epoch, after which the loader is at the start of
// the next epoch (so a training loop calls Next until false, once per
// epoch). b's slices are reused.
func (l *Loader) Next(ctx context.Context, b *Batch) (bool, error) {
	if err := ctx.Err(); err != nil {
		return false, err
	}
	n := l.ds.Len()
	g := l.opts.BatchSize * l.opts.World
	if l.offset >= n || (l.opts.DropLast && n-l.offset < g) {
		l.epoch++
		l.offset = 0
		return false, nil
	}
	order := l.order()
	end := min(l.offset+g, n)
	lo := min(l.offset+l.opts.Rank*l.opts.BatchSize, end)
	hi := min(lo+l.opts.BatchSize, end)
	idx := order[lo:hi]
	l.offset = end
	if err := l.fill(ctx, b, idx); err != nil {
		return false, err
	}
	return true, nil
}

// fill builds b from the examples idx.
func (l *Loader) fill(ctx context.Context, b *Batch, idx []int) error {
	k := len(idx)
	t := l.ds.MaxSeqLen() - 1
	if cap(l.rows) < k {
		l.rows = make([]Sample, k)
	}
	rows := l.rows[:k]
	var firstErr error
	var mu sync.Mutex
	sample := func(r int) {
		if err := l.ds.Sample(idx[r], &rows[r]); err != nil {
			mu.Lock()
			if firstErr == nil {
				firstErr = err
			}
			mu.Unlock()
		}
	}
	if w := min(l.opts.Workers, k); w > 1 {
		var wg sync.WaitGroup
		next := make(chan int)
		for range w {
			wg.Go(func() {
				for r := range next {
					sample(r)
				}
			})
		}
		for r := range k {
			if ctx.Err() != nil {
				break
			}
			next <- r
		}
		close(next)
		wg.Wait()
	} else {
		for r := range k {
			sample(r)
		}
	}
	if firstErr != nil {
		return firstErr
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	nrows := k
	b.Pairs = 0
	if l.ds.Kind() == KindDPO {
		nrows, b.Pairs = 2*k, k
	}
	b.B, b.T = nrows, t
	b.X = resize(b.X, nrows*t)
	b.Y = resize(b.Y, nrows*t)
	b.LossMask = resize(b.LossMask, nrows*t)
	b.Indices = append(b.Indices[:0], idx...)
	put := func(row int, s *Sample) {
		copy(b.X[row*t:(row+1)*t], s.X)
		copy(b.Y[row*t:(row+1)*t], s.Y)
		copy(b.LossMask[row*t:(row+1)*t], s.LossMask)
	}
	for r := range rows {
		put(r, &rows[r])
		if b.Pairs > 0 {
			put(k+r, rows[r].Rejected)
		}
	}
	return nil
}
