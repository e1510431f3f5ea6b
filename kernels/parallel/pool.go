// Package parallel holds the persistent worker pool that every CPU kernel
// uses to spread work over the machine's cores.
//
// A Pool owns GOMAXPROCS-1 goroutines for its whole life (plus the calling
// goroutine, which always takes a share), and a kernel call costs no
// allocation: work is described by a Task, an interface that pointer-shaped
// values satisfy without boxing.
//
// Waking a parked goroutine costs tens of microseconds (a futex round trip
// through the scheduler, slower still on virtual machines), which is as
// long as a whole decode-sized kernel call: the caller would finish the
// work alone before its helper woke. So a worker that has just finished a
// task spins, watching for the next one, for about spinIters loads (on the
// order of 100 µs) before it parks; back-to-back calls (a decode step, a
// training step's kernels) then start on both cores at once. The caller
// likewise spins, not parks, while the last chunks finish.
//
// A Pool is not safe for concurrent use by several goroutines at once: one
// model (one training loop, one server engine) owns one Pool.
package parallel

import (
	"runtime"
	"sync/atomic"
)

// Task is a unit of parallel work: Run(lo, hi) handles items [lo, hi).
// Implementations are usually pointers to preallocated structs, so that
// passing them through the pool does not allocate.
type Task interface {
	Run(lo, hi int)
}

// spinIters is how many times an idle worker polls for the next task
// before it parks; yieldEvery polls it calls runtime.Gosched, so a
// spinning worker never keeps other goroutines off its core.
const (
	spinIters  = 1 << 17
	yieldEvery = 1 << 8
)

// Pool runs Tasks on a fixed set of goroutines.
type Pool struct {
	n       int // total workers, the caller included
	workers []*worker
	task    Task
	total   int
	grain   int
	closed  bool
	_       [64]byte     // the fields above are written by the caller only
	gen     atomic.Int64 // bumped once per parallel call (and by Close)
	_       [56]byte
	next    atomic.Int64 // next item to hand out
	_       [56]byte
	pending atomic.Int64 // workers still inside the current call
	_       [56]byte
}

// worker is one helper goroutine's parking state, on its own cache line.
type worker struct {
	sleeping atomic.Int32 // 1 while parked (or about to park) on wake
	wake     chan struct{}
	_        [48]byte
}

// New returns a pool with n workers (n <= 0 means runtime.GOMAXPROCS(0)).
// The calling goroutine counts as one of them.
func New(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{n: n}
	for i := 1; i < n; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.run(w, p.gen.Load())
	}
	return p
}

// Workers reports how many goroutines (the caller included) share each Task.
func (p *Pool) Workers() int { return p.n }

// Close stops the pool's goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p.closed {
		return
	}
	p.closed = true
	p.pending.Store(int64(len(p.workers)))
	p.post()
	p.waitWorkers()
}

// post publishes a new generation and wakes the workers that parked.
func (p *Pool) post() {
	p.gen.Add(1)
	for _, w := range p.workers {
		// Paired with the worker's Store(1)-then-Load(gen): one of the two
		// sides always sees the other's write, so no wake-up is lost.
		if w.sleeping.Swap(0) == 1 {
			w.wake <- struct{}{}
		}
	}
}

// waitWorkers spins until every worker has left the current call.
func (p *Pool) waitWorkers() {
	for i := 1; p.pending.Load() != 0; i++ {
		if i%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}

// run is a worker goroutine: wait for a new generation, drain it, repeat.
// seen is the generation at New: read by the goroutine itself, it could
// already include the first call's.
func (p *Pool) run(w *worker, seen int64) {
	for {
		g := p.await(w, seen)
		seen = g
		if p.closed {
			p.pending.Add(-1)
			return
		}
		p.drain()
		p.pending.Add(-1)
	}
}

// await returns the first generation after seen: spinning at first, then
// parked on w.wake.
func (p *Pool) await(w *worker, seen int64) int64 {
	for i := 1; i <= spinIters; i++ {
		if g := p.gen.Load(); g != seen {
			return g
		}
		if i%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
	for {
		w.sleeping.Store(1)
		if g := p.gen.Load(); g != seen {
			if w.sleeping.Swap(0) == 0 {
				<-w.wake // post saw us asleep and sent (or will send) a token
			}
			return g
		}
		<-w.wake // post cleared sleeping before sending
		if g := p.gen.Load(); g != seen {
			return g
		}
	}
}

// drain takes chunks of grain items until none are left.
func (p *Pool) drain() {
	for {
		lo := int(p.next.Add(int64(p.grain))) - p.grain
		if lo >= p.total {
			return
		}
		hi := min(lo+p.grain, p.total)
		p.task.Run(lo, hi)
	}
}

// For runs t over items [0, n) in chunks of at least grain items and returns
// when all are done. With one worker, or when n fits one chunk, t runs on the
// calling goroutine with no synchronisation at all.
func (p *Pool) For(n, grain int, t Task) {
	if n <= 0 {
		return
	}
	if grain < 1 {
		grain = 1
	}
	if p.n == 1 || n <= grain {
		t.Run(0, n)
		return
	}
	// Chunks: at least grain items, and enough chunks for balance (4 per worker).
	chunk := max(grain, (n+4*p.n-1)/(4*p.n))
	p.task, p.total, p.grain = t, n, chunk
	p.next.Store(0)
	p.pending.Store(int64(len(p.workers)))
	p.post()
	p.drain()
	p.waitWorkers()
	p.task = nil
}

// Split runs t with contiguous, near-equal shares of [0, n): Run(lo, hi)
// is called at most Workers() times, once per share.
func (p *Pool) Split(n int, t Task) {
	p.For(n, (n+p.n-1)/p.n, t)
}
