package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/kernels/gemm"
)

// ulps is |got − want| in units of want's last place (float32).
func ulps(got, want float32) float64 {
	if got == want {
		return 0
	}
	u := math.Nextafter32(float32(math.Abs(float64(want))), float32(math.Inf(1))) - float32(math.Abs(float64(want)))
	return math.Abs(float64(got)-float64(want)) / float64(u)
}

func needAVX2(t testing.TB) {
	t.Helper()
	if !gemm.Supported(gemm.AVX2) {
		t.Skip("CPU lacks AVX2+FMA")
	}
}

func randVec(r *rand.Rand, n int, lo, hi float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(lo + (hi-lo)*r.Float64())
	}
	return x
}

// TestExpAccuracy: both exp implementations are within 2 ulp of math.Exp
// over the whole normal range, and flush below it.
func TestExpAccuracy(t *testing.T) {
	var xs []float32
	for x := float32(expLo); x <= 88; x += 0.0137 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, -0, 1e-8, -1e-8, expLo, 88)
	want := make([]float32, len(xs))
	for i, x := range xs {
		want[i] = float32(math.Exp(float64(x)))
	}
	for _, asm := range []bool{false, true} {
		t.Run(fmt.Sprintf("asm=%v", asm), func(t *testing.T) {
			if asm {
				needAVX2(t)
			}
			got := make([]float32, len(xs))
			vexp(asm, got, xs, 1, 0)
			worst := 0.0
			for i := range xs {
				if u := ulps(got[i], want[i]); u > worst {
					worst = u
					if u > 2 {
						t.Errorf("exp(%g) = %g, want %g (%.1f ulp)", xs[i], got[i], want[i], u)
					}
				}
			}
			t.Logf("max error %.2f ulp over %d points", worst, len(xs))
			low := []float32{-88, -100, -1e9, float32(math.Inf(-1)), -87.4, -87.34, -87.337, -87.3366, -87.33655, -87.3365}
			out := make([]float32, len(low))
			vexp(asm, out, low, 1, 0)
			for i, v := range out[:5] {
				if v != 0 {
					t.Errorf("exp(%g) = %g, want 0 (flushed)", low[i], v)
				}
			}
		})
	}
}

// TestSIMDAsmVsGo compares every assembly kernel with its pure-Go twin.
func TestSIMDAsmVsGo(t *testing.T) {
	needAVX2(t)
	r := rand.New(rand.NewPCG(1, 2))
	t.Run("exp_affine_sum", func(t *testing.T) {
		for _, n := range []int{1, 7, 8, 9, 64, 1001} {
			x := randVec(r, n, -30, 5)
			a, b := make([]float32, n), make([]float32, n)
			sa := vexp(true, a, x, -1.5, 0.25)
			sb := vexp(false, b, x, -1.5, 0.25)
			for i := range a {
				if ulps(a[i], b[i]) > 2 {
					t.Fatalf("n=%d [%d]: asm %g, go %g", n, i, a[i], b[i])
				}
			}
			if math.Abs(float64(sa-sb)) > 1e-5*math.Abs(float64(sb)) {
				t.Fatalf("n=%d sum: asm %g, go %g", n, sa, sb)
			}
		}
	})
	t.Run("max", func(t *testing.T) {
		for _, n := range []int{1, 8, 13, 64, 6400} {
			x := randVec(r, n, -50, 50)
			if a, b := vmax(true, x), vmax(false, x); a != b {
				t.Fatalf("n=%d: asm %g, go %g", n, a, b)
			}
		}
	})
	t.Run("swiglu", func(t *testing.T) {
		n := 1003
		g, u, d := randVec(r, n, -12, 12), randVec(r, n, -2, 2), randVec(r, n, -1, 1)
		o1, o2 := make([]float32, n), make([]float32, n)
		swiglu(true, o1, g, u)
		swiglu(false, o2, g, u)
		dg1, du1 := randVec(r, n, -1, 1), randVec(r, n, -1, 1)
		dg2, du2 := append([]float32(nil), dg1...), append([]float32(nil), du1...)
		swigluBack(true, dg1, du1, d, g, u)
		swigluBack(false, dg2, du2, d, g, u)
		for i := 0; i < n; i++ {
			for _, p := range [][2]float32{{o1[i], o2[i]}, {dg1[i], dg2[i]}, {du1[i], du2[i]}} {
				if math.Abs(float64(p[0]-p[1])) > 1e-6*(1+math.Abs(float64(p[1]))) {
					t.Fatalf("[%d] g=%g: asm %g, go %g", i, g[i], p[0], p[1])
				}
			}
		}
	})
	t.Run("dots3x4", func(t *testing.T) {
		for _, hs := range []int{8, 16, 64, 72} {
			q, k := randVec(r, 3*hs+5, -1, 1), randVec(r, 4*(hs+3), -1, 1)
			a, b := make([]float32, 3*7), make([]float32, 3*7)
			dots3x4(true, hs, q, hs+1, k, hs+3, a, 7)
			dots3x4(false, hs, q, hs+1, k, hs+3, b, 7)
			for i := range a {
				if math.Abs(float64(a[i]-b[i])) > 1e-5 {
					t.Fatalf("hs=%d [%d]: asm %g, go %g", hs, i, a[i], b[i])
				}
			}
		}
	})
	t.Run("axpy6x16", func(t *testing.T) {
		for _, kd := range []int{1, 5, 48} {
			for _, trans := range []bool{false, true} {
				ars, acs := kd, 1
				if trans {
					ars, acs = 1, 6
				}
				a := randVec(r, 6*kd, -1, 1)
				b := randVec(r, kd*20, -1, 1)
				c0 := randVec(r, 6*18, -1, 1)
				for _, acc := range []bool{false, true} {
					c1, c2 := append([]float32(nil), c0...), append([]float32(nil), c0...)
					axpyTile(true, 6, 16, kd, a, ars, acs, b, 20, c1, 18, acc)
					axpyTile(false, 6, 16, kd, a, ars, acs, b, 20, c2, 18, acc)
					for i := range c1 {
						if math.Abs(float64(c1[i]-c2[i])) > 1e-5 {
							t.Fatalf("kd=%d trans=%v acc=%v [%d]: asm %g, go %g", kd, trans, acc, i, c1[i], c2[i])
						}
					}
				}
			}
		}
	})
}

// BenchmarkExp reports exp throughput (elements/s) over a 6400-wide row,
// the cross-entropy's softmax.
func BenchmarkExp(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(1, 1)), 6400, -20, 0)
	y := make([]float32, len(x))
	for _, asm := range []bool{false, true} {
		b.Run(fmt.Sprintf("asm=%v", asm), func(b *testing.B) {
			if asm {
				needAVX2(b)
			}
			for b.Loop() {
				vexp(asm, y, x, 1, 0)
			}
			b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
		})
	}
}

// BenchmarkAttention times the tiled attention at the model's shape (B1,
// T512, 8 query / 2 KV heads of 64) and reports GFLOP/s of the causal
// work actually needed (4·HS FLOPs per visible query-key pair forward,
// 10·HS backward).
func BenchmarkAttention(b *testing.B) {
	B, T, NH, NKV, HS := 1, 512, 8, 2, 64
	r := rand.New(rand.NewPCG(3, 4))
	q, k, v := randVec(r, B*T*NH*HS, -1, 1), randVec(r, B*T*NKV*HS, -1, 1), randVec(r, B*T*NKV*HS, -1, 1)
	out, lse, do := make([]float32, len(q)), make([]float32, B*NH*T), randVec(r, len(q), -1, 1)
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	pairs := float64(B*NH) * float64(T*(T+1)/2)
	for _, threads := range []int{1, 2} {
		be := New(Options{Threads: threads})
		b.Run(fmt.Sprintf("forward/threads=%d", threads), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				be.AttentionForward(out, lse, q, k, v, nil, nil, B, T, T, NH, NKV, HS)
			}
			b.ReportMetric(pairs*4*float64(HS)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(fmt.Sprintf("backward/threads=%d", threads), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				be.AttentionBackward(dq, dk, dv, do, out, lse, q, k, v, nil, B, T, NH, NKV, HS)
			}
			b.ReportMetric(pairs*10*float64(HS)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		be.Close()
	}
}

// TestAdamWAsmVsGo: the AVX2 AdamW update gives the Go loop's exact bits.
func TestAdamWAsmVsGo(t *testing.T) {
	needAVX2(t)
	r := rand.New(rand.NewPCG(5, 6))
	c := &adamConsts{decay: 1 - 1e-3*0.1, b1: 0.9, c1: 1 - float32(0.9), b2: 0.999, c2: 1 - float32(0.999),
		bc2Sqrt: 0.0447, eps: 1e-8, stepSize: 1e-3 / 0.19}
	for _, n := range []int{1, 7, 8, 9, 64, 1001} {
		var ps, ms [2][]float32
		g := randVec(r, n, -1, 1)
		p0, m0, v0 := randVec(r, n, -1, 1), randVec(r, n, -0.1, 0.1), randVec(r, n, 0, 0.01)
		var vs [2][]float32
		for k, asm := range []bool{true, false} {
			ps[k] = append([]float32(nil), p0...)
			ms[k] = append([]float32(nil), m0...)
			vs[k] = append([]float32(nil), v0...)
			adamw(asm, ps[k], g, ms[k], vs[k], c)
		}
		for i := 0; i < n; i++ {
			if ps[0][i] != ps[1][i] || ms[0][i] != ms[1][i] || vs[0][i] != vs[1][i] {
				t.Fatalf("n=%d [%d]: asm p,m,v = %g,%g,%g; go %g,%g,%g", n, i,
					ps[0][i], ms[0][i], vs[0][i], ps[1][i], ms[1][i], vs[1][i])
			}
		}
	}
}
