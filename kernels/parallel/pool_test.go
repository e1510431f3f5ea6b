package parallel

import (
	"sync/atomic"
	"testing"
	"time"
)

// countTask counts how often each item is run.
type countTask struct{ hits []atomic.Int32 }

func (c *countTask) Run(lo, hi int) {
	for i := lo; i < hi; i++ {
		c.hits[i].Add(1)
	}
}

func checkOnce(t *testing.T, c *countTask, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		if got := c.hits[i].Swap(0); got != 1 {
			t.Fatalf("item %d of %d ran %d times, want 1", i, n, got)
		}
	}
}

// TestForRunsEachItemOnce covers back-to-back calls (workers still
// spinning), calls after the workers have parked, and more workers than
// cores.
func TestForRunsEachItemOnce(t *testing.T) {
	for _, workers := range []int{1, 2, 3, 5} {
		p := New(workers)
		c := &countTask{hits: make([]atomic.Int32, 1000)}
		for call := 0; call < 200; call++ {
			n := 1 + call*7%1000
			p.For(n, 1+call%5, c)
			checkOnce(t, c, n)
			p.ForChunks(n, 1+call%7, c)
			checkOnce(t, c, n)
			if call%50 == 49 {
				// Long enough for every worker to stop spinning and park.
				time.Sleep(20 * time.Millisecond)
			}
		}
		p.Split(999, c)
		checkOnce(t, c, 999)
		p.Close()
	}
}

// TestLateWorkers: calls end without waiting for workers that have not
// joined them, so a worker often wakes (from parking, or descheduled)
// after the call it was woken for has ended, while the next one, with
// another task and other sizes, runs. It must then take chunks of the
// current call only: every item of every call runs exactly once, on its
// own task.
func TestLateWorkers(t *testing.T) {
	for _, workers := range []int{2, 4} {
		p := New(workers)
		a := &countTask{hits: make([]atomic.Int32, 500)}
		b := &countTask{hits: make([]atomic.Int32, 500)}
		for call := 0; call < 400; call++ {
			if call%40 == 39 {
				time.Sleep(5 * time.Millisecond) // let the workers park
			}
			na, nb := 2+call*13%499, 2+call*29%499
			p.ForChunks(na, 1+call%3, a)
			p.ForChunks(nb, 1+call%4, b)
			checkOnce(t, a, na)
			checkOnce(t, b, nb)
		}
		p.Close()
	}
}

// TestForNoAlloc: a parallel call allocates nothing.
func TestForNoAlloc(t *testing.T) {
	p := New(2)
	defer p.Close()
	c := &countTask{hits: make([]atomic.Int32, 64)}
	if n := testing.AllocsPerRun(100, func() { p.For(64, 1, c) }); n != 0 {
		t.Fatalf("For allocates %v times per call", n)
	}
}

// sleepTask sleeps per chunk, so busy time is known from the outside.
type sleepTask struct{ per time.Duration }

func (s *sleepTask) Run(lo, hi int) { time.Sleep(time.Duration(hi-lo) * s.per) }

// soloTask runs on one worker only (one item).
type soloTask struct{ d time.Duration }

func (s *soloTask) Run(lo, hi int) { time.Sleep(s.d) }

// TestStats: busy time, wall time and the serial gap are attributed and
// add up; a one-chunk task is 1/workers efficient; stats off records
// nothing and turning them on resets them.
func TestStats(t *testing.T) {
	p := New(2)
	defer p.Close()
	start := time.Now()
	p.EnableStats(true)
	st := &sleepTask{per: time.Millisecond}
	for range 3 {
		p.For(8, 1, st) // 8 ms of sleeping split over 2 workers
	}
	time.Sleep(20 * time.Millisecond) // serial: no pool call
	p.For(1, 1, &soloTask{d: 10 * time.Millisecond})
	tasks, serial := p.Stats()
	elapsed := time.Since(start)
	if len(tasks) != 2 {
		t.Fatalf("got %d task types, want 2: %+v", len(tasks), tasks)
	}
	byName := map[string]TaskStats{}
	for _, s := range tasks {
		byName[s.Name] = s
	}
	sl, so := byName["parallel.sleepTask"], byName["parallel.soloTask"]
	if sl.Calls != 3 || so.Calls != 1 {
		t.Fatalf("calls: sleepTask %d soloTask %d, want 3 and 1", sl.Calls, so.Calls)
	}
	if sl.Busy < 24*time.Millisecond || sl.Busy > sl.Wall*2+time.Millisecond {
		t.Fatalf("sleepTask busy %v wall %v: want busy ≥ 24ms and ≤ 2×wall", sl.Busy, sl.Wall)
	}
	if e := so.Efficiency(2); e < 0.45 || e > 0.55 {
		t.Fatalf("one-chunk task efficiency %.2f, want 0.5", e)
	}
	// Bounds that hold however slowly a busy host runs the test: at least
	// the serial sleep, and none of the pool calls' wall time.
	if serial < 20*time.Millisecond || serial > elapsed-sl.Wall-so.Wall {
		t.Fatalf("serial %v, want ≥ 20ms and ≤ %v (elapsed %v less the calls' wall time)", serial, elapsed-sl.Wall-so.Wall, elapsed)
	}
	p.EnableStats(false)
	p.For(8, 1, st)
	if tasks, _ := p.Stats(); len(tasks) != 2 || tasks[0].Calls+tasks[1].Calls != 4 {
		t.Fatalf("stats off recorded a call: %+v", tasks)
	}
	p.EnableStats(true)
	if tasks, _ := p.Stats(); len(tasks) != 0 {
		t.Fatalf("EnableStats(true) did not reset: %+v", tasks)
	}
}

// namedTask reports itself under a name of its mode and counts 2 FLOPs
// per item.
type namedTask struct {
	mode string
	n    int
}

func (s *namedTask) Run(lo, hi int)     {}
func (s *namedTask) StatName() string   { return "named." + s.mode }
func (s *namedTask) StatFLOPs() float64 { return 2 * float64(s.n) }

// TestStatsNamed: a Named task is accounted under its StatName, one entry
// per name, and a Counted one sums its StatFLOPs per call.
func TestStatsNamed(t *testing.T) {
	p := New(2)
	defer p.Close()
	p.EnableStats(true)
	for _, c := range []struct {
		mode string
		n    int
	}{{"fwd", 10}, {"bwd", 7}, {"fwd", 5}} {
		nt := &namedTask{mode: c.mode, n: c.n}
		p.For(nt.n, 1, nt)
	}
	tasks, _ := p.Stats()
	got := map[string]TaskStats{}
	for _, s := range tasks {
		got[s.Name] = s
	}
	want := map[string]struct {
		calls int
		flops float64
	}{"named.fwd": {2, 30}, "named.bwd": {1, 14}}
	if len(got) != len(want) {
		t.Fatalf("got %d names, want %d: %+v", len(got), len(want), tasks)
	}
	for name, w := range want {
		if s := got[name]; s.Calls != w.calls || s.FLOPs != w.flops {
			t.Errorf("%s: %d calls, %v FLOPs; want %d, %v", name, s.Calls, s.FLOPs, w.calls, w.flops)
		}
	}
}

// nopTask touches nothing: BenchmarkCall measures the pool's own cost.
type nopTask struct{}

func (nopTask) Run(lo, hi int) {}

// BenchmarkCall: one parallel call of a decode-sized kernel's shape (8
// chunks) with no work in it, i.e. the synchronisation a decode step pays
// per kernel (about 65 calls per token for the default model).
func BenchmarkCall(b *testing.B) {
	p := New(0)
	defer p.Close()
	var t nopTask
	for b.Loop() {
		p.For(8, 1, t)
	}
}
