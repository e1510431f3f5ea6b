package cpu

import (
	"math"
)

// Attention is computed flash-style, in tiles of (query rows) × (key
// block), so no T×T score matrix ever exists: per worker, a block of at
// most attRows query rows × attKeys keys of scores is kept (in L1/L2).
//
// The query rows of one work item are the G = NH/NKV heads that share a KV
// head, at up to attRows/G consecutive positions; they are gathered into a
// contiguous, pre-scaled scratch block Qs, so a key or value row read from
// cache serves all G heads (GQA) and a single decode position still makes
// a tile of G rows.
//
// Forward (online softmax): for each key block, S = Qs·Kᵀ (dots3x4 tiles),
// the running row maximum m and sum l are updated, the accumulated output
// rows are rescaled by exp(m_old − m_new), and O += P·V (axpyTile). At the
// end out = O / l and lse = m + log l.
//
// Backward recomputes P = exp(S − lse) from the saved log-sum-exp, as the
// reference does, one (query block, key block) at a time:
//
//	dP = dO·Vᵀ, dS = P ⊙ (dP − D) with D = rowsum(dO ⊙ O),
//	dV += Pᵀ·dO,  dK += dSᵀ·(scale·Q),  dQ += scale·dS·K.
//
// Work items are (b, kv head) groups, so each dK/dV row has one writer.
// Since Qs holds scale·q, S is already scaled; dK uses the scaled Q
// directly and dQ is scaled once at the end.
const (
	attRows = 48 // query rows per block: a multiple of 6 (axpy tile) and 3 (dots tile)
	attKeys = 48 // keys per block: a multiple of 6 (dK/dV tiles), 4 (dots tile)
)

// attWS is one worker's scratch.
type attWS struct {
	qs, os, dos []float32 // [attRows+6, HS] gathered Q·scale, O or dQ accumulator, dO
	s, dp       []float32 // [attRows+6, attKeys] scores/P and dP/dS
	mx, l, dd   []float32 // [attRows+6] running max, running sum (or lse), D
	kpad        []float32 // [4, HS] a partial key tile, zero padded
	edgeA       []float32 // [6, max(attKeys, attRows)] an edge tile's A rows
	edgeC       [6 * 16]float32
}

func (w *attWS) ensure(HS int) {
	rows := attRows + 6
	w.qs = grow(w.qs, rows*HS)
	w.os = grow(w.os, rows*HS)
	w.dos = grow(w.dos, rows*HS)
	w.s = grow(w.s, rows*attKeys)
	w.dp = grow(w.dp, rows*attKeys)
	w.mx = grow(w.mx, rows)
	w.l = grow(w.l, rows)
	w.dd = grow(w.dd, rows)
	w.kpad = grow(w.kpad, 4*HS)
	w.edgeA = grow(w.edgeA, 6*max(attKeys, attRows))
}

// attTask runs causal GQA attention; see the comment above.
type attTask struct {
	back                                      bool
	asm                                       bool
	out, lse, q, k, v, mask, dq, dk, dv, dOut []float32
	past                                      []int32
	B, T, S, NH, NKV, HS                      int
	G, tPer, nTB                              int // heads per group, positions per block, blocks per sequence
	scale                                     float32
	ws                                        []attWS // one per share
	shares, n                                 int
}

func (t *attTask) pastOf(b int) int {
	if t.past == nil {
		return 0
	}
	return int(t.past[b])
}

func (t *attTask) Run(lo, hi int) {
	w := &t.ws[shareOf(lo, t.n, t.shares)]
	w.ensure(t.HS)
	for it := lo; it < hi; it++ {
		if t.back {
			t.backward(w, it)
		} else {
			t.forward(w, it)
		}
	}
}

// gather copies the rows of positions [t0, t1) of batch row b, kv head kh
// from x (layout [B,T,NH,HS]) into dst (row r = (t−t0)·G + g), times s,
// and zero-fills dst up to a multiple of 6 rows. It returns the row count.
func (t *attTask) gather(dst, x []float32, b, kh, t0, t1 int, s float32) int {
	HS, G := t.HS, t.G
	m := (t1 - t0) * G
	for r := 0; r < m; r++ {
		tt, h := t0+r/G, kh*G+r%G
		src := x[((b*t.T+tt)*t.NH+h)*HS:][:HS]
		d := dst[r*HS : (r+1)*HS]
		if s == 1 {
			copy(d, src)
			continue
		}
		for i, v := range src {
			d[i] = v * s
		}
	}
	clear(dst[m*HS : roundUp(m, 6)*HS])
	return m
}

func roundUp(x, k int) int { return (x + k - 1) / k * k }

// scores sets out[r*attKeys+j] = Σ_p a[r*HS+p]·keys[j*ld+p] for r < rows
// (a multiple of 3) and j < nk, in 3×4 tiles. A partial last key tile is
// copied to w.kpad so no key row past nk is read.
func (t *attTask) scores(w *attWS, out, a []float32, rows int, keys []float32, ld, nk int) {
	HS := t.HS
	for j0 := 0; j0 < nk; j0 += 4 {
		kk, kld := keys[j0*ld:], ld
		if nk-j0 < 4 {
			clear(w.kpad)
			for j := 0; j < nk-j0; j++ {
				copy(w.kpad[j*HS:(j+1)*HS], keys[(j0+j)*ld:][:HS])
			}
			kk, kld = w.kpad, HS
		}
		for r := 0; r < rows; r += 3 {
			dots3x4(t.asm, HS, a[r*HS:], HS, kk, kld, out[r*attKeys+j0:], attKeys)
		}
	}
}

// product sets c = (or += when accum) A·B for A rows × kd (read through
// strides ars, acs), B kd × HS (row stride ldb), C rows × HS (ldc), in
// 6×16 tiles. With the assembly, an edge tile of fewer than 6 rows is
// computed from a zero-padded copy of its A rows.
func (t *attTask) product(w *attWS, rows, kd int, a []float32, ars, acs int, b []float32, ldb int, c []float32, ldc int, accum bool) {
	HS := t.HS
	for i0 := 0; i0 < rows; i0 += 6 {
		nr := min(6, rows-i0)
		for j0 := 0; j0 < HS; j0 += 16 {
			nc := min(16, HS-j0)
			if nr == 6 || !t.asm || nc < 16 {
				axpyTile(t.asm, nr, nc, kd, a[i0*ars:], ars, acs, b[j0:], ldb, c[i0*ldc+j0:], ldc, accum)
				continue
			}
			ea := w.edgeA[:6*kd]
			clear(ea[nr*kd:])
			for i := 0; i < nr; i++ {
				for p := 0; p < kd; p++ {
					ea[i*kd+p] = a[(i0+i)*ars+p*acs]
				}
			}
			axpyTile(true, 6, 16, kd, ea, kd, 1, b[j0:], ldb, w.edgeC[:], 16, false)
			for i := 0; i < nr; i++ {
				dst := c[(i0+i)*ldc+j0 : (i0+i)*ldc+j0+16]
				src := w.edgeC[i*16 : i*16+16]
				for j, v := range src {
					if accum {
						dst[j] += v
					} else {
						dst[j] = v
					}
				}
			}
		}
	}
}

// visible returns how many keys of the block starting at j0 (of nb) row r
// sees, adding the padding mask to the row's first entries.
func (t *attTask) visible(row []float32, b, pos, j0, nb int) int {
	lim := min(nb, pos-j0+1)
	if lim <= 0 {
		return 0
	}
	if t.mask != nil {
		mk := t.mask[b*t.S+j0:][:lim]
		for j, v := range mk {
			row[j] += (1 - v) * -1e9
		}
	}
	return lim
}

func (t *attTask) forward(w *attWS, it int) {
	HS, G, NH := t.HS, t.G, t.NH
	tb := it % t.nTB
	kh := (it / t.nTB) % t.NKV
	b := it / (t.nTB * t.NKV)
	t0 := tb * t.tPer
	t1 := min(t.T, t0+t.tPer)
	m := t.gather(w.qs, t.q, b, kh, t0, t1, t.scale)
	mpad := roundUp(m, 6)
	O := w.os[:mpad*HS]
	clear(O)
	mx, l := w.mx[:m], w.l[:m]
	for r := range mx {
		mx[r], l[r] = float32(math.Inf(-1)), 0
	}
	P := t.pastOf(b)
	kvw := t.NKV * HS
	base := b*t.S*kvw + kh*HS
	nk := P + t1
	for j0 := 0; j0 < nk; j0 += attKeys {
		nb := min(attKeys, nk-j0)
		t.scores(w, w.s, w.qs, mpad, t.k[base+j0*kvw:], kvw, nb)
		for r := 0; r < mpad; r++ {
			row := w.s[r*attKeys : r*attKeys+nb]
			lim := 0
			if r < m {
				lim = t.visible(row, b, P+t0+r/G, j0, nb)
			}
			if lim == 0 {
				clear(row)
				continue
			}
			mnew := max(mx[r], vmax(t.asm, row[:lim]))
			alpha := expf(mx[r] - mnew)
			sum := vexp(t.asm, row[:lim], row[:lim], 1, -mnew)
			clear(row[lim:])
			l[r] = l[r]*alpha + sum
			mx[r] = mnew
			if alpha != 1 {
				for i := range O[r*HS : (r+1)*HS] {
					O[r*HS+i] *= alpha
				}
			}
		}
		t.product(w, mpad, nb, w.s, attKeys, 1, t.v[base+j0*kvw:], kvw, O, HS, true)
	}
	for r := 0; r < m; r++ {
		tt, h := t0+r/G, kh*G+r%G
		dst := t.out[((b*t.T+tt)*NH+h)*HS:][:HS]
		inv := 1 / l[r]
		for i, v := range O[r*HS : (r+1)*HS] {
			dst[i] = v * inv
		}
		t.lse[(b*NH+h)*t.T+tt] = mx[r] + float32(math.Log(float64(l[r])))
	}
}

func (t *attTask) backward(w *attWS, it int) {
	HS, G, NH, T := t.HS, t.G, t.NH, t.T
	kh, b := it%t.NKV, it/t.NKV
	kvw := t.NKV * HS
	base := b*T*kvw + kh*HS
	for tb := 0; tb < t.nTB; tb++ {
		t0 := tb * t.tPer
		t1 := min(T, t0+t.tPer)
		m := t.gather(w.qs, t.q, b, kh, t0, t1, t.scale)
		t.gather(w.dos, t.dOut, b, kh, t0, t1, 1)
		mpad := roundUp(m, 6)
		dQ := w.os[:mpad*HS]
		clear(dQ)
		lse, D := w.l[:m], w.dd[:m]
		for r := 0; r < m; r++ {
			tt, h := t0+r/G, kh*G+r%G
			lse[r] = t.lse[(b*NH+h)*T+tt]
			o := t.out[((b*T+tt)*NH+h)*HS:][:HS]
			var d float32
			for i, v := range w.dos[r*HS : (r+1)*HS] {
				d += v * o[i]
			}
			D[r] = d
		}
		for j0 := 0; j0 < t1; j0 += attKeys {
			nb := min(attKeys, t1-j0)
			t.scores(w, w.s, w.qs, mpad, t.k[base+j0*kvw:], kvw, nb)
			t.scores(w, w.dp, w.dos, mpad, t.v[base+j0*kvw:], kvw, nb)
			for r := 0; r < mpad; r++ {
				row := w.s[r*attKeys : r*attKeys+nb]
				drow := w.dp[r*attKeys : r*attKeys+nb]
				lim := 0
				if r < m {
					lim = t.visible(row, b, t0+r/G, j0, nb)
				}
				if lim > 0 {
					vexp(t.asm, row[:lim], row[:lim], 1, -lse[r])
					d := D[r]
					for j, p := range row[:lim] {
						drow[j] = p * (drow[j] - d)
					}
				}
				clear(row[lim:])
				clear(drow[lim:])
			}
			// dV += Pᵀ·dO and dK += dSᵀ·(scale·Q): rows are keys, so A is
			// read transposed (row stride 1, k stride attKeys).
			dvb, dkb := t.dv[base+j0*kvw:], t.dk[base+j0*kvw:]
			t.product(w, nb, m, w.s, 1, attKeys, w.dos, HS, dvb, kvw, true)
			t.product(w, nb, m, w.dp, 1, attKeys, w.qs, HS, dkb, kvw, true)
			// dQ += dS·K (scaled below).
			t.product(w, mpad, nb, w.dp, attKeys, 1, t.k[base+j0*kvw:], kvw, dQ, HS, true)
		}
		for r := 0; r < m; r++ {
			tt, h := t0+r/G, kh*G+r%G
			dst := t.dq[((b*T+tt)*NH+h)*HS:][:HS]
			for i, v := range dQ[r*HS : (r+1)*HS] {
				dst[i] += t.scale * v
			}
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
	n := B * NKV * nTB
	if back {
		n = B * NKV
	}
	*t = attTask{back: back, asm: b.asm, B: B, T: T, NH: NH, NKV: NKV, HS: HS, G: G, tPer: tPer, nTB: nTB,
		scale: float32(1 / math.Sqrt(float64(HS))), ws: t.ws, shares: b.shares, n: n}
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
	t.dq, t.dk, t.dv, t.dOut, t.out, t.lse, t.q, t.k, t.v, t.mask = nil, nil, nil, nil, nil, nil, nil, nil, nil, nil
}
