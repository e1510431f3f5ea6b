package gemm

import (
	"fmt"
	"runtime"
	"sync"
	"time"
)

// nominalGHz is the clock assumed by PeakGFLOPs: the sustained all-core
// AVX clock of the 3.3 GHz-class x86 servers we measure on. There is no
// portable way to read the real one, so MFU figures say which they used;
// MeasurePeakGFLOPs measures it instead.
const nominalGHz = 3.3

// flopsPerCycle is the fp32 FLOPs one core retires per cycle on the widest
// FMA path the CPU has (AVX-512: 2 pipes × 16 lanes × 2 = 64; AVX2+FMA:
// 2 × 8 × 2 = 32; otherwise a generic estimate of 8, two 4-wide SSE pipes
// without FMA), and that path's name.
func flopsPerCycle() (float64, string) {
	switch {
	case hasAVX512:
		return 64, "AVX-512 FMA"
	case hasAVX2:
		return 32, "AVX2 FMA"
	}
	return 8, "generic SSE estimate"
}

// PeakGFLOPs estimates the fp32 peak of cores cores for MFU from the FMA
// width and nominalGHz, without running anything. desc says how it was
// derived.
func PeakGFLOPs(cores int) (gflops float64, desc string) {
	perCycle, path := flopsPerCycle()
	g := float64(cores) * perCycle * nominalGHz
	return g, fmt.Sprintf("%d cores × %s %g FLOP/cycle × %.1f GHz", cores, path, perCycle, nominalGHz)
}

// MeasurePeakGFLOPs measures the fp32 peak of threads threads: a
// register-only loop of independent FMAs runs for rounds of about 20 ms,
// on one locked OS thread alone and on threads of them at once, and the
// fastest round of each counts (the least disturbed by other work). The
// peak is the larger of the concurrent rate and threads × the one-thread
// rate: on a loaded host the threads rarely all get a core at the same
// moment, and a concurrent figure alone then understates the peak (80
// GFLOP/s seen for two 215 GFLOP/s cores) and overstates MFU. That is the
// ceiling a GEMM can approach on this machine at its real clock, which is
// what MFU should be measured against. Without AVX2 it returns
// PeakGFLOPs' estimate. desc says what was measured, including the
// effective clock.
func MeasurePeakGFLOPs(threads int) (gflops float64, desc string) {
	if threads < 1 {
		threads = 1
	}
	perCycle, path := flopsPerCycle()
	loop, perIter := fmaLoopAVX2, 192.0
	switch {
	case hasAVX512:
		loop, perIter = fmaLoopAVX512, 384
	case !hasAVX2:
		return PeakGFLOPs(threads)
	}
	// Calibrate one thread's iteration count to ~20 ms.
	n := 1 << 16
	for {
		t0 := time.Now()
		loop(n)
		if d := time.Since(t0); d > 2*time.Millisecond {
			n = int(float64(n) * float64(20*time.Millisecond) / float64(d))
			break
		}
		n *= 4
	}
	together, alone := 0.0, 0.0
	for range 8 {
		d := runConcurrently(threads, func() { loop(n) })
		together = max(together, float64(threads)*float64(n)*perIter/d.Seconds()/1e9)
		d = runConcurrently(1, func() { loop(n) })
		alone = max(alone, float64(n)*perIter/d.Seconds()/1e9)
	}
	best, how := together, "together"
	if float64(threads)*alone > together {
		best, how = float64(threads)*alone, fmt.Sprintf("one thread × %d; together %.0f GFLOP/s", threads, together)
	}
	ghz := best / (float64(threads) * perCycle)
	return best, fmt.Sprintf("measured: %s loop on %d threads (%s), %.2f GHz effective", path, threads, how, ghz)
}

// runConcurrently runs f on threads locked OS threads started together and
// returns the time until the last one finished.
func runConcurrently(threads int, f func()) time.Duration {
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	ready.Add(threads)
	done.Add(threads)
	for range threads {
		go func() {
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			defer done.Done()
			ready.Done()
			<-start
			f()
		}()
	}
	ready.Wait()
	t0 := time.Now()
	close(start)
	done.Wait()
	return time.Since(t0)
}
