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

// TestAdamWScaled: the fused clip-and-update gives, bit for bit, Scale
// then AdamW, and leaves the gradients as they were.
func TestAdamWScaled(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	vec := func(n int, lo, hi float64) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(lo + (hi-lo)*r.Float64())
		}
		return x
	}
	clone := func(x []float32) []float32 { return append([]float32(nil), x...) }
	for _, k := range []gemm.Kind{gemm.Generic, gemm.AVX2, gemm.AVX512} {
		t.Run(k.String(), func(t *testing.T) {
			if !gemm.Supported(k) {
				t.Skipf("CPU lacks %v", k)
			}
			b := cpu.New(cpu.Options{GEMM: k, Threads: 2})
			defer b.Close()
			for _, n := range []int{1, 13, 70001} {
				p, g, m, v := vec(n, -1, 1), vec(n, -3, 3), vec(n, -0.1, 0.1), vec(n, 0, 0.01)
				p1, g1, m1, v1 := clone(p), clone(g), clone(m), clone(v)
				b.AdamWScaled(p1, g1, m1, v1, 0.37, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3)
				p2, g2, m2, v2 := clone(p), clone(g), clone(m), clone(v)
				b.Scale(g2, 0.37)
				b.AdamW(p2, g2, m2, v2, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3)
				for i := 0; i < n; i++ {
					if p1[i] != p2[i] || m1[i] != m2[i] || v1[i] != v2[i] || g1[i] != g[i] {
						t.Fatalf("n=%d [%d]: fused p,m,v,g = %g,%g,%g,%g; unfused %g,%g,%g (g was %g)",
							n, i, p1[i], m1[i], v1[i], g1[i], p2[i], m2[i], v2[i], g[i])
					}
				}
			}
		})
	}
}

// TestCrossEntropyForwardBackward: the fused cross-entropy gives, bit for
// bit, CrossEntropyForward then CrossEntropyBackward, in place or not,
// ignored rows (target −1) and a zero and a negative dLoss included.
func TestCrossEntropyForwardBackward(t *testing.T) {
	r := rand.New(rand.NewPCG(71, 72))
	N, V := 37, 203
	for _, k := range []gemm.Kind{gemm.Generic, gemm.AVX2, gemm.AVX512} {
		t.Run(k.String(), func(t *testing.T) {
			if !gemm.Supported(k) {
				t.Skipf("CPU lacks %v", k)
			}
			b := cpu.New(cpu.Options{GEMM: k, Threads: 3})
			defer b.Close()
			logits, tg, dL := make([]float32, N*V), make([]int32, N), make([]float32, N)
			for i := range logits {
				logits[i] = float32(r.NormFloat64() * 4)
			}
			for i := range tg {
				tg[i], dL[i] = int32(r.IntN(V)), float32(r.Float64())/float32(N)
			}
			tg[3], tg[20], dL[5], dL[6] = -1, -1, 0, -0.01
			want, wantLoss := append([]float32(nil), logits...), make([]float32, N)
			b.CrossEntropyForward(wantLoss, want, tg, N, V)
			b.CrossEntropyBackward(want, want, tg, dL, N, V)
			for _, inPlace := range []bool{false, true} {
				in := append([]float32(nil), logits...)
				d, loss := make([]float32, N*V), make([]float32, N)
				if inPlace {
					d = in
				}
				b.CrossEntropyForwardBackward(loss, d, in, tg, dL, N, V)
				for i := range loss {
					if loss[i] != wantLoss[i] {
						t.Fatalf("inPlace=%v loss[%d] = %g, want %g", inPlace, i, loss[i], wantLoss[i])
					}
				}
				for i := range d {
					if d[i] != want[i] {
						t.Fatalf("inPlace=%v dLogits[%d] = %g, want %g", inPlace, i, d[i], want[i])
					}
				}
				if wantLoss[0] <= 0 || wantLoss[3] != 0 {
					t.Fatalf("losses %g, %g: want > 0 and 0 (ignored row)", wantLoss[0], wantLoss[3])
				}
			}
		})
	}
}
