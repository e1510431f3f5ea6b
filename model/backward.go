package model

// backward mirrors forward (read the two side by side): it turns dLoss
// (prepared by loss) into gradients ADDED to m.Grads.
func (m *Model) backward(a *acts, ids, targets []int32, B, T int, scale float32) {
	c, be := &m.Config, m.be
	N, C, HS, V := B*T, c.HiddenSize, c.HeadSize(), c.VocabSize
	NH, NKV := c.NumAttentionHeads, c.NumKeyValueHeads
	kvC := NKV * HS
	pos := a.pos[:N]
	dres, dln := a.dres[:N*C], a.dln[:N*C]

	// logits = lnf·Eᵀ; loss = CE(logits). The logits buffer becomes dlogits.
	dlogits := a.logits[:N*V]
	be.CrossEntropyBackward(dlogits, dlogits, targets, a.dLoss[:N], N, V)
	be.MatMul(m.g.embed, dlogits, a.lnf[:N*C], V, C, N, true, false, true)
	be.MatMul(dln, dlogits, m.w.embed, N, C, V, false, false, false)
	// lnf = RMSNorm_final(final)
	be.Zero(dres)
	be.RMSNormBackward(dres, m.g.norm, dln, a.final[:N*C], m.w.norm, a.rstdf[:N], N, C)

	eps := float32(c.RMSNormEps)
	for l := len(a.layers) - 1; l >= 0; l-- {
		la, lw, lg := &a.layers[l], &m.w.layers[l], &m.g.layers[l]
		ln1, ln2, mid := la.ln1[:N*C], la.ln2[:N*C], la.mid[:N*C]
		// ln2 is not kept per layer (acts.go): recompute it. Same kernel,
		// same input, so the values (and rstd2) are bit-identical.
		be.RMSNormForward(ln2, la.rstd2[:N], mid, lw.postNorm, N, C, eps)

		// out = mid + FFN(ln2): dres is d(out); the residual passes through.
		be.Zero(dln)
		if c.UseMoE {
			m.moeBackward(a, la, lw, lg, B, T, scale)
		} else {
			m.ffnBackward(a, &la.ffn, &lw.ffn, &lg.ffn, ln2, dres, dln, N)
		}
		// ln2 = RMSNorm_post(mid): dres becomes d(mid).
		be.RMSNormBackward(dres, lg.postNorm, dln, mid, lw.postNorm, la.rstd2[:N], N, C)

		// mid = x + att·Woᵀ
		datt := a.datt[:N*C]
		be.MatMul(datt, dres, lw.wo, N, C, C, false, false, false)
		be.MatMul(lg.wo, dres, la.att[:N*C], C, C, N, true, false, true)
		// att = Attention(q, k, v)
		dq, dk, dv := a.dq[:N*C], a.dk[:N*kvC], a.dv[:N*kvC]
		be.Zero(dq)
		be.Zero(dk)
		be.Zero(dv)
		be.AttentionBackward(dq, dk, dv, datt, la.att[:N*C], la.lse[:B*NH*T], la.q[:N*C], la.k[:N*kvC], la.v[:N*kvC], nil, B, T, NH, NKV, HS)
		// q, k = RoPE(q, k)
		be.RoPEBackward(dq, pos, m.cos, m.sin, N, NH, HS)
		be.RoPEBackward(dk, pos, m.cos, m.sin, N, NKV, HS)
		// q, k, v = ln1·W{q,k,v}ᵀ; ln1 recomputed (it shares ln2's buffer).
		be.RMSNormForward(ln1, la.rstd1[:N], la.res[:N*C], lw.inNorm, N, C, eps)
		be.MatMul(dln, dq, lw.wq, N, C, C, false, false, false)
		be.MatMul(dln, dk, lw.wk, N, C, kvC, false, false, true)
		be.MatMul(dln, dv, lw.wv, N, C, kvC, false, false, true)
		be.MatMul(lg.wq, dq, ln1, C, C, N, true, false, true)
		be.MatMul(lg.wk, dk, ln1, kvC, C, N, true, false, true)
		be.MatMul(lg.wv, dv, ln1, kvC, C, N, true, false, true)
		// ln1 = RMSNorm_in(x): dres becomes d(x), the previous block's d(out).
		be.RMSNormBackward(dres, lg.inNorm, dln, la.res[:N*C], lw.inNorm, la.rstd1[:N], N, C)
	}
	// x0 = E[ids]
	be.EmbeddingBackward(m.g.embed, ids, dres, N, C)
}

// ffnBackward: given dOut [rows,C] of out = down(silu(gate x) ⊙ up x),
// adds to dx [rows,C] and to the FFN's weight gradients g.
func (m *Model) ffnBackward(a *acts, fa *ffnActs, w, g *ffnW, x, dOut, dx []float32, rows int) {
	be, C, F := m.be, m.Config.HiddenSize, m.Config.IntermediateSize
	dgate, dup, dh := a.dffn.gate[:rows*F], a.dffn.up[:rows*F], a.dffn.h[:rows*F]
	// out = h·Wdᵀ. h is not kept (acts.go): recompute it in dgate's buffer,
	// which is free until SwiGLUBackward.
	be.MatMul(dh, dOut, w.down, rows, F, C, false, false, false)
	h := dgate
	be.SwiGLUForward(h, fa.gate[:rows*F], fa.up[:rows*F], rows*F)
	be.MatMul(g.down, dOut, h, C, F, rows, true, false, true)
	// h = silu(gate) ⊙ up
	be.Zero(dgate)
	be.Zero(dup)
	be.SwiGLUBackward(dgate, dup, dh, fa.gate[:rows*F], fa.up[:rows*F], rows*F)
	// gate = x·Wgᵀ, up = x·Wuᵀ
	be.MatMul(dx, dgate, w.gate, rows, C, F, false, false, true)
	be.MatMul(dx, dup, w.up, rows, C, F, false, false, true)
	be.MatMul(g.gate, dgate, x, F, C, rows, true, false, true)
	be.MatMul(g.up, dup, x, F, C, rows, true, false, true)
}
