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

// MeasurePeakGFLOPs measures the fp32 peak of threads threads: each runs
// a register-only loop of independent FMAs on its own OS thread, all at
// once, for a few rounds of about 20 ms, and the fastest round counts
// (the least disturbed by other work). That is the ceiling a GEMM can
// approach on this machine at its real clock, which is what MFU should be
// measured against. Without AVX2 it returns PeakGFLOPs' estimate. desc
// says what was measured, including the effective clock.
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
	best := 0.0
	for range 5 {
		d := runConcurrently(threads, func() { loop(n) })
		best = max(best, float64(threads)*float64(n)*perIter/d.Seconds()/1e9)
	}
	ghz := best / (float64(threads) * perCycle)
	return best, fmt.Sprintf("measured: %s loop on %d threads, %.2f GHz effective", path, threads, ghz)
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
