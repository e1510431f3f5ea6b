package cpu

import (
	"math"
)

// ---- Embedding ----

type embTask struct {
	back     bool
	asm      bool
	out, tab []float32
	ids      []int32
	N, C     int
}

func (t *embTask) Run(lo, hi int) {
	if !t.back {
		for i := lo; i < hi; i++ {
			id := int(t.ids[i])
			copy(t.out[i*t.C:(i+1)*t.C], t.tab[id*t.C:(id+1)*t.C])
		}
		return
	}
	// Backward is split by columns so repeated ids never race and the
	// summation order is the row order whatever the thread count.
	for i := 0; i < t.N; i++ {
		id := int(t.ids[i])
		dst := t.tab[id*t.C+lo : id*t.C+hi]
		src := t.out[i*t.C+lo : i*t.C+hi]
		vadd(t.asm, dst, dst, src)
	}
}

// EmbeddingForward implements kernels.Backend.
func (b *Backend) EmbeddingForward(out []float32, ids []int32, table []float32, N, C int) {
	t := &b.emb
	*t = embTask{out: out, tab: table, ids: ids, N: N, C: C}
	b.pool.For(N, 64, t)
}

// EmbeddingBackward implements kernels.Backend.
func (b *Backend) EmbeddingBackward(dTable []float32, ids []int32, dOut []float32, N, C int) {
	t := &b.emb
	*t = embTask{back: true, asm: b.asm, out: dOut, tab: dTable, ids: ids, N: N, C: C}
	b.pool.Split(C, t)
}

// ---- RMSNorm ----

type normTask struct {
	back, asm                   bool
	out, rstd, in, w, dIn, dOut []float32
	partial                     []float32 // [shares, C] dW partial sums
	N, C, shares                int
	eps                         float32
}

func (t *normTask) Run(lo, hi int) {
	C := t.C
	if !t.back {
		for i := lo; i < hi; i++ {
			x := t.in[i*C : (i+1)*C]
			ss := sumsq(t.asm, x)
			r := float32(1 / math.Sqrt(float64(ss/float32(C)+t.eps)))
			t.rstd[i] = r
			scaleMul(t.asm, t.out[i*C:(i+1)*C], x, t.w, r)
		}
		return
	}
	dw := t.partial[shareOf(lo, t.N, t.shares)*C:][:C]
	clear(dw)
	for i := lo; i < hi; i++ {
		x := t.in[i*C : (i+1)*C]
		dy := t.dOut[i*C : (i+1)*C]
		r := t.rstd[i]
		dot := rmsBackDot(t.asm, dw, x, dy, t.w, r) / float32(C)
		rmsBackDx(t.asm, t.dIn[i*C:(i+1)*C], x, dy, t.w, r, dot)
	}
}

// RMSNormForward implements kernels.Backend.
func (b *Backend) RMSNormForward(out, rstd, in, w []float32, N, C int, eps float32) {
	t := &b.norm
	*t = normTask{asm: b.asm, out: out, rstd: rstd, in: in, w: w, N: N, C: C, eps: eps, partial: t.partial}
	b.pool.For(N, 16, t)
}

// RMSNormBackward implements kernels.Backend.
func (b *Backend) RMSNormBackward(dIn, dW, dOut, in, w, rstd []float32, N, C int) {
	t := &b.norm
	partial := grow(t.partial, b.shares*C)
	*t = normTask{back: true, asm: b.asm, dIn: dIn, dOut: dOut, in: in, w: w, rstd: rstd, N: N, C: C, shares: b.shares, partial: partial}
	b.pool.Split(N, t)
	chunk := (N + b.shares - 1) / b.shares
	used := (N + chunk - 1) / chunk
	for s := 0; s < used; s++ {
		vadd(b.asm, dW[:C], dW[:C], t.partial[s*C:(s+1)*C])
	}
}

// ---- RoPE ----

type ropeTask struct {
	x        []float32
	pos      []int32
	cos, sin []float32
	NH, HS   int
	sign     float32
}

func (t *ropeTask) Run(lo, hi int) {
	half := t.HS / 2
	for i := lo; i < hi; i++ {
		p := int(t.pos[i])
		c := t.cos[p*half : (p+1)*half]
		s := t.sin[p*half : (p+1)*half]
		for h := 0; h < t.NH; h++ {
			v := t.x[(i*t.NH+h)*t.HS:][:t.HS]
			lo, hi := v[:half], v[half:t.HS]
			for j := range lo {
				a, bb := lo[j], hi[j]
				sn := t.sign * s[j]
				lo[j] = a*c[j] - bb*sn
				hi[j] = bb*c[j] + a*sn
			}
		}
	}
}

// RoPEForward implements kernels.Backend.
func (b *Backend) RoPEForward(x []float32, pos []int32, cos, sin []float32, N, NH, HS int) {
	t := &b.rope
	*t = ropeTask{x: x, pos: pos, cos: cos, sin: sin, NH: NH, HS: HS, sign: 1}
	b.pool.For(N, 32, t)
}

// RoPEBackward implements kernels.Backend.
func (b *Backend) RoPEBackward(dx []float32, pos []int32, cos, sin []float32, N, NH, HS int) {
	t := &b.rope
	*t = ropeTask{x: dx, pos: pos, cos: cos, sin: sin, NH: NH, HS: HS, sign: -1}
	b.pool.For(N, 32, t)
}

// ---- element-wise: SwiGLU, Add, Scale, Zero ----

type ewOp int

const (
	opSwiGLU ewOp = iota
	opSwiGLUBack
	opSwiGLUBackSet
	opAdd
	opScale
	opZero
)

type ewTask struct {
	op                     ewOp
	out, a, b2, dA, dB, dO []float32
	s                      float32
	asm                    bool
	wide                   bool // the AVX-512 SwiGLU kernels
}

func (t *ewTask) Run(lo, hi int) {
	switch t.op {
	case opSwiGLU:
		if t.wide {
			swiglu512(t.out[lo:hi], t.a[lo:hi], t.b2[lo:hi])
			return
		}
		swiglu(t.asm, t.out[lo:hi], t.a[lo:hi], t.b2[lo:hi])
	case opSwiGLUBack:
		swigluBack(t.asm, t.dA[lo:hi], t.dB[lo:hi], t.dO[lo:hi], t.a[lo:hi], t.b2[lo:hi])
	case opSwiGLUBackSet:
		if t.wide {
			swigluBackSet512(t.out[lo:hi], t.dA[lo:hi], t.dB[lo:hi], t.dO[lo:hi], t.a[lo:hi], t.b2[lo:hi])
			return
		}
		swigluBackSet(t.asm, t.out[lo:hi], t.dA[lo:hi], t.dB[lo:hi], t.dO[lo:hi], t.a[lo:hi], t.b2[lo:hi])
	case opAdd:
		vadd(t.asm, t.out[lo:hi], t.a[lo:hi], t.b2[lo:hi])
	case opScale:
		vscale(t.asm, t.out[lo:hi], t.s)
	case opZero:
		clear(t.out[lo:hi])
	}
}

const ewGrain = 1 << 14

// SwiGLUForward implements kernels.Backend.
func (b *Backend) SwiGLUForward(out, gate, up []float32, n int) {
	t := &b.ew
	*t = ewTask{op: opSwiGLU, asm: b.asm, wide: b.avx512, out: out[:n], a: gate[:n], b2: up[:n]}
	b.pool.For(n, ewGrain, t)
}

// SwiGLUBackward implements kernels.Backend.
func (b *Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up []float32, n int) {
	t := &b.ew
	*t = ewTask{op: opSwiGLUBack, asm: b.asm, dA: dGate[:n], dB: dUp[:n], dO: dOut[:n], a: gate[:n], b2: up[:n]}
	b.pool.For(n, ewGrain, t)
}

// SwiGLURecomputeBackward is the FFN backward's SwiGLU step in one pass:
// it recomputes h = silu(gate)·up (which the down projection's weight
// gradient needs) and WRITES dGate, dUp (not +=), all [n]. The unfused
// equivalent, with the same bits:
//
//	SwiGLUForward(h, gate, up, n); Zero(dGate); Zero(dUp)
//	SwiGLUBackward(dGate, dUp, dOut, gate, up, n)
//
// It saves a second read of gate and up, a second exp and both zeroing
// passes.
func (b *Backend) SwiGLURecomputeBackward(h, dGate, dUp, dOut, gate, up []float32, n int) {
	t := &b.ew
	*t = ewTask{op: opSwiGLUBackSet, asm: b.asm, wide: b.avx512, out: h[:n], dA: dGate[:n], dB: dUp[:n], dO: dOut[:n], a: gate[:n], b2: up[:n]}
	b.pool.For(n, ewGrain, t)
}

// Add implements kernels.Backend.
func (b *Backend) Add(out, a, c []float32, n int) {
	t := &b.ew
	*t = ewTask{op: opAdd, asm: b.asm, out: out[:n], a: a[:n], b2: c[:n]}
	b.pool.For(n, ewGrain, t)
}

// Scale implements kernels.Backend.
func (b *Backend) Scale(x []float32, s float32) {
	t := &b.ew
	*t = ewTask{op: opScale, asm: b.asm, out: x, s: s}
	b.pool.For(len(x), ewGrain, t)
}

// Zero implements kernels.Backend.
func (b *Backend) Zero(x []float32) {
	t := &b.ew
	*t = ewTask{op: opZero, out: x}
	b.pool.For(len(x), ewGrain*4, t)
}

// ---- reductions and AdamW ----

type reduceTask struct {
	x       []float32
	partial [64]float64
	n       int
	shares  int
	asm     bool
}

func (t *reduceTask) Run(lo, hi int) {
	t.partial[shareOf(lo, t.n, t.shares)] = sumsq64(t.asm, t.x[lo:hi])
}

// SumSquares implements kernels.Backend.
func (b *Backend) SumSquares(x []float32) float64 {
	t := &b.red
	shares := min(b.shares, len(t.partial))
	t.x, t.n, t.shares, t.asm = x, len(x), shares, b.asm
	clear(t.partial[:])
	if len(x) == 0 {
		return 0
	}
	chunk := (len(x) + shares - 1) / shares
	b.pool.For(len(x), chunk, t)
	var s float64
	for _, p := range t.partial[:shares] {
		s += p
	}
	return s
}

type adamTask struct {
	p, g, m, v []float32
	asm        bool
	c          adamConsts
}

func (t *adamTask) Run(lo, hi int) {
	adamw(t.asm, t.p[lo:hi], t.g[lo:hi], t.m[lo:hi], t.v[lo:hi], &t.c)
}

// AdamW implements kernels.Backend.
func (b *Backend) AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, wd float32, step int) {
	b.AdamWScaled(p, g, m, v, 1, lr, beta1, beta2, eps, wd, step)
}

// AdamWScaled is AdamW on the gradients g·gscale, leaving g as it is: the
// bits of Scale(g, gscale) then AdamW(p, g, …), in one pass instead of
// two (gradient clipping's scale folded into the update).
func (b *Backend) AdamWScaled(p, g, m, v []float32, gscale, lr, beta1, beta2, eps, wd float32, step int) {
	bc1 := 1 - math.Pow(float64(beta1), float64(step))
	bc2 := 1 - math.Pow(float64(beta2), float64(step))
	t := &b.adam
	*t = adamTask{p: p, g: g[:len(p)], m: m[:len(p)], v: v[:len(p)], asm: b.asm, c: adamConsts{
		decay: 1 - lr*wd, b1: beta1, c1: 1 - beta1, b2: beta2, c2: 1 - beta2,
		bc2Sqrt: float32(math.Sqrt(bc2)), eps: eps, stepSize: float32(float64(lr) / bc1), gs: gscale}}
	b.pool.For(len(p), ewGrain, t)
}
