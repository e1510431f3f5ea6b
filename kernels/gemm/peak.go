package gemm

import "fmt"

// nominalGHz is the clock assumed by PeakGFLOPs: the sustained all-core
// AVX clock of the 3.3 GHz-class x86 servers we measure on. There is no
// portable way to read the real one, so MFU figures say which they used.
const nominalGHz = 3.3

// PeakGFLOPs estimates the fp32 peak of cores cores for MFU: FLOPs per
// cycle of the widest FMA path the CPU has (AVX-512: 2 pipes × 16 lanes ×
// 2 = 64; AVX2+FMA: 2 × 8 × 2 = 32; otherwise a generic per-core estimate
// of 8, two 4-wide SSE pipes without FMA) × nominalGHz × cores. desc says
// how it was derived.
func PeakGFLOPs(cores int) (gflops float64, desc string) {
	perCycle, path := 8.0, "generic SSE estimate"
	switch {
	case hasAVX512:
		perCycle, path = 64, "AVX-512 FMA"
	case hasAVX2:
		perCycle, path = 32, "AVX2 FMA"
	}
	g := float64(cores) * perCycle * nominalGHz
	return g, fmt.Sprintf("%d cores × %s %g FLOP/cycle × %.1f GHz", cores, path, perCycle, nominalGHz)
}
