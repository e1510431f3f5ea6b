package cpu_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/gemm"
	"github.com/minimind-go/minimind/kernels/kerneltest"
)

// TestConformance runs the whole suite for every GEMM path this CPU
// supports, and with 1 and 3 threads (shares that do not divide evenly).
func TestConformance(t *testing.T) {
	for _, k := range []gemm.Kind{gemm.Generic, gemm.AVX2, gemm.AVX512} {
		for _, threads := range []int{1, 3} {
			name := k.String() + "/" + map[int]string{1: "1thread", 3: "3threads"}[threads]
			t.Run(name, func(t *testing.T) {
				if !gemm.Supported(k) {
					t.Skipf("CPU lacks %v", k)
				}
				b := cpu.New(cpu.Options{GEMM: k, Threads: threads})
				defer b.Close()
				kerneltest.Run(t, b)
			})
		}
	}
}

// TestSwiGLURecomputeBackward: the fused kernel gives, bit for bit, what
// its documented unfused sequence gives, on every path and thread count.
func TestSwiGLURecomputeBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	vec := func(n int, lo, hi float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return x
	}
	for _, k := range []gemm.Kind{gemm.Generic, gemm.AVX2, gemm.AVX512} {
		for _, threads := range []int{1, 3} {
			t.Run(fmt.Sprintf("%v/threads=%d", k, threads), func(t *testing.T) {
				if !gemm.Supported(k) {
					t.Skipf("CPU lacks %v", k)
				}
				b := cpu.New(cpu.Options{GEMM: k, Threads: threads})
				defer b.Close()
				for _, n := range []int{1, 13, 70001} {
					g, u, d := vec(n, -10, 10), vec(n, -2, 2), vec(n, -1, 1)
					h1, dg1, du1 := vec(n, -1, 1), vec(n, -1, 1), vec(n, -1, 1)
					b.SwiGLURecomputeBackward(h1, dg1, du1, d, g, u, n)
					h2, dg2, du2 := vec(n, -1, 1), vec(n, -1, 1), vec(n, -1, 1)
					b.SwiGLUForward(h2, g, u, n)
					b.Zero(dg2)
					b.Zero(du2)
					b.SwiGLUBackward(dg2, du2, d, g, u, n)
					for i := 0; i < n; i++ {
						if h1[i] != h2[i] || dg1[i] != dg2[i] || du1[i] != du2[i] {
							t.Fatalf("n=%d [%d]: fused h,dg,du = %g,%g,%g; unfused %g,%g,%g",
								n, i, h1[i], dg1[i], du1[i], h2[i], dg2[i], du2[i])
						}
					}
				}
			})
		}
	}
}
