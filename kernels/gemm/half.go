package gemm

import (
	"fmt"

	"github.com/minimind-go/minimind/half"
)

// halfChunk is how many k values of each of 4 weight rows are converted to
// float32 at a time: a 4×512 float32 tile (8 KiB) that stays in L1 while
// every row of A is dotted with it.
const halfChunk = 512

// halfJob is one SgemmHalfB call; items are groups of 4 rows of B.
type halfJob struct {
	g       *Gemm
	m, n, k int
	a       []float32
	lda     int
	b       []uint16
	ldb     int
	bf16    bool
	c       []float32
	ldc     int
	accum   bool
}

// SgemmHalfB computes C[m×n] = A·Bᵀ (or C += A·Bᵀ when accumulate) where
// A is m×k float32 (lda ≥ k) and B is n×k stored as 16-bit floats (ldb ≥
// k): IEEE binary16 or, when bf16, bfloat16. It is the decode path for
// half-precision weights: B is read once, in chunks converted to float32
// in L1, so it moves half the bytes of Sgemm's skinny path. It is meant for
// m ≤ 8 (larger m works, re-converting B once per 8 rows). Products use
// float32 arithmetic on the exactly converted weights. Bad dimensions or
// short slices panic.
func (g *Gemm) SgemmHalfB(m, n, k int, a []float32, lda int, b []uint16, ldb int, bf16 bool, c []float32, ldc int, accumulate bool) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	checkMat("a", a, m, k, lda)
	if ldb < max(k, 1) {
		panic(fmt.Sprintf("gemm: ldb=%d < max(k=%d, 1)", ldb, k))
	}
	if need := (n-1)*ldb + k; n > 0 && k > 0 && len(b) < need {
		panic(fmt.Sprintf("gemm: len(b)=%d < %d for %d×%d with ld=%d", len(b), need, n, k, ldb))
	}
	checkMat("c", c, m, n, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	h := &g.hj
	*h = halfJob{g: g, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, bf16: bf16, c: c, ldc: ldc, accum: accumulate}
	grain := max(1, 32768/(8*k)) // ≥ 32 KiB of B per chunk of work
	g.pool.For((n+3)/4, grain, h)
	h.a, h.b, h.c = nil, nil, nil
}

// Run implements parallel.Task over groups [lo, hi) of 4 B rows. For each
// group and block of ≤ 8 rows of A, the k range is walked in halfChunk
// pieces: the 4 weight rows are converted into a stack tile and the
// float32 skinny kernels add their products into a stack accumulator.
func (h *halfJob) Run(lo, hi int) {
	// The fused kernels widen the weights once per row of A; from 4 rows
	// on, widening each chunk once into an L1 tile and running the 4×2
	// float32 kernels on it is faster (bf16 at m = 8: ~2×).
	if h.g.kind != Generic && h.k >= 8 && h.m < 4 {
		h.runFused(lo, hi)
		return
	}
	var tile [4 * halfChunk]float32
	var acc [8 * 4]float32
	for grp := lo; grp < hi; grp++ {
		j0 := grp * 4
		rows := min(4, h.n-j0)
		for i0 := 0; i0 < h.m; i0 += 8 {
			mb := min(8, h.m-i0)
			for p0 := 0; p0 < h.k; p0 += halfChunk {
				kc := min(halfChunk, h.k-p0)
				for r := 0; r < rows; r++ {
					src := h.b[(j0+r)*h.ldb+p0 : (j0+r)*h.ldb+p0+kc]
					h.g.convertHalf(tile[r*halfChunk:r*halfChunk+kc], src, h.bf16)
				}
				s := skinnyJob{g: h.g, m: mb, n: rows, k: kc, a: h.a[i0*h.lda+p0:], lda: h.lda,
					b: tile[:], ldb: halfChunk, c: acc[:], ldc: 4, accum: p0 > 0}
				s.Run(0, 1)
			}
			for i := 0; i < mb; i++ {
				dst := h.c[(i0+i)*h.ldc+j0 : (i0+i)*h.ldc+j0+rows]
				src := acc[i*4 : i*4+rows]
				if h.accum {
					for r, v := range src {
						dst[r] += v
					}
				} else {
					copy(dst, src)
				}
			}
		}
	}
}

// convertHalf converts src (IEEE half, or bfloat16 when bf16) into dst,
// using the F16C/AVX2 routine for whole vectors when the kind has it.
func (g *Gemm) convertHalf(dst []float32, src []uint16, bf16 bool) {
	dst = dst[:len(src)]
	n8 := 0
	if g.kind != Generic {
		if n8 = len(src) &^ 7; n8 > 0 {
			if bf16 {
				cvtBF16AVX2(n8, &src[0], &dst[0])
			} else {
				cvtF16AVX2(n8, &src[0], &dst[0])
			}
		}
	}
	for i := n8; i < len(src); i++ {
		if bf16 {
			dst[i] = half.BF16ToFloat32(src[i])
		} else {
			dst[i] = half.F16ToFloat32(src[i])
		}
	}
}

// runFused is Run for the assembly kinds: groups of 4 full B rows go
// through dot4BF16AVX2/dot4F16AVX2, which widen the weights in registers,
// once per row of A (the 4 weight rows, 4·k·2 bytes, stay in L1 across
// A's ≤ 8 rows). The k tail and a last partial group are done in Go.
func (h *halfJob) runFused(lo, hi int) {
	kv := h.k &^ 7
	for grp := lo; grp < hi; grp++ {
		j0 := grp * 4
		rows := min(4, h.n-j0)
		for i := 0; i < h.m; i++ {
			a := h.a[i*h.lda : i*h.lda+h.k]
			var out [4]float32
			start := 0
			if rows == 4 {
				b := h.b[j0*h.ldb : (j0+3)*h.ldb+h.k]
				if h.bf16 {
					dot4BF16AVX2(kv, &a[0], &b[0], h.ldb, &out)
				} else {
					dot4F16AVX2(kv, &a[0], &b[0], h.ldb, &out)
				}
				start = kv
			}
			for r := 0; r < rows; r++ {
				brow := h.b[(j0+r)*h.ldb : (j0+r)*h.ldb+h.k]
				s := out[r]
				for p := start; p < h.k; p++ {
					if h.bf16 {
						s += a[p] * half.BF16ToFloat32(brow[p])
					} else {
						s += a[p] * half.F16ToFloat32(brow[p])
					}
				}
				c := &h.c[i*h.ldc+j0+r]
				if h.accum {
					*c += s
				} else {
					*c = s
				}
			}
		}
	}
}
