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
// A call ends when its chunks are done, not when every worker has looked
// at it: chunks are claimed from one atomic word holding the call's chunk
// count and the next chunk, so a worker that wakes late (parked, or its
// thread descheduled on a busy machine) finds nothing left and the caller,
// which took those chunks itself, never waited for it. A decode step makes
// about 65 calls per token; on a loaded 2-core host, waiting for the other
// thread at every call cost ~6 µs each.
//
// A Pool is not safe for concurrent use by several goroutines at once: one
// model (one training loop, one server engine) owns one Pool.
package parallel

import (
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync/atomic"
	"time"
)

// Task is a unit of parallel work: Run(lo, hi) handles items [lo, hi).
// Implementations are usually pointers to preallocated structs, so that
// passing them through the pool does not allocate.
type Task interface {
	Run(lo, hi int)
}

// Named is an optional Task extension for the statistics (EnableStats):
// a task that implements it is accounted under StatName() rather than its
// Go type, so one task type can report several kernels (a GEMM by the
// shape of its product, attention forward apart from backward). It is
// called once per pool call, only while stats are on.
type Named interface {
	StatName() string
}

// Counted is an optional Task extension for the statistics: StatFLOPs is
// the floating-point operations of the current pool call, added to its
// name's TaskStats.FLOPs. It is called once per call, only while stats
// are on.
type Counted interface {
	StatFLOPs() float64
}

// spinIters is how many times an idle worker polls for the next task
// before it parks; yieldEvery polls it calls runtime.Gosched, so a
// spinning worker never keeps other goroutines off its core.
const (
	spinIters  = 1 << 17
	yieldEvery = 1 << 8
)

// maxChunks bounds a call's chunk count to the claim word's low half (and
// to int on 32-bit platforms); For and ForChunks grow the chunks past it.
const maxChunks = 1<<31 - 1

// Pool runs Tasks on a fixed set of goroutines.
type Pool struct {
	n       int // total workers, the caller included
	workers []*worker
	// The current call: written by the caller before it publishes the
	// call's claim word, read by a worker only after it claimed a chunk
	// from that word (the call cannot end, nor these change, before the
	// chunk is done).
	task   Task
	total  int
	grain  int
	closed atomic.Bool // read by workers that may wake at any time
	_      [64]byte
	gen    atomic.Int64 // bumped once per parallel call (and by Close): wakes the workers
	_      [56]byte
	// claim is the current call's chunk count (high 32 bits) and next
	// unclaimed chunk (low 32 bits); 0 between calls. A worker claims
	// chunk i by CAS from count<<32|i to count<<32|i+1 with i < count, so
	// a claim is always a chunk of the call in progress, whichever call
	// the worker last saw.
	claim atomic.Uint64
	_     [56]byte
	done  atomic.Int64 // chunks of the current call finished
	_     [56]byte
	// exiting counts the workers still running during Close.
	exiting atomic.Int64
	_       [56]byte

	// Optional accounting (EnableStats), written by the caller only; the
	// workers add their busy time to their own busy slot.
	statsOn bool
	stats   map[string]*TaskStats
	since   time.Time        // EnableStats or ResetStats time
	busy    []paddedDuration // [n]: 0 is the caller
}

// paddedDuration is a per-worker counter on its own cache line.
type paddedDuration struct {
	d time.Duration
	_ [56]byte
}

// TaskStats is what a Pool with stats on measured for one task type.
type TaskStats struct {
	Name  string        // Named.StatName, else the task's Go type, e.g. "cpu.ropeTask"
	Calls int           // For/Split calls
	Wall  time.Duration // caller's time inside those calls
	Busy  time.Duration // time all workers spent in Run, summed
	FLOPs float64       // Counted.StatFLOPs summed over the calls (0: not counted)
}

// Efficiency is Busy ÷ (workers × Wall): 1 when every worker was busy for
// the whole of every call, 1/workers when one worker did all the work.
func (s TaskStats) Efficiency(workers int) float64 {
	if s.Wall <= 0 {
		return 0
	}
	return float64(s.Busy) / (float64(workers) * float64(s.Wall))
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
	p := &Pool{n: n, busy: make([]paddedDuration, n)}
	for i := 1; i < n; i++ {
		w := &worker{wake: make(chan struct{}, 1)}
		p.workers = append(p.workers, w)
		go p.run(w, &p.busy[i].d, p.gen.Load())
	}
	return p
}

// Workers reports how many goroutines (the caller included) share each Task.
func (p *Pool) Workers() int { return p.n }

// Close stops the pool's goroutines. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p.closed.Load() {
		return
	}
	p.closed.Store(true)
	p.exiting.Store(int64(len(p.workers)))
	p.post()
	for i := 1; p.exiting.Load() != 0; i++ {
		if i%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
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

// waitChunks spins until the current call's chunks are all done.
func (p *Pool) waitChunks(chunks int64) {
	for i := 1; p.done.Load() != chunks; i++ {
		if i%yieldEvery == 0 {
			runtime.Gosched()
		}
	}
}

// run is a worker goroutine: wait for a new generation, take chunks of
// whatever call is in progress until none are left, repeat.
// seen is the generation at New: read by the goroutine itself, it could
// already include the first call's.
// busy is the worker's own stats slot.
func (p *Pool) run(w *worker, busy *time.Duration, seen int64) {
	for {
		seen = p.await(w, seen)
		if p.closed.Load() {
			p.exiting.Add(-1)
			return
		}
		p.drain(busy)
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

// drain claims chunks of the call in progress until none are left,
// running each and counting it done; the time spent in Run goes to *busy
// when stats are on (statsOn is written before the call's claim word, and
// read after a claim from it, so the read is ordered). The busy update
// precedes the done count, so the caller reads it after the call.
func (p *Pool) drain(busy *time.Duration) {
	for {
		c := p.claim.Load()
		i, count := c&0xffffffff, c>>32
		if i >= count {
			return
		}
		if !p.claim.CompareAndSwap(c, c+1) {
			continue
		}
		lo := int(i) * p.grain
		hi := min(lo+p.grain, p.total)
		if p.statsOn {
			t0 := time.Now()
			p.task.Run(lo, hi)
			*busy += time.Since(t0)
		} else {
			p.task.Run(lo, hi)
		}
		p.done.Add(1)
	}
}

// For runs t over items [0, n) in chunks of at least grain items and returns
// when all are done. With one worker, or when n fits one chunk, t runs on the
// calling goroutine with no synchronisation at all.
func (p *Pool) For(n, grain int, t Task) {
	grain = max(grain, 1)
	chunk := grain
	if n > grain {
		// Enough chunks for balance (4 per worker).
		chunk = max(grain, (n+4*p.n-1)/(4*p.n))
	}
	p.ForChunks(n, chunk, t)
}

// ForChunks is For with chunks of exactly chunk items (the last may be
// shorter), for callers that size their items for balance themselves: a
// GEMM with as many equal row blocks per worker, say, where For's larger
// chunks would leave one worker a block more than another.
func (p *Pool) ForChunks(n, chunk int, t Task) {
	if n <= 0 {
		return
	}
	chunk = max(chunk, 1)
	if p.statsOn {
		p.timedCall(n, chunk, t)
		return
	}
	p.call(n, chunk, t)
}

// call runs t over [0, n) in chunks of chunk items: on the caller alone
// when one worker or one chunk, else on every worker.
func (p *Pool) call(n, chunk int, t Task) {
	if p.n == 1 || n <= chunk {
		t.Run(0, n)
		return
	}
	chunks := (n-1)/chunk + 1
	if chunks > maxChunks {
		chunk = (n-1)/maxChunks + 1
		chunks = (n-1)/chunk + 1
	}
	p.task, p.total, p.grain = t, n, chunk
	p.done.Store(0)
	p.claim.Store(uint64(chunks) << 32)
	p.post()
	p.drain(&p.busy[0].d)
	p.waitChunks(int64(chunks))
	p.claim.Store(0)
	p.task = nil
}

// timedCall is call with accounting: the call's wall time and the busy
// time every worker added during it go to t's name (Named) or type.
func (p *Pool) timedCall(n, chunk int, t Task) {
	var name string
	if nt, ok := t.(Named); ok {
		name = nt.StatName()
	} else {
		name = strings.TrimPrefix(reflect.TypeOf(t).String(), "*")
	}
	s := p.stats[name]
	if s == nil {
		s = &TaskStats{Name: name}
		p.stats[name] = s
	}
	if ct, ok := t.(Counted); ok {
		s.FLOPs += ct.StatFLOPs()
	}
	var before time.Duration
	for i := range p.busy {
		before += p.busy[i].d
	}
	t0 := time.Now()
	p.call(n, chunk, t)
	wall := time.Since(t0)
	if p.n == 1 || n <= chunk {
		p.busy[0].d += wall // the caller alone, untimed by drain: busy throughout
	}
	s.Calls++
	s.Wall += wall
	var after time.Duration
	for i := range p.busy {
		after += p.busy[i].d
	}
	s.Busy += after - before
}

// EnableStats turns per-task accounting on or off. On, every call is
// timed (a few tens of nanoseconds per chunk) and attributed to its task's
// type; see Stats. Turning it on resets the figures.
func (p *Pool) EnableStats(on bool) {
	p.statsOn = on
	if on {
		p.ResetStats()
	}
}

// ResetStats clears the figures and restarts the clock Stats measures
// the serial time against.
func (p *Pool) ResetStats() {
	p.stats = make(map[string]*TaskStats)
	for i := range p.busy {
		p.busy[i].d = 0
	}
	p.since = time.Now()
}

// Stats returns the figures per task name, largest Wall first, and the
// time since EnableStats or ResetStats that the caller spent outside any
// pool call: the serial part of the work between kernels, when the other
// workers idle.
func (p *Pool) Stats() (tasks []TaskStats, serial time.Duration) {
	total := time.Since(p.since)
	for _, s := range p.stats {
		tasks = append(tasks, *s)
		total -= s.Wall
	}
	sort.Slice(tasks, func(i, j int) bool {
		if tasks[i].Wall != tasks[j].Wall {
			return tasks[i].Wall > tasks[j].Wall
		}
		return tasks[i].Name < tasks[j].Name
	})
	return tasks, max(total, 0)
}

// Split runs t with contiguous, near-equal shares of [0, n): Run(lo, hi)
// is called at most Workers() times, once per share.
func (p *Pool) Split(n int, t Task) {
	p.For(n, (n+p.n-1)/p.n, t)
}
