//go:build amd64

package cpu

// Assembly kernels (simd_amd64.s). They need AVX2 and FMA; the Backend
// calls them only when its GEMM kind is an assembly kind (which implies
// both), and otherwise runs the pure-Go equivalents in simd.go. Lengths
// are checked by the Go wrappers in simd.go, never here.

// expAVX2: dst[i] = exp(a·src[i] + c) for i < n (n a positive multiple of
// 8); returns Σ dst.
//
//go:noescape
func expAVX2(n int, dst, src *float32, a, c float32) float32

// maxAVX2 returns max(x[:n]) (n a positive multiple of 8).
//
//go:noescape
func maxAVX2(n int, x *float32) float32

// swigluAVX2: out[i] = silu(gate[i])·up[i] (n a positive multiple of 8).
//
//go:noescape
func swigluAVX2(n int, out, gate, up *float32)

// swigluBackAVX2: dg, du += ∂ of swigluAVX2 (n a positive multiple of 8).
//
//go:noescape
func swigluBackAVX2(n int, dg, du, dout, gate, up *float32)

// swigluBackSetAVX2: h = swiglu, dg, du = its gradients, written (n a
// positive multiple of 8).
//
//go:noescape
func swigluBackSetAVX2(n int, h, dg, du, dout, gate, up *float32)

// dots3x4AVX2: out[i*ldo+j] = Σ_{p<hs} q[i*ldq+p]·k[j*ldk+p] for i < 3,
// j < 4 (hs a positive multiple of 8).
//
//go:noescape
func dots3x4AVX2(hs int, q *float32, ldq int, k *float32, ldk int, out *float32, ldo int)

// adamwAVX2: the AdamW update of adamw (n a positive multiple of 8).
//
//go:noescape
func adamwAVX2(n int, p, grad, m, v *float32, c *adamConsts)

// sumsqAVX2 returns Σ x[i]² for i < n (n a positive multiple of 8).
//
//go:noescape
func sumsqAVX2(n int, x *float32) float32

// scaleMulAVX2: out[i] = w[i]·(x[i]·r) (n a positive multiple of 8).
//
//go:noescape
func scaleMulAVX2(n int, out, x, w *float32, r float32)

// rmsBackDotAVX2: dw[i] += dy[i]·(x[i]·r); returns Σ w[i]·dy[i]·(x[i]·r)
// (n a positive multiple of 8).
//
//go:noescape
func rmsBackDotAVX2(n int, dw, x, dy, w *float32, r float32) float32

// rmsBackDxAVX2: dx[i] += r·(w[i]·dy[i] − x[i]·r·dot) (n a positive
// multiple of 8).
//
//go:noescape
func rmsBackDxAVX2(n int, dx, x, dy, w *float32, r, dot float32)

// addAVX2: out[i] = a[i] + b[i] (n a positive multiple of 8; out may alias
// a or b).
//
//go:noescape
func addAVX2(n int, out, a, b *float32)

// scaleAVX2: x[i] *= s (n a positive multiple of 8).
//
//go:noescape
func scaleAVX2(n int, x *float32, s float32)

// sumsq64AVX2 returns Σ x[i]² for i < n in float64 (n a positive multiple
// of 16).
//
//go:noescape
func sumsq64AVX2(n int, x *float32) float64

// axpyAVX2: dst[i] += s·src[i] (n a positive multiple of 8; no FMA).
//
//go:noescape
func axpyAVX2(n int, dst, src *float32, s float32)

// dotAVX2 returns Σ a[i]·b[i] for i < n (n a positive multiple of 8).
//
//go:noescape
func dotAVX2(n int, a, b *float32) float32

// swigluAVX512 is swigluAVX2 on 16 lanes (n a positive multiple of 16;
// AVX-512F), with the same bits.
//
//go:noescape
func swigluAVX512(n int, out, gate, up *float32)

// swigluBackSetAVX512 is swigluBackSetAVX2 on 16 lanes (n a positive
// multiple of 16; AVX-512F), with the same bits.
//
//go:noescape
func swigluBackSetAVX512(n int, h, dg, du, dout, gate, up *float32)
