package cpu

import (
	"math"
)

// attTask runs causal GQA attention. Forward is split over (b, query head,
// query) rows; backward over (b, kv head) groups, so that the dk/dv of a
// kv head are written by one worker only. Scores are kept one query row at
// a time (length ≤ S): no T×T matrix is ever stored.
type attTask struct {
	back                                      bool
	out, lse, q, k, v, mask, dq, dk, dv, dOut []float32
	past                                      []int32
	B, T, S, NH, NKV, HS                      int
	scale                                     float32
	scratch                                   []float32 // [shares, S] score rows
	shares                                    int
	n                                         int
}

func dot(a, b []float32) float32 {
	b = b[:len(a)]
	var s0, s1, s2, s3 float32
	i := 0
	for ; i+4 <= len(a); i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < len(a); i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

func axpy(y []float32, a float32, x []float32) {
	x = x[:len(y)]
	for i := range y {
		y[i] += a * x[i]
	}
}

func (t *attTask) pastOf(b int) int {
	if t.past == nil {
		return 0
	}
	return int(t.past[b])
}

// scoresRow fills sc[0..P+t] with the masked, scaled scores of one query
// and returns the row's maximum.
func (t *attTask) scoresRow(sc, qv []float32, b, kh, tq int) float32 {
	mx := float32(math.Inf(-1))
	kvw := t.NKV * t.HS
	for j := 0; j <= t.pastOf(b)+tq; j++ {
		s := dot(qv, t.k[(b*t.S+j)*kvw+kh*t.HS:][:t.HS]) * t.scale
		if t.mask != nil {
			s += (1 - t.mask[b*t.S+j]) * -1e9
		}
		sc[j] = s
		mx = max(mx, s)
	}
	return mx
}

func (t *attTask) Run(lo, hi int) {
	sc := t.scratch[shareOf(lo, t.n, t.shares)*t.S:][:t.S]
	if t.back {
		t.backward(sc, lo, hi)
		return
	}
	HS, NH := t.HS, t.NH
	group := NH / t.NKV
	kvw := t.NKV * HS
	for r := lo; r < hi; r++ { // r = (b*NH + h)*T + tq
		tq := r % t.T
		h := (r / t.T) % NH
		b := r / (t.T * NH)
		kh := h / group
		row := ((b*t.T+tq)*NH + h) * HS
		qv := t.q[row : row+HS]
		mx := t.scoresRow(sc, qv, b, kh, tq)
		P := t.pastOf(b)
		var sum float32
		for j := 0; j <= P+tq; j++ {
			e := float32(math.Exp(float64(sc[j] - mx)))
			sc[j] = e
			sum += e
		}
		o := t.out[row : row+HS]
		clear(o)
		inv := 1 / sum
		for j := 0; j <= P+tq; j++ {
			axpy(o, sc[j]*inv, t.v[(b*t.S+j)*kvw+kh*HS:][:HS])
		}
		t.lse[r] = mx + float32(math.Log(float64(sum)))
	}
}

func (t *attTask) backward(sc []float32, lo, hi int) {
	HS, NH, T := t.HS, t.NH, t.T
	group := NH / t.NKV
	kvw := t.NKV * HS
	for gi := lo; gi < hi; gi++ { // gi = b*NKV + kh
		b, kh := gi/t.NKV, gi%t.NKV
		for h := kh * group; h < (kh+1)*group; h++ {
			for tq := 0; tq < T; tq++ {
				row := ((b*T+tq)*NH + h) * HS
				qv, do, o := t.q[row:row+HS], t.dOut[row:row+HS], t.out[row:row+HS]
				l := t.lse[(b*NH+h)*T+tq]
				t.scoresRow(sc, qv, b, kh, tq)
				D := dot(do, o)
				dqv := t.dq[row : row+HS]
				for j := 0; j <= tq; j++ {
					p := float32(math.Exp(float64(sc[j] - l)))
					off := (b*T+j)*kvw + kh*HS
					axpy(t.dv[off:off+HS], p, do)
					ds := p * (dot(do, t.v[off:off+HS]) - D) * t.scale
					axpy(dqv, ds, t.k[off:off+HS])
					axpy(t.dk[off:off+HS], ds, qv)
				}
			}
		}
	}
}

func (b *Backend) attScratch(S int) []float32 {
	b.att.scratch = grow(b.att.scratch, b.shares*S)
	return b.att.scratch
}

// AttentionForward implements kernels.Backend.
func (b *Backend) AttentionForward(out, lse, q, k, v, mask []float32, past []int32, B, T, S, NH, NKV, HS int) {
	for i := 0; i < B && past != nil; i++ {
		if int(past[i])+T > S {
			panic("kernels/cpu: AttentionForward: past+T > S")
		}
	}
	sc := b.attScratch(S)
	t := &b.att
	n := B * NH * T
	*t = attTask{out: out, lse: lse, q: q, k: k, v: v, mask: mask, past: past, B: B, T: T, S: S, NH: NH, NKV: NKV, HS: HS,
		scale: float32(1 / math.Sqrt(float64(HS))), scratch: sc, shares: b.shares, n: n}
	b.pool.Split(n, t)
}

// AttentionBackward implements kernels.Backend.
func (b *Backend) AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v, mask []float32, B, T, NH, NKV, HS int) {
	sc := b.attScratch(T)
	t := &b.att
	n := B * NKV
	*t = attTask{back: true, dq: dq, dk: dk, dv: dv, dOut: dOut, out: out, lse: lse, q: q, k: k, v: v, mask: mask,
		B: B, T: T, S: T, NH: NH, NKV: NKV, HS: HS, scale: float32(1 / math.Sqrt(float64(HS))), scratch: sc, shares: b.shares, n: n}
	b.pool.Split(n, t)
}
