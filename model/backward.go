package model

// backward mirrors forward: the same steps in reverse order, each under a
// comment quoting the forward step it undoes (read the two side by side).
// It turns dLoss (prepared by loss) into gradients ADDED to m.Grads.
//
// Scratch: dres carries d(residual stream) down the blocks; dln is
// d(RMSNorm output), written by the first of each norm's consumers
// (a product that overwrites: the bits of zeroing and adding) and added
// to by the others.
func (p *pass) backward(ids, targets []int32, scale float32) {
	be, a := p.be, p.a
	N, C, V := p.N, p.Config.HiddenSize, p.Config.VocabSize
	dln := a.dln[:N*C]

	// logits = lnf·Wᵀ (W = lm_head, the embedding when tied); loss =
	// CE(logits). The logits buffer becomes dlogits.
	// (ForwardBackwardLogits passes nil targets: dlogits is already there.)
	dlogits := a.logits[:N*V]
	if targets != nil {
		be.CrossEntropyBackward(dlogits, dlogits, targets, a.dLoss[:N], N, V)
	}
	p.linearBackward(dln, p.g.lmHead, dlogits, a.lnf[:N*C], p.w.lmHead, N, V, C, false)
	p.backwardFromNorm(ids, scale)
}

// backwardFromNorm continues backward from d(final-norm output) in a.dln
// (the critic's value head starts here, model/critic.go); scale weights
// only the MoE balance loss.
func (p *pass) backwardFromNorm(ids []int32, scale float32) {
	c, be, a := &p.Config, p.be, p.a
	B, T, N, C, HS := p.B, p.T, p.N, c.HiddenSize, c.HeadSize()
	NH, NKV := c.NumAttentionHeads, c.NumKeyValueHeads
	kvC, qC := NKV*HS, c.QDim()
	eps := float32(c.RMSNormEps)
	pos := a.pos[:N]
	dres, dln := a.dres[:N*C], a.dln[:N*C]
	datt, dq, dk, dv := a.datt[:N*qC], a.dq[:N*qC], a.dk[:N*kvC], a.dv[:N*kvC]
	// lnf = RMSNorm_final(final)
	be.Zero(dres)
	be.RMSNormBackward(dres, p.g.norm, dln, a.final[:N*C], p.w.norm, a.rstdf[:N], N, C)

	for l := len(a.layers) - 1; l >= 0; l-- {
		L := p.layer(l)
		// dres is d(next).
		// next = mid + FFN(RMSNorm_post(mid)): the residual passes dres
		// through; the FFN's input ln is not kept (acts.go), so recompute
		// it. Same kernel, same input: bit-identical values (and rstd2).
		be.RMSNormForward(L.ln, L.rstd2, L.mid, L.w.postNorm, N, C, eps)
		if c.UseMoE {
			p.moeBackward(&L, scale)
		} else {
			p.ffnBackward(&L.ffn, &L.w.ffn, &L.g.ffn, L.ln, dres, dln, N, false)
		}
		be.RMSNormBackward(dres, L.g.postNorm, dln, L.mid, L.w.postNorm, L.rstd2, N, C)

		// dres is d(mid).
		// mid = x + att·Woᵀ: the residual passes dres through.
		p.linearBackward(datt, L.g.wo, dres, L.att, L.w.wo, N, C, qC, false)
		// att = Attention(q, k, v)
		be.Zero(dq)
		be.Zero(dk)
		be.Zero(dv)
		be.AttentionBackward(dq, dk, dv, datt, L.att, L.lse, L.q, L.k, L.v, nil, B, T, NH, NKV, HS)
		// q, k = RoPE(q), RoPE(k)
		be.RoPEBackward(dq, pos, p.cos, p.sin, N, NH, HS)
		be.RoPEBackward(dk, pos, p.cos, p.sin, N, NKV, HS)
		// q, k, v = ln·Wqᵀ, ln·Wkᵀ, ln·Wvᵀ, with ln = RMSNorm_in(x)
		// recomputed as above.
		be.RMSNormForward(L.ln, L.rstd1, L.x, L.w.inNorm, N, C, eps)
		dqp, dkp := dq, dk // d(the projections' outputs)
		if L.qr != nil {
			// minimind-3: q, k = RMSNorm_q(qr), RMSNorm_k(kr) per head.
			dqr, dkr := a.dqr[:N*qC], a.dkr[:N*kvC]
			be.Zero(dqr)
			be.Zero(dkr)
			be.RMSNormBackward(dqr, L.g.qNorm, dq, L.qr, L.w.qNorm, L.rstdq, N*NH, HS)
			be.RMSNormBackward(dkr, L.g.kNorm, dk, L.kr, L.w.kNorm, L.rstdk, N*NKV, HS)
			dqp, dkp = dqr, dkr
		}
		p.linearBackward(dln, L.g.wq, dqp, L.ln, L.w.wq, N, qC, C, false)
		p.linearBackward(dln, L.g.wk, dkp, L.ln, L.w.wk, N, kvC, C, true)
		p.linearBackward(dln, L.g.wv, dv, L.ln, L.w.wv, N, kvC, C, true)
		be.RMSNormBackward(dres, L.g.inNorm, dln, L.x, L.w.inNorm, L.rstd1, N, C)
		// dres is d(x), the previous block's d(next).
	}
	// x = E[ids] (no gradient for a frozen base)
	if p.g.embed != nil {
		be.EmbeddingBackward(p.g.embed, ids, dres, N, C)
	}
}

// ffnBackward: given dOut [rows,C] of out = down(silu(gate x) ⊙ up x),
// adds to the FFN's weight gradients g and to dx [rows,C], or writes dx
// when accumulate is false.
func (p *pass) ffnBackward(fa *ffnActs, w, g *ffnW[float32], x, dOut, dx []float32, rows int, accumulate bool) {
	be, C := p.be, p.Config.HiddenSize
	F := len(w.gate) / C
	gate, up := fa.gate[:rows*F], fa.up[:rows*F]
	dgate, dup, dh := p.a.dffn.gate[:rows*F], p.a.dffn.up[:rows*F], p.a.dffn.h[:rows*F]
	if f, ok := be.(swigluRecomputer); ok && p.lora == nil {
		// The same steps as below in one SwiGLU pass: dh needs only dOut
		// (without a LoRA on down, which would need h first), then h
		// (into fa.h, the shared buffer forward used), dgate and dup are
		// written together, then dWd from h.
		h := fa.h[:rows*F]
		be.MatMul(dh, dOut, w.down, rows, F, C, false, false, false)
		f.SwiGLURecomputeBackward(h, dgate, dup, dh, gate, up, rows*F)
		if g.down != nil {
			be.MatMul(g.down, dOut, h, C, F, rows, true, false, true)
		}
	} else {
		// out = h·Wdᵀ. h is not kept (acts.go): recompute it in dgate's
		// buffer, which is free until SwiGLUBackward.
		h := dgate
		be.SwiGLUForward(h, gate, up, rows*F)
		p.linearBackward(dh, g.down, dOut, h, w.down, rows, C, F, false)
		// h = silu(gate) ⊙ up
		be.Zero(dgate)
		be.Zero(dup)
		be.SwiGLUBackward(dgate, dup, dh, gate, up, rows*F)
	}
	// gate, up = x·Wgᵀ, x·Wuᵀ
	p.linearBackward(dx, g.gate, dgate, x, w.gate, rows, F, C, accumulate)
	p.linearBackward(dx, g.up, dup, x, w.up, rows, F, C, true)
}

// swigluRecomputer is the optional fused SwiGLU backward (cpu.Backend has
// it): h = silu(gate)·up and dGate, dUp WRITTEN in one pass, the bits of
// SwiGLUForward(h, …); Zero(dGate); Zero(dUp); SwiGLUBackward(dGate, dUp, …).
type swigluRecomputer interface {
	SwiGLURecomputeBackward(h, dGate, dUp, dOut, gate, up []float32, n int)
}
