package model

// pass is one forward pass (and, in training, its backward pass) over B×T
// tokens: the model, the activations it writes and its mode. The mode is
// chosen by the caller for each pass, never left in the Model.
type pass struct {
	*Model
	a       *acts
	B, T, N int
	// training keeps every layer's activations for backward and computes
	// the MoE balance loss.
	training bool
	// weights16, in inference only, is the 16-bit copy's format: products
	// of at most halfMaxRows rows multiply by m.w16 (linear). nil: float32.
	weights16 *halfWeights
	// weights8, in inference only, is the Q8_0 copy's kernel: every
	// product and embedding lookup uses m.w8 (linear). nil: none.
	weights8 *q8Weights
}

// trainPass and inferPass start a pass over B×T tokens in either mode,
// with activations for its rows.
func (m *Model) trainPass(B, T int) pass {
	return pass{Model: m, a: m.trainActs(B, B*T), B: B, T: T, N: B * T, training: true}
}

func (m *Model) inferPass(B, T int) pass {
	return pass{Model: m, a: m.inferActs(B, B*T), B: B, T: T, N: B * T, weights16: m.half, weights8: m.q8}
}

// layer is decoder block l as a pass sees it: its weights, their 16-bit
// and Q8_0 copies (nil views without SetInferenceDType), their gradients
// (nil until EnableGrads) and its activations, cut to the pass's N rows.
type layer struct {
	w, g *layerW[float32]
	w16  *layerW[uint16]
	w8   *layerW[byte]

	x, rstd1   []float32 // [N,C] block input, [N]
	ln         []float32 // [N,C] RMSNorm output: acts.ln, shared by both norms of every block
	q, k, v    []float32 // [N,qC], [N,kvC], [N,kvC] (qC = NH·HS)
	qr, kr     []float32 // minimind-3: q, k before their RMSNorm (nil in MiniMind2)
	rstdq      []float32 // [N·NH]
	rstdk      []float32 // [N·NKV]
	att, lse   []float32 // [N,qC] attention output, [B,NH,T]
	mid, rstd2 []float32 // [N,C] residual after attention, [N]
	ffn        ffnActs   // dense FFN [N,F]
	out        []float32 // [N,C] FFN/MoE output: acts.out, shared by every block
	moe        *moeActs  // MoE intermediates (uncut: their row counts vary)
	next       []float32 // [N,C] block output: the next block's x, or acts.final
}

func (p *pass) layer(l int) layer {
	c := &p.Config
	a, N, C, F := p.a, p.N, c.HiddenSize, c.IntermediateSize
	kvC, qC := c.NumKeyValueHeads*c.HeadSize(), c.QDim()
	la := &a.layers[l]
	L := layer{
		w: &p.w.layers[l], w16: &p.w16.layers[l], w8: &p.w8.layers[l],
		x: la.res[:N*C], rstd1: la.rstd1[:N], ln: a.ln[:N*C],
		q: la.q[:N*qC], k: la.k[:N*kvC], v: la.v[:N*kvC],
		att: la.att[:N*qC], lse: la.lse[:p.B*c.NumAttentionHeads*p.T],
		mid: la.mid[:N*C], rstd2: la.rstd2[:N],
		out: a.out[:N*C], moe: la.moe, next: a.final[:N*C],
	}
	if p.g.layers != nil {
		L.g = &p.g.layers[l]
	}
	if la.qr != nil {
		L.qr, L.kr = la.qr[:N*qC], la.kr[:N*kvC]
		L.rstdq, L.rstdk = la.rstdq[:N*c.NumAttentionHeads], la.rstdk[:N*c.NumKeyValueHeads]
	}
	if la.ffn.gate != nil {
		L.ffn = ffnActs{gate: la.ffn.gate[:N*F], up: la.ffn.up[:N*F], h: la.ffn.h[:N*F]}
	}
	if l+1 < len(a.layers) {
		L.next = a.layers[l+1].res[:N*C]
	}
	return L
}

// forward runs embedding → blocks → final norm for ids [B,T], leaving the
// final-norm output in a.lnf. With kv non-nil the new keys/values are
// appended to the cache and attention sees the cached positions too.
// mask is nil or [B,T] (no cache) / [B,P+T] (with cache).
func (p *pass) forward(ids []int32, kv *KVCache, mask []float32) {
	c, be, a := &p.Config, p.be, p.a
	B, T, N, C, HS := p.B, p.T, p.N, c.HiddenSize, c.HeadSize()
	NH, NKV := c.NumAttentionHeads, c.NumKeyValueHeads
	kvC, qC := NKV*HS, c.QDim()
	eps := float32(c.RMSNormEps)
	var past []int32 // per-row cached length (nil: none)
	if kv != nil {
		past = kv.Lens
	}
	a.n = N
	pos := a.pos[:N]
	for i := range pos {
		pos[i] = int32(i % T)
		if past != nil {
			pos[i] += past[i/T]
		}
	}

	if q := p.weights8; q != nil {
		q.mm.EmbeddingQ8(p.layer(0).x, ids, p.w8.embed, N, C)
	} else {
		be.EmbeddingForward(p.layer(0).x, ids, p.w.embed, N, C)
	}
	for l := range a.layers {
		L := p.layer(l)
		// mid = x + Attn(RMSNorm_in(x))
		be.RMSNormForward(L.ln, L.rstd1, L.x, L.w.inNorm, N, C, eps)
		if L.qr == nil {
			p.linear(L.q, L.ln, L.w.wq, L.w16.wq, L.w8.wq, N, qC, C, false)
			p.linear(L.k, L.ln, L.w.wk, L.w16.wk, L.w8.wk, N, kvC, C, false)
		} else {
			// minimind-3: q, k = RMSNorm_q(ln·Wqᵀ), RMSNorm_k(ln·Wkᵀ) per
			// head (N·NH rows of HS), before RoPE.
			p.linear(L.qr, L.ln, L.w.wq, L.w16.wq, L.w8.wq, N, qC, C, false)
			p.linear(L.kr, L.ln, L.w.wk, L.w16.wk, L.w8.wk, N, kvC, C, false)
			be.RMSNormForward(L.q, L.rstdq, L.qr, L.w.qNorm, N*NH, HS, eps)
			be.RMSNormForward(L.k, L.rstdk, L.kr, L.w.kNorm, N*NKV, HS, eps)
		}
		p.linear(L.v, L.ln, L.w.wv, L.w16.wv, L.w8.wv, N, kvC, C, false)
		be.RoPEForward(L.q, pos, p.cos, p.sin, N, NH, HS)
		be.RoPEForward(L.k, pos, p.cos, p.sin, N, NKV, HS)
		keys, vals, S, msk := L.k, L.v, T, mask
		if kv != nil {
			kv.store(l, L.k, L.v, T)
			keys, vals, S = kv.K[l], kv.V[l], kv.S
			msk = kv.mask
		}
		be.AttentionForward(L.att, L.lse, L.q, keys, vals, msk, past, B, T, S, NH, NKV, HS)
		p.linear(L.mid, L.att, L.w.wo, L.w16.wo, L.w8.wo, N, C, qC, false)
		be.Add(L.mid, L.mid, L.x, N*C)

		// next = mid + FFN(RMSNorm_post(mid))
		be.RMSNormForward(L.ln, L.rstd2, L.mid, L.w.postNorm, N, C, eps)
		if c.UseMoE {
			p.moeForward(&L)
		} else {
			p.ffnForward(&L.ffn, &L.w.ffn, &L.w16.ffn, &L.w8.ffn, L.ln, N, L.out, false)
		}
		be.Add(L.next, L.mid, L.out, N*C)
	}
	be.RMSNormForward(a.lnf[:N*C], a.rstdf[:N], a.final[:N*C], p.w.norm, N, C, eps)
	if kv != nil {
		for b := range kv.Lens {
			kv.Lens[b] += int32(T)
		}
	}
}

// ffnForward: out (=, or += when accumulate) down(silu(gate x) ⊙ up x) for
// x [rows,C], saving the intermediates in fa.
func (p *pass) ffnForward(fa *ffnActs, w *ffnW[float32], w16 *ffnW[uint16], w8 *ffnW[byte], x []float32, rows int, out []float32, accumulate bool) {
	C := p.Config.HiddenSize
	F := len(w.gate) / C // intermediate_size, or an expert's width
	gate, up, h := fa.gate[:rows*F], fa.up[:rows*F], fa.h[:rows*F]
	p.linear(gate, x, w.gate, w16.gate, w8.gate, rows, F, C, false)
	p.linear(up, x, w.up, w16.up, w8.up, rows, F, C, false)
	p.be.SwiGLUForward(h, gate, up, rows*F)
	p.linear(out, h, w.down, w16.down, w8.down, rows, C, F, accumulate)
}

// project applies the LM head to the final-norm output: every row
// (keep 0) or the last keep positions of each sequence.
func (p *pass) project(keep int) []float32 {
	a, B, T := p.a, p.B, p.T
	C, V := p.Config.HiddenSize, p.Config.VocabSize
	if keep <= 0 || keep >= T {
		N := B * T
		p.linear(a.logits[:N*V], a.lnf[:N*C], p.w.lmHead, p.w16.lmHead, p.w8.lmHead, N, V, C, false)
		return a.logits[:N*V]
	}
	rows := a.keepRows[:B*keep]
	for b := 0; b < B; b++ {
		for j := 0; j < keep; j++ {
			rows[b*keep+j] = int32(b*T + T - keep + j)
		}
	}
	n := B * keep
	p.be.Gather(a.keepBuf[:n*C], a.lnf, rows, nil, n, C)
	p.linear(a.logits[:n*V], a.keepBuf[:n*C], p.w.lmHead, p.w16.lmHead, p.w8.lmHead, n, V, C, false)
	return a.logits[:n*V]
}

// loss computes logits for every row, the per-token cross-entropy and the
// masked mean, and prepares dLoss = scale·mask/Σmask for backward. With
// backward set and a backend that fuses the cross-entropy's two passes
// (ceFuser), it also turns the logits into dlogits and reports fused:
// backward must then skip its cross-entropy step.
func (p *pass) loss(targets []int32, lossMask []float32, scale float32, backward bool) (st Stats, fused bool) {
	a, N, V := p.a, p.N, p.Config.VocabSize
	logits := p.project(0)
	var msum float64
	for i := 0; i < N; i++ {
		if targets[i] >= 0 {
			msum += float64(lossMask[i])
		}
	}
	for i := 0; i < N; i++ {
		a.dLoss[i] = 0
		if msum > 0 && targets[i] >= 0 {
			a.dLoss[i] = float32(float64(scale) * float64(lossMask[i]) / msum)
		}
	}
	if f, ok := p.be.(ceFuser); ok && backward {
		f.CrossEntropyForwardBackward(a.losses[:N], logits, logits, targets, a.dLoss[:N], N, V)
		fused = true
	} else {
		p.be.CrossEntropyForward(a.losses[:N], logits, targets, N, V)
	}
	var sum float64
	for i := 0; i < N; i++ {
		if targets[i] < 0 {
			continue
		}
		sum += float64(a.losses[i]) * float64(lossMask[i])
	}
	st = Stats{Tokens: msum}
	if msum > 0 {
		st.CE = sum / msum
	}
	for l := range a.layers {
		if mo := a.layers[l].moe; mo != nil {
			st.Aux += mo.aux
		}
	}
	st.Loss = st.CE + st.Aux
	return st, fused
}

// ceFuser is the optional fused cross-entropy (cpu.Backend has it): the
// per-row losses and dLogits in one pass over the logits, the bits of
// CrossEntropyForward then CrossEntropyBackward; dLogits may be logits.
type ceFuser interface {
	CrossEntropyForwardBackward(losses, dLogits, logits []float32, targets []int32, dLoss []float32, N, V int)
}
