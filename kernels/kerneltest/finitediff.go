package kerneltest

import (
	"math"
	"testing"

	"github.com/minimind-go/minimind/kernels"
)

// fdCheck compares analytic gradients of loss with respect to x with
// central differences at up to 24 sampled indices. loss reruns the forward
// pass reading x. Float32 forward passes limit the precision, hence the
// loose tolerance: it catches wrong signs, factors and indices, not ulps.
func fdCheck(t *testing.T, name string, x, analytic []float32, loss func() float64) {
	t.Helper()
	const eps = 1e-2
	g := newRNG(uint64(len(x)) + 7)
	n := min(len(x), 24)
	for s := 0; s < n; s++ {
		i := s
		if len(x) > 24 {
			i = g.IntN(len(x))
		}
		orig := x[i]
		x[i] = orig + eps
		lp := loss()
		x[i] = orig - eps
		lm := loss()
		x[i] = orig
		num := (lp - lm) / (2 * eps)
		ana := float64(analytic[i])
		if math.Abs(num-ana) > 5e-3+2e-2*math.Abs(num) {
			t.Errorf("%s[%d]: analytic %.6g, finite difference %.6g", name, i, ana, num)
			return
		}
	}
}

func weighted(r, out []float32) float64 {
	var s float64
	for i := range out {
		s += float64(r[i]) * float64(out[i])
	}
	return s
}

// FiniteDiff checks every backward kernel of b against finite differences
// of b's own forward kernel, on small random shapes.
func FiniteDiff(t *testing.T, b kernels.Backend) {
	t.Run("Linear", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		N, in, out := 5, 7, 3
		x, w, r := g.vec(N*in, 1), g.vec(out*in, 1), g.vec(N*out, 1)
		y := make([]float32, N*out)
		loss := func() float64 { b.MatMul(y, x, w, N, out, in, false, true, false); return weighted(r, y) }
		dx, dw := make([]float32, N*in), make([]float32, out*in)
		b.MatMul(dx, r, w, N, in, out, false, false, true)
		b.MatMul(dw, r, x, out, in, N, true, false, true)
		fdCheck(t, "dx", x, dx, loss)
		fdCheck(t, "dW", w, dw, loss)
	})
	t.Run("Embedding", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		N, C, V := 9, 4, 5
		ids, tab, r := g.ids(N, V), g.vec(V*C, 1), g.vec(N*C, 1)
		out := make([]float32, N*C)
		d := make([]float32, V*C)
		b.EmbeddingBackward(d, ids, r, N, C)
		fdCheck(t, "dTable", tab, d, func() float64 { b.EmbeddingForward(out, ids, tab, N, C); return weighted(r, out) })
	})
	t.Run("RMSNorm", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		N, C := 4, 9
		in, w, r := g.vec(N*C, 1), g.vec(C, 1), g.vec(N*C, 1)
		out, rstd := make([]float32, N*C), make([]float32, N)
		loss := func() float64 { b.RMSNormForward(out, rstd, in, w, N, C, 1e-5); return weighted(r, out) }
		loss()
		dx, dw := make([]float32, N*C), make([]float32, C)
		b.RMSNormBackward(dx, dw, r, in, w, rstd, N, C)
		fdCheck(t, "dx", in, dx, loss)
		fdCheck(t, "dw", w, dw, loss)
	})
	t.Run("RoPE", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		N, NH, HS := 5, 2, 8
		cos, sin := ropeTables(32, HS)
		pos := g.ids(N, 32)
		x, r := g.vec(N*NH*HS, 1), g.vec(N*NH*HS, 1)
		y := make([]float32, len(x))
		loss := func() float64 { copy(y, x); b.RoPEForward(y, pos, cos, sin, N, NH, HS); return weighted(r, y) }
		dx := clone(r)
		b.RoPEBackward(dx, pos, cos, sin, N, NH, HS)
		fdCheck(t, "dx", x, dx, loss)
	})
	t.Run("Attention", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		for _, masked := range []bool{false, true} {
			B, T, NH, NKV, HS := 2, 6, 4, 2, 4
			q, k, v := g.vec(B*T*NH*HS, 1), g.vec(B*T*NKV*HS, 1), g.vec(B*T*NKV*HS, 1)
			r := g.vec(B*T*NH*HS, 1)
			var mask []float32
			if masked {
				mask = []float32{1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1} // every query keeps a key: fully padded query rows are flat in fp32
			}
			out, lse := make([]float32, len(q)), make([]float32, B*NH*T)
			loss := func() float64 {
				b.AttentionForward(out, lse, q, k, v, mask, nil, B, T, T, NH, NKV, HS)
				return weighted(r, out)
			}
			loss()
			dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
			b.AttentionBackward(dq, dk, dv, r, out, lse, q, k, v, mask, B, T, NH, NKV, HS)
			fdCheck(t, "dq", q, dq, loss)
			fdCheck(t, "dk", k, dk, loss)
			fdCheck(t, "dv", v, dv, loss)
		}
	})
	t.Run("SwiGLU", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		n := 30
		gt, up, r := g.vec(n, 2), g.vec(n, 1), g.vec(n, 1)
		out := make([]float32, n)
		loss := func() float64 { b.SwiGLUForward(out, gt, up, n); return weighted(r, out) }
		dg, du := make([]float32, n), make([]float32, n)
		b.SwiGLUBackward(dg, du, r, gt, up, n)
		fdCheck(t, "dgate", gt, dg, loss)
		fdCheck(t, "dup", up, du, loss)
	})
	t.Run("CrossEntropy", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		N, V := 4, 11
		logits, dl := g.vec(N*V, 1), g.vec(N, 1)
		tg := g.ids(N, V)
		losses := make([]float32, N)
		loss := func() float64 { b.CrossEntropyForward(losses, logits, tg, N, V); return weighted(dl, losses) }
		d := make([]float32, N*V)
		b.CrossEntropyBackward(d, logits, tg, dl, N, V)
		fdCheck(t, "dlogits", logits, d, loss)
	})
	t.Run("MoERoute", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		for _, norm := range []bool{true, false} {
			N, E, K := 6, 5, 2
			// Well-separated logits so that ±eps never changes the top-k.
			logits := make([]float32, N*E)
			for i := 0; i < N; i++ {
				perm := g.Perm(E)
				for e := 0; e < E; e++ {
					logits[i*E+e] = float32(perm[e]) * 0.7
				}
			}
			rw, rp := g.vec(N*K, 1), g.vec(N*E, 1)
			probs, topW, idx := make([]float32, N*E), make([]float32, N*K), make([]int32, N*K)
			loss := func() float64 {
				b.MoERoute(probs, topW, idx, logits, N, E, K, norm)
				return weighted(rw, topW) + weighted(rp, probs)
			}
			loss()
			d := make([]float32, N*E)
			b.MoERouteBackward(d, rw, rp, probs, topW, idx, N, E, K, norm)
			fdCheck(t, "dlogits", logits, d, loss)
		}
	})
	t.Run("GatherScatter", func(t *testing.T) {
		g := subtestRNG(t, "finite-diff")
		M, C, N := 8, 3, 4
		rows := g.ids(M, N)
		in, w, r := g.vec(N*C, 1), g.vec(M, 1), g.vec(M*C, 1)
		out := make([]float32, M*C)
		loss := func() float64 { b.Gather(out, in, rows, w, M, C); return weighted(r, out) }
		// d in = ScatterAdd(r, w); d w = RowDot(in, r).
		din, dw := make([]float32, N*C), make([]float32, M)
		b.ScatterAdd(din, r, rows, w, M, C)
		b.RowDot(dw, in, rows, r, M, C)
		fdCheck(t, "din", in, din, loss)
		fdCheck(t, "dw", w, dw, loss)
	})
}
