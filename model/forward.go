package model

// forward runs embedding → blocks → final norm for ids [B,T], leaving the
// final-norm output in a.lnf. With kv non-nil the new keys/values are
// appended to the cache and attention sees the cached positions too.
// mask is nil or [B,T] (no cache) / [B,P+T] (with cache).
func (m *Model) forward(a *acts, ids []int32, B, T int, kv *KVCache, mask []float32, training bool) {
	c, be := &m.Config, m.be
	N, C, HS := B*T, c.HiddenSize, c.HeadSize()
	NH, NKV := c.NumAttentionHeads, c.NumKeyValueHeads
	kvC := NKV * HS
	eps := float32(c.RMSNormEps)
	var past []int32 // per-row cached length (nil: none)
	if kv != nil {
		past = kv.Lens
	}
	m.lastN = N
	m.useHalf = m.half != nil && !training // hook: 16-bit weights in inference (half.go)
	pos := a.pos[:N]
	for i := range pos {
		pos[i] = int32(i % T)
		if past != nil {
			pos[i] += past[i/T]
		}
	}

	be.EmbeddingForward(a.layers[0].res[:N*C], ids, m.w.embed, N, C)
	for l := range a.layers {
		la, lw := &a.layers[l], &m.w.layers[l]
		x := la.res[:N*C]
		ln1, q, k, v := la.ln1[:N*C], la.q[:N*C], la.k[:N*kvC], la.v[:N*kvC]

		// h = x + Attn(RMSNorm_in(x))
		be.RMSNormForward(ln1, la.rstd1[:N], x, lw.inNorm, N, C, eps)
		m.linear(q, ln1, lw.wq, N, C, C, false)
		m.linear(k, ln1, lw.wk, N, kvC, C, false)
		m.linear(v, ln1, lw.wv, N, kvC, C, false)
		be.RoPEForward(q, pos, m.cos, m.sin, N, NH, HS)
		be.RoPEForward(k, pos, m.cos, m.sin, N, NKV, HS)
		keys, vals, S, msk := k, v, T, mask
		if kv != nil {
			kv.store(l, k, v, T)
			keys, vals, S = kv.K[l], kv.V[l], kv.S
			msk = kv.mask
		}
		att, mid := la.att[:N*C], la.mid[:N*C]
		be.AttentionForward(att, la.lse[:B*NH*T], q, keys, vals, msk, past, B, T, S, NH, NKV, HS)
		m.linear(mid, att, lw.wo, N, C, C, false)
		be.Add(mid, mid, x, N*C)

		// out = h + FFN(RMSNorm_post(h))
		ln2 := la.ln2[:N*C]
		be.RMSNormForward(ln2, la.rstd2[:N], mid, lw.postNorm, N, C, eps)
		next := a.final[:N*C]
		if l+1 < len(a.layers) {
			next = a.layers[l+1].res[:N*C]
		}
		if c.UseMoE {
			m.moeForward(la, lw, B, T, training)
			be.Add(next, mid, la.moe.out[:N*C], N*C)
		} else {
			m.ffnForward(&la.ffn, &lw.ffn, ln2, N, la.ffnOut[:N*C], false)
			be.Add(next, mid, la.ffnOut[:N*C], N*C)
		}
	}
	be.RMSNormForward(a.lnf[:N*C], a.rstdf[:N], a.final[:N*C], m.w.norm, N, C, eps)
	if kv != nil {
		for b := range kv.Lens {
			kv.Lens[b] += int32(T)
		}
	}
}

// ffnForward: out (=, or += when accumulate) down(silu(gate x) ⊙ up x) for
// x [rows,C], saving the intermediates in fa.
func (m *Model) ffnForward(fa *ffnActs, w *ffnW, x []float32, rows int, out []float32, accumulate bool) {
	be, C, F := m.be, m.Config.HiddenSize, m.Config.IntermediateSize
	gate, up, h := fa.gate[:rows*F], fa.up[:rows*F], fa.h[:rows*F]
	m.linear(gate, x, w.gate, rows, F, C, false)
	m.linear(up, x, w.up, rows, F, C, false)
	be.SwiGLUForward(h, gate, up, rows*F)
	m.linear(out, h, w.down, rows, C, F, accumulate)
}

// project applies the tied LM head to the final-norm output: every row
// (keep 0) or the last keep positions of each sequence.
func (m *Model) project(a *acts, B, T, keep int) []float32 {
	C, V := m.Config.HiddenSize, m.Config.VocabSize
	if keep <= 0 || keep >= T {
		N := B * T
		m.linear(a.logits[:N*V], a.lnf[:N*C], m.w.embed, N, V, C, false)
		m.lastKeep = N
		return a.logits[:N*V]
	}
	rows := a.keepRows[:B*keep]
	for b := 0; b < B; b++ {
		for j := 0; j < keep; j++ {
			rows[b*keep+j] = int32(b*T + T - keep + j)
		}
	}
	n := B * keep
	m.be.Gather(a.keepBuf[:n*C], a.lnf, rows, nil, n, C)
	m.linear(a.logits[:n*V], a.keepBuf[:n*C], m.w.embed, n, V, C, false)
	m.lastKeep = n
	return a.logits[:n*V]
}

// loss computes logits for every row, the per-token cross-entropy and the
// masked mean, and prepares dLoss = scale·mask/Σmask for backward.
func (m *Model) loss(a *acts, targets []int32, lossMask []float32, N int, scale float32) Stats {
	V := m.Config.VocabSize
	logits := m.project(a, 1, N, 0)
	m.be.CrossEntropyForward(a.losses[:N], logits, targets, N, V)
	var sum, msum float64
	for i := 0; i < N; i++ {
		if targets[i] < 0 {
			continue
		}
		sum += float64(a.losses[i]) * float64(lossMask[i])
		msum += float64(lossMask[i])
	}
	st := Stats{Tokens: msum}
	if msum > 0 {
		st.CE = sum / msum
	}
	for i := 0; i < N; i++ {
		a.dLoss[i] = 0
		if msum > 0 && targets[i] >= 0 {
			a.dLoss[i] = float32(float64(scale) * float64(lossMask[i]) / msum)
		}
	}
	for l := range a.layers {
		if mo := a.layers[l].moe; mo != nil {
			st.Aux += mo.aux
		}
	}
	st.Loss = st.CE + st.Aux
	return st
}
