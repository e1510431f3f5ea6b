//go:build amd64

package cpu

// Attention's block kernels: attn_amd64.s, AVX2+FMA like simd_amd64.s and
// called only under the same condition, and attn_avx512_amd64.s, AVX-512F,
// called only when the GEMM kind is AVX512 (attISA). The Go wrappers and
// pure-Go twins are in attention.go; they check lengths, not these.

// attSoftmaxAVX2 is attSoftmax for w a positive multiple of 8 and nb > 0;
// all != 0 says that no key is masked (j0+nb−1 ≤ lim[r] for every r).
//
//go:noescape
func attSoftmaxAVX2(nb, w int, s *float32, lds int, lim *float32, j0 float32, mx, l, alpha *float32, all int)

// attSoftmaxBackAVX2 is attSoftmaxBack for w a positive multiple of 8 and
// nb > 0.
//
//go:noescape
func attSoftmaxBackAVX2(nb, w int, s, dp *float32, lds int, lim *float32, j0 float32, lse, d *float32)

// attPanelAVX2 is attPanel for rows a positive multiple of 6, n a
// positive multiple of 16 and kd > 0 (sc is read only in mode attScale).
//
//go:noescape
func attPanelAVX2(kd int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, rows, n int, sc *float32, mode int)

// attTransposeAVX2 is attTranspose for rows and cols positive multiples
// of 8.
//
//go:noescape
func attTransposeAVX2(rows, cols int, src *float32, lds int, dst *float32, ldd int)

// attPanelAVX512 is attPanelAVX2 on AVX-512F (attn_avx512_amd64.s), same
// preconditions.
//
//go:noescape
func attPanelAVX512(kd int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, rows, n int, sc *float32, mode int)

// attPrefetch hints rows runs of bytes bytes, ld bytes apart from p, into
// L2 (attn_amd64.s). It reads nothing: p may be any address the caller
// could read.
//
//go:noescape
func attPrefetch(p *float32, rows, bytes, ld int)

// attSoftmaxAVX512 is attSoftmaxAVX2 for w a positive multiple of 16
// (attn_avx512_amd64.s).
//
//go:noescape
func attSoftmaxAVX512(nb, w int, s *float32, lds int, lim *float32, j0 float32, mx, l, alpha *float32, all int)

// attSoftmaxBackAVX512 is attSoftmaxBackAVX2 for w a positive multiple of
// 16.
//
//go:noescape
func attSoftmaxBackAVX512(nb, w int, s, dp *float32, lds int, lim *float32, j0 float32, lse, d *float32)

// attRowDotsAVX2 is attRowDots for rows > 0 and hs a positive multiple
// of 8.
//
//go:noescape
func attRowDotsAVX2(rows, hs int, a *float32, lda int, b *float32, ldb int, out *float32)
