package cpu

import "math"

// Vector primitives shared by the kernels. Each takes asm: true runs the
// AVX2 assembly for the whole-vector part (the Backend passes true only for
// an assembly GEMM kind, which implies AVX2+FMA), false the pure-Go loop,
// which is also the test oracle for the assembly. Slice lengths are checked
// here, so the assembly never reads or writes out of bounds.

// Cephes expf constants (see EXP8 in simd_amd64.s).
const (
	expLog2e = 1.44269504088896341
	expC1    = 0.693359375 // ln 2 high part: n·expC1 is exact for |n| ≤ 128
	expC2    = -2.12194440e-4
	expHi    = 88.0
	expLo    = -87.33654 // exp(expLo) = 2^-126, the smallest normal float32
)

// expf is the pure-Go twin of EXP8: exp(x) within 2 ulp of math.Exp for
// expLo ≤ x ≤ expHi; x > 88 gives exp(88), x < expLo (and NaN) give 0.
// Flushing the subnormal range costs nothing in softmax, where such terms
// are below float32's resolution next to the maximum's exp(0) = 1.
func expf(x float32) float32 {
	if !(x >= expLo) {
		return 0
	}
	x = min(x, expHi)
	fx := float32(math.RoundToEven(float64(x * expLog2e)))
	x -= fx * expC1
	x -= fx * expC2
	z := x * x
	y := float32(1.9875691500e-4)
	y = y*x + 1.3981999507e-3
	y = y*x + 8.3334519073e-3
	y = y*x + 4.1665795894e-2
	y = y*x + 1.6666665459e-1
	y = y*x + 5.0000001201e-1
	y = y*z + x + 1
	return y * math.Float32frombits(uint32(int32(fx)+127)<<23)
}

// vexp sets dst[i] = exp(a·src[i] + c) (dst may alias src) and returns Σ dst.
func vexp(asm bool, dst, src []float32, a, c float32) float32 {
	n := len(src)
	dst = dst[:n]
	var s float32
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			s = expAVX2(n8, &dst[0], &src[0], a, c)
		}
	}
	for i := n8; i < n; i++ {
		e := expf(a*src[i] + c)
		dst[i] = e
		s += e
	}
	return s
}

// vmax returns the largest element of x (-Inf when empty).
func vmax(asm bool, x []float32) float32 {
	m := float32(math.Inf(-1))
	n8 := 0
	if asm {
		if n8 = len(x) &^ 7; n8 > 0 {
			m = maxAVX2(n8, &x[0])
		}
	}
	for _, v := range x[n8:] {
		if v > m {
			m = v
		}
	}
	return m
}

// swiglu sets out[i] = silu(g[i])·u[i].
func swiglu(asm bool, out, g, u []float32) {
	n := len(out)
	g, u = g[:n], u[:n]
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			swigluAVX2(n8, &out[0], &g[0], &u[0])
		}
	}
	for i := n8; i < n; i++ {
		out[i] = g[i] / (1 + expf(-g[i])) * u[i]
	}
}

// swiglu512 is swiglu(true, …) with the AVX-512 kernel for the 16-lane
// part (same bits; the caller checked AVX-512F).
func swiglu512(out, g, u []float32) {
	n := len(out)
	g, u = g[:n], u[:n]
	n16 := n &^ 15
	if n16 > 0 {
		swigluAVX512(n16, &out[0], &g[0], &u[0])
	}
	swiglu(true, out[n16:], g[n16:], u[n16:])
}

// swigluBack adds the gradients of swiglu: du += d·silu(g),
// dg += d·u·s·(1 + g·(1−s)) with s = sigmoid(g).
func swigluBack(asm bool, dg, du, d, g, u []float32) {
	n := len(dg)
	du, d, g, u = du[:n], d[:n], g[:n], u[:n]
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			swigluBackAVX2(n8, &dg[0], &du[0], &d[0], &g[0], &u[0])
		}
	}
	for i := n8; i < n; i++ {
		s := 1 / (1 + expf(-g[i]))
		du[i] += d[i] * g[i] * s
		dg[i] += d[i] * u[i] * s * (1 + g[i]*(1-s))
	}
}

// swigluBackSet is swiglu's recomputation fused with swigluBack writing
// (not adding) the gradients, in one pass over g, u and d:
// h[i] = silu(g[i])·u[i], du[i] = d[i]·silu(g[i]),
// dg[i] = d[i]·u[i]·s·(1 + g[i]·(1−s)). Each value has the bits swiglu
// and swigluBack (into zeros) give on the same path.
func swigluBackSet(asm bool, h, dg, du, d, g, u []float32) {
	n := len(dg)
	h, du, d, g, u = h[:n], du[:n], d[:n], g[:n], u[:n]
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			swigluBackSetAVX2(n8, &h[0], &dg[0], &du[0], &d[0], &g[0], &u[0])
		}
	}
	for i := n8; i < n; i++ {
		den := 1 + expf(-g[i])
		h[i] = g[i] / den * u[i]
		s := 1 / den
		du[i] = d[i] * g[i] * s
		dg[i] = d[i] * u[i] * s * (1 + g[i]*(1-s))
	}
}

// swigluBackSet512 is swigluBackSet(true, …) with the AVX-512 kernel for
// the 16-lane part (same bits; the caller checked AVX-512F).
func swigluBackSet512(h, dg, du, d, g, u []float32) {
	n := len(dg)
	h, du, d, g, u = h[:n], du[:n], d[:n], g[:n], u[:n]
	n16 := n &^ 15
	if n16 > 0 {
		swigluBackSetAVX512(n16, &h[0], &dg[0], &du[0], &d[0], &g[0], &u[0])
	}
	swigluBackSet(true, h[n16:], dg[n16:], du[n16:], d[n16:], g[n16:], u[n16:])
}

// dots3x4 sets out[i*ldo+j] = Σ_{p<hs} q[i*ldq+p]·k[j*ldk+p] for i < 3,
// j < 4: a 3-query × 4-key tile of attention scores.
func dots3x4(asm bool, hs int, q []float32, ldq int, k []float32, ldk int, out []float32, ldo int) {
	_ = q[2*ldq+hs-1]
	_ = k[3*ldk+hs-1]
	_ = out[2*ldo+3]
	if asm && hs%8 == 0 {
		dots3x4AVX2(hs, &q[0], ldq, &k[0], ldk, &out[0], ldo)
		return
	}
	for i := 0; i < 3; i++ {
		qi := q[i*ldq : i*ldq+hs]
		for j := 0; j < 4; j++ {
			kj := k[j*ldk : j*ldk+hs]
			var s float32
			for p, v := range qi {
				s += v * kj[p]
			}
			out[i*ldo+j] = s
		}
	}
}

// dot returns Σ a[i]·b[i] with four partial sums.
func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// vdot is dot with the AVX2 kernel's 4×8 partial sums (FMA) when asm.
func vdot(asm bool, a, b []float32) float32 {
	b = b[:len(a)]
	n8 := 0
	if asm {
		n8 = len(a) &^ 7
	}
	if n8 == 0 {
		return dot(a, b)
	}
	return dotAVX2(n8, &a[0], &b[0]) + dot(a[n8:], b[n8:])
}

// axpy sets dst[i] += s·src[i] (same bits on both paths).
func axpy(asm bool, dst, src []float32, s float32) {
	n := len(dst)
	src = src[:n]
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			axpyAVX2(n8, &dst[0], &src[0], s)
		}
	}
	for i := n8; i < n; i++ {
		dst[i] += s * src[i]
	}
}

// adamConsts are one AdamW step's scalars, in the order adamwAVX2 reads
// them: c1 = 1−b1, c2 = 1−b2, gs the gradient's scale (1: none; x·1 is x).
type adamConsts struct {
	decay, b1, c1, b2, c2, bc2Sqrt, eps, stepSize, gs float32
}

// adamw does one AdamW update of p, m and v from g·gs (see Backend.AdamW
// and AdamWScaled), g itself unchanged: with g' = g·gs,
//
//	p = p·decay − stepSize·m / (√v / bc2Sqrt + eps), after
//	m = b1·m + c1·g',  v = b2·v + c2·g'·g'.
//
// The assembly does the same float32 operations in the same order (no
// FMA), so both paths give identical bits.
func adamw(asm bool, p, g, m, v []float32, c *adamConsts) {
	g, m, v = g[:len(p)], m[:len(p)], v[:len(p)]
	n8 := 0
	if asm {
		if n8 = len(p) &^ 7; n8 > 0 {
			adamwAVX2(n8, &p[0], &g[0], &m[0], &v[0], c)
		}
	}
	for i := n8; i < len(p); i++ {
		gi := g[i] * c.gs
		mi := c.b1*m[i] + c.c1*gi
		vi := c.b2*v[i] + c.c2*gi*gi
		m[i], v[i] = mi, vi
		denom := float32(math.Sqrt(float64(vi)))/c.bc2Sqrt + c.eps
		p[i] = p[i]*c.decay - c.stepSize*mi/denom
	}
}

// sumsq returns Σ x[i]²: the asm path keeps 4×8 partial sums (FMA), the Go
// path one running sum.
func sumsq(asm bool, x []float32) float32 {
	var s float32
	n8 := 0
	if asm {
		if n8 = len(x) &^ 7; n8 > 0 {
			s = sumsqAVX2(n8, &x[0])
		}
	}
	for _, v := range x[n8:] {
		s += v * v
	}
	return s
}

// sumsq64 returns Σ x[i]² accumulated in float64 (each square is exact
// there). The asm path keeps 16 partial sums, the Go path 4; the orders
// differ, the float64 sums by far less than a float32 ulp.
func sumsq64(asm bool, x []float32) float64 {
	var s0, s1, s2, s3 float64
	i := 0
	if asm {
		if i = len(x) &^ 15; i > 0 {
			s0 = sumsq64AVX2(i, &x[0])
		}
	}
	for ; i+4 <= len(x); i += 4 {
		s0 += float64(x[i]) * float64(x[i])
		s1 += float64(x[i+1]) * float64(x[i+1])
		s2 += float64(x[i+2]) * float64(x[i+2])
		s3 += float64(x[i+3]) * float64(x[i+3])
	}
	for ; i < len(x); i++ {
		s0 += float64(x[i]) * float64(x[i])
	}
	return s0 + s1 + s2 + s3
}

// scaleMul sets out[i] = w[i]·(x[i]·r), the RMSNorm output (same bits on
// both paths).
func scaleMul(asm bool, out, x, w []float32, r float32) {
	n := len(x)
	out, w = out[:n], w[:n]
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			scaleMulAVX2(n8, &out[0], &x[0], &w[0], r)
		}
	}
	for j := n8; j < n; j++ {
		out[j] = w[j] * (x[j] * r)
	}
}

// rmsBackDot is RMSNorm backward's first pass over a row: with
// n[i] = x[i]·r, it adds dy[i]·n[i] to dw[i] (same bits on both paths) and
// returns Σ w[i]·dy[i]·n[i] (the asm path keeps 4×8 partial sums).
func rmsBackDot(asm bool, dw, x, dy, w []float32, r float32) float32 {
	n := len(x)
	dw, dy, w = dw[:n], dy[:n], w[:n]
	var dot float32
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			dot = rmsBackDotAVX2(n8, &dw[0], &x[0], &dy[0], &w[0], r)
		}
	}
	for j := n8; j < n; j++ {
		nj := x[j] * r
		dot += w[j] * dy[j] * nj
		dw[j] += dy[j] * nj
	}
	return dot
}

// rmsBackDx is RMSNorm backward's second pass over a row:
// dx[i] += r·(w[i]·dy[i] − x[i]·r·dot), dot being the mean from
// rmsBackDot. The asm path does the same operations in the same order (no
// FMA), so both give the same bits.
func rmsBackDx(asm bool, dx, x, dy, w []float32, r, dot float32) {
	n := len(x)
	dx, dy, w = dx[:n], dy[:n], w[:n]
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			rmsBackDxAVX2(n8, &dx[0], &x[0], &dy[0], &w[0], r, dot)
		}
	}
	for j := n8; j < n; j++ {
		dx[j] += r * (w[j]*dy[j] - x[j]*r*dot)
	}
}

// vadd sets out[i] = a[i] + b[i]; out may alias a or b (vadd(asm, d, d, s)
// accumulates s into d).
func vadd(asm bool, out, a, b []float32) {
	n := len(out)
	a, b = a[:n], b[:n]
	n8 := 0
	if asm {
		if n8 = n &^ 7; n8 > 0 {
			addAVX2(n8, &out[0], &a[0], &b[0])
		}
	}
	for i := n8; i < n; i++ {
		out[i] = a[i] + b[i]
	}
}

// vscale sets x[i] *= s.
func vscale(asm bool, x []float32, s float32) {
	n8 := 0
	if asm {
		if n8 = len(x) &^ 7; n8 > 0 {
			scaleAVX2(n8, &x[0], s)
		}
	}
	for i := n8; i < len(x); i++ {
		x[i] *= s
	}
}
