// Package kerneltest is the conformance suite every kernels.Backend must
// pass: each kernel against the reference loops (kernels/ref) on random and
// awkward shapes, and each backward kernel against finite differences of
// its forward. Each kernel's subtest draws its inputs from its own seed
// (subtestRNG), so adding or changing one leaves the others' inputs as
// they were.
//
// A backend's own test calls Run(t, backend). Timings are never checked.
// The model end to end against the PyTorch fixtures is model/modeltest's
// Parity: it sits above the model, and this package imports only kernels
// and kernels/ref.
package kerneltest

import (
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/ref"
)

// Run runs the whole suite against b.
func Run(t *testing.T, b kernels.Backend) {
	t.Run("vs-ref", func(t *testing.T) { VsRef(t, b) })
	t.Run("finite-diff", func(t *testing.T) { FiniteDiff(t, b) })
}

// AllClose fails t when |got−want| > atol + rtol·|want| anywhere, naming the
// tensor, the worst index and both values. It returns the largest |got−want|
// (for reports of how close a match was).
func AllClose(t testing.TB, name string, got, want []float32, atol, rtol float64) float64 {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: length %d, want %d", name, len(got), len(want))
	}
	worst, wi, maxd := 0.0, -1, 0.0
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		if math.IsNaN(d) {
			d = math.Inf(1)
		}
		maxd = math.Max(maxd, d)
		if ex := d - atol - rtol*math.Abs(float64(want[i])); ex > 0 && (wi < 0 || ex > worst) {
			worst, wi = ex, i
		}
	}
	if wi >= 0 {
		t.Errorf("%s: worst index %d: got %.7g want %.7g (max |diff| %.3g; atol %g rtol %g)", name, wi, got[wi], want[wi], maxd, atol, rtol)
	}
	return maxd
}

type rng struct{ *rand.Rand }

func newRNG(seed uint64) rng { return rng{rand.New(rand.NewPCG(seed, 99))} }

// subtestRNG returns the random stream of the running kernel subtest t of
// suite ("vs-ref", "finite-diff"), seeded by the suite and the subtest's
// own name (the last element of t.Name()) alone: adding, removing or
// changing one kernel's subtest leaves every other's inputs as they were,
// whichever test calls the suite.
func subtestRNG(t *testing.T, suite string) rng {
	name := t.Name()
	h := fnv.New64a()
	h.Write([]byte(suite + "/" + name[strings.LastIndexByte(name, '/')+1:]))
	return newRNG(h.Sum64())
}

func (r rng) vec(n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

func (r rng) ids(n, max int) []int32 {
	v := make([]int32, n)
	for i := range v {
		v[i] = int32(r.IntN(max))
	}
	return v
}

func clone(x []float32) []float32 { return append([]float32(nil), x...) }

// ropeTables builds small cos/sin tables for tests.
func ropeTables(positions, HS int) (cos, sin []float32) {
	half := HS / 2
	cos, sin = make([]float32, positions*half), make([]float32, positions*half)
	for p := 0; p < positions; p++ {
		for i := 0; i < half; i++ {
			a := float64(p) / math.Pow(1e4, float64(2*i)/float64(HS))
			cos[p*half+i], sin[p*half+i] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	return
}

// attShape is one attention configuration.
type attShape struct{ B, T, S, P, NH, NKV, HS int }

func (s attShape) String() string {
	return fmt.Sprintf("B%d_T%d_S%d_P%d_NH%d_NKV%d_HS%d", s.B, s.T, s.S, s.P, s.NH, s.NKV, s.HS)
}

// VsRef compares every kernel of b with the reference implementation.
func VsRef(t *testing.T, b kernels.Backend) {
	r := ref.New()
	const atol, rtol = 2e-5, 2e-5

	t.Run("MatMul", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		for _, sz := range [][3]int{{1, 1, 1}, {7, 17, 33}, {33, 7, 17}, {65, 129, 31}, {2, 300, 64}, {128, 96, 80}} {
			m, n, k := sz[0], sz[1], sz[2]
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, acc := range []bool{false, true} {
						name := fmt.Sprintf("%dx%dx%d_tA%v_tB%v_acc%v", m, n, k, ta, tb, acc)
						a, w, c0 := g.vec(m*k, 1), g.vec(k*n, 1), g.vec(m*n, 1)
						want, got := clone(c0), clone(c0)
						r.MatMul(want, a, w, m, n, k, ta, tb, acc)
						b.MatMul(got, a, w, m, n, k, ta, tb, acc)
						AllClose(t, name, got, want, 1e-4, 1e-4)
					}
				}
			}
		}
	})
	t.Run("Embedding", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		N, C, V := 37, 19, 11
		ids, tab, d := g.ids(N, V), g.vec(V*C, 1), g.vec(N*C, 1)
		o1, o2 := make([]float32, N*C), make([]float32, N*C)
		r.EmbeddingForward(o1, ids, tab, N, C)
		b.EmbeddingForward(o2, ids, tab, N, C)
		AllClose(t, "forward", o2, o1, 0, 0)
		t0 := g.vec(V*C, 1)
		d1, d2 := clone(t0), clone(t0)
		r.EmbeddingBackward(d1, ids, d, N, C)
		b.EmbeddingBackward(d2, ids, d, N, C)
		AllClose(t, "backward", d2, d1, atol, rtol)
	})
	t.Run("RMSNorm", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		for _, sz := range [][2]int{{1, 1}, {3, 7}, {65, 64}, {130, 33}} {
			N, C := sz[0], sz[1]
			in, w, dy := g.vec(N*C, 2), g.vec(C, 1), g.vec(N*C, 1)
			o1, o2, r1, r2 := make([]float32, N*C), make([]float32, N*C), make([]float32, N), make([]float32, N)
			r.RMSNormForward(o1, r1, in, w, N, C, 1e-5)
			b.RMSNormForward(o2, r2, in, w, N, C, 1e-5)
			AllClose(t, fmt.Sprintf("fwd_%dx%d", N, C), o2, o1, atol, rtol)
			AllClose(t, fmt.Sprintf("rstd_%dx%d", N, C), r2, r1, atol, rtol)
			dx0, dw0 := g.vec(N*C, 1), g.vec(C, 1)
			dx1, dx2, dw1, dw2 := clone(dx0), clone(dx0), clone(dw0), clone(dw0)
			r.RMSNormBackward(dx1, dw1, dy, in, w, r1, N, C)
			b.RMSNormBackward(dx2, dw2, dy, in, w, r1, N, C)
			AllClose(t, fmt.Sprintf("dx_%dx%d", N, C), dx2, dx1, 1e-4, 1e-4)
			AllClose(t, fmt.Sprintf("dw_%dx%d", N, C), dw2, dw1, 1e-4, 1e-4)
		}
	})
	t.Run("RoPE", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		N, NH, HS := 23, 3, 10
		cos, sin := ropeTables(64, HS)
		pos := g.ids(N, 64)
		x := g.vec(N*NH*HS, 1)
		x1, x2 := clone(x), clone(x)
		r.RoPEForward(x1, pos, cos, sin, N, NH, HS)
		b.RoPEForward(x2, pos, cos, sin, N, NH, HS)
		AllClose(t, "forward", x2, x1, atol, rtol)
		r.RoPEBackward(x1, pos, cos, sin, N, NH, HS)
		b.RoPEBackward(x2, pos, cos, sin, N, NH, HS)
		AllClose(t, "backward", x2, x1, atol, rtol)
		AllClose(t, "inverse", x2, x, 1e-5, 1e-5)
	})
	t.Run("Attention", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		shapes := []attShape{
			{1, 1, 1, 0, 1, 1, 2}, {2, 7, 7, 0, 4, 2, 8}, {1, 17, 17, 0, 6, 3, 6},
			{2, 3, 20, 5, 4, 1, 8}, {3, 1, 9, 8, 2, 2, 4}, {2, 33, 33, 0, 8, 2, 16},
			// The model's head size, with several query and key blocks and
			// edge tiles (tiled backends), a decode step and a prefill
			// after a cached prefix.
			{2, 101, 101, 0, 8, 2, 64}, {2, 1, 70, 60, 8, 2, 64}, {1, 7, 120, 100, 4, 4, 32},
		}
		for _, s := range shapes {
			for _, masked := range []bool{false, true} {
				name := s.String()
				if masked {
					name += "_mask"
				}
				NHs, KVs := s.NH*s.HS, s.NKV*s.HS
				q, k, v := g.vec(s.B*s.T*NHs, 1), g.vec(s.B*s.S*KVs, 1), g.vec(s.B*s.S*KVs, 1)
				var mask []float32
				if masked {
					mask = make([]float32, s.B*s.S)
					for i := range mask {
						if g.IntN(4) > 0 {
							mask[i] = 1
						}
					}
				}
				o1, o2 := make([]float32, s.B*s.T*NHs), make([]float32, s.B*s.T*NHs)
				l1, l2 := make([]float32, s.B*s.NH*s.T), make([]float32, s.B*s.NH*s.T)
				// Rows at different past lengths (continuous batching):
				// row b has P−b cached positions (at least 0).
				past := make([]int32, s.B)
				for i := range past {
					past[i] = int32(max(0, s.P-i))
				}
				r.AttentionForward(o1, l1, q, k, v, mask, past, s.B, s.T, s.S, s.NH, s.NKV, s.HS)
				b.AttentionForward(o2, l2, q, k, v, mask, past, s.B, s.T, s.S, s.NH, s.NKV, s.HS)
				AllClose(t, name+"/out", o2, o1, 1e-5, 1e-4)
				AllClose(t, name+"/lse", l2, l1, 1e-5, 1e-4)
				if s.P != 0 || s.S != s.T {
					continue
				}
				do := g.vec(len(o1), 1)
				dq0, dk0, dv0 := g.vec(len(q), 1), g.vec(len(k), 1), g.vec(len(v), 1)
				dq1, dk1, dv1 := clone(dq0), clone(dk0), clone(dv0)
				dq2, dk2, dv2 := clone(dq0), clone(dk0), clone(dv0)
				r.AttentionBackward(dq1, dk1, dv1, do, o1, l1, q, k, v, mask, s.B, s.T, s.NH, s.NKV, s.HS)
				b.AttentionBackward(dq2, dk2, dv2, do, o1, l1, q, k, v, mask, s.B, s.T, s.NH, s.NKV, s.HS)
				AllClose(t, name+"/dq", dq2, dq1, 1e-4, 1e-4)
				AllClose(t, name+"/dk", dk2, dk1, 1e-4, 1e-4)
				AllClose(t, name+"/dv", dv2, dv1, 1e-4, 1e-4)
			}
		}
	})
	t.Run("SwiGLU", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		n := 1000
		gt, up, dy := g.vec(n, 3), g.vec(n, 1), g.vec(n, 1)
		o1, o2 := make([]float32, n), make([]float32, n)
		r.SwiGLUForward(o1, gt, up, n)
		b.SwiGLUForward(o2, gt, up, n)
		AllClose(t, "forward", o2, o1, atol, rtol)
		d0, e0 := g.vec(n, 1), g.vec(n, 1)
		dg1, du1, dg2, du2 := clone(d0), clone(e0), clone(d0), clone(e0)
		r.SwiGLUBackward(dg1, du1, dy, gt, up, n)
		b.SwiGLUBackward(dg2, du2, dy, gt, up, n)
		AllClose(t, "dgate", dg2, dg1, atol, rtol)
		AllClose(t, "dup", du2, du1, atol, rtol)
		a, c := g.vec(n, 1), g.vec(n, 1)
		s1, s2 := make([]float32, n), make([]float32, n)
		r.Add(s1, a, c, n)
		b.Add(s2, a, c, n)
		AllClose(t, "add", s2, s1, 0, 0)
	})
	t.Run("CrossEntropy", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		N, V := 13, 301
		logits, dl := g.vec(N*V, 3), g.vec(N, 1)
		tg := g.ids(N, V)
		tg[3] = -100 // ignored
		l1, l2 := make([]float32, N), make([]float32, N)
		r.CrossEntropyForward(l1, logits, tg, N, V)
		b.CrossEntropyForward(l2, logits, tg, N, V)
		AllClose(t, "losses", l2, l1, 1e-5, 1e-5)
		d1, d2 := make([]float32, N*V), clone(logits)
		r.CrossEntropyBackward(d1, logits, tg, dl, N, V)
		b.CrossEntropyBackward(d2, d2, tg, dl, N, V) // in place, as the model calls it
		AllClose(t, "dlogits", d2, d1, 1e-6, 1e-5)
	})
	t.Run("MoE", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		for _, sz := range [][3]int{{17, 4, 2}, {9, 8, 1}, {5, 3, 3}} {
			N, E, K := sz[0], sz[1], sz[2]
			for _, norm := range []bool{true, false} {
				name := fmt.Sprintf("N%d_E%d_K%d_norm%v", N, E, K, norm)
				logits := g.vec(N*E, 2)
				p1, p2, w1, w2 := make([]float32, N*E), make([]float32, N*E), make([]float32, N*K), make([]float32, N*K)
				i1, i2 := make([]int32, N*K), make([]int32, N*K)
				r.MoERoute(p1, w1, i1, logits, N, E, K, norm)
				b.MoERoute(p2, w2, i2, logits, N, E, K, norm)
				AllClose(t, name+"/probs", p2, p1, 1e-6, 1e-5)
				AllClose(t, name+"/topW", w2, w1, 1e-6, 1e-5)
				for i := range i1 {
					if i1[i] != i2[i] {
						t.Fatalf("%s: topIdx %v, want %v", name, i2, i1)
					}
				}
				dw, dp, d0 := g.vec(N*K, 1), g.vec(N*E, 1), g.vec(N*E, 1)
				d1, d2 := clone(d0), clone(d0)
				r.MoERouteBackward(d1, dw, dp, p1, w1, i1, N, E, K, norm)
				b.MoERouteBackward(d2, dw, dp, p1, w1, i1, N, E, K, norm)
				AllClose(t, name+"/dlogits", d2, d1, 1e-5, 1e-5)
			}
		}
		M, C, N := 29, 13, 7
		rows := g.ids(M, N)
		in, w := g.vec(N*C, 1), g.vec(M, 1)
		for _, ww := range [][]float32{nil, w} {
			o1, o2 := make([]float32, M*C), make([]float32, M*C)
			r.Gather(o1, in, rows, ww, M, C)
			b.Gather(o2, in, rows, ww, M, C)
			AllClose(t, "gather", o2, o1, 0, 1e-7)
			src := g.vec(M*C, 1)
			s0 := g.vec(N*C, 1)
			s1, s2 := clone(s0), clone(s0)
			r.ScatterAdd(s1, src, rows, ww, M, C)
			b.ScatterAdd(s2, src, rows, ww, M, C)
			AllClose(t, "scatteradd", s2, s1, 1e-6, 1e-6)
		}
		bm := g.vec(M*C, 1)
		rd0 := g.vec(M, 1)
		rd1, rd2 := clone(rd0), clone(rd0)
		r.RowDot(rd1, in, rows, bm, M, C)
		b.RowDot(rd2, in, rows, bm, M, C)
		AllClose(t, "rowdot", rd2, rd1, 1e-5, 1e-5)
	})
	t.Run("Optimizer", func(t *testing.T) {
		g := subtestRNG(t, "vs-ref")
		n := 5003
		x := g.vec(n, 1)
		if s1, s2 := r.SumSquares(x), b.SumSquares(x); math.Abs(s1-s2) > 1e-9*s1 {
			t.Errorf("SumSquares = %v, want %v", s2, s1)
		}
		x1, x2 := clone(x), clone(x)
		r.Scale(x1, 0.37)
		b.Scale(x2, 0.37)
		AllClose(t, "scale", x2, x1, 0, 0)
		b.Zero(x2)
		AllClose(t, "zero", x2, make([]float32, n), 0, 0)
		p, gr, m, v := g.vec(n, 1), g.vec(n, 1), g.vec(n, 0.1), g.vec(n, 0.1)
		for i := range v {
			v[i] *= v[i]
		}
		p1, m1, v1 := clone(p), clone(m), clone(v)
		p2, m2, v2 := clone(p), clone(m), clone(v)
		r.AdamW(p1, gr, m1, v1, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3)
		b.AdamW(p2, gr, m2, v2, 1e-3, 0.9, 0.999, 1e-8, 0.01, 3)
		AllClose(t, "adamw/p", p2, p1, 1e-7, 1e-6)
		AllClose(t, "adamw/m", m2, m1, 1e-7, 1e-6)
		AllClose(t, "adamw/v", v2, v1, 1e-7, 1e-6)
	})
}
