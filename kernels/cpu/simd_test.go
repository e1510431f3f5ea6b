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
	t.Run("swigluBackSet", func(t *testing.T) {
		for _, n := range []int{1, 7, 8, 9, 1003} {
			g, u, d := randVec(r, n, -12, 12), randVec(r, n, -2, 2), randVec(r, n, -1, 1)
			var h, dg, du [2][]float32
			for k, asm := range []bool{true, false} {
				h[k], dg[k], du[k] = make([]float32, n), make([]float32, n), make([]float32, n)
				swigluBackSet(asm, h[k], dg[k], du[k], d, g, u)
				// Same path, unfused into zeros: the same bits.
				h2, dg2, du2 := make([]float32, n), make([]float32, n), make([]float32, n)
				swiglu(asm, h2, g, u)
				swigluBack(asm, dg2, du2, d, g, u)
				for i := 0; i < n; i++ {
					if h[k][i] != h2[i] || dg[k][i] != dg2[i] || du[k][i] != du2[i] {
						t.Fatalf("asm=%v n=%d [%d]: fused h,dg,du = %g,%g,%g; unfused %g,%g,%g",
							asm, n, i, h[k][i], dg[k][i], du[k][i], h2[i], dg2[i], du2[i])
					}
				}
			}
			for i := 0; i < n; i++ {
				// The reference values: float64 formulas.
				gg, uu, dd := float64(g[i]), float64(u[i]), float64(d[i])
				sg := 1 / (1 + math.Exp(-gg))
				want := [3]float64{gg * sg * uu, dd * uu * sg * (1 + gg*(1-sg)), dd * gg * sg}
				for k := range 2 {
					for j, got := range [3]float32{h[k][i], dg[k][i], du[k][i]} {
						if math.Abs(float64(got)-want[j]) > 1e-6*(1+math.Abs(want[j])) {
							t.Fatalf("n=%d [%d] g=%g output %d: got %g, want %g", n, i, g[i], j, got, want[j])
						}
					}
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
}

// TestSwiGLUAVX512: the AVX-512 SwiGLU kernels give the AVX2 kernels'
// exact bits (same operations on wider vectors), at lengths with and
// without a 16-lane tail.
func TestSwiGLUAVX512(t *testing.T) {
	if !gemm.Supported(gemm.AVX512) {
		t.Skip("CPU lacks AVX-512F")
	}
	r := rand.New(rand.NewPCG(61, 62))
	for _, n := range []int{1, 8, 15, 16, 17, 24, 1003, 4096} {
		// exp's clamps included: |g| up to 120.
		g, u, d := randVec(r, n, -120, 120), randVec(r, n, -2, 2), randVec(r, n, -1, 1)
		for i := 0; i < n; i += 3 {
			g[i] = float32(r.NormFloat64() * 3)
		}
		o1, o2 := make([]float32, n), make([]float32, n)
		swiglu512(o1, g, u)
		swiglu(true, o2, g, u)
		var h, dg, du [2][]float32
		for k := range 2 {
			h[k], dg[k], du[k] = make([]float32, n), make([]float32, n), make([]float32, n)
		}
		swigluBackSet512(h[0], dg[0], du[0], d, g, u)
		swigluBackSet(true, h[1], dg[1], du[1], d, g, u)
		for i := 0; i < n; i++ {
			if math.Float32bits(o1[i]) != math.Float32bits(o2[i]) || h[0][i] != h[1][i] || dg[0][i] != dg[1][i] || du[0][i] != du[1][i] {
				t.Fatalf("n=%d [%d] g=%g: avx512 out,h,dg,du = %g,%g,%g,%g; avx2 %g,%g,%g,%g", n, i, g[i],
					o1[i], h[0][i], dg[0][i], du[0][i], o2[i], h[1][i], dg[1][i], du[1][i])
			}
		}
	}
}

// BenchmarkSwiGLU times the SwiGLU forward and the fused backward step on
// one thread over 16K floats (in L1/L2) and 2M (in L3), per kernel path.
func BenchmarkSwiGLU(b *testing.B) {
	for _, n := range []int{1 << 14, 1 << 21} {
		r := rand.New(rand.NewPCG(1, 1))
		g, u, d := randVec(r, n, -4, 4), randVec(r, n, -1, 1), randVec(r, n, -1, 1)
		h, dg, du := make([]float32, n), make([]float32, n), make([]float32, n)
		for _, path := range []string{"go", "avx2", "avx512"} {
			run := func(name string, f func()) {
				b.Run(fmt.Sprintf("%s/n=%d/%s", name, n, path), func(b *testing.B) {
					switch path {
					case "avx2":
						needAVX2(b)
					case "avx512":
						if !gemm.Supported(gemm.AVX512) {
							b.Skip("CPU lacks AVX-512F")
						}
					}
					for b.Loop() {
						f()
					}
					b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
				})
			}
			if path == "avx512" {
				run("fwd", func() { swiglu512(h, g, u) })
				run("bwd", func() { swigluBackSet512(h, dg, du, d, g, u) })
				continue
			}
			asm := path == "avx2"
			run("fwd", func() { swiglu(asm, h, g, u) })
			run("bwd", func() { swigluBackSet(asm, h, dg, du, d, g, u) })
		}
	}
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
		bc2Sqrt: 0.0447, eps: 1e-8, stepSize: 1e-3 / 0.19, gs: 0.73}
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

// TestElementwiseAsmVsGo compares the RMSNorm row kernels and the plain
// element-wise kernels with their pure-Go twins. Element-wise results must
// match bit for bit; the reductions (Σx², the backward dot) sum in a
// different order, so they get a relative tolerance.
func TestElementwiseAsmVsGo(t *testing.T) {
	needAVX2(t)
	lengths := []int{0, 1, 7, 8, 9, 15, 16, 17, 33, 512, 1537}
	r := rand.New(rand.NewPCG(11, 12))
	clone := func(x []float32) []float32 { return append([]float32(nil), x...) }
	// Slices are longer than n (by 3) so an overrun would show in the tail.
	same := func(t *testing.T, n int, what string, a, b []float32) {
		t.Helper()
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("n=%d %s[%d]: asm %g, go %g", n, what, i, a[i], b[i])
			}
		}
	}
	near := func(t *testing.T, n int, what string, a, b float32, rtol float64) {
		t.Helper()
		if math.Abs(float64(a-b)) > rtol*(1e-6+math.Abs(float64(b))) {
			t.Fatalf("n=%d %s: asm %g, go %g (rel %.2g)", n, what, a, b, math.Abs(float64(a-b))/math.Abs(float64(b)))
		}
	}
	// sum64 is the exact-ish oracle for the reductions: Σ f(i) in float64.
	sum64 := func(n int, f func(i int) float64) float64 {
		var s float64
		for i := 0; i < n; i++ {
			s += f(i)
		}
		return s
	}
	tests := []struct {
		name string
		run  func(t *testing.T, n int)
	}{
		{"sumsq", func(t *testing.T, n int) {
			x := randVec(r, n+3, -2, 2)[:n]
			a, b := sumsq(true, x), sumsq(false, x)
			want := sum64(n, func(i int) float64 { return float64(x[i]) * float64(x[i]) })
			// The asm's 32 partial sums are closer to the float64 sum
			// (≤ 2e-7 relative over many seeds) than Go's single running
			// sum (up to ~1.6e-6 at n = 1537), hence the looser bound there.
			near(t, n, "asm vs float64", a, float32(want), 1e-6)
			near(t, n, "asm vs go", a, b, 4e-6)
		}},
		{"sumsq64", func(t *testing.T, n int) {
			x := randVec(r, n+3, -2, 2)[:n]
			a, b := sumsq64(true, x), sumsq64(false, x)
			want := sum64(n, func(i int) float64 { return float64(x[i]) * float64(x[i]) })
			// Float64 sums of exact squares in other orders: far below a
			// float32 ulp apart.
			for _, got := range []float64{a, b} {
				if math.Abs(got-want) > 1e-13*want {
					t.Fatalf("n=%d: asm %v, go %v, float64 loop %v", n, a, b, want)
				}
			}
		}},
		{"scaleMul", func(t *testing.T, n int) {
			x, w, o := randVec(r, n+3, -2, 2), randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1)
			o1, o2 := clone(o), clone(o)
			scaleMul(true, o1, x[:n], w, 0.731)
			scaleMul(false, o2, x[:n], w, 0.731)
			same(t, n, "out", o1, o2)
		}},
		{"rmsBackDot", func(t *testing.T, n int) {
			x, dy, w, dw := randVec(r, n+3, -2, 2), randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1)
			dw1, dw2 := clone(dw), clone(dw)
			const rs = 1.37
			a := rmsBackDot(true, dw1, x[:n], dy, w, rs)
			b := rmsBackDot(false, dw2, x[:n], dy, w, rs)
			same(t, n, "dw", dw1, dw2)
			// Mixed signs: bound the error by the sum of |terms|.
			abs := float32(sum64(n, func(i int) float64 { return math.Abs(float64(w[i]) * float64(dy[i]) * float64(x[i]) * rs) }))
			want := float32(sum64(n, func(i int) float64 { return float64(w[i]) * float64(dy[i]) * float64(x[i]) * rs }))
			if math.Abs(float64(a-want)) > 1e-6*float64(abs)+1e-30 || math.Abs(float64(a-b)) > 2e-6*float64(abs)+1e-30 {
				t.Fatalf("n=%d dot: asm %g, go %g, float64 %g (Σ|terms| %g)", n, a, b, want, abs)
			}
		}},
		{"rmsBackDx", func(t *testing.T, n int) {
			x, dy, w, dx := randVec(r, n+3, -2, 2), randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1)
			dx1, dx2 := clone(dx), clone(dx)
			rmsBackDx(true, dx1, x[:n], dy, w, 1.37, -0.0625)
			rmsBackDx(false, dx2, x[:n], dy, w, 1.37, -0.0625)
			same(t, n, "dx", dx1, dx2)
		}},
		{"add", func(t *testing.T, n int) {
			a, b, o := randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1)
			o1, o2 := clone(o), clone(o)
			vadd(true, o1[:n], a, b)
			vadd(false, o2[:n], a, b)
			same(t, n, "out", o1, o2)
		}},
		{"add_accumulate", func(t *testing.T, n int) {
			d, s := randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1)
			d1, d2 := clone(d), clone(d)
			vadd(true, d1[:n], d1, s)
			vadd(false, d2[:n], d2, s)
			same(t, n, "dst", d1, d2)
			for i := range d1[:n] {
				if d1[i] != d[i]+s[i] {
					t.Fatalf("n=%d [%d]: %g + %g = %g", n, i, d[i], s[i], d1[i])
				}
			}
		}},
		{"axpy", func(t *testing.T, n int) {
			d, x := randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1)
			d1, d2 := clone(d), clone(d)
			axpy(true, d1[:n], x, 0.37)
			axpy(false, d2[:n], x, 0.37)
			same(t, n, "dst", d1, d2)
			for i := range d1[:n] {
				if d1[i] != d[i]+0.37*x[i] {
					t.Fatalf("n=%d [%d]: %g + 0.37·%g = %g", n, i, d[i], x[i], d1[i])
				}
			}
		}},
		{"dot", func(t *testing.T, n int) {
			a, b := randVec(r, n+3, -1, 1), randVec(r, n+3, -1, 1)
			x, y := vdot(true, a[:n], b), vdot(false, a[:n], b)
			abs := sum64(n, func(i int) float64 { return math.Abs(float64(a[i]) * float64(b[i])) })
			want := sum64(n, func(i int) float64 { return float64(a[i]) * float64(b[i]) })
			if math.Abs(float64(x)-want) > 1e-6*abs+1e-30 || math.Abs(float64(y)-want) > 1e-6*abs+1e-30 {
				t.Fatalf("n=%d: asm %g, go %g, float64 %g (Σ|terms| %g)", n, x, y, want, abs)
			}
		}},
		{"scale", func(t *testing.T, n int) {
			x := randVec(r, n+3, -1, 1)
			x1, x2 := clone(x), clone(x)
			vscale(true, x1[:n], -0.37)
			vscale(false, x2[:n], -0.37)
			same(t, n, "x", x1, x2)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, n := range lengths {
				tc.run(t, n)
			}
		})
	}
}

// BenchmarkRMSNorm times RMSNorm forward and backward at N=4096, C=512 on
// one thread, with the pure-Go loops (Generic GEMM kind) and the AVX2
// kernels.
func BenchmarkRMSNorm(b *testing.B) {
	N, C := 4096, 512
	r := rand.New(rand.NewPCG(7, 8))
	in, w, dy := randVec(r, N*C, -2, 2), randVec(r, C, -1, 1), randVec(r, N*C, -1, 1)
	out, rstd := make([]float32, N*C), make([]float32, N)
	dx, dw := make([]float32, N*C), make([]float32, C)
	for _, asm := range []bool{false, true} {
		kind := gemm.Generic
		if asm {
			kind = gemm.AVX2
		}
		b.Run(fmt.Sprintf("fwd/asm=%v", asm), func(b *testing.B) {
			if asm {
				needAVX2(b)
			}
			be := New(Options{GEMM: kind, Threads: 1})
			defer be.Close()
			for b.Loop() {
				be.RMSNormForward(out, rstd, in, w, N, C, 1e-5)
			}
		})
		b.Run(fmt.Sprintf("bwd/asm=%v", asm), func(b *testing.B) {
			if asm {
				needAVX2(b)
			}
			be := New(Options{GEMM: kind, Threads: 1})
			defer be.Close()
			be.RMSNormForward(out, rstd, in, w, N, C, 1e-5)
			for b.Loop() {
				be.RMSNormBackward(dx, dw, dy, in, w, rstd, N, C)
			}
		})
	}
}

// BenchmarkElementwise times Add, Scale, the embedding backward, Σx² and
// the FFN backward's SwiGLU step over 4096×512 floats on one thread, pure
// Go and AVX2.
func BenchmarkElementwise(b *testing.B) {
	N, C, V := 4096, 512, 6400
	n := N * C
	r := rand.New(rand.NewPCG(9, 10))
	x, y, out := randVec(r, n, -1, 1), randVec(r, n, -1, 1), make([]float32, n)
	dd, dg, du := randVec(r, n, -1, 1), make([]float32, n), make([]float32, n)
	tab := make([]float32, V*C)
	ids := make([]int32, N)
	for i := range ids {
		ids[i] = int32(r.IntN(V))
	}
	for _, asm := range []bool{false, true} {
		kind := gemm.Generic
		if asm {
			kind = gemm.AVX2
		}
		run := func(name string, f func(be *Backend)) {
			b.Run(fmt.Sprintf("%s/asm=%v", name, asm), func(b *testing.B) {
				if asm {
					needAVX2(b)
				}
				be := New(Options{GEMM: kind, Threads: 1})
				defer be.Close()
				for b.Loop() {
					f(be)
				}
			})
		}
		run("add", func(be *Backend) { be.Add(out, x, y, n) })
		run("scale", func(be *Backend) { be.Scale(out, 0.999) })
		run("embback", func(be *Backend) { be.EmbeddingBackward(tab, ids, x, N, C) })
		run("sumsq", func(be *Backend) { be.SumSquares(x) })
		// MoE routing's row kernels: N·2 rows of C gathered from x.
		rows, rw := make([]int32, 2*N), randVec(r, 2*N, 0, 1)
		for i := range rows {
			rows[i] = int32(i / 2)
		}
		y2, dots := make([]float32, 2*n), make([]float32, 2*N)
		run("gather_weighted", func(be *Backend) { be.Gather(y2, x, rows, rw, 2*N, C) })
		run("scatter_add", func(be *Backend) { be.ScatterAdd(out, y2, rows, rw, 2*N, C) })
		run("row_dot", func(be *Backend) { be.RowDot(dots, x, rows, y2, 2*N, C) })
		// The FFN backward's SwiGLU step, as separate kernels and fused.
		run("swiglu_bwd_unfused", func(be *Backend) {
			be.SwiGLUForward(out, x, y, n)
			be.Zero(dg)
			be.Zero(du)
			be.SwiGLUBackward(dg, du, dd, x, y, n)
		})
		run("swiglu_bwd_fused", func(be *Backend) { be.SwiGLURecomputeBackward(out, dg, du, dd, x, y, n) })
	}
}
