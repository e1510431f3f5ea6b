package devmodel

// backward mirrors model/backward.go line by line: the same steps in
// reverse order, turning dLoss (prepared by loss) into gradients ADDED to
// the gradient slab.
func (p *pass) backward(scale float32) {
	d, a := p.dev, p.a
	c := &p.Config
	B, T, N, C, V, HS := p.B, p.T, p.N, c.HiddenSize, c.VocabSize, c.HeadSize()
	NH, NKV := c.NumAttentionHeads, c.NumKeyValueHeads
	kvC, qC := NKV*HS, c.QDim()
	eps := float32(c.RMSNormEps)
	pos := a.pos.Slice(0, N)
	dln, dres := a.dln.Slice(0, N*C), a.dres.Slice(0, N*C)

	// logits = lnf·Wᵀ; loss = CE(logits). The logits become dlogits.
	dlogits := a.logits.Slice(0, N*V)
	d.CrossEntropyBackward(dlogits, dlogits, a.tgt, a.dLoss, N, V)
	d.Zero(dln)
	p.linearBackward(dln, p.g.lmHead, dlogits, a.lnf.Slice(0, N*C), p.w.lmHead, N, V, C)

	datt, dq, dk, dv := a.datt.Slice(0, N*qC), a.dq.Slice(0, N*qC), a.dk.Slice(0, N*kvC), a.dv.Slice(0, N*kvC)
	// lnf = RMSNorm_final(final)
	d.Zero(dres)
	d.RMSNormBackward(dres, p.g.norm, dln, a.final.Slice(0, N*C), p.w.norm, a.rstdf.Slice(0, N), N, C)

	for l := len(a.layers) - 1; l >= 0; l-- {
		L := p.layer(l)
		// next = mid + FFN(RMSNorm_post(mid)); ln recomputed.
		d.RMSNormForward(L.ln, L.rstd2, L.mid, L.w.postNorm, N, C, eps)
		d.Zero(dln)
		if c.UseMoE {
			p.moeBackward(&L, scale)
		} else {
			p.ffnBackward(&L.ffn, &L.w.ffn, &L.g.ffn, L.ln, dres, dln, N)
		}
		d.RMSNormBackward(dres, L.g.postNorm, dln, L.mid, L.w.postNorm, L.rstd2, N, C)

		// mid = x + att·Woᵀ
		d.Zero(datt)
		p.linearBackward(datt, L.g.wo, dres, L.att, L.w.wo, N, C, qC)
		// att = Attention(q, k, v)
		d.Zero(dq)
		d.Zero(dk)
		d.Zero(dv)
		d.AttentionBackward(dq, dk, dv, datt, L.att, L.lse, L.q, L.k, L.v, B, T, NH, NKV, HS)
		// q, k = RoPE(q), RoPE(k)
		d.RoPE(dq, pos, p.cos, p.sin, N, NH, HS, -1)
		d.RoPE(dk, pos, p.cos, p.sin, N, NKV, HS, -1)
		// q, k, v = ln·Wqᵀ, ln·Wkᵀ, ln·Wvᵀ; ln = RMSNorm_in(x) recomputed.
		d.RMSNormForward(L.ln, L.rstd1, L.x, L.w.inNorm, N, C, eps)
		d.Zero(dln)
		dqp, dkp := dq, dk
		if c.IsMiniMind3() {
			dqr, dkr := a.dqr.Slice(0, N*qC), a.dkr.Slice(0, N*kvC)
			d.Zero(dqr)
			d.Zero(dkr)
			d.RMSNormBackward(dqr, L.g.qNorm, dq, L.qr, L.w.qNorm, L.rstdq, N*NH, HS)
			d.RMSNormBackward(dkr, L.g.kNorm, dk, L.kr, L.w.kNorm, L.rstdk, N*NKV, HS)
			dqp, dkp = dqr, dkr
		}
		p.linearBackward(dln, L.g.wq, dqp, L.ln, L.w.wq, N, qC, C)
		p.linearBackward(dln, L.g.wk, dkp, L.ln, L.w.wk, N, kvC, C)
		p.linearBackward(dln, L.g.wv, dv, L.ln, L.w.wv, N, kvC, C)
		d.RMSNormBackward(dres, L.g.inNorm, dln, L.x, L.w.inNorm, L.rstd1, N, C)
	}
	// x = E[ids]: the rows of each token summed in position order
	// (uploadSort), as a sequential scatter-add would.
	d.EmbeddingBackward(p.g.embed, dres, a.embSort.Slice(0, N), a.embSort.Slice(N, N+2*a.nseg+1), N, a.nseg, C)
}

// ffnBackward: given dOut of out = down(silu(gate x) ⊙ up x), adds to dx
// and to the FFN's weight gradients g (model's ffnBackward).
func (p *pass) ffnBackward(fa *ffnActs, w, g *ffnW, x, dOut, dx Buf, rows int) {
	d, C := p.dev, p.Config.HiddenSize
	F := w.gate.Len() / C
	gate, up := fa.gate.Slice(0, rows*F), fa.up.Slice(0, rows*F)
	dgate, dup, dh := p.a.dffn.gate.Slice(0, rows*F), p.a.dffn.up.Slice(0, rows*F), p.a.dffn.h.Slice(0, rows*F)
	// out = h·Wdᵀ; h recomputed in dgate's buffer.
	h := dgate
	d.SwiGLUForward(h, gate, up, rows*F)
	d.Zero(dh)
	p.linearBackward(dh, g.down, dOut, h, w.down, rows, C, F)
	// h = silu(gate) ⊙ up
	d.Zero(dgate)
	d.Zero(dup)
	d.SwiGLUBackward(dgate, dup, dh, gate, up, rows*F)
	// gate, up = x·Wgᵀ, x·Wuᵀ
	p.linearBackward(dx, g.gate, dgate, x, w.gate, rows, F, C)
	p.linearBackward(dx, g.up, dup, x, w.up, rows, F, C)
}
