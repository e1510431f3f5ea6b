//go:build !amd64

package gemm

// Only the generic kernels exist off amd64.
const (
	hasAVX2   = false
	hasAVX512 = false
	hasVNNI   = false
)

func kernAVX2(kc int, a, b, c *float32, ldc int, accum int, pf *float32, pfstep int) {
	panic("gemm: AVX2 on non-amd64")
}

func kernAVX512(kc int, a, b, c *float32, ldc int, accum int, pf *float32, pfstep int) {
	panic("gemm: AVX512 on non-amd64")
}

func dot4AVX2(k int, a, b *float32, ldb int, out *[4]float32)   { panic("gemm: AVX2 on non-amd64") }
func dot4AVX512(k int, a, b *float32, ldb int, out *[4]float32) { panic("gemm: AVX512 on non-amd64") }

func dot4x2AVX2(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32) {
	panic("gemm: AVX2 on non-amd64")
}

func dot4x2AVX512(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32) {
	panic("gemm: AVX512 on non-amd64")
}

func cvtF16AVX2(n int, src *uint16, dst *float32)  { panic("gemm: AVX2 on non-amd64") }
func cvtBF16AVX2(n int, src *uint16, dst *float32) { panic("gemm: AVX2 on non-amd64") }

func dot4BF16AVX2(k int, a *float32, b *uint16, ldb int, out *[4]float32) {
	panic("gemm: AVX2 on non-amd64")
}

func dot4F16AVX2(k int, a *float32, b *uint16, ldb int, out *[4]float32) {
	panic("gemm: AVX2 on non-amd64")
}

func pack6AVX2(kc int, a *float32, lda int, dst *float32) { panic("gemm: AVX2 on non-amd64") }

func fmaLoopAVX2(n int)   { panic("gemm: AVX2 on non-amd64") }
func fmaLoopAVX512(n int) { panic("gemm: AVX512 on non-amd64") }

func packStrip6(kc int, a *float32, lda int, dst *float32)  { panic("gemm: AVX2 on non-amd64") }
func packStrip16(kc int, b *float32, ldb int, dst *float32) { panic("gemm: AVX2 on non-amd64") }

func q8Dot4AVX2(nb int, xq *int8, xd *float32, w *byte, ldw int, out *[4]float32) {
	panic("gemm: AVX2 on non-amd64")
}

func q8Dot4VNNI(nb int, xq *int8, xd *float32, w *byte, ldw int, out *[4]float32) {
	panic("gemm: AVX512 on non-amd64")
}

func packStrip12(kc int, a *float32, lda int, dst *float32) { panic("gemm: AVX2 on non-amd64") }
func packStrip32(kc int, b *float32, ldb int, dst *float32) { panic("gemm: AVX2 on non-amd64") }

func packRowsT(kc8 int, src *float32, ld int, rows int, dst *float32) {
	panic("gemm: AVX2 on non-amd64")
}

func packStrips12N(kc int, a *float32, lda int, panels int, dst *float32, pstride int) {
	panic("gemm: AVX2 on non-amd64")
}

func packStrips6N(kc int, a *float32, lda int, panels int, dst *float32, pstride int) {
	panic("gemm: AVX2 on non-amd64")
}

func prefetchRows(p *float32, rows int, seg int, stride int) {}
