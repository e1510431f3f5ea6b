//go:build !amd64

package cpu

// Off amd64 the Backend never selects the assembly kernels (its GEMM kind
// is Generic); these stubs only satisfy the compiler.

func expAVX2(n int, dst, src *float32, a, c float32) float32 { panic("cpu: AVX2 on non-amd64") }
func maxAVX2(n int, x *float32) float32                      { panic("cpu: AVX2 on non-amd64") }
func swigluAVX2(n int, out, gate, up *float32)               { panic("cpu: AVX2 on non-amd64") }
func swigluBackAVX2(n int, dg, du, dout, gate, up *float32)  { panic("cpu: AVX2 on non-amd64") }

func swigluBackSetAVX2(n int, h, dg, du, dout, gate, up *float32) {
	panic("cpu: AVX2 on non-amd64")
}

func dots3x4AVX2(hs int, q *float32, ldq int, k *float32, ldk int, out *float32, ldo int) {
	panic("cpu: AVX2 on non-amd64")
}

func adamwAVX2(n int, p, grad, m, v *float32, c *adamConsts) { panic("cpu: AVX2 on non-amd64") }

func sumsqAVX2(n int, x *float32) float32                            { panic("cpu: AVX2 on non-amd64") }
func scaleMulAVX2(n int, out, x, w *float32, r float32)              { panic("cpu: AVX2 on non-amd64") }
func rmsBackDotAVX2(n int, dw, x, dy, w *float32, r float32) float32 { panic("cpu: AVX2 on non-amd64") }
func rmsBackDxAVX2(n int, dx, x, dy, w *float32, r, dot float32)     { panic("cpu: AVX2 on non-amd64") }
func addAVX2(n int, out, a, b *float32)                              { panic("cpu: AVX2 on non-amd64") }
func scaleAVX2(n int, x *float32, s float32)                         { panic("cpu: AVX2 on non-amd64") }

func sumsq64AVX2(n int, x *float32) float64        { panic("cpu: AVX2 on non-amd64") }
func axpyAVX2(n int, dst, src *float32, s float32) { panic("cpu: AVX2 on non-amd64") }
func dotAVX2(n int, a, b *float32) float32         { panic("cpu: AVX2 on non-amd64") }
func swigluAVX512(n int, out, gate, up *float32)   { panic("cpu: AVX-512 on non-amd64") }

func swigluBackSetAVX512(n int, h, dg, du, dout, gate, up *float32) {
	panic("cpu: AVX-512 on non-amd64")
}
