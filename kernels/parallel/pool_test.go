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

// TestForNoAlloc: a parallel call allocates nothing.
func TestForNoAlloc(t *testing.T) {
	p := New(2)
	defer p.Close()
	c := &countTask{hits: make([]atomic.Int32, 64)}
	if n := testing.AllocsPerRun(100, func() { p.For(64, 1, c) }); n != 0 {
		t.Fatalf("For allocates %v times per call", n)
	}
}
