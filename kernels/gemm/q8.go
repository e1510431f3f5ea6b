package gemm

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/quant"
)

// Q8_0 weights (8-bit inference): SgemmQ8B multiplies float32 activations
// by a weight matrix stored as GGUF's Q8_0 blocks (package quant: 32 int8
// quants after one f16 scale, 34 bytes per 32 weights).
//
// Decode (m ≤ 8 rows of A), bound by reading the weights: as llama.cpp
// does, each row of A is first quantized to 8 bits per block of 32 (scale
// dx = max|x|/127, kept in float32, quants rounded half away from zero),
// and the products are int8·int8 integer dot products, exact in int32, one
// per block; only the block results are scaled and summed in float32. This
// moves a quarter of float32's bytes (1.0625 bytes per weight) and does 32
// multiply-adds in a few integer instructions (vpmaddubsw + vpmaddwd on
// AVX2, vpdpbusd with AVX-512 VNNI).
//
// Prefill (m > 8), bound by arithmetic: the blocked float32 GEMM, its B
// panels dequantized from Q8_0 while packing (packBPanelQ8), A unrounded.
//
// Accuracy: the weights carry Q8_0's own error (up to half a quantum,
// max|w|/254 per block: about 0.5% RMS relative for Gaussian-like blocks,
// bf16's is about 0.1%). Quantizing the activations (decode only) adds the
// same relative error on the other factor. Both are unbiased rounding
// errors that average over a product's k/32 blocks; see
// model.SetInferenceDType for what they do to a model's logits and loss.
//
// Every kind computes the same numbers bit for bit: within a block the 32
// products are summed exactly in 8 int32 lanes of 4 adjacent products;
// lane l of a row's 8 float32 accumulators adds float32(lane)·(dx·dw) block
// after block (a multiply and an add, never fused), and the row's result is
// ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)). The pure-Go twin (q8Dot4Go) spells
// this order out; the assembly follows it, and the tests compare every
// kind with it for equality.

// q8Job is one SgemmQ8B call; items are groups of 4 weight rows.
type q8Job struct {
	g       *Gemm
	m, n, k int
	xq      []int8    // A quantized: m×k quants
	xd      []float32 // A's block scales: m×(k/32)
	b       []byte
	ldb     int // bytes per weight row
	c       []float32
	ldc     int
	accum   bool
}

// q8QuantJob quantizes rows [lo, hi) of A into the Gemm's scratch.
type q8QuantJob struct {
	a   []float32
	lda int
	k   int
	xq  []int8
	xd  []float32
}

// Run implements parallel.Task over rows of A.
func (q *q8QuantJob) Run(lo, hi int) {
	nb := q.k / quant.Q8Block
	for i := lo; i < hi; i++ {
		QuantizeRowQ8(q.xq[i*q.k:(i+1)*q.k], q.xd[i*nb:(i+1)*nb], q.a[i*q.lda:i*q.lda+q.k])
	}
}

// QuantizeRowQ8 quantizes x (len a multiple of 32) into quants q (len(x))
// and per-block scales d (len(x)/32) as Q8_0 does, except that d stays
// float32 (it is never stored): d = max|x|/127, q = round(x/d) half away
// from zero (x·(1/d), as ggml). This is how SgemmQ8B prepares its A.
func QuantizeRowQ8(q []int8, d []float32, x []float32) {
	for b := range len(x) / quant.Q8Block {
		xb := x[b*quant.Q8Block : (b+1)*quant.Q8Block]
		qb := q[b*quant.Q8Block : (b+1)*quant.Q8Block]
		// |x| as bits orders like |x| (NaN above +Inf, so it propagates).
		var abits uint32
		for _, v := range xb {
			abits = max(abits, math.Float32bits(v)&0x7fffffff)
		}
		s := math.Float32frombits(abits) / 127
		var id float32
		if s != 0 {
			id = 1 / s
		}
		d[b] = s
		for j, v := range xb {
			// Half away from zero: r ± 0.5 is exact in float64 for
			// |r| ≤ 127.5, and the conversion truncates.
			r := float64(v * id)
			qb[j] = int8(int32(r + math.Copysign(0.5, r)))
		}
	}
}

// SgemmQ8B computes C[m×n] = A·Bᵀ (or C += A·Bᵀ when accumulate) where A is
// m×k float32 (lda ≥ k) and B is n×k in Q8_0 blocks along k: row j is the
// k/32 blocks at b[j*ldb:], ldb ≥ quant.Q8Bytes(k) bytes. k must be a
// multiple of 32. For m ≤ 8 (decode), A is quantized to 8 bits per block
// first, into scratch owned by g, and B is read once, 4 rows at a time;
// larger m runs the blocked GEMM on B dequantized while packing (see the
// comment at the top of q8.go for both and their accuracy). Steady-state
// calls do not allocate. Bad dimensions or short slices panic.
func (g *Gemm) SgemmQ8B(m, n, k int, a []float32, lda int, b []byte, ldb int, c []float32, ldc int, accumulate bool) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	if k%quant.Q8Block != 0 {
		panic(fmt.Sprintf("gemm: q8_0 needs k a multiple of %d, got %d", quant.Q8Block, k))
	}
	checkMat("a", a, m, k, lda)
	if ldb < max(quant.Q8Bytes(k), 1) {
		panic(fmt.Sprintf("gemm: ldb=%d bytes < %d for k=%d in q8_0", ldb, quant.Q8Bytes(k), k))
	}
	if need := (n-1)*ldb + quant.Q8Bytes(k); n > 0 && k > 0 && len(b) < need {
		panic(fmt.Sprintf("gemm: len(b)=%d < %d bytes for %d×%d q8_0 with ld=%d", len(b), need, n, k, ldb))
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
	if m > skinnyMaxM {
		// Prefill: compute-bound, so the float32 blocked GEMM on weights
		// dequantized while packing beats int8 dots (~2.5× with AVX-512).
		g.blocked(false, true, m, n, k, a, lda, nil, 0, c, ldc, accumulate, b, ldb)
		return
	}
	nb := k / quant.Q8Block
	if cap(g.q8x) < m*k {
		g.q8x = make([]int8, m*k)
	}
	if cap(g.q8d) < m*nb {
		g.q8d = make([]float32, m*nb)
	}
	xq, xd := g.q8x[:m*k], g.q8d[:m*nb]
	qj := &g.q8q
	*qj = q8QuantJob{a: a, lda: lda, k: k, xq: xq, xd: xd}
	// Quantizing costs about as much as 4 weight rows' dots per row of A,
	// so it is split only when A is large (prefill).
	g.pool.For(m, max(1, 65536/k), qj)
	qj.a = nil

	h := &g.q8j
	*h = q8Job{g: g, m: m, n: n, k: k, xq: xq, xd: xd, b: b, ldb: ldb, c: c, ldc: ldc, accum: accumulate}
	// ≥ 16 KiB of B (m = 1) per chunk, less as m grows and each row of B
	// costs more.
	grain := max(1, 16384/(quant.Q8Bytes(k)*4*m))
	g.pool.For((n+3)/4, grain, h)
	h.b, h.c = nil, nil
}

// Run implements parallel.Task over groups [lo, hi) of 4 rows of B.
func (h *q8Job) Run(lo, hi int) {
	nb := h.k / quant.Q8Block
	for grp := lo; grp < hi; grp++ {
		j0 := grp * 4
		rows := min(4, h.n-j0)
		for i := 0; i < h.m; i++ {
			var out [4]float32
			xq, xd := h.xq[i*h.k:(i+1)*h.k], h.xd[i*nb:(i+1)*nb]
			if rows == 4 {
				h.g.q8Dot4(nb, xq, xd, h.b[j0*h.ldb:], h.ldb, &out)
			} else {
				for r := 0; r < rows; r++ {
					out[r] = q8DotGo(nb, xq, xd, h.b[(j0+r)*h.ldb:])
				}
			}
			dst := h.c[i*h.ldc+j0 : i*h.ldc+j0+rows]
			if h.accum {
				for r := range dst {
					dst[r] += out[r]
				}
			} else {
				copy(dst, out[:rows])
			}
		}
	}
}

// q8Dot4 computes out[r] = Σ_b xd[b]·dw[r][b]·Σ_{j<32} xq[32b+j]·w[r][b][j]
// for the 4 Q8_0 rows at w, w[ldw:], w[2·ldw:], w[3·ldw:] (nb blocks each),
// in the order documented at the top of q8.go.
func (g *Gemm) q8Dot4(nb int, xq []int8, xd []float32, w []byte, ldw int, out *[4]float32) {
	_ = xq[nb*quant.Q8Block-1]
	_ = xd[nb-1]
	_ = w[3*ldw+nb*quant.Q8BlockBytes-1]
	switch {
	case g.kind == Generic:
		q8Dot4Go(nb, xq, xd, w, ldw, out)
	case g.kind == AVX512 && hasVNNI:
		q8Dot4VNNI(nb, &xq[0], &xd[0], &w[0], ldw, out)
	default:
		q8Dot4AVX2(nb, &xq[0], &xd[0], &w[0], ldw, out)
	}
}

// q8Dot4Go is the pure-Go twin of the assembly q8Dot4 kernels.
func q8Dot4Go(nb int, xq []int8, xd []float32, w []byte, ldw int, out *[4]float32) {
	for r := range 4 {
		out[r] = q8DotGo(nb, xq, xd, w[r*ldw:])
	}
}

// q8DotGo is one row of q8Dot4Go: the row's nb Q8_0 blocks at w dotted
// with the quantized activations.
func q8DotGo(nb int, xq []int8, xd []float32, w []byte) float32 {
	var acc [8]float32
	for b := range nb {
		blk := (*[quant.Q8BlockBytes]byte)(w[b*quant.Q8BlockBytes:])
		d := xd[b] * half.F16ToFloat32(binary.LittleEndian.Uint16(blk[:2]))
		x := (*[quant.Q8Block]int8)(xq[b*quant.Q8Block:])
		q := (*[quant.Q8Block]byte)(blk[2:])
		for l := range 8 {
			j := 4 * l
			s := int32(x[j])*int32(int8(q[j])) + int32(x[j+1])*int32(int8(q[j+1])) +
				int32(x[j+2])*int32(int8(q[j+2])) + int32(x[j+3])*int32(int8(q[j+3]))
			// The conversion rounds the product, so it is never fused
			// with the add (the assembly multiplies, then adds).
			acc[l] += float32(float32(s) * d)
		}
	}
	return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))
}

// DequantizeRowsQ8 writes out[i,:] = the Q8_0 row ids[i] of table (rows of
// C values, quant.Q8Bytes(C) bytes each) decoded to float32, for i < N: an
// embedding lookup in a quantized table. An id outside the table panics.
func DequantizeRowsQ8(out []float32, ids []int32, table []byte, N, C int) {
	rb := quant.Q8Bytes(C)
	for i := 0; i < N; i++ {
		row := table[int(ids[i])*rb : (int(ids[i])+1)*rb]
		if err := quant.DequantizeQ8(out[i*C:(i+1)*C], row); err != nil {
			panic(err) // C not a multiple of 32: a caller's bug
		}
	}
}
