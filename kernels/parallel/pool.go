// Package parallel holds the persistent worker pool that every CPU kernel
// uses to spread work over the machine's cores.
//
// A Pool owns GOMAXPROCS-1 goroutines for its whole life (plus the calling
// goroutine, which always takes a share), so a kernel call costs two channel
// operations per worker and no allocation: work is described by a Task, an
// interface that pointer-shaped values satisfy without boxing.
//
// A Pool is not safe for concurrent use by several goroutines at once: one
// model (one training loop, one server engine) owns one Pool.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Task is a unit of parallel work: Run(lo, hi) handles items [lo, hi).
// Implementations are usually pointers to preallocated structs, so that
// passing them through the pool does not allocate.
type Task interface {
	Run(lo, hi int)
}

// Pool runs Tasks on a fixed set of goroutines.
type Pool struct {
	n     int // total workers, the caller included
	wake  []chan struct{}
	wg    sync.WaitGroup
	task  Task
	total int
	grain int
	next  atomic.Int64
	_     [56]byte // keep next away from the fields workers only read
}

// New returns a pool with n workers (n <= 0 means runtime.GOMAXPROCS(0)).
// The calling goroutine counts as one of them.
func New(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	p := &Pool{n: n}
	for i := 1; i < n; i++ {
		c := make(chan struct{})
		p.wake = append(p.wake, c)
		go p.worker(c)
	}
	return p
}

// Workers reports how many goroutines (the caller included) share each Task.
func (p *Pool) Workers() int { return p.n }

// Close stops the pool's goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	for _, c := range p.wake {
		close(c)
	}
	p.wake = nil
}

func (p *Pool) worker(wake chan struct{}) {
	for range wake {
		p.drain()
		p.wg.Done()
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
	workers := min(p.n-1, (n+chunk-1)/chunk-1)
	p.task, p.total, p.grain = t, n, chunk
	p.next.Store(0)
	p.wg.Add(workers)
	for i := 0; i < workers; i++ {
		p.wake[i] <- struct{}{}
	}
	p.drain()
	p.wg.Wait()
	p.task = nil
}

// Split runs t with contiguous, near-equal shares of [0, n): Run(lo, hi)
// is called at most Workers() times, once per share.
func (p *Pool) Split(n int, t Task) {
	p.For(n, (n+p.n-1)/p.n, t)
}
