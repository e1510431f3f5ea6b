package gemm

import (
	"runtime"
	"testing"
)

// TestMeasurePeak checks the measured peak is a plausible multiple of the
// FMA width: between 0.3 and 6 GHz effective per thread. (A broken loop,
// one that did no FMAs or far fewer than counted, lands far outside.)
func TestMeasurePeak(t *testing.T) {
	if !hasAVX2 {
		t.Skip("no AVX2: MeasurePeakGFLOPs returns the nominal estimate")
	}
	threads := min(2, runtime.GOMAXPROCS(0))
	g, desc := MeasurePeakGFLOPs(threads)
	perCycle, _ := flopsPerCycle()
	ghz := g / (float64(threads) * perCycle)
	t.Logf("%.1f GFLOP/s (%s)", g, desc)
	if ghz < 0.3 || ghz > 6 {
		t.Fatalf("measured peak %.1f GFLOP/s is %.2f GHz effective: implausible", g, ghz)
	}
}
