package devmodel

import (
	"fmt"

	"github.com/minimind-go/minimind/model"
)

// pass is one forward pass (and in training its backward pass) over B×T
// tokens, as model's pass.
type pass struct {
	*Model
	a        *acts
	B, T, N  int
	training bool
	msum     float64 // Σ loss mask over targets ≥ 0 (host-side, as model's loss)
	kv       *KVCache
}

// layer is decoder block l's weights, gradients and activations cut to
// the pass's N rows (model's layer).
type layer struct {
	w, g         *layerW
	x, rstd1     Buf
	ln           Buf
	q, k, v      Buf
	qr, kr       Buf
	rstdq, rstdk Buf
	att, lse     Buf
	mid, rstd2   Buf
	ffn          ffnActs
	out          Buf
	moe          *moeActs
	next         Buf
}

func (p *pass) layer(l int) layer {
	c := &p.Config
	a, N, C, F := p.a, p.N, c.HiddenSize, c.IntermediateSize
	kvC, qC := c.NumKeyValueHeads*c.HeadSize(), c.QDim()
	la := &a.layers[l]
	L := layer{
		w: &p.w.layers[l],
		x: la.res.Slice(0, N*C), rstd1: la.rstd1.Slice(0, N), ln: a.ln.Slice(0, N*C),
		q: la.q.Slice(0, N*qC), k: la.k.Slice(0, N*kvC), v: la.v.Slice(0, N*kvC),
		att: la.att.Slice(0, N*qC), lse: la.lse.Slice(0, p.B*c.NumAttentionHeads*p.T),
		mid: la.mid.Slice(0, N*C), rstd2: la.rstd2.Slice(0, N),
		out: a.out.Slice(0, N*C), moe: la.moe, next: a.final.Slice(0, N*C),
	}
	if p.g.layers != nil {
		L.g = &p.g.layers[l]
	}
	if c.IsMiniMind3() {
		L.qr, L.kr = la.qr.Slice(0, N*qC), la.kr.Slice(0, N*kvC)
		L.rstdq, L.rstdk = la.rstdq.Slice(0, N*c.NumAttentionHeads), la.rstdk.Slice(0, N*c.NumKeyValueHeads)
	}
	if !c.UseMoE {
		L.ffn = ffnActs{gate: la.ffn.gate.Slice(0, N*F), up: la.ffn.up.Slice(0, N*F), h: la.ffn.h.Slice(0, N*F)}
	}
	if l+1 < len(a.layers) {
		L.next = a.layers[l+1].res.Slice(0, N*C)
	}
	return L
}

// upload sends the step's ids, targets and loss mask (targets and mask
// may be nil: inference) and computes Σ mask on the host, as model's loss.
func (p *pass) upload(ids, targets []int32, lossMask []float32) error {
	d, a := p.dev, p.a
	if err := d.UploadInts(a.ids, ids); err != nil {
		return fmt.Errorf("devmodel: upload ids: %w", err)
	}
	if targets == nil {
		return nil
	}
	if err := d.UploadInts(a.tgt, targets); err != nil {
		return fmt.Errorf("devmodel: upload targets: %w", err)
	}
	if err := d.Upload(a.mask, lossMask); err != nil {
		return fmt.Errorf("devmodel: upload loss mask: %w", err)
	}

	p.msum = 0
	for i, t := range targets {
		if t >= 0 {
			p.msum += float64(lossMask[i])
		}
	}
	return nil
}

// uploadSort sorts the positions by token (a stable counting sort over
// the ids present) for the embedding gradient and uploads it with the
// segment table: 4·(N + 2·distinct + 1) bytes.
func (p *pass) uploadSort(ids []int32) error {
	a, N, V := p.a, p.N, p.Config.VocabSize
	if cap(p.sortCount) < V+1 {
		p.sortCount = make([]int32, V+1)
	}
	cnt := p.sortCount[:V+1]
	clear(cnt)
	for _, id := range ids {
		cnt[id+1]++
	}
	nseg := 0
	for v := 0; v < V; v++ {
		if cnt[v+1] > 0 {
			nseg++
		}
		cnt[v+1] += cnt[v]
	}
	h := a.hostSort[:N+2*nseg+1]
	order, starts, toks := h[:N], h[N:N+nseg+1], h[N+nseg+1:]
	s := 0
	for v := 0; v < V; v++ {
		if cnt[v+1] > cnt[v] {
			starts[s], toks[s] = cnt[v], int32(v)
			s++
		}
	}
	starts[nseg] = int32(N)
	next := cnt[:V] // running write position per token
	for i, id := range ids {
		order[next[id]] = int32(i)
		next[id]++
	}
	a.nseg = nseg
	if err := p.dev.UploadInts(a.embSort, h); err != nil {
		return fmt.Errorf("devmodel: upload the embedding gradient's order: %w", err)
	}
	return nil
}

// forward is model's pass.forward: embedding → blocks → final norm, the
// final-norm output left in a.lnf. With a KV cache the new keys/values are
// appended and attention sees the cached positions.
func (p *pass) forward() error {
	c, d, a := &p.Config, p.dev, p.a
	B, T, N, C, HS := p.B, p.T, p.N, c.HiddenSize, c.HeadSize()
	NH, NKV := c.NumAttentionHeads, c.NumKeyValueHeads
	kvC, qC := NKV*HS, c.QDim()
	eps := float32(c.RMSNormEps)
	var past Ints
	if p.kv != nil {
		past = p.kv.lens
	}
	pos := a.pos.Slice(0, N)
	d.Positions(pos, past, N, T)
	d.ZeroF64(a.scalars)

	d.EmbeddingForward(p.layer(0).x, a.ids, p.w.embed, N, C)
	for l := range a.layers {
		L := p.layer(l)
		// mid = x + Attn(RMSNorm_in(x))
		d.RMSNormForward(L.ln, L.rstd1, L.x, L.w.inNorm, N, C, eps)
		if !c.IsMiniMind3() {
			p.linear(L.q, L.ln, L.w.wq, N, qC, C, false)
			p.linear(L.k, L.ln, L.w.wk, N, kvC, C, false)
		} else {
			p.linear(L.qr, L.ln, L.w.wq, N, qC, C, false)
			p.linear(L.kr, L.ln, L.w.wk, N, kvC, C, false)
			d.RMSNormForward(L.q, L.rstdq, L.qr, L.w.qNorm, N*NH, HS, eps)
			d.RMSNormForward(L.k, L.rstdk, L.kr, L.w.kNorm, N*NKV, HS, eps)
		}
		p.linear(L.v, L.ln, L.w.wv, N, kvC, C, false)
		d.RoPE(L.q, pos, p.cos, p.sin, N, NH, HS, 1)
		d.RoPE(L.k, pos, p.cos, p.sin, N, NKV, HS, 1)
		keys, vals, S := L.k, L.v, T
		if p.kv != nil {
			kv := p.kv
			d.KVStore(kv.k[l], L.k, kv.lens, B, T, kv.S, kvC)
			d.KVStore(kv.v[l], L.v, kv.lens, B, T, kv.S, kvC)
			keys, vals, S = kv.k[l], kv.v[l], kv.S
		}
		d.AttentionForward(L.att, L.lse, L.q, keys, vals, Buf{}, past, B, T, S, NH, NKV, HS)
		p.linear(L.mid, L.att, L.w.wo, N, C, qC, false)
		d.Add(L.mid, L.mid, L.x, N*C)

		// next = mid + FFN(RMSNorm_post(mid))
		d.RMSNormForward(L.ln, L.rstd2, L.mid, L.w.postNorm, N, C, eps)
		if c.UseMoE {
			if err := p.moeForward(&L, l); err != nil {
				return err
			}
		} else {
			p.ffnForward(&L.ffn, &L.w.ffn, L.ln, N, L.out, false)
		}
		d.Add(L.next, L.mid, L.out, N*C)
	}
	d.RMSNormForward(a.lnf.Slice(0, N*C), a.rstdf.Slice(0, N), a.final.Slice(0, N*C), p.w.norm, N, C, eps)
	if p.kv != nil {
		d.Advance(p.kv.lens, B, T)
	}
	return nil
}

// linear: out[rows,n] = x[rows,k]·w[n,k]ᵀ (+= when accumulate).
func (p *pass) linear(out, x, w Buf, rows, n, k int, accumulate bool) {
	p.dev.MatMul(out, x, w, rows, n, k, false, true, accumulate)
}

// linearBackward: dx += dOut·w, dw += dOutᵀ·x (model's linearBackward).
func (p *pass) linearBackward(dx, dw, dOut, x, w Buf, rows, n, k int) {
	p.dev.MatMul(dx, dOut, w, rows, k, n, false, false, true)
	p.dev.MatMul(dw, dOut, x, n, k, rows, true, false, true)
}

// ffnForward: out (=, or += when accumulate) down(silu(gate x) ⊙ up x).
func (p *pass) ffnForward(fa *ffnActs, w *ffnW, x Buf, rows int, out Buf, accumulate bool) {
	C := p.Config.HiddenSize
	F := w.gate.Len() / C
	gate, up, h := fa.gate.Slice(0, rows*F), fa.up.Slice(0, rows*F), fa.h.Slice(0, rows*F)
	p.linear(gate, x, w.gate, rows, F, C, false)
	p.linear(up, x, w.up, rows, F, C, false)
	p.dev.SwiGLUForward(h, gate, up, rows*F)
	p.linear(out, h, w.down, rows, C, F, accumulate)
}

// loss: logits for every row, per-token cross-entropy, the masked sum
// (into scalars[0]) and dLoss = scale·mask/Σmask for backward.
func (p *pass) loss(lossMask []float32, targets []int32, scale float32) {
	a, N, C, V := p.a, p.N, p.Config.HiddenSize, p.Config.VocabSize
	logits := a.logits.Slice(0, N*V)
	p.linear(logits, a.lnf.Slice(0, N*C), p.w.lmHead, N, V, C, false)
	p.dev.CrossEntropyForward(a.losses.Slice(0, N), logits, a.tgt, N, V)
	p.dev.LossReduce(a.scalars, a.dLoss, a.losses, a.tgt, a.mask, N, p.msum, scale)
}

// stats downloads the step's scalars: the CE sum and each layer's balance
// loss (8 bytes each).
func (p *pass) stats() (model.Stats, error) {
	a := p.a
	if err := p.dev.DownloadF64(a.host, a.scalars); err != nil {
		return model.Stats{}, fmt.Errorf("devmodel: download loss: %w", err)
	}
	st := model.Stats{Tokens: p.msum}
	if p.msum > 0 {
		st.CE = a.host[0] / p.msum
	}
	for l := range a.layers {
		st.Aux += a.host[1+l]
	}
	st.Loss = st.CE + st.Aux
	return st, nil
}
