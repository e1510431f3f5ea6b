package devmodel

import (
	"fmt"

	"github.com/minimind-go/minimind/model"
)

// moeForward mirrors model.moeForward on the device. The grouping is a
// device kernel; only the E+1 group offsets come down (the expert GEMMs'
// sizes are host arguments), one small synchronising copy per MoE layer.
func (p *pass) moeForward(L *layer, l int) error {
	c, d := &p.Config, p.dev
	N, C, F := p.N, c.HiddenSize, c.ExpertSize()
	E, K := c.Experts(), c.NumExpertsPerTok
	NK := N * K
	mo, lw, x := L.moe, L.w, L.ln

	d.MatMul(mo.logits, x, lw.router, N, E, C, false, true, false)
	d.MoERoute(mo.probs, mo.topW, mo.topIdx, mo.logits, N, E, K, c.NormTopkProb)
	if unitWeight(c) {
		d.Fill(mo.topW.Slice(0, NK), 1)
	}
	d.MoEGroup(mo.off, mo.tok, mo.slot, mo.inv, mo.wSel, mo.topIdx, mo.topW, NK, K, E)
	if err := p.downloadOffsets(mo); err != nil {
		return err
	}
	off := mo.offHost

	d.Gather(mo.xg, x, mo.tok, Buf{}, NK, C)
	for e := 0; e < E; e++ {
		lo, hi := off[e], off[e+1]
		if lo == hi {
			continue
		}
		ex := ffnActs{gate: mo.ex.gate.Slice(lo*F, hi*F), up: mo.ex.up.Slice(lo*F, hi*F), h: mo.ex.h.Slice(lo*F, hi*F)}
		p.ffnForward(&ex, &lw.experts[e], mo.xg.Slice(lo*C, hi*C), hi-lo, mo.y.Slice(lo*C, hi*C), false)
	}
	out := L.out
	d.Zero(out)
	d.MoECombine(out, mo.y, mo.inv, mo.wSel, N, K, C) // ScatterAdd(out, y, tok, wSel, NK, C)
	for s := range lw.shared {
		p.ffnForward(&mo.shared[s], &lw.shared[s], x, N, out, true)
	}
	if p.training && c.AuxCoef() > 0 {
		groups, per, kdiv := p.balanceGroups()
		d.MoEBalance(p.a.scalars.Slice(1+l, 2+l), mo.counts, mo.probs, mo.topIdx, E, K, groups, per, kdiv, c.AuxCoef())
	}
	return nil
}

// downloadOffsets brings the group offsets to the host and checks them: a
// corrupt offset would make the expert GEMMs read out of range.
func (p *pass) downloadOffsets(mo *moeActs) error {
	E, NK := p.Config.Experts(), p.N*p.Config.NumExpertsPerTok
	tmp := make([]int32, E+1)
	if err := p.dev.DownloadInts(tmp, mo.off); err != nil {
		return fmt.Errorf("devmodel: download MoE group offsets: %w", err)
	}
	for e := range tmp {
		mo.offHost[e] = int(tmp[e])
		if tmp[e] < 0 || int(tmp[e]) > NK || (e > 0 && tmp[e] < tmp[e-1]) {
			return fmt.Errorf("devmodel: MoE group offsets %v are not a partition of %d rows (device fault)", tmp, NK)
		}
	}
	if mo.offHost[E] != NK {
		return fmt.Errorf("devmodel: MoE group offsets %v do not cover %d rows (device fault)", tmp, NK)
	}
	return nil
}

// unitWeight is model's: minimind-3's top-1 routing with norm_topk_prob.
func unitWeight(c *model.Config) bool {
	return c.IsMiniMind3() && c.NormTopkProb && c.NumExpertsPerTok == 1
}

// balanceGroups is model's: how the balance loss groups the N tokens.
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

// moeBackward mirrors model.moeBackward.
func (p *pass) moeBackward(L *layer, scale float32) {
	c, d, a := &p.Config, p.dev, p.a
	N, C := p.N, c.HiddenSize
	E, K := c.Experts(), c.NumExpertsPerTok
	NK := N * K
	mo, lw, lg := L.moe, L.w, L.g
	x, dOut, dx := L.ln, a.dres.Slice(0, N*C), a.dln.Slice(0, N*C)

	for s := range lw.shared {
		p.ffnBackward(&mo.shared[s], &lw.shared[s], &lg.shared[s], x, dOut, dx, N)
	}
	dy, dwSel, dxg := a.dy.Slice(0, NK*C), a.dwSel.Slice(0, NK), a.dxg.Slice(0, NK*C)
	d.Gather(dy, dOut, mo.tok, mo.wSel, NK, C)
	d.Zero(dwSel)
	d.RowDot(dwSel, dOut, mo.tok, mo.y, NK, C)
	d.Zero(dxg)
	d.Gather(mo.xg.Slice(0, NK*C), x, mo.tok, Buf{}, NK, C)
	F := c.ExpertSize()
	off := mo.offHost
	for e := 0; e < E; e++ {
		lo, hi := off[e], off[e+1]
		if lo == hi {
			continue
		}
		ex := ffnActs{gate: mo.ex.gate.Slice(lo*F, hi*F), up: mo.ex.up.Slice(lo*F, hi*F), h: mo.ex.h.Slice(lo*F, hi*F)}
		p.ffnBackward(&ex, &lw.experts[e], &lg.experts[e], mo.xg.Slice(lo*C, hi*C), dy.Slice(lo*C, hi*C), dxg.Slice(lo*C, hi*C), hi-lo)
	}
	d.MoECombine(dx, dxg, mo.inv, Buf{}, N, K, C) // ScatterAdd(dx, dxg, tok, nil, NK, C)

	dTopW := a.dTopW.Slice(0, NK)
	d.IndexSet(dTopW, dwSel, mo.slot, NK)
	if unitWeight(c) {
		d.Zero(dTopW)
	}
	dProbs := a.dProbs.Slice(0, N*E)
	d.Zero(dProbs)
	if c.AuxCoef() > 0 {
		groups, per, _ := p.balanceGroups()
		k := float64(scale) * c.AuxCoef() / float64(groups) / float64(per)
		d.MoEBalanceGrad(dProbs, mo.counts, N, E, per, k)
	}
	dLogits := a.dLogitR.Slice(0, N*E)
	d.Zero(dLogits)
	d.MoERouteBackward(dLogits, dTopW, dProbs, mo.probs, mo.topW, mo.topIdx, N, E, K, c.NormTopkProb)
	p.linearBackward(dx, lg.router, dLogits, x, lw.router, N, E, C)
}
