//go:build amd64

package gemm

import "golang.org/x/sys/cpu"

// CPU features, detected once at start-up and read-only afterwards. The
// assembly uses FMA3 and F16C with AVX2, and AVX-512F only (no BW/DQ/VL) for
// AVX512; x/sys/cpu also checks that the OS saves the wide registers.
var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA && cpu.X86.HasF16C
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F
	// hasVNNI: vpdpbusd on 256-bit vectors (the AVX512 kind's Q8_0 kernel).
	hasVNNI = hasAVX512 && cpu.X86.HasAVX512VNNI && cpu.X86.HasAVX512VL
)

// kernAVX2 is the 6×16 AVX2+FMA micro-kernel (kernels_amd64.s); see
// Gemm.kernel for pf and pfstep.
//
//go:noescape
func kernAVX2(kc int, a, b, c *float32, ldc int, accum int, pf *float32, pfstep int)

// kernAVX512 is the 12×32 AVX-512F micro-kernel (kernels_amd64.s).
//
//go:noescape
func kernAVX512(kc int, a, b, c *float32, ldc int, accum int, pf *float32, pfstep int)

// dot4AVX2 is the skinny-path dot kernel, k a multiple of 8.
//
//go:noescape
func dot4AVX2(k int, a, b *float32, ldb int, out *[4]float32)

// dot4AVX512 is the skinny-path dot kernel, k a multiple of 16.
//
//go:noescape
func dot4AVX512(k int, a, b *float32, ldb int, out *[4]float32)

// dot4x2AVX2 is the skinny-path 4×2 dot kernel, k a positive multiple of 8.
//
//go:noescape
func dot4x2AVX2(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32)

// dot4x2AVX512 is the skinny-path 4×2 dot kernel, k a positive multiple of 16.
//
//go:noescape
func dot4x2AVX512(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32)

// cvtF16AVX2 converts n IEEE half values (n a positive multiple of 8).
//
//go:noescape
func cvtF16AVX2(n int, src *uint16, dst *float32)

// cvtBF16AVX2 converts n bfloat16 values (n a positive multiple of 8).
//
//go:noescape
func cvtBF16AVX2(n int, src *uint16, dst *float32)

// dot4BF16AVX2: out[r] = Σ_{p<k} a[p]·bf16(b[r*ldb+p]), r < 4 (k a positive
// multiple of 8).
//
//go:noescape
func dot4BF16AVX2(k int, a *float32, b *uint16, ldb int, out *[4]float32)

// dot4F16AVX2: as dot4BF16AVX2 with IEEE half weights.
//
//go:noescape
func dot4F16AVX2(k int, a *float32, b *uint16, ldb int, out *[4]float32)

// pack6AVX2 packs 6 rows of A into a 6-row micro-panel (kc a positive
// multiple of 4); see pack6Go, its pure-Go twin.
//
//go:noescape
func pack6AVX2(kc int, a *float32, lda int, dst *float32)

// fmaLoopAVX2 runs n iterations of 12 independent 8-lane FMAs (peak.go).
//
//go:noescape
func fmaLoopAVX2(n int)

// fmaLoopAVX512 runs n iterations of 12 independent 16-lane FMAs.
//
//go:noescape
func fmaLoopAVX512(n int)

// packStrip6 copies 6 floats from each of kc rows of a (stride lda) to
// dst[p*6:], kc ≥ 1 (kernels_amd64.s).
//
//go:noescape
func packStrip6(kc int, a *float32, lda int, dst *float32)

// packStrip16 copies 16 floats from each of kc rows of b (stride ldb) to
// dst[p*16:], kc ≥ 1.
//
//go:noescape
func packStrip16(kc int, b *float32, ldb int, dst *float32)

// q8Dot4AVX2 is the AVX2 Q8_0 dot kernel (q8_amd64.s; q8Dot4Go is its
// twin), nb ≥ 1 blocks.
//
//go:noescape
func q8Dot4AVX2(nb int, xq *int8, xd *float32, w *byte, ldw int, out *[4]float32)

// q8Dot4VNNI is q8Dot4AVX2 with AVX-512 VNNI's vpdpbusd.
//
//go:noescape
func q8Dot4VNNI(nb int, xq *int8, xd *float32, w *byte, ldw int, out *[4]float32)

// packStrip12 copies 12 floats from each of kc rows of a (stride lda) to
// dst[p*12:], kc ≥ 1.
//
//go:noescape
func packStrip12(kc int, a *float32, lda int, dst *float32)

// packStrip32 copies 32 floats from each of kc rows of b (stride ldb) to
// dst[p*32:], kc ≥ 1.
//
//go:noescape
func packStrip32(kc int, b *float32, ldb int, dst *float32)

// packRowsT sets dst[p*rows+i] = src[i*ld+p] for i < rows (a positive
// multiple of 4) and p < kc8 (a positive multiple of 8).
//
//go:noescape
func packRowsT(kc8 int, src *float32, ld int, rows int, dst *float32)

// packStrips12N packs panels whole 12-float strips of each of kc rows of a
// (stride lda) into panels 12-row A panels pstride floats apart:
// dst[q*pstride+p*12+i] = a[p*lda+q*12+i]; kc, panels ≥ 1.
//
//go:noescape
func packStrips12N(kc int, a *float32, lda int, panels int, dst *float32, pstride int)

// packStrips6N is packStrips12N for 6-row panels (the AVX2 kind):
// dst[q*pstride+p*6+i] = a[p*lda+q*6+i]; kc, panels ≥ 1.
//
//go:noescape
func packStrips6N(kc int, a *float32, lda int, panels int, dst *float32, pstride int)

// prefetchRows asks for rows runs of seg bytes, stride bytes apart from
// p, to be brought into L2 (a hint: it never faults, p may point at the
// last element in bounds of a region that goes on).
//
//go:noescape
func prefetchRows(p *float32, rows int, seg int, stride int)
