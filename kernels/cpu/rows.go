package cpu

import "math"

// ---- cross-entropy ----

// ceTask runs the cross-entropy over rows of V logits. Each row is two
// vector passes (max, then exp and sum into per-share scratch); the
// backward pass writes dLogits = g·exp(logit − lse) in one exp pass, with g
// folded into the exponent as log g. Nothing [N,V] is allocated: the
// forward's softmax lives in one V-wide scratch row per share.
type ceTask struct {
	back, fwd, asm        bool // back and fwd: both (CrossEntropyForwardBackward)
	losses, logits, dL, d []float32
	targets               []int32
	V, n, shares          int
	scratch               []float32 // [shares, V]
}

func lse(row []float32) float32 {
	mx := float32(math.Inf(-1))
	for _, v := range row {
		mx = max(mx, v)
	}
	var s float32
	for _, v := range row {
		s += float32(math.Exp(float64(v - mx)))
	}
	return mx + float32(math.Log(float64(s)))
}

// vlse is lse with the vector kernels; tmp receives exp(row − max).
func vlse(asm bool, tmp, row []float32) float32 {
	mx := vmax(asm, row)
	s := vexp(asm, tmp, row, 1, -mx)
	return mx + float32(math.Log(float64(s)))
}

func (t *ceTask) Run(lo, hi int) {
	V := t.V
	tmp := t.scratch[shareOf(lo, t.n, t.shares)*V:][:V]
	for i := lo; i < hi; i++ {
		row := t.logits[i*V : (i+1)*V]
		tg := t.targets[i]
		if !t.back {
			if tg < 0 {
				t.losses[i] = 0
				continue
			}
			t.losses[i] = vlse(t.asm, tmp, row) - row[tg]
			continue
		}
		drow := t.d[i*V : (i+1)*V]
		if tg < 0 {
			if t.fwd {
				t.losses[i] = 0
			}
			clear(drow)
			continue
		}
		l := vlse(t.asm, tmp, row)
		if t.fwd {
			t.losses[i] = l - row[tg] // before drow (which may be row) is written
		}
		g := t.dL[i]
		if g > 0 {
			// g·exp(v − l) = exp(v − l + log g): one pass instead of two.
			vexp(t.asm, drow, row, 1, float32(math.Log(float64(g)))-l)
		} else {
			vexp(t.asm, drow, row, 1, -l)
			for j := range drow {
				drow[j] *= g
			}
		}
		drow[tg] -= g
	}
}

// CrossEntropyForward implements kernels.Backend.
func (b *Backend) CrossEntropyForward(losses, logits []float32, targets []int32, N, V int) {
	t := &b.ce
	*t = ceTask{losses: losses, logits: logits, targets: targets, V: V, asm: b.asm, n: N, shares: b.shares,
		scratch: grow(t.scratch, b.shares*V)}
	b.pool.Split(N, t)
}

// CrossEntropyBackward implements kernels.Backend.
func (b *Backend) CrossEntropyBackward(dLogits, logits []float32, targets []int32, dLoss []float32, N, V int) {
	t := &b.ce
	*t = ceTask{back: true, d: dLogits, logits: logits, targets: targets, dL: dLoss, V: V, asm: b.asm, n: N,
		shares: b.shares, scratch: grow(t.scratch, b.shares*V)}
	b.pool.Split(N, t)
}

// CrossEntropyForwardBackward is CrossEntropyForward then
// CrossEntropyBackward (dLoss given up front) in one pass over each row:
// one log-sum-exp serves both, with the same bits. dLogits may be logits
// (in place).
func (b *Backend) CrossEntropyForwardBackward(losses, dLogits, logits []float32, targets []int32, dLoss []float32, N, V int) {
	t := &b.ce
	*t = ceTask{back: true, fwd: true, losses: losses, d: dLogits, logits: logits, targets: targets, dL: dLoss, V: V,
		asm: b.asm, n: N, shares: b.shares, scratch: grow(t.scratch, b.shares*V)}
	b.pool.Split(N, t)
}

// ---- MoE routing ----

type routeTask struct {
	back                                     bool
	probs, topW, logits, dLogits, dTopW, dPr []float32
	topIdx                                   []int32
	E, K                                     int
	norm                                     bool
}

func (t *routeTask) Run(lo, hi int) {
	E, K := t.E, t.K
	for i := lo; i < hi; i++ {
		p := t.probs[i*E : (i+1)*E]
		idx := t.topIdx[i*K : (i+1)*K]
		w := t.topW[i*K : (i+1)*K]
		if !t.back {
			row := t.logits[i*E : (i+1)*E]
			l := lse(row)
			for e := range row {
				p[e] = float32(math.Exp(float64(row[e] - l)))
			}
			var sum float32
			for s := 0; s < K; s++ {
				best := -1
				for e := 0; e < E; e++ {
					taken := false
					for r := 0; r < s; r++ {
						taken = taken || int(idx[r]) == e
					}
					if !taken && (best < 0 || p[e] > p[best]) {
						best = e
					}
				}
				idx[s] = int32(best)
				w[s] = p[best]
				sum += p[best]
			}
			if t.norm && K > 1 {
				den := sum + 1e-20
				for s := range w {
					w[s] /= den
				}
			}
			continue
		}
		dw := t.dTopW[i*K : (i+1)*K]
		dl := t.dLogits[i*E : (i+1)*E]
		// dp_e for the selected experts, then the softmax Jacobian.
		var dot float32
		extra := func(e int) float32 {
			if t.dPr == nil {
				return 0
			}
			return t.dPr[i*E+e]
		}
		var z, c float32
		if t.norm && K > 1 {
			for s := 0; s < K; s++ {
				z += p[idx[s]]
			}
			z += 1e-20
			for s := 0; s < K; s++ {
				c += dw[s] * p[idx[s]] / z
			}
		}
		dsel := func(e int) float32 {
			var d float32
			for s := 0; s < K; s++ {
				if int(idx[s]) == e {
					if t.norm && K > 1 {
						d += (dw[s] - c) / z
					} else {
						d += dw[s]
					}
				}
			}
			return d
		}
		for e := 0; e < E; e++ {
			dot += p[e] * (dsel(e) + extra(e))
		}
		for e := 0; e < E; e++ {
			dl[e] += p[e] * (dsel(e) + extra(e) - dot)
		}
	}
}

// MoERoute implements kernels.Backend.
func (b *Backend) MoERoute(probs, topW []float32, topIdx []int32, logits []float32, N, E, K int, norm bool) {
	t := &b.route
	*t = routeTask{probs: probs, topW: topW, topIdx: topIdx, logits: logits, E: E, K: K, norm: norm}
	b.pool.For(N, 64, t)
}

// MoERouteBackward implements kernels.Backend.
func (b *Backend) MoERouteBackward(dLogits, dTopW, dProbs, probs, topW []float32, topIdx []int32, N, E, K int, norm bool) {
	t := &b.route
	*t = routeTask{back: true, dLogits: dLogits, dTopW: dTopW, dPr: dProbs, probs: probs, topW: topW, topIdx: topIdx, E: E, K: K, norm: norm}
	b.pool.For(N, 64, t)
}

// ---- gather / scatter / row dot ----

type rowsOp int

const (
	opGather rowsOp = iota
	opScatter
	opRowDot
)

type rowsTask struct {
	op         rowsOp
	asm        bool
	out, in, w []float32
	rows       []int32
	M, C       int
}

func (t *rowsTask) Run(lo, hi int) {
	C := t.C
	switch t.op {
	case opGather:
		for i := lo; i < hi; i++ {
			src := t.in[int(t.rows[i])*C:][:C]
			dst := t.out[i*C : (i+1)*C]
			copy(dst, src)
			if t.w != nil {
				// In place while the row is in L1: the bits of s·src.
				vscale(t.asm, dst, t.w[i])
			}
		}
	case opScatter:
		// Split by columns: repeated rows never race, and each output
		// element sums its contributions in i order.
		for i := 0; i < t.M; i++ {
			src := t.in[i*C+lo : i*C+hi]
			dst := t.out[int(t.rows[i])*C+lo : int(t.rows[i])*C+hi]
			if t.w == nil {
				vadd(t.asm, dst, dst, src)
			} else {
				axpy(t.asm, dst, src, t.w[i])
			}
		}
	case opRowDot:
		for i := lo; i < hi; i++ {
			t.out[i] += vdot(t.asm, t.in[int(t.rows[i])*C:][:C], t.w[i*C:(i+1)*C])
		}
	}
}

// Gather implements kernels.Backend.
func (b *Backend) Gather(out, in []float32, rows []int32, w []float32, M, C int) {
	t := &b.rows
	*t = rowsTask{op: opGather, asm: b.asm, out: out, in: in, rows: rows, w: w, M: M, C: C}
	b.pool.For(M, 16, t)
}

// ScatterAdd implements kernels.Backend.
func (b *Backend) ScatterAdd(out, in []float32, rows []int32, w []float32, M, C int) {
	t := &b.rows
	*t = rowsTask{op: opScatter, asm: b.asm, out: out, in: in, rows: rows, w: w, M: M, C: C}
	b.pool.Split(C, t)
}

// RowDot implements kernels.Backend.
func (b *Backend) RowDot(out, a []float32, rows []int32, bm []float32, M, C int) {
	t := &b.rows
	*t = rowsTask{op: opRowDot, asm: b.asm, out: out, in: a, rows: rows, w: bm, M: M, C: C}
	b.pool.For(M, 16, t)
}
