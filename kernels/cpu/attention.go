package cpu

import (
	"math"

	"github.com/minimind-go/minimind/kernels/gemm"
)

// Attention is computed flash-style, in tiles of (key block) × (query
// rows), so no T×T score matrix ever exists: per worker, a block of at
// most attKeys keys × attRows query rows of scores is kept (in L1).
//
// The query rows of one block are the G = NH/NKV heads that share a KV
// head, at up to attRows/G consecutive positions (row r = position·G +
// head), so a key or value row read from cache serves all G heads (GQA)
// and a single decode position still makes a block of G rows.
//
// Scores are kept transposed, Sᵀ[key j][row r]. Then Sᵀ = K·Qsᵀ is an
// outer-product product whose A is the key rows as they lie in memory and
// whose B is Qsᵀ, the query rows gathered once per block, pre-scaled and
// transposed (attTranspose): no key block is ever transposed. Every
// softmax step runs down the key axis with 8 (AVX2) or 16 (AVX-512) query
// rows per vector (attSoftmax, attSoftmaxBack, assembly with its own
// exp), so the per-row max, sum, lse and D stay in registers. Causal and padding
// positions are masked in the same vectors: row r sees key j iff
// j ≤ lim[r] (its position; −1 for the padding rows up to whole tiles);
// a block that every row sees wholly skips the masking. Blocks of at most
// attDots query rows (decode) compute Sᵀ with dots3x4 on the untransposed
// rows instead (3 keys × 4 rows per tile), so that no 16-row tile is
// mostly padding.
//
// Every product (Sᵀ, dPᵀ, P·V, dV, dK, dQ) is one attPanel call: the
// 6×16-tile FMA kernel of the GEMM (AVX2; 6×64 tiles on AVX-512, the last
// tile of a row 16, 32 or 48 wide), looping over all 6-row panels and
// column tiles in assembly, A read through two strides (so Pᵀ and dSᵀ
// serve as P and dS in place) and B row-major.
//
// The rows of Q, dO, O and dQ are each touched by one block per call, so
// they come from memory: the next block's rows are prefetched (into L2)
// a part per key block while the current block computes.
//
// Forward (online softmax): for each key block, Sᵀ = K·Qsᵀ, the running
// row maximum m and sum l are updated, and O = alpha·O + P·V with
// alpha = exp(m_old − m_new) applied in the product's store. At the end
// out = O / l and lse = m + log l.
//
// Backward recomputes P = exp(S − lse) from the saved log-sum-exp, as the
// reference does, one (query block, key block) at a time:
//
//	dPᵀ = V·dOᵀ, dSᵀ = Pᵀ ⊙ (dPᵀ − D) with D = rowsum(dO ⊙ O),
//	dV += Pᵀ·dO,  dK += dSᵀ·(scale·Q),  dQ += scale·dS·K.
//
// Since Qs holds scale·q, S is already scaled; dK uses the scaled Q
// directly and dQ is scaled once at the end.
//
// Work items: forward, (b, kv head, query block), the blocks of a head
// ordered first, last, second, second to last, … so that each share of a
// contiguous split gets about as much causal work as the others;
// backward, (b, kv head), so each dK/dV row has one writer, or when there
// are fewer than attBackItems of those, (b, kv head, part of the query
// blocks), each part but the last accumulating dK/dV in its own rows,
// which a second pass adds in part order. An item's arithmetic does not
// depend on which worker runs it, so results are the same bits for every
// thread count (TestAttentionThreadsBitwise).
const (
	attRows = 48 // query rows per block: a multiple of 48 (6-row and 16-row tiles, 8-row strips)
	attKeys = 48 // keys per block: a multiple of 6 (attPanel tiles) and 3 (dots tiles)
	attDots = 8  // blocks of at most this many query rows use dots3x4

	// attBackItems is the fewest work items backward aims for: with fewer
	// (b, kv head) pairs, each is split into parts of its query blocks
	// (the parts' dK, dV summed in a second pass), so that up to this many
	// threads have work. It depends on the shape only, never on the
	// thread count, so the sums' order, and the bits, do not either.
	attBackItems = 16
	attReduce    = 64 // key rows per item of that second pass
)

// attISA names a path of the block kernels. The AVX-512 one follows the
// GEMM kind (Options.GEMM), so tests can force each path.
type attISA int

const (
	attGo     attISA = iota // pure Go
	attAVX2                 // attn_amd64.s
	attAVX512               // attn_avx512_amd64.s where written, else attn_amd64.s
)

// attWS is one worker's scratch.
type attWS struct {
	qs, os, dos []float32 // [attRows, HS] gathered Q·scale, O or dQ accumulator, dO
	qt, dot     []float32 // [HS, attRows] the same Q·scale and dO, transposed
	s, dp       []float32 // [attKeys, attRows] Sᵀ/Pᵀ and dPᵀ/dSᵀ
	mx, l, dd   []float32 // [attRows] running max, running sum (or lse), D
	alpha, lim  []float32 // [attRows] rescale factors, last visible key
	kpad        []float32 // [3, HS] a partial dots key tile, zero padded
	edgeA       []float32 // [6, max(HS, attKeys, attRows)] an edge panel's A rows
	edgeC       []float32 // [6, max(HS, attRows)] its C rows
	edgeS       [6]float32
	pf          attPF // rows to prefetch for the next block
}

func (w *attWS) ensure(HS int) {
	w.qs = grow(w.qs, attRows*HS)
	w.os = grow(w.os, attRows*HS)
	w.dos = grow(w.dos, attRows*HS)
	w.qt = grow(w.qt, HS*attRows)
	w.dot = grow(w.dot, HS*attRows)
	w.s = grow(w.s, attKeys*attRows)
	w.dp = grow(w.dp, attKeys*attRows)
	w.mx = grow(w.mx, attRows)
	w.l = grow(w.l, attRows)
	w.dd = grow(w.dd, attRows)
	w.alpha = grow(w.alpha, attRows)
	w.lim = grow(w.lim, attRows)
	w.kpad = grow(w.kpad, 3*HS)
	w.edgeA = grow(w.edgeA, 6*max(HS, attKeys, attRows))
	w.edgeC = grow(w.edgeC, 6*max(HS, attRows))
}

// attTask runs causal GQA attention; see the comment above.
type attTask struct {
	back                                      bool
	asm                                       bool   // the AVX2 helpers of simd_amd64.s (vscale, vadd, dots3x4)
	isa                                       attISA // the block kernels' path
	out, lse, q, k, v, mask, dq, dk, dv, dOut []float32
	past                                      []int32
	B, T, S, NH, NKV, HS                      int
	G, tPer, nTB                              int // heads per group, positions per block, blocks per sequence
	scale                                     float32
	ws                                        []attWS // one per share
	shares, n                                 int
	parts                                     int       // backward: parts per (b, kv head), see attBackParts
	dkp, dvp                                  []float32 // [parts−1, B, NKV, T, HS] the parts' dK, dV but the last's
	reducing                                  bool      // backward's second pass (reduce)
}

func (t *attTask) pastOf(b int) int {
	if t.past == nil {
		return 0
	}
	return int(t.past[b])
}

func (t *attTask) Run(lo, hi int) {
	if t.reducing {
		for it := lo; it < hi; it++ {
			t.reduce(it)
		}
		return
	}
	w := &t.ws[shareOf(lo, t.n, t.shares)]
	w.ensure(t.HS)
	for it := lo; it < hi; it++ {
		if t.back {
			t.backward(w, it)
			continue
		}
		w.pf = attPF{}
		if it+1 < hi {
			// The next item's Q and output rows are cold (each is read
			// or written once per call): forward asks for them while
			// it computes, so they are in L2 when the next item starts.
			b, kh, k := t.fwdItem(it + 1)
			w.pf = attPF{xs: [4][]float32{t.q, t.out}, b: b, kh: kh, k: k}
		}
		t.forward(w, it)
	}
}

// fwdItem returns the batch row, KV head and query block of forward item
// it.
func (t *attTask) fwdItem(it int) (b, kh int, k attBlock) {
	tb := it % t.nTB
	if tb%2 == 0 {
		tb /= 2
	} else {
		tb = t.nTB - 1 - tb/2
	}
	kh = (it / t.nTB) % t.NKV
	b = it / (t.nTB * t.NKV)
	return b, kh, t.block(tb * t.tPer)
}

// attPF names the rows to prefetch while a worker computes: those of
// block k of batch row b, KV head kh in each non-nil x (layout
// [B,T,NH,HS]).
type attPF struct {
	xs    [4][]float32
	b, kh int
	k     attBlock
}

// prefetch hints part i of n of w.pf's rows into L2, on the assembly
// paths: called once per key block, it spreads the requests over the
// block's products, rather than stalling on a burst of misses.
func (t *attTask) prefetch(w *attWS, i, n int) {
	f := &w.pf
	if !t.asm || f.xs[0] == nil {
		return
	}
	P := f.k.t1 - f.k.t0
	p0, p1 := f.k.t0+P*i/n, f.k.t0+P*(i+1)/n
	if p0 == p1 {
		return
	}
	for _, x := range f.xs {
		if x == nil {
			continue
		}
		_ = x[((f.b*t.T+p1-1)*t.NH+f.kh*t.G+t.G)*t.HS-1]
		attPrefetch(&x[((f.b*t.T+p0)*t.NH+f.kh*t.G)*t.HS], p1-p0, 4*t.G*t.HS, 4*t.NH*t.HS)
	}
}

// attBlock is one query block of an item: positions [t0, t1), m = (t1 −
// t0)·G query rows; mr rows of O (whole 6-row tiles), w softmax columns
// (whole 8-row strips, ≥ mr), and nc computed score columns: whole 16-row
// tiles of Qsᵀ when outer, else whole 4-row dots tiles of Qs.
type attBlock struct {
	t0, t1, m, mr, w, nc int
	outer                bool
}

func (t *attTask) block(t0 int) attBlock {
	t1 := min(t.T, t0+t.tPer)
	m := (t1 - t0) * t.G
	mr := roundUp(m, 6)
	k := attBlock{t0: t0, t1: t1, m: m, mr: mr, w: roundUp(mr, 8), outer: m > attDots}
	if k.outer {
		k.nc = roundUp(m, 16)
	} else {
		k.nc = roundUp(m, 4)
	}
	return k
}

// gather copies the rows of positions [t0, t1) of batch row b, kv head kh
// from x (layout [B,T,NH,HS]) into dst (row r = (t−t0)·G + g), times s,
// and zero-fills dst up to k.nc rows. The G heads of a position are
// adjacent in x, so each position is one copy. With dt, the rows are also
// transposed into dt[p*attRows + r] (columns up to k.nc).
func (t *attTask) gather(dst, dt, x []float32, b, kh int, k attBlock, s float32) {
	n := t.G * t.HS
	for tt := k.t0; tt < k.t1; tt++ {
		d := dst[(tt-k.t0)*n : (tt-k.t0+1)*n]
		copy(d, x[((b*t.T+tt)*t.NH+kh*t.G)*t.HS:][:n])
		if s != 1 {
			vscale(t.asm, d, s)
		}
	}
	clear(dst[k.m*t.HS : k.nc*t.HS])
	if dt != nil {
		attTranspose(t.asm, k.nc, t.HS, dst, t.HS, dt, attRows)
	}
}

// limits sets lim[r] = pos0 + r/G, the last key that query row r sees, for
// r < m and −1 (none) for the padding rows up to k.w.
func (t *attTask) limits(lim []float32, pos0 int, k attBlock) {
	for r := range lim[:k.w] {
		lim[r] = -1
		if r < k.m {
			lim[r] = float32(pos0 + r/t.G)
		}
	}
}

func roundUp(x, k int) int { return (x + k - 1) / k * k }

// scores sets s[j*attRows + r] = keys_j · a_r for keys j < nb (row stride
// ld) and query rows r < k.nc: with the outer-product tiles against the
// transposed rows at, or (small blocks) with dots3x4 against the rows
// ar, a partial last key tile copied to w.kpad so no key row past nb is
// read.
func (t *attTask) scores(w *attWS, s, keys []float32, ld, nb int, ar, at []float32, k attBlock) {
	HS := t.HS
	if k.outer {
		t.product(w, nb, k.nc, HS, keys, ld, 1, at, attRows, s, attRows, nil, attSet)
		return
	}
	for j0 := 0; j0 < nb; j0 += 3 {
		kk, kld := keys[j0*ld:], ld
		if nb-j0 < 3 {
			clear(w.kpad)
			for j := 0; j < nb-j0; j++ {
				copy(w.kpad[j*HS:(j+1)*HS], keys[(j0+j)*ld:][:HS])
			}
			kk, kld = w.kpad, HS
		}
		for r := 0; r < k.nc; r += 4 {
			dots3x4(t.asm, HS, kk, kld, ar[r*HS:], HS, s[j0*attRows+r:], attRows)
		}
	}
}

// product sets C = A·B (mode attSet), C += A·B (attAdd) or C = sc_i·C +
// A·B (attScale, row i scaled by sc[i]) for A rows × kd (read through
// strides ars, acs), B kd × n (row stride ldb), C rows × n (ldc). With the
// assembly, a last panel of fewer than 6 rows runs on zero-padded copies
// of its rows.
func (t *attTask) product(w *attWS, rows, n, kd int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, sc []float32, mode int) {
	r6 := rows
	if t.asm && n >= 16 {
		r6 -= rows % 6
	}
	attPanel(t.isa, r6, n, kd, a, ars, acs, b, ldb, c, ldc, sc, mode)
	if r6 == rows {
		return
	}
	nr := rows - r6
	ai, ci := a[r6*ars:], c[r6*ldc:]
	ea, ec, es := w.edgeA[:6*kd], w.edgeC[:6*n], w.edgeS[:]
	clear(ea[nr*kd:])
	clear(ec[nr*n:])
	clear(es[nr:])
	if mode == attScale {
		copy(es[:], sc[r6:rows])
	}
	for i := 0; i < nr; i++ {
		for p := range ea[i*kd : (i+1)*kd] {
			ea[i*kd+p] = ai[i*ars+p*acs]
		}
		copy(ec[i*n:(i+1)*n], ci[i*ldc:i*ldc+n])
	}
	attPanel(t.isa, 6, n, kd, ea, kd, 1, b, ldb, ec, n, es[:], mode)
	for i := 0; i < nr; i++ {
		copy(ci[i*ldc:i*ldc+n], ec[i*n:(i+1)*n])
	}
}

// addMask adds the padding mask, (1 − mask)·−1e9, to the score rows of the
// keys [j0, j0+nb) of batch row b (mask 1, the usual case, adds nothing).
func (t *attTask) addMask(s []float32, b, j0, nb int, k attBlock) {
	if t.mask == nil {
		return
	}
	for j, v := range t.mask[b*t.S+j0:][:nb] {
		if v == 1 {
			continue
		}
		row := s[j*attRows : j*attRows+k.w]
		for r := range row {
			row[r] += (1 - v) * -1e9
		}
	}
}

func (t *attTask) forward(w *attWS, it int) {
	HS, G, NH := t.HS, t.G, t.NH
	b, kh, k := t.fwdItem(it)
	var qt []float32
	if k.outer {
		qt = w.qt
	}
	t.gather(w.qs, qt, t.q, b, kh, k, t.scale)
	P := t.pastOf(b)
	t.limits(w.lim, P+k.t0, k)
	O := w.os[:k.mr*HS]
	mx, l, alpha := w.mx[:k.w], w.l[:k.w], w.alpha[:k.w]
	for r := range mx {
		mx[r], l[r] = float32(math.Inf(-1)), 0
	}
	kvw := t.NKV * HS
	base := b*t.S*kvw + kh*HS
	nk := P + k.t1
	nkb := (nk + attKeys - 1) / attKeys
	for j0 := 0; j0 < nk; j0 += attKeys {
		nb := min(attKeys, nk-j0)
		t.prefetch(w, j0/attKeys, nkb)
		t.scores(w, w.s, t.k[base+j0*kvw:], kvw, nb, w.qs, w.qt, k)
		t.addMask(w.s, b, j0, nb, k)
		attSoftmax(t.isa, nb, k.w, w.s, attRows, w.lim, float32(j0), mx, l, alpha)
		// O = alpha·O + P·V; the first block sets O. Rows from m on are
		// padding: their P, alpha and O are 0.
		mode := attScale
		if j0 == 0 {
			mode = attSet
		}
		t.product(w, k.mr, HS, nb, w.s, 1, attRows, t.v[base+j0*kvw:], kvw, O, HS, alpha, mode)
	}
	for r := 0; r < k.m; r++ {
		tt, h := k.t0+r/G, kh*G+r%G
		dst := t.out[((b*t.T+tt)*NH+h)*HS:][:HS]
		copy(dst, O[r*HS:(r+1)*HS])
		vscale(t.asm, dst, 1/l[r])
		t.lse[(b*NH+h)*t.T+tt] = mx[r] + float32(math.Log(float64(l[r])))
	}
}

// partBlocks returns the query blocks [lo, hi) of backward part p: the
// causal work of block tb grows with tb, so the bounds are nTB·√(p/P),
// giving each part about the same number of (query, key) pairs.
func (t *attTask) partBlocks(p int) (lo, hi int) {
	at := func(p int) int { return int(math.Round(float64(t.nTB) * math.Sqrt(float64(p)/float64(t.parts)))) }
	return at(p), at(p + 1)
}

// partKeys returns how many key rows backward part p writes: those up to
// its last query block's end.
func (t *attTask) partKeys(p int) int {
	lo, hi := t.partBlocks(p)
	if lo == hi {
		return 0
	}
	return min(t.T, hi*t.tPer)
}

func (t *attTask) backward(w *attWS, it int) {
	HS, G, NH, T := t.HS, t.G, t.NH, t.T
	part := it % t.parts
	kh, b := (it/t.parts)%t.NKV, it/t.parts/t.NKV
	kvw := t.NKV * HS
	base := b*T*kvw + kh*HS
	// dK, dV accumulate into the caller's rows (one part, or the last),
	// or into part-private rows [T, HS] that reduce adds afterwards.
	dk, dv, dbase, ldd := t.dk, t.dv, base, kvw
	private := part < t.parts-1
	if private {
		dk, dv, ldd = t.dkp, t.dvp, HS
		dbase = ((part*t.B+b)*t.NKV + kh) * T * HS
	}
	tbLo, tbHi := t.partBlocks(part)
	for tb := tbLo; tb < tbHi; tb++ {
		k := t.block(tb * t.tPer)
		if private {
			// The key rows this block is the first to reach start at 0,
			// cleared now, while they are about to be used.
			j := 0
			if tb > tbLo {
				j = k.t0
			}
			clear(dk[dbase+j*HS : dbase+k.t1*HS])
			clear(dv[dbase+j*HS : dbase+k.t1*HS])
		}
		w.pf = attPF{}
		if tb+1 < tbHi {
			// The next block's rows are cold: see Run.
			w.pf = attPF{xs: [4][]float32{t.q, t.dOut, t.out, t.dq}, b: b, kh: kh, k: t.block((tb + 1) * t.tPer)}
		}
		// The row layouts feed dK, dV (and the dots tiles), the
		// transposed ones the outer-product score tiles.
		var qt, dt []float32
		if k.outer {
			qt, dt = w.qt, w.dot
		}
		t.gather(w.qs, qt, t.q, b, kh, k, t.scale)
		t.gather(w.dos, dt, t.dOut, b, kh, k, 1)
		t.limits(w.lim, k.t0, k)
		dQ := w.os[:k.mr*HS]
		clear(dQ)
		lse, D := w.l[:k.w], w.dd[:k.w]
		clear(lse[k.m:])
		clear(D[k.m:])
		for tt := k.t0; tt < k.t1; tt++ {
			r := (tt - k.t0) * G
			for g := range G {
				lse[r+g] = t.lse[(b*NH+kh*G+g)*T+tt]
			}
			// D = rowsum(dO ⊙ O) for the position's G rows, adjacent in
			// both.
			attRowDots(t.asm, G, HS, w.dos[r*HS:], HS, t.out[((b*T+tt)*NH+kh*G)*HS:], HS, D[r:r+G])
		}
		nkb := (k.t1 + attKeys - 1) / attKeys
		for j0 := 0; j0 < k.t1; j0 += attKeys {
			nb := min(attKeys, k.t1-j0)
			t.prefetch(w, j0/attKeys, nkb)
			keys, vals := t.k[base+j0*kvw:], t.v[base+j0*kvw:]
			t.scores(w, w.s, keys, kvw, nb, w.qs, w.qt, k)
			t.scores(w, w.dp, vals, kvw, nb, w.dos, w.dot, k)
			t.addMask(w.s, b, j0, nb, k)
			attSoftmaxBack(t.isa, nb, k.w, w.s, w.dp, attRows, w.lim, float32(j0), lse, D)
			// dV += Pᵀ·dO and dK += dSᵀ·(scale·Q): the rows are keys, as
			// Pᵀ and dSᵀ are stored; dQ += dS·K reads dSᵀ through strides.
			dvb, dkb := dv[dbase+j0*ldd:], dk[dbase+j0*ldd:]
			t.product(w, nb, HS, k.m, w.s, attRows, 1, w.dos, HS, dvb, ldd, nil, attAdd)
			t.product(w, nb, HS, k.m, w.dp, attRows, 1, w.qs, HS, dkb, ldd, nil, attAdd)
			t.product(w, k.mr, HS, nb, w.dp, 1, attRows, keys, kvw, dQ, HS, nil, attAdd)
		}
		for r := 0; r < k.m; r++ {
			tt, h := k.t0+r/G, kh*G+r%G
			src := dQ[r*HS : (r+1)*HS]
			vscale(t.asm, src, t.scale)
			dst := t.dq[((b*T+tt)*NH+h)*HS:][:HS]
			vadd(t.asm, dst, dst, src)
		}
	}
}

// reduce is the second pass of a backward in parts: item it, (b, kv
// head, chunk of attReduce key rows), adds the parts' dK and dV rows into
// the caller's (which hold the last part's already), in part order, so
// the sums do not depend on who ran which part.
func (t *attTask) reduce(it int) {
	HS, T := t.HS, t.T
	nc := (T + attReduce - 1) / attReduce
	c, kh, b := it%nc, (it/nc)%t.NKV, it/nc/t.NKV
	kvw := t.NKV * HS
	for p := range t.parts - 1 {
		j1 := min((c+1)*attReduce, t.partKeys(p))
		pbase := ((p*t.B+b)*t.NKV + kh) * T * HS
		for j := c * attReduce; j < j1; j++ {
			o := (b*T+j)*kvw + kh*HS
			vadd(t.asm, t.dk[o:o+HS], t.dk[o:o+HS], t.dkp[pbase+j*HS:][:HS])
			vadd(t.asm, t.dv[o:o+HS], t.dv[o:o+HS], t.dvp[pbase+j*HS:][:HS])
		}
	}
}

// attSoftmax runs one key block of the online softmax on transposed
// scores: for query rows r < w (the columns of s) and keys j < nb (its
// rows, stride lds), the key j0+j is masked out (score −Inf) when
// j0+j > lim[r]; then
//
//	m' = max(mx[r], max_j s[j][r]),  alpha[r] = exp(mx[r] − m'),
//	s[j][r] = exp(s[j][r] − m'),     l[r] = l[r]·alpha[r] + Σ_j s[j][r],
//
// and mx[r] = m'. A row that has seen no key yet (m' = −Inf) gets
// alpha = 0 and p = 0 (expf of NaN is 0), so padding rows stay 0.
func attSoftmax(isa attISA, nb, w int, s []float32, lds int, lim []float32, j0 float32, mx, l, alpha []float32) {
	if nb <= 0 || w <= 0 {
		return
	}
	_ = s[(nb-1)*lds+w-1]
	lim, mx, l, alpha = lim[:w], mx[:w], l[:w], alpha[:w]
	if isa >= attAVX2 && w%8 == 0 {
		all := 1 // no key is masked: the assembly's first pass need not mask
		for _, v := range lim {
			if j0+float32(nb-1) > v {
				all = 0
				break
			}
		}
		if isa == attAVX512 && w%16 == 0 {
			attSoftmaxAVX512(nb, w, &s[0], lds, &lim[0], j0, &mx[0], &l[0], &alpha[0], all)
			return
		}
		attSoftmaxAVX2(nb, w, &s[0], lds, &lim[0], j0, &mx[0], &l[0], &alpha[0], all)
		return
	}
	ninf := float32(math.Inf(-1))
	for r := range w {
		m := mx[r]
		for j := range nb {
			if j0+float32(j) > lim[r] {
				s[j*lds+r] = ninf
			}
			m = max(m, s[j*lds+r])
		}
		a := expf(mx[r] - m)
		var sum float32
		for j := range nb {
			p := expf(s[j*lds+r] - m)
			s[j*lds+r] = p
			sum += p
		}
		l[r] = l[r]*a + sum
		mx[r], alpha[r] = m, a
	}
}

// attSoftmaxBack is the backward's block step on transposed scores and
// dPᵀ (same layout, stride lds): with the mask of attSoftmax,
//
//	p = exp(s[j][r] − lse[r]),  s[j][r] = p,  dp[j][r] = p·(dp[j][r] − d[r]).
func attSoftmaxBack(isa attISA, nb, w int, s, dp []float32, lds int, lim []float32, j0 float32, lse, d []float32) {
	if nb <= 0 || w <= 0 {
		return
	}
	_ = s[(nb-1)*lds+w-1]
	_ = dp[(nb-1)*lds+w-1]
	lim, lse, d = lim[:w], lse[:w], d[:w]
	if isa >= attAVX2 && w%8 == 0 {
		if isa == attAVX512 && w%16 == 0 {
			attSoftmaxBackAVX512(nb, w, &s[0], &dp[0], lds, &lim[0], j0, &lse[0], &d[0])
			return
		}
		attSoftmaxBackAVX2(nb, w, &s[0], &dp[0], lds, &lim[0], j0, &lse[0], &d[0])
		return
	}
	for j := range nb {
		sj, dj := s[j*lds:j*lds+w], dp[j*lds:j*lds+w]
		for r, x := range sj {
			p := float32(0)
			if j0+float32(j) <= lim[r] {
				p = expf(x - lse[r])
			}
			sj[r] = p
			dj[r] = p * (dj[r] - d[r])
		}
	}
}

// attPanel modes: C = A·B, C += A·B, C = sc_i·C + A·B.
const (
	attSet = iota
	attAdd
	attScale
)

// attPanel sets c[i*ldc+j] for i < rows, j < n to (per mode) A·B,
// c + A·B or sc[i]·c + A·B, where (A·B)[i][j] = Σ_{p<kd} a[i*ars+p*acs]·
// b[p*ldb+j]: A read through two strides (a matrix or its transpose), B
// row-major. The whole 6-row panels' whole 16-column tiles run the
// assembly, in one call.
func attPanel(isa attISA, rows, n, kd int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, sc []float32, mode int) {
	if rows <= 0 || n <= 0 {
		return
	}
	if kd > 0 {
		_ = a[(rows-1)*ars+(kd-1)*acs]
		_ = b[(kd-1)*ldb+n-1]
	}
	_ = c[(rows-1)*ldc+n-1]
	var scp *float32
	if mode == attScale {
		sc = sc[:rows]
		scp = &sc[0]
	}
	r6, n16 := 0, 0
	if isa >= attAVX2 && kd > 0 {
		r6, n16 = rows-rows%6, n&^15
		if r6 > 0 && n16 > 0 && isa == attAVX512 {
			attPanelAVX512(kd, &a[0], ars, acs, &b[0], ldb, &c[0], ldc, r6, n16, scp, mode)
		} else if r6 > 0 && n16 > 0 {
			attPanelAVX2(kd, &a[0], ars, acs, &b[0], ldb, &c[0], ldc, r6, n16, scp, mode)
		} else {
			r6 = 0
		}
	}
	var acc [16]float32
	for i := range rows {
		j0 := 0
		if i < r6 {
			j0 = n16
		}
		for ; j0 < n; j0 += 16 {
			nc := min(16, n-j0)
			acc = [16]float32{}
			for p := range kd {
				s := a[i*ars+p*acs]
				for j, v := range b[p*ldb+j0 : p*ldb+j0+nc] {
					acc[j] += s * v
				}
			}
			ci := c[i*ldc+j0 : i*ldc+j0+nc]
			for j := range ci {
				switch mode {
				case attSet:
					ci[j] = acc[j]
				case attAdd:
					ci[j] += acc[j]
				default:
					ci[j] = sc[i]*ci[j] + acc[j]
				}
			}
		}
	}
}

// attRowDots sets out[i] = Σ_{p<hs} a[i*lda+p]·b[i*ldb+p] for i < rows.
func attRowDots(asm bool, rows, hs int, a []float32, lda int, b []float32, ldb int, out []float32) {
	if rows <= 0 || hs <= 0 {
		return
	}
	_ = a[(rows-1)*lda+hs-1]
	_ = b[(rows-1)*ldb+hs-1]
	out = out[:rows]
	if asm && hs%8 == 0 {
		attRowDotsAVX2(rows, hs, &a[0], lda, &b[0], ldb, &out[0])
		return
	}
	for i := range out {
		out[i] = dot(a[i*lda:i*lda+hs], b[i*ldb:i*ldb+hs])
	}
}

// attTranspose sets dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols.
func attTranspose(asm bool, rows, cols int, src []float32, lds int, dst []float32, ldd int) {
	if rows <= 0 || cols <= 0 {
		return
	}
	_ = src[(rows-1)*lds+cols-1]
	_ = dst[(cols-1)*ldd+rows-1]
	if asm && rows%8 == 0 && cols%8 == 0 {
		attTransposeAVX2(rows, cols, &src[0], lds, &dst[0], ldd)
		return
	}
	for r := range rows {
		for c, v := range src[r*lds : r*lds+cols] {
			dst[c*ldd+r] = v
		}
	}
}

func (b *Backend) attSetup(back bool, B, T, NH, NKV, HS int) *attTask {
	t := &b.att
	if len(t.ws) != b.shares {
		t.ws = make([]attWS, b.shares)
	}
	G := NH / NKV
	tPer := max(1, attRows/G)
	nTB := (T + tPer - 1) / tPer
	n, parts := B*NKV*nTB, 1
	if back {
		parts = min(nTB, (attBackItems+B*NKV-1)/(B*NKV))
		n = B * NKV * parts
	}
	isa := attGo
	switch {
	case b.gemm.Kind() == gemm.AVX512:
		isa = attAVX512
	case b.asm:
		isa = attAVX2
	}
	*t = attTask{back: back, asm: b.asm, isa: isa, B: B, T: T, NH: NH, NKV: NKV, HS: HS, G: G, tPer: tPer, nTB: nTB,
		scale: float32(1 / math.Sqrt(float64(HS))), ws: t.ws, shares: b.shares, n: n,
		parts: parts, dkp: t.dkp, dvp: t.dvp}
	if parts > 1 {
		t.dkp = grow(t.dkp, (parts-1)*B*NKV*T*HS)
		t.dvp = grow(t.dvp, (parts-1)*B*NKV*T*HS)
	}
	return t
}

// AttentionForward implements kernels.Backend.
func (b *Backend) AttentionForward(out, lse, q, k, v, mask []float32, past []int32, B, T, S, NH, NKV, HS int) {
	for i := 0; i < B && past != nil; i++ {
		if int(past[i])+T > S {
			panic("kernels/cpu: AttentionForward: past+T > S")
		}
	}
	if NH/NKV > attRows {
		panic("kernels/cpu: AttentionForward: more than 48 query heads per KV head")
	}
	t := b.attSetup(false, B, T, NH, NKV, HS)
	t.out, t.lse, t.q, t.k, t.v, t.mask, t.past, t.S = out, lse, q, k, v, mask, past, S
	b.pool.Split(t.n, t)
	t.out, t.lse, t.q, t.k, t.v, t.mask, t.past = nil, nil, nil, nil, nil, nil, nil
}

// AttentionBackward implements kernels.Backend.
func (b *Backend) AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v, mask []float32, B, T, NH, NKV, HS int) {
	if NH/NKV > attRows {
		panic("kernels/cpu: AttentionBackward: more than 48 query heads per KV head")
	}
	t := b.attSetup(true, B, T, NH, NKV, HS)
	t.dq, t.dk, t.dv, t.dOut, t.out, t.lse, t.q, t.k, t.v, t.mask, t.S = dq, dk, dv, dOut, out, lse, q, k, v, mask, T
	b.pool.Split(t.n, t)
	if t.parts > 1 {
		t.reducing, t.n = true, B*NKV*((T+attReduce-1)/attReduce)
		b.pool.Split(t.n, t)
	}
	t.dq, t.dk, t.dv, t.dOut, t.out, t.lse, t.q, t.k, t.v, t.mask = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
}
