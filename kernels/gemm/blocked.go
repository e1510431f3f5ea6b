package gemm

import (
	"encoding/binary"
	"sync/atomic"
	"unsafe"

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
	m, n, k        int
	a              []float32
	lda            int
	b              []float32
	ldb            int
	bq             []byte // B (transB) in Q8_0 rows of ldbq bytes instead of b
	ldbq           int
	c              []float32
	ldc            int
	accumulate     bool

	kc      int // block depth (the last block may be shorter)
	kBlocks int // ceil(k/kc)
	mPanels int // ceil(m/mr): A panels
	nPanels int // ceil(n/nr): B panels
	nRows   int // row items: A panels split into nRows near-equal groups
	nSubs   int // column groups per row item (for balance): B panels split likewise
}

const (
	phasePack    = iota // items: (k block, B panel) pairs
	phaseCompute        // items: row groups × column groups, all k blocks each
)

// Run implements parallel.Task.
func (j *job) Run(lo, hi int) {
	if j.phase == phasePack {
		for t := lo; t < hi; t++ {
			j.packBPanel(t/j.nPanels, t%j.nPanels)
		}
		return
	}
	ws := j.g.acquire()
	for t := lo; t < hi; t++ {
		j.compute(ws, t/j.nSubs, t%j.nSubs)
	}
	j.g.release(ws)
}

// blocked runs the packed, cache-blocked algorithm (see the package doc)
// in two pool calls: the first packs all of op(B), k block by k block, in
// nr-column panels; the second computes items of at most mc rows of C, in
// sub-blocks of at most ncs columns, each over all k blocks while the C
// sub-block stays in L2 ("C-stationary"): the item packs its rows of op(A)
// into its worker's buffer once, then runs the micro-kernel over B panels
// × A panels. C is then read and written from memory once per call, not
// once per k block — the large-k products (dx = dy·W with k =
// 1536 or 6400, dW with k = the token count) used to stream C past L2
// k/kc times, with a TLB miss per row of every tile. Item boundaries never
// change the arithmetic, so results do not depend on the number of
// workers.
//
// With bq non-nil (SgemmQ8B), B is n×k in Q8_0 rows of ldbq bytes (transB,
// b unused), dequantized into the packed panels: every kc (and so every
// chunk) is a multiple of Q8_0's 32, so each panel starts on a block.
func (g *Gemm) blocked(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, bq []byte, ldbq int) {
	// Packed op(B) is k×n floats: past cfg.packB, k is cut into chunks of
	// whole k blocks, each a product of its own accumulating into C (the
	// same blocks in the same order: the same bits). C then streams once
	// per chunk, and the scratch stays bounded for any batch size.
	chunk := max(g.cfg.kc, g.cfg.packB/max(n, 1)/g.cfg.kc*g.cfg.kc)
	for k0 := 0; k0 < k; k0 += chunk {
		kk := min(chunk, k-k0)
		ao, bo := k0, k0*ldb // op(A) columns, op(B) rows k0…
		if transA {
			ao = k0 * lda
		}
		if transB {
			bo = k0
		}
		var bc []float32
		var bqc []byte
		if bq != nil {
			bqc = bq[k0/quant.Q8Block*quant.Q8BlockBytes:]
		} else {
			bc = b[bo:]
		}
		g.blockedChunk(transA, transB, m, n, kk, a[ao:], lda, bc, ldb, c, ldc, accumulate || k0 > 0, bqc, ldbq)
	}
}

// blockedChunk is blocked for one chunk of k (the whole k, usually).
func (g *Gemm) blockedChunk(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool, bq []byte, ldbq int) {
	cfg := &g.cfg
	mr, nr := cfg.mr, cfg.nr
	j := &g.job
	*j = job{g: g, transA: transA, transB: transB, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, bq: bq, ldbq: ldbq, c: c, ldc: ldc, accumulate: accumulate}
	j.kc = min(cfg.kc, k)
	j.kBlocks = (k + j.kc - 1) / j.kc
	j.mPanels = (m + mr - 1) / mr
	j.nPanels = (n + nr - 1) / nr
	if need := j.nPanels * nr * k; len(g.bpack) < need {
		g.bpack = make([]float32, need)
	}
	workers := g.pool.Workers()
	g.growWorkspaces(workers, cfg.mc*k)
	// Row items of at most mc rows, as many per worker: For-style chunks
	// of several items, or a count that does not divide by the workers,
	// would leave one worker a whole item more than another at the end of
	// every block (29 items of 144 rows for m = 4096 and 2 workers: one
	// core idled 3-10% of each GEMM).
	j.nRows = (j.mPanels + cfg.mc/mr - 1) / (cfg.mc / mr)
	if r := j.nRows % workers; r != 0 && j.nRows+workers-r <= j.mPanels {
		j.nRows += workers - r
	}
	// Column groups only when there are too few row items for balance
	// (≈4 per worker): each group packs the item's A panels again.
	j.nSubs = 1
	if want := 4 * workers; j.nRows < want {
		j.nSubs = min(j.nPanels, (want+j.nRows-1)/j.nRows)
	}

	items := j.kBlocks * j.nPanels
	j.phase = phasePack
	g.pool.ForChunks(items, max(4, items/(16*workers)), j)
	j.phase = phaseCompute
	g.pool.ForChunks(j.nRows*j.nSubs, 1, j)
	j.a, j.b, j.bq, j.c = nil, nil, nil, nil // do not pin the caller's slices
}

// workspace is one worker's packed A: an item's rows (≤ mc) × all of k of
// op(A), k block after k block.
type workspace struct {
	apack []float32
	busy  atomic.Bool
	_     [56]byte
}

// growWorkspaces makes sure there is one workspace of at least n floats
// per worker.
func (g *Gemm) growWorkspaces(workers, n int) {
	for len(g.ws) < workers {
		g.ws = append(g.ws, &workspace{})
	}
	for _, w := range g.ws {
		if len(w.apack) < n {
			w.apack = make([]float32, n)
		}
	}
}

// acquire returns a free workspace. At most Workers() Runs are in flight
// at once and there are that many workspaces, so one is always free;
// which one does not affect the arithmetic.
func (g *Gemm) acquire() *workspace {
	for i := 0; ; i = (i + 1) % len(g.ws) {
		if w := g.ws[i]; w.busy.CompareAndSwap(false, true) {
			return w
		}
	}
}

func (g *Gemm) release(w *workspace) { w.busy.Store(false) }

// packAPanels packs the A panels [ip0, ip1) of k range [pc, pc+kc) into
// dst, panel ip at (ip-ip0)·mr·kc. For op(A) = Aᵀ the whole panels are
// packed in one pass down the rows of A (packStrips12N, packStrips6N):
// packed panel by panel, every row of A (4 KiB or more apart in the dW
// products) cost a TLB miss per panel. Otherwise, and for a last partial
// panel, panel by panel.
func (j *job) packAPanels(dst []float32, ip0, ip1, pc, kc int) {
	mr := j.g.cfg.mr
	if j.transA && (mr == 12 || mr == 6) && j.g.kind != Generic {
		whole := min(ip1, j.m/mr) - ip0 // panels with all mr rows
		if whole > 0 {
			o := pc*j.lda + ip0*mr
			_ = j.a[o+(kc-1)*j.lda+whole*mr-1] // the last row's strips are in bounds
			_ = dst[whole*mr*kc-1]
			if mr == 12 {
				packStrips12N(kc, &j.a[o], j.lda, whole, &dst[0], mr*kc)
			} else {
				packStrips6N(kc, &j.a[o], j.lda, whole, &dst[0], mr*kc)
			}
			ip0 += whole
			dst = dst[whole*mr*kc:]
		}
	}
	for ip := ip0; ip < ip1; ip++ {
		j.packAPanel(dst[(ip-ip0)*mr*kc:], ip, pc, kc)
	}
}

// packAPanel packs rows [ip*mr, ip*mr+mr) of op(A), k range [pc, pc+kc),
// as dst[p*mr+i], zero-filling rows past m.
func (j *job) packAPanel(dst []float32, ip, pc, kc int) {
	mr := j.g.cfg.mr
	dst = dst[:mr*kc]
	i0 := ip * mr
	rows := min(mr, j.m-i0)
	if j.transA {
		// A is k×m: row p of A holds op(A)[·][p] contiguously.
		j.g.packStrips(dst, j.a, pc*j.lda+i0, j.lda, kc, rows, mr)
		return
	}
	if rows == mr && mr%4 == 0 && j.g.kind != Generic {
		// A whole AVX-512 panel (12 rows): 4×8 register transposes in
		// assembly for whole groups of 8 k values, the rest in Go.
		j.g.packTransposed(dst, j.a, i0*j.lda+pc, j.lda, kc, mr)
		return
	}
	if rows == 6 && mr == 6 {
		// The AVX2 panel, written sequentially (this loop was ~7% of a
		// training step as scalar Go): whole groups of 4 k values in
		// assembly, the rest in Go.
		base := i0*j.lda + pc
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
		src := j.a[(i0+i)*j.lda+pc:]
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

// packBPanel packs columns [jp*nr, jp*nr+nr) of op(B), k block kb, as
// dst[p*nr+j] into the block's part of bpack, zero-filling columns past n.
// Block kb starts at kb·kc·nPanels·nr (all blocks before it are kc deep).
func (j *job) packBPanel(kb, jp int) {
	nr := j.g.cfg.nr
	pc := kb * j.kc
	kc := min(j.kc, j.k-pc)
	o := pc*j.nPanels*nr + jp*nr*kc
	dst := j.g.bpack[o : o+nr*kc]
	j0 := jp * nr
	cols := min(nr, j.n-j0)
	if j.bq != nil {
		j.packBPanelQ8(dst, j0, cols, pc, kc)
		return
	}
	if !j.transB {
		j.g.packStrips(dst, j.b, pc*j.ldb+j0, j.ldb, kc, cols, nr)
		return
	}
	// B is n×k: row j of B holds op(B)[·][j] contiguously.
	if cols == nr && nr%4 == 0 && j.g.kind != Generic {
		// A whole panel (16 or 32 rows of B): as the A panels of A.
		j.g.packTransposed(dst, j.b, j0*j.ldb+pc, j.ldb, kc, nr)
		return
	}
	for jj := 0; jj < cols; jj++ {
		src := j.b[(j0+jj)*j.ldb+pc:]
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
// width ≤ i < r, p < kc (kc ≥ 1). Full panels of the assembly kinds (6, 12,
// 16 or 32 wide) are copied in assembly: as Go array copies they were a
// runtime.memmove call per k step.
func (g *Gemm) packStrips(dst, src []float32, o, ld, kc, width, r int) {
	if g.kind != Generic && width == r {
		_ = src[o+(kc-1)*ld+width-1] // the last row's strip is in bounds
		_ = dst[kc*r-1]
		switch r {
		case 6:
			packStrip6(kc, &src[o], ld, &dst[0])
			return
		case 12:
			packStrip12(kc, &src[o], ld, &dst[0])
			return
		case 16:
			packStrip16(kc, &src[o], ld, &dst[0])
			return
		case 32:
			packStrip32(kc, &src[o], ld, &dst[0])
			return
		}
	}
	for p := 0; p < kc; p++ {
		d := dst[p*r : p*r+r]
		copy(d[:width], src[o+p*ld:][:width])
		clear(d[width:])
	}
}

// compute runs row item ib × column group jg: the group's columns in
// sub-blocks of at most ncs (the C block kept in L2), each over all k
// blocks. Per k block the micro-kernel runs over the sub-block's B panels
// (outer: the B micro-panel stays in L1) × the item's A panels. The A
// panels are packed into ws during the first sub-block, k block by k
// block (the next block's rows of A prefetched meanwhile), and reused by
// the others, so each row of op(A) is packed once per item.
func (j *job) compute(ws *workspace, ib, jg int) {
	cfg := &j.g.cfg
	mr, nr := cfg.mr, cfg.nr
	ip0, ip1 := ib*j.mPanels/j.nRows, (ib+1)*j.mPanels/j.nRows
	gp0, gp1 := jg*j.nPanels/j.nSubs, (jg+1)*j.nPanels/j.nSubs
	sub := cfg.ncs / nr
	c := j.c
	var tile [maxTile]float32
	for s0 := gp0; s0 < gp1; s0 += sub {
		s1 := min(gp1, s0+sub)
		for kb := 0; kb < j.kBlocks; kb++ {
			pc := kb * j.kc
			kc := min(j.kc, j.k-pc)
			ap := ws.apack[(ip1-ip0)*mr*pc:][:(ip1-ip0)*mr*kc]
			var next aRegion
			if s0 == gp0 {
				j.packAPanels(ap, ip0, ip1, pc, kc)
				next = j.nextA(ip0, ip1, kb+1)
			}
			bp := j.g.bpack[pc*j.nPanels*nr:]
			accum := 0
			if j.accumulate || kb > 0 {
				accum = 1
			}
			for jp := s0; jp < s1; jp++ {
				next.step(jp-s0, s1-s0)
				b := &bp[jp*nr*kc]
				col := jp * nr
				cols := min(nr, j.n-col)
				nextB := j.nextBPanel(s0, s1, jp, kb)
				for ip := ip0; ip < ip1; ip++ {
					pf, pfstep := nextB.share(b, ip-ip0, ip1-ip0, kc)
					a := &ap[(ip-ip0)*mr*kc]
					row := ip * mr
					rows := min(mr, j.m-row)
					if rows == mr && cols == nr {
						j.g.kernel(kc, a, b, &c[row*j.ldc+col], j.ldc, accum, pf, pfstep)
						continue
					}
					j.g.kernel(kc, a, b, &tile[0], nr, 0, pf, pfstep)
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

// packTransposed packs a whole panel whose source rows run across it
// (op(A) = A, op(B) = Bᵀ): dst[p*r+i] = src[o+i*ld+p] for i < r (a
// multiple of 4), p < kc. Whole groups of 8 k values go through packRowsT
// (assembly kinds only); the last kc%8 in Go.
func (g *Gemm) packTransposed(dst, src []float32, o, ld, kc, r int) {
	kv := kc &^ 7
	if kv > 0 {
		_ = src[o+(r-1)*ld+kv-1] // the last row's [0, kv) is in bounds
		_ = dst[kv*r-1]
		packRowsT(kv, &src[o], ld, r, &dst[0])
	}
	for i := 0; i < r; i++ {
		row := src[o+i*ld : o+i*ld+kc]
		for p := kv; p < kc; p++ {
			dst[p*r+i] = row[p]
		}
	}
}

// bPanel is the packed B micro-panel the micro-kernel reads after the
// current one: bytes bytes from p (nil: none, or the generic kind).
type bPanel struct {
	p     *float32
	bytes int
}

// nextBPanel returns the B micro-panel that follows panel jp of k block
// kb in compute's order for the sub-block of panels [s0, s1): the next
// panel of the sub-block, or its first panel in the next k block.
func (j *job) nextBPanel(s0, s1, jp, kb int) bPanel {
	if j.g.kind == Generic {
		return bPanel{}
	}
	nr := j.g.cfg.nr
	pc := kb * j.kc
	kc := min(j.kc, j.k-pc)
	if jp+1 < s1 {
		return bPanel{&j.g.bpack[pc*j.nPanels*nr+(jp+1)*nr*kc], nr * kc * 4}
	}
	if kb+1 >= j.kBlocks {
		return bPanel{}
	}
	pc += kc
	kc = min(j.kc, j.k-pc)
	return bPanel{&j.g.bpack[pc*j.nPanels*nr+s0*nr*kc], nr * kc * 4}
}

// share returns the micro-kernel's prefetch stream for call i of n on the
// current panel cur: share i of the next panel, spread over the call's kc
// k steps (the kernel prefetches at pf, pf+pfstep, …). Packed B is too big
// for L2 in most products, and a panel's first use read it from L3 at the
// hardware prefetcher's pace, which restarts at every 4 KiB page: fetched
// ahead a share per call, the dW products (k = the token count) ran 5-16%
// faster. Without a next panel the stream stays on cur, already in L1.
func (b bPanel) share(cur *float32, i, n, kc int) (*float32, int) {
	if b.p == nil {
		return cur, 0
	}
	lo, hi := i*b.bytes/n&^63, (i+1)*b.bytes/n&^63
	if i == n-1 {
		hi = b.bytes
	}
	return (*float32)(unsafe.Add(unsafe.Pointer(b.p), lo)), (hi - lo + kc - 1) / kc
}

// aRegion is the part of A an item packs for one k block: rows runs of
// seg bytes, stride bytes apart, from p (nil: nothing to fetch).
type aRegion struct {
	p                 *float32
	rows, seg, stride int
}

// nextA returns the region of A that panels [ip0, ip1) pack for k block
// kb, or an empty one past the last block (or for the generic kind).
func (j *job) nextA(ip0, ip1, kb int) aRegion {
	if kb >= j.kBlocks || j.g.kind == Generic {
		return aRegion{}
	}
	mr := j.g.cfg.mr
	pc := kb * j.kc
	kc := min(j.kc, j.k-pc)
	r0, r1 := ip0*mr, min(ip1*mr, j.m)
	if j.transA { // A is k×m: kc rows, the item's columns
		return aRegion{&j.a[pc*j.lda+r0], kc, 4 * (r1 - r0), 4 * j.lda}
	}
	return aRegion{&j.a[r0*j.lda+pc], r1 - r0, 4 * kc, 4 * j.lda}
}

// step prefetches share i of n of the region into L2: while one k block
// computes, the next block's A (which the item packs next, and which
// comes from memory for large operands) is fetched in the background,
// spread over the block's B panels.
func (r aRegion) step(i, n int) {
	if r.p == nil {
		return
	}
	lo, hi := i*r.rows/n, (i+1)*r.rows/n
	if hi > lo {
		prefetchRows((*float32)(unsafe.Add(unsafe.Pointer(r.p), lo*r.stride)), hi-lo, r.seg, r.stride)
	}
}

// packBPanelQ8 is packBPanel for Q8_0 rows: B rows [j0, j0+cols), k range
// [pc, pc+kc) (whole blocks), dequantized (d·q, exactly as
// quant.DequantizeQ8) into dst[p*nr+jj], zero-filling columns past cols.
func (j *job) packBPanelQ8(dst []float32, j0, cols, pc, kc int) {
	nr := j.g.cfg.nr
	b0 := pc / quant.Q8Block
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
