package model

// moeForward runs the Mixture-of-Experts FFN on L.ln into L.out
// (SPEC §2.5): softmax router, top-k, renormalised weights, every routed
// expert run once on the group of tokens sent to it (large GEMMs, as the
// original's eval path), weighted scatter-add, then shared experts. In
// training mode it also computes the balance loss.
func (p *pass) moeForward(L *layer) {
	c, be := &p.Config, p.be
	N, C, F := p.N, c.HiddenSize, c.ExpertSize()
	E, K := c.Experts(), c.NumExpertsPerTok
	NK := N * K
	mo, lw, lw16, lw8, x := L.moe, L.w, L.w16, L.w8, L.ln

	// The router multiplies by float32 weights in every mode (no 16- or
	// 8-bit copy): its top-k choice can flip on small changes of the logits.
	p.linear(mo.logits[:N*E], x, lw.router, nil, nil, N, E, C, false)
	be.MoERoute(mo.probs[:N*E], mo.topW[:NK], mo.topIdx[:NK], mo.logits[:N*E], N, E, K, c.NormTopkProb)
	if unitWeight(c) {
		// minimind-3 normalises a single weight too: p/(p+1e-20) is 1.0
		// exactly in float32 (p ≥ 1/E), so the expert output is added
		// unscaled.
		for j := range mo.topW[:NK] {
			mo.topW[j] = 1
		}
	}

	// Group the N·K (token, slot) pairs by expert, tokens in order.
	off := mo.off
	clear(off)
	for _, e := range mo.topIdx[:NK] {
		off[e+1]++
	}
	for e := 0; e < E; e++ {
		off[e+1] += off[e]
	}
	for j := 0; j < NK; j++ { // stable counting sort
		e := mo.topIdx[j]
		dst := off[e]
		off[e]++
		mo.tok[dst] = int32(j / K)
		mo.slot[dst] = int32(j)
		mo.wSel[dst] = mo.topW[j]
	}
	copy(off[1:], off[:E])
	off[0] = 0

	be.Gather(mo.xg[:NK*C], x, mo.tok[:NK], nil, NK, C)
	for e := 0; e < E; e++ {
		lo, hi := off[e], off[e+1]
		if lo == hi {
			continue
		}
		ex := ffnActs{gate: mo.ex.gate[lo*F : hi*F], up: mo.ex.up[lo*F : hi*F], h: mo.ex.h[lo*F : hi*F]}
		p.ffnForward(&ex, &lw.experts[e], &lw16.experts[e], &lw8.experts[e], mo.xg[lo*C:hi*C], hi-lo, mo.y[lo*C:hi*C], false)
	}
	out := L.out
	be.Zero(out)
	be.ScatterAdd(out, mo.y[:NK*C], mo.tok[:NK], mo.wSel[:NK], NK, C)
	for s := range lw.shared {
		p.ffnForward(&mo.shared[s], &lw.shared[s], &lw16.shared[s], &lw8.shared[s], x, N, out, true)
	}

	mo.aux = 0
	if p.training && c.AuxCoef() > 0 {
		mo.aux = p.balanceLoss(mo)
	}
}

// unitWeight reports minimind-3's top-1 routing with norm_topk_prob: the
// routing weight p/(p+1e-20) is exactly 1 and passes (practically) no
// gradient to the router (only the balance loss does).
func unitWeight(c *Config) bool {
	return c.IsMiniMind3() && c.NormTopkProb && c.NumExpertsPerTok == 1
}

// balanceGroups returns how the balance loss groups the N tokens: groups
// of per tokens (sequences with seq_aux, else one group of all tokens) and
// the count normaliser (MiniMind2 divides by K, minimind-3 does not).
func (p *pass) balanceGroups() (groups, per, kdiv int) {
	c := &p.Config
	if c.IsMiniMind3() {
		return 1, p.N, 1
	}
	if c.SeqAux {
		return p.B, p.T, c.NumExpertsPerTok
	}
	return 1, p.N, c.NumExpertsPerTok
}

// balanceLoss computes the load-balance loss and keeps, in mo.counts, the
// normalised assignment counts its gradient needs (they are constants for
// autograd; only the mean probabilities carry gradient).
//
//	seq_aux:    c[b,e] = count_b(e)·E/(T·K), aux = α·mean_b Σ_e c[b,e]·mean_t p[b,t,e]
//	else:       f[e]   = count(e)·E/(N·K),   aux = α·Σ_e f[e]·mean_n p[n,e]
//	minimind-3: f[e]   = count(e)·E/N,       aux = coef·Σ_e f[e]·mean_n p[n,e]
func (p *pass) balanceLoss(mo *moeActs) float64 {
	c, N := &p.Config, p.N
	E, K := c.Experts(), c.NumExpertsPerTok
	groups, per, kdiv := p.balanceGroups()
	counts := mo.counts[:groups*E]
	clear(counts)
	for j, e := range mo.topIdx[:N*K] {
		g := j / K / per
		counts[g*E+int(e)]++
	}
	var aux float64
	for g := 0; g < groups; g++ {
		for e := 0; e < E; e++ {
			counts[g*E+e] *= float64(E) / float64(per*kdiv)
			var pm float64
			for t := 0; t < per; t++ {
				pm += float64(mo.probs[(g*per+t)*E+e])
			}
			aux += counts[g*E+e] * pm / float64(per)
		}
	}
	return c.AuxCoef() * aux / float64(groups)
}

// moeBackward mirrors moeForward: a.dres is d(out) of out = MoE(ln)
// (backward's dres); it writes d(ln) to a.dln and adds the layer's MoE
// weight gradients to L.g.
func (p *pass) moeBackward(L *layer, scale float32) {
	c, be, a := &p.Config, p.be, p.a
	N, C := p.N, c.HiddenSize
	E, K := c.Experts(), c.NumExpertsPerTok
	NK := N * K
	mo, lw, lg := L.moe, L.w, L.g
	x, dOut, dx := L.ln, a.dres[:N*C], a.dln[:N*C]

	// out += shared(x): shared experts see every token with weight 1.
	// The first contribution to dx writes it (backward's dln holds the
	// previous norm's gradient until then).
	fresh := true
	for s := range lw.shared {
		p.ffnBackward(&mo.shared[s], &lw.shared[s], &lg.shared[s], x, dOut, dx, N, !fresh)
		fresh = false
	}
	if fresh {
		be.Zero(dx)
	}

	// out[tok[j]] += wSel[j]·y[j]: dy[j] = wSel[j]·dOut[tok[j]], dw[j] = dOut[tok[j]]·y[j].
	dy, dwSel, dxg := a.dy[:NK*C], a.dwSel[:NK], a.dxg[:NK*C]
	be.Gather(dy, dOut, mo.tok[:NK], mo.wSel[:NK], NK, C)
	be.Zero(dwSel)
	be.RowDot(dwSel, dOut, mo.tok[:NK], mo.y[:NK*C], NK, C)
	// xg is shared by all layers (acts.go): gather this layer's again.
	be.Gather(mo.xg[:NK*C], x, mo.tok[:NK], nil, NK, C)
	F := c.ExpertSize()
	for e := 0; e < E; e++ {
		lo, hi := mo.off[e], mo.off[e+1]
		if lo == hi {
			continue
		}
		ex := ffnActs{gate: mo.ex.gate[lo*F : hi*F], up: mo.ex.up[lo*F : hi*F], h: mo.ex.h[lo*F : hi*F]}
		// The experts' row groups tile dxg: each writes its own.
		p.ffnBackward(&ex, &lw.experts[e], &lg.experts[e], mo.xg[lo*C:hi*C], dy[lo*C:hi*C], dxg[lo*C:hi*C], hi-lo, false)
	}
	// xg[j] = x[tok[j]]
	be.ScatterAdd(dx, dxg, mo.tok[:NK], nil, NK, C)

	// Routing weights and balance loss → router probabilities → logits.
	dTopW := a.dTopW[:NK]
	for j := 0; j < NK; j++ {
		dTopW[mo.slot[j]] = dwSel[j]
	}
	if unitWeight(c) {
		// w = p/(p+1e-20): dw/dp = 1e-20/(p+1e-20)² is 0 in float32.
		clear(dTopW)
	}
	dProbs := a.dProbs[:N*E]
	be.Zero(dProbs)
	if c.AuxCoef() > 0 { // forward filled mo.counts
		groups, per, _ := p.balanceGroups()
		k := float64(scale) * c.AuxCoef() / float64(groups) / float64(per)
		for n := 0; n < N; n++ {
			g := n / per
			for e := 0; e < E; e++ {
				dProbs[n*E+e] = float32(k * mo.counts[g*E+e])
			}
		}
	}
	dLogits := a.dLogitR[:N*E]
	be.Zero(dLogits)
	be.MoERouteBackward(dLogits, dTopW, dProbs, mo.probs[:N*E], mo.topW[:NK], mo.topIdx[:NK], N, E, K, c.NormTopkProb)
	// logits = x·Wrᵀ
	p.linearBackward(dx, lg.router, dLogits, x, lw.router, N, E, C, true)
}
