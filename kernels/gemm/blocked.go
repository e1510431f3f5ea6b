package gemm

import (
	"encoding/binary"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/quant"
)

// job is one blocked Sgemm call. It is the parallel.Task handed to the pool
// (as a pointer into the Gemm, so passing it does not allocate); phase
// selects what Run does with its item range.
type job struct {
	g              *Gemm
	phase          int
	transA, transB bool
	m, k           int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	bq             []byte // B (transB) in Q8_0 rows of ldbq bytes instead of b
	ldbq           int
	c              []float32
	ldc            int

	// The current block: k range [pc, pc+kc), columns [jc, jc+nc).
	pc, kc, jc, nc int
	accum          bool // add into C (accumulate, or not the first k block)
	packA          bool // the pack phase also packs A (first column block)
	mPanels        int  // ceil(m/mr): A panels
	nPanels        int  // ceil(nc/nr): B panels in this column block
	nRows          int  // row items: A panels split into nRows near-equal groups
	nSubs          int  // column items per row item: B panels split likewise
}

const (
	phasePack    = iota // items: A panels (if packA) then B panels
	phaseCompute        // items: row blocks × column sub-ranges
)

// Run implements parallel.Task.
func (j *job) Run(lo, hi int) {
	if j.phase == phasePack {
		for t := lo; t < hi; t++ {
			switch {
			case !j.packA:
				j.packBPanel(t)
			case t < j.mPanels:
				j.packAPanel(t)
			default:
				j.packBPanel(t - j.mPanels)
			}
		}
		return
	}
	for t := lo; t < hi; t++ {
		j.compute(t/j.nSubs, t%j.nSubs)
	}
}

// blocked runs the packed, cache-blocked algorithm (see the package doc).
//
// Loop order: k blocks outermost, so op(A) is packed once per k block (for
// all rows at once: m×kc floats, in L3 for the shapes we train) and each
// kc×nc block of op(B) exactly once per call. Each block costs two pool
// calls: one packs (A panels and B panels are independent items), one
// computes tiles. Item boundaries never change the arithmetic, so results
// do not depend on the number of workers.
//
// With bq non-nil (SgemmQ8B), B is n×k in Q8_0 rows of ldbq bytes (transB,
// b unused), dequantized into the packed panels: every kc is a multiple of
// Q8_0's 32, so each panel starts on a block.
func (g *Gemm) blocked(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, bq []byte, ldbq int) {
	cfg := &g.cfg
	mr, nr := cfg.mr, cfg.nr
	j := &g.job
	*j = job{g: g, transA: transA, transB: transB, m: m, k: k, a: a, lda: lda, b: b, ldb: ldb, bq: bq, ldbq: ldbq, c: c, ldc: ldc}
	j.mPanels = (m + mr - 1) / mr
	kcMax := min(cfg.kc, k)
	ncMax := min(cfg.nc, n)
	if need := j.mPanels * mr * kcMax; len(g.apack) < need {
		g.apack = make([]float32, need)
	}
	if need := (ncMax + nr - 1) / nr * nr * kcMax; len(g.bpack) < need {
		g.bpack = make([]float32, need)
	}
	workers := g.pool.Workers()
	// Row items of at most mc rows, as many per worker: For-style chunks
	// of several items, or a count that does not divide by the workers,
	// would leave one worker a whole item more than another at the end of
	// every block (29 items of 144 rows for m = 4096 and 2 workers: one
	// core idled 3-10% of each GEMM).
	j.nRows = (j.mPanels + cfg.mc/mr - 1) / (cfg.mc / mr)
	if r := j.nRows % workers; r != 0 && j.nRows+workers-r <= j.mPanels {
		j.nRows += workers - r
	}
	for pc := 0; pc < k; pc += cfg.kc {
		j.pc, j.kc = pc, min(cfg.kc, k-pc)
		j.accum = accumulate || pc > 0
		for jc := 0; jc < n; jc += cfg.nc {
			j.jc, j.nc = jc, min(cfg.nc, n-jc)
			j.nPanels = (j.nc + nr - 1) / nr
			j.packA = jc == 0
			items := j.nPanels
			if j.packA {
				items += j.mPanels
			}
			j.phase = phasePack
			g.pool.ForChunks(items, max(4, items/(16*workers)), j)

			// Enough items for balance (≈4 per worker) without cutting the
			// column range so thin that A blocks are re-read needlessly.
			j.nSubs = 1
			if want := 4 * workers; j.nRows < want {
				j.nSubs = min(j.nPanels, (want+j.nRows-1)/j.nRows)
			}
			j.phase = phaseCompute
			g.pool.ForChunks(j.nRows*j.nSubs, 1, j)
		}
	}
	j.a, j.b, j.bq, j.c = nil, nil, nil, nil // do not pin the caller's slices
}

// packAPanel packs rows [ip*mr, ip*mr+mr) of op(A), k range [pc, pc+kc),
// as dst[p*mr+i], zero-filling rows past m.
func (j *job) packAPanel(ip int) {
	mr := j.g.cfg.mr
	kc := j.kc
	dst := j.g.apack[ip*mr*kc : (ip+1)*mr*kc]
	i0 := ip * mr
	rows := min(mr, j.m-i0)
	if j.transA {
		// A is k×m: row p of A holds op(A)[·][p] contiguously.
		j.g.packStrips(dst, j.a, j.pc*j.lda+i0, j.lda, kc, rows, mr)
		return
	}
	if rows == 6 && mr == 6 {
		// The AVX2 panel, written sequentially (this loop was ~7% of a
		// training step as scalar Go): whole groups of 4 k values in
		// assembly, the rest in Go.
		base := i0*j.lda + j.pc
		kv := 0
		if j.g.kind == AVX2 {
			if kv = kc &^ 3; kv > 0 {
				_ = j.a[base+5*j.lda+kv-1] // the six rows' [0, kv) are in bounds
				pack6AVX2(kv, &j.a[base], j.lda, &dst[0])
			}
		}
		pack6Go(dst[kv*6:], j.a, base+kv, j.lda, kc-kv)
		return
	}
	for i := 0; i < rows; i++ {
		src := j.a[(i0+i)*j.lda+j.pc:]
		src = src[:kc]
		for p, v := range src {
			dst[p*mr+i] = v
		}
	}
	for i := rows; i < mr; i++ {
		for p := 0; p < kc; p++ {
			dst[p*mr+i] = 0
		}
	}
}

// packBPanel packs columns [jc+jp*nr, +nr) of op(B), k range [pc, pc+kc),
// as dst[p*nr+j], zero-filling columns past the block.
func (j *job) packBPanel(jp int) {
	nr := j.g.cfg.nr
	kc := j.kc
	dst := j.g.bpack[jp*nr*kc : (jp+1)*nr*kc]
	j0 := j.jc + jp*nr
	cols := min(nr, j.jc+j.nc-j0)
	if j.bq != nil {
		j.packBPanelQ8(dst, j0, cols)
		return
	}
	if !j.transB {
		j.g.packStrips(dst, j.b, j.pc*j.ldb+j0, j.ldb, kc, cols, nr)
		return
	}
	// B is n×k: row j of B holds op(B)[·][j] contiguously.
	if cols == 16 && nr == 16 {
		// Full AVX2 panel: 16 rows at once, in two halves of 8 so the
		// row slices stay in registers; dst is written sequentially.
		for h := 0; h < 16; h += 8 {
			base := (j0+h)*j.ldb + j.pc
			r0 := j.b[base : base+kc]
			r1 := j.b[base+j.ldb : base+j.ldb+kc]
			r2 := j.b[base+2*j.ldb : base+2*j.ldb+kc]
			r3 := j.b[base+3*j.ldb : base+3*j.ldb+kc]
			r4 := j.b[base+4*j.ldb : base+4*j.ldb+kc]
			r5 := j.b[base+5*j.ldb : base+5*j.ldb+kc]
			r6 := j.b[base+6*j.ldb : base+6*j.ldb+kc]
			r7 := j.b[base+7*j.ldb : base+7*j.ldb+kc]
			for p := range r0 {
				d := dst[p*16+h : p*16+h+8 : p*16+h+8]
				d[0], d[1], d[2], d[3], d[4], d[5], d[6], d[7] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p], r6[p], r7[p]
			}
		}
		return
	}
	for jj := 0; jj < cols; jj++ {
		src := j.b[(j0+jj)*j.ldb+j.pc:]
		src = src[:kc]
		for p, v := range src {
			dst[p*nr+jj] = v
		}
	}
	for jj := cols; jj < nr; jj++ {
		for p := 0; p < kc; p++ {
			dst[p*nr+jj] = 0
		}
	}
}

// packStrips packs a panel whose source rows run along it (op(A) = Aᵀ,
// op(B) = B): dst[p*r+i] = src[o+p*ld+i] for i < width, zero for
// width ≤ i < r, p < kc (kc ≥ 1). Full AVX2 panels (6 or 16 wide) are
// copied in assembly: as Go array copies they were a runtime.memmove call
// per k step.
func (g *Gemm) packStrips(dst, src []float32, o, ld, kc, width, r int) {
	if g.kind == AVX2 && width == r {
		_ = src[o+(kc-1)*ld+width-1] // the last row's strip is in bounds
		switch r {
		case 6:
			packStrip6(kc, &src[o], ld, &dst[0])
			return
		case 16:
			packStrip16(kc, &src[o], ld, &dst[0])
			return
		}
	}
	for p := 0; p < kc; p++ {
		d := dst[p*r : p*r+r]
		copy(d[:width], src[o+p*ld:][:width])
		clear(d[width:])
	}
}

// compute runs the micro-kernel over row item ib (at most mc rows) ×
// column item js of the current block.
func (j *job) compute(ib, js int) {
	cfg := &j.g.cfg
	mr, nr, kc := cfg.mr, cfg.nr, j.kc
	ip0, ip1 := ib*j.mPanels/j.nRows, (ib+1)*j.mPanels/j.nRows
	jp0, jp1 := js*j.nPanels/j.nSubs, (js+1)*j.nPanels/j.nSubs
	accum := 0
	if j.accum {
		accum = 1
	}
	ap, bp, c := j.g.apack, j.g.bpack, j.c
	var tile [maxTile]float32
	for jp := jp0; jp < jp1; jp++ {
		b := &bp[jp*nr*kc]
		col := j.jc + jp*nr
		cols := min(nr, j.jc+j.nc-col)
		for ip := ip0; ip < ip1; ip++ {
			a := &ap[ip*mr*kc]
			row := ip * mr
			rows := min(mr, j.m-row)
			if rows == mr && cols == nr {
				j.g.kernel(kc, a, b, &c[row*j.ldc+col], j.ldc, accum)
				continue
			}
			j.g.kernel(kc, a, b, &tile[0], nr, 0)
			for i := 0; i < rows; i++ {
				dst := c[(row+i)*j.ldc+col : (row+i)*j.ldc+col+cols]
				src := tile[i*nr : i*nr+cols]
				if accum != 0 {
					for jj, v := range src {
						dst[jj] += v
					}
				} else {
					copy(dst, src)
				}
			}
		}
	}
}

// pack6Go packs k values [0, kc) of the six rows of a starting at base
// (row stride lda) as dst[p*6+i]: the pure-Go twin of pack6AVX2. It walks
// k once, writing dst sequentially, instead of six strided passes.
func pack6Go(dst, a []float32, base, lda, kc int) {
	if kc <= 0 {
		return
	}
	r0 := a[base : base+kc]
	r1 := a[base+lda : base+lda+kc]
	r2 := a[base+2*lda : base+2*lda+kc]
	r3 := a[base+3*lda : base+3*lda+kc]
	r4 := a[base+4*lda : base+4*lda+kc]
	r5 := a[base+5*lda : base+5*lda+kc]
	for p := range r0 {
		d := dst[p*6 : p*6+6 : p*6+6]
		d[0], d[1], d[2], d[3], d[4], d[5] = r0[p], r1[p], r2[p], r3[p], r4[p], r5[p]
	}
}

// packBPanelQ8 is packBPanel for Q8_0 rows: B rows [j0, j0+cols), k range
// [pc, pc+kc) (whole blocks), dequantized (d·q, exactly as
// quant.DequantizeQ8) into dst[p*nr+jj], zero-filling columns past cols.
func (j *job) packBPanelQ8(dst []float32, j0, cols int) {
	nr, kc := j.g.cfg.nr, j.kc
	b0 := j.pc / quant.Q8Block
	if cols == nr && nr%8 == 0 {
		// Full panels 8 rows at a time, so that dst is written
		// sequentially (row by row, each value was a strided store).
		for h := 0; h < nr; h += 8 {
			var rows [8][]byte
			for r := range rows {
				rows[r] = j.bq[(j0+h+r)*j.ldbq+b0*quant.Q8BlockBytes:][:kc/quant.Q8Block*quant.Q8BlockBytes]
			}
			for blk := 0; blk < kc/quant.Q8Block; blk++ {
				var d [8]float32
				var q [8][]byte
				for r := range rows {
					src := rows[r][blk*quant.Q8BlockBytes : (blk+1)*quant.Q8BlockBytes]
					d[r] = half.F16ToFloat32(binary.LittleEndian.Uint16(src))
					q[r] = src[2 : 2+quant.Q8Block]
				}
				for t := range quant.Q8Block {
					o := (blk*quant.Q8Block+t)*nr + h
					out := dst[o : o+8 : o+8]
					out[0], out[1], out[2], out[3] = d[0]*float32(int8(q[0][t])), d[1]*float32(int8(q[1][t])), d[2]*float32(int8(q[2][t])), d[3]*float32(int8(q[3][t]))
					out[4], out[5], out[6], out[7] = d[4]*float32(int8(q[4][t])), d[5]*float32(int8(q[5][t])), d[6]*float32(int8(q[6][t])), d[7]*float32(int8(q[7][t]))
				}
			}
		}
		return
	}
	for jj := 0; jj < cols; jj++ {
		row := j.bq[(j0+jj)*j.ldbq:]
		for blk := 0; blk < kc/quant.Q8Block; blk++ {
			src := row[(b0+blk)*quant.Q8BlockBytes : (b0+blk+1)*quant.Q8BlockBytes]
			d := half.F16ToFloat32(binary.LittleEndian.Uint16(src))
			out := dst[blk*quant.Q8Block*nr+jj:]
			for t, q := range src[2:] {
				out[t*nr] = d * float32(int8(q))
			}
		}
	}
	for jj := cols; jj < nr; jj++ {
		for p := 0; p < kc; p++ {
			dst[p*nr+jj] = 0
		}
	}
}
