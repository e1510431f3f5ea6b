package model

// ffnActs saves one SwiGLU FFN's intermediates for rows it processed.
type ffnActs struct {
	gate, up []float32 // [rows, F]
	h        []float32 // [rows, F] silu(gate)·up: shared by all layers, recomputed in backward
}

// moeActs saves one MoE layer's routing and expert intermediates.
type moeActs struct {
	logits, probs []float32 // [N,E] router logits and softmax
	topW          []float32 // [N,K] routing weights
	topIdx        []int32   // [N,K] chosen experts
	// Token-slot assignments grouped by expert: grouped row j is token
	// tok[j], slot slot[j] (= n*K+s), weight wSel[j]; expert e owns rows
	// [off[e], off[e+1]).
	tok, slot []int32
	wSel      []float32
	off       []int
	xg        []float32 // [N*K, C] gathered expert inputs (shared by all layers, re-gathered in backward)
	ex        ffnActs   // [N*K, F] expert intermediates (grouped rows)
	y         []float32 // [N*K, C] expert outputs before weighting
	shared    []ffnActs // [N, F] per shared expert
	aux       float64   // this layer's balance loss
	counts    []float64 // [B or 1, E] assignment counts for the balance loss
}

// layerActs saves what one decoder block's backward pass needs.
type layerActs struct {
	res   []float32 // [N,C] block input (residual stream)
	rstd1 []float32 // [N] input_layernorm
	q     []float32 // [N, NH*HS] after RoPE
	k, v  []float32 // [N, NKV*HS] (k after RoPE)
	// minimind-3's q/k RMSNorm: the projections before it and its rstd
	// (nil in MiniMind2).
	qr, kr       []float32 // [N, NH*HS], [N, NKV*HS]
	rstdq, rstdk []float32 // [N*NH], [N*NKV]
	att          []float32 // [N,C] attention output before o_proj
	lse          []float32 // [B,NH,T]
	mid          []float32 // [N,C] residual after attention
	rstd2        []float32 // [N] post_attention_layernorm
	ffn          ffnActs   // dense FFN [N,F]
	moe          *moeActs
}

// acts is every activation for up to maxN = B*T rows, allocated once.
// In inference mode all layers share one set of buffers (nothing is kept
// for a backward pass).
type acts struct {
	maxN, maxB int
	n          int // rows of the last forward pass (FinalHidden, TokenLosses)
	layers     []layerActs
	// Scratch shared by every block (newActs says why): the output of
	// both RMSNorms, which backward recomputes, and the FFN/MoE output,
	// which forward adds into the residual stream at once.
	ln, out []float32 // [N,C]

	final    []float32 // [N,C] output of the last block
	lnf      []float32 // [N,C] final norm output
	rstdf    []float32 // [N]
	logits   []float32 // [N,V]
	losses   []float32 // [N]
	dLoss    []float32 // [N]
	pos      []int32   // [N]
	keepRows []int32   // [N] rows whose logits are kept
	keepBuf  []float32 // [N,C] gathered final-norm rows for logits_to_keep

	// Backward scratch, shared by all layers.
	dres, dln       []float32 // [N,C]
	dq, datt        []float32 // [N, NH*HS]
	dk, dv          []float32 // [N, NKV*HS]
	dqr, dkr        []float32 // minimind-3: d(q, k before their RMSNorm)
	dffn            ffnActs   // [max(N, N*K), F]: dgate, dup, dh
	dxg, dy         []float32 // [N*K, C]
	dwSel           []float32 // [N*K]
	dTopW           []float32 // [N,K]
	dProbs, dLogitR []float32 // [N,E]
}

func newFFNActs(rows, F int) ffnActs {
	return ffnActs{gate: make([]float32, rows*F), up: make([]float32, rows*F), h: make([]float32, rows*F)}
}

// newActs allocates activations for maxN rows (maxB sequences). training
// keeps a separate set per layer plus the backward scratch.
//
// What is cheap to recompute is not kept per layer: the output of both
// RMSNorms (a.ln: one pass over the norm's input with the saved rstd), the
// SwiGLU product h (one pass over gate and up), the FFN/MoE output (a.out:
// added into the residual stream at once) and the MoE's gathered expert
// inputs (a gather from the norm output). All layers share one buffer for
// each, forward writes it just
// before use, and backward recomputes it where it needs it (backward.go):
// for the default model at batch 8 × 512 that saves about 400 MB of the
// 1.3 GB, for the price of one extra element-wise pass per recomputed
// value (about 1% of the step).
func newActs(c *Config, maxB, maxN int, training bool) *acts {
	C, F, V := c.HiddenSize, c.IntermediateSize, c.VocabSize
	Fe := c.ExpertSize()
	kvC, qC := c.NumKeyValueHeads*c.HeadSize(), c.QDim()
	NK := maxN * c.NumExpertsPerTok
	E := c.Experts()
	f := func(n int) []float32 { return make([]float32, n) }
	// h and xg are shared by all layers (see above), as ln and out are.
	hLen := maxN * F
	var xg []float32
	if c.UseMoE {
		hLen = NK * Fe
		if c.SharedExperts() > 0 {
			hLen = max(hLen, maxN*F)
		}
		xg = f(NK * C)
	}
	h := f(hLen)
	ffn := func(rows, F int) ffnActs {
		return ffnActs{gate: f(rows * F), up: f(rows * F), h: h[:rows*F]}
	}
	newLayer := func() layerActs {
		la := layerActs{
			res: f(maxN * C), rstd1: f(maxN),
			q: f(maxN * qC), k: f(maxN * kvC), v: f(maxN * kvC),
			att: f(maxN * qC), lse: f(maxN * c.NumAttentionHeads),
			mid: f(maxN * C), rstd2: f(maxN),
		}
		if c.IsMiniMind3() {
			la.qr, la.kr = f(maxN*qC), f(maxN*kvC)
			la.rstdq, la.rstdk = f(maxN*c.NumAttentionHeads), f(maxN*c.NumKeyValueHeads)
		}
		if !c.UseMoE {
			la.ffn = ffn(maxN, F)
			return la
		}
		m := &moeActs{
			logits: f(maxN * E), probs: f(maxN * E),
			topW: f(NK), topIdx: make([]int32, NK),
			tok: make([]int32, NK), slot: make([]int32, NK), wSel: f(NK), off: make([]int, E+1),
			xg: xg, ex: ffn(NK, Fe), y: f(NK * C),
			counts: make([]float64, maxB*E),
		}
		for s := 0; s < c.SharedExperts(); s++ {
			m.shared = append(m.shared, ffn(maxN, F))
		}
		la.moe = m
		return la
	}
	a := &acts{maxN: maxN, maxB: maxB, ln: f(maxN * C), out: f(maxN * C)}
	if training {
		for l := 0; l < c.NumHiddenLayers; l++ {
			a.layers = append(a.layers, newLayer())
		}
	} else {
		one := newLayer()
		for l := 0; l < c.NumHiddenLayers; l++ {
			a.layers = append(a.layers, one)
		}
	}
	a.final, a.lnf, a.rstdf = f(maxN*C), f(maxN*C), f(maxN)
	a.logits, a.losses, a.dLoss = f(maxN*V), f(maxN), f(maxN)
	a.pos, a.keepRows, a.keepBuf = make([]int32, maxN), make([]int32, maxN), f(maxN*C)
	if training {
		a.dres, a.dln = f(maxN*C), f(maxN*C)
		a.dq, a.datt = f(maxN*qC), f(maxN*qC)
		a.dk, a.dv = f(maxN*kvC), f(maxN*kvC)
		if c.IsMiniMind3() {
			a.dqr, a.dkr = f(maxN*qC), f(maxN*kvC)
		}
		// dffn holds any FFN's dgate, dup, dh: the dense one, the routed
		// experts' grouped rows or a shared expert.
		n := maxN * F
		if c.UseMoE {
			n = NK * Fe
			if c.SharedExperts() > 0 {
				n = max(n, maxN*F)
			}
			a.dxg, a.dy, a.dwSel = f(NK*C), f(NK*C), f(NK)
			a.dTopW, a.dProbs, a.dLogitR = f(NK), f(maxN*E), f(maxN*E)
		}
		a.dffn = newFFNActs(n, 1)
	}
	return a
}

// bytes reports the activation memory in bytes (float32 and int32 alike).
func (a *acts) bytes() int64 {
	var n int64
	// Buffers shared by several layers (or slices of one) count once, at
	// their longest.
	seen := map[*float32]int{}
	add := func(s []float32) {
		if len(s) > 0 && len(s) > seen[&s[0]] {
			n += int64(len(s)-seen[&s[0]]) * 4
			seen[&s[0]] = len(s)
		}
	}
	addF := func(f ffnActs) { add(f.gate); add(f.up); add(f.h) }
	for _, l := range a.layers {
		for _, s := range [][]float32{l.res, l.rstd1, l.q, l.k, l.v, l.att, l.lse, l.mid, l.rstd2, l.qr, l.kr, l.rstdq, l.rstdk} {
			add(s)
		}
		addF(l.ffn)
		if m := l.moe; m != nil {
			for _, s := range [][]float32{m.logits, m.probs, m.topW, m.wSel, m.xg, m.y} {
				add(s)
			}
			addF(m.ex)
			for _, s := range m.shared {
				addF(s)
			}
			n += int64(len(m.topIdx)+len(m.tok)+len(m.slot)) * 4
		}
	}
	for _, s := range [][]float32{a.ln, a.out, a.final, a.lnf, a.rstdf, a.logits, a.losses, a.dLoss, a.keepBuf, a.dres, a.dln, a.dq, a.datt, a.dk, a.dv, a.dqr, a.dkr, a.dxg, a.dy, a.dwSel, a.dTopW, a.dProbs, a.dLogitR} {
		add(s)
	}
	addF(a.dffn)
	return n
}
