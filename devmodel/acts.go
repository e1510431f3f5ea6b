package devmodel

import "github.com/minimind-go/minimind/model"

// The activation table mirrors model/acts.go: per-layer tensors that
// backward needs, shared scratch for what it recomputes (both RMSNorm
// outputs, the SwiGLU product, the MoE's gathered inputs), and backward
// scratch shared by all layers. It is allocated once for the largest
// batch (maxB sequences, maxN rows) on the device.

type ffnActs struct{ gate, up, h Buf }

type moeActs struct {
	logits, probs Buf // [N,E]
	topW          Buf // [N,K]
	topIdx        Ints
	tok, slot     Ints // [N*K] grouped by expert
	inv           Ints // [N*K] each (token, slot) pair's grouped row
	wSel          Buf
	off           Ints  // [E+1] on the device
	offHost       []int // its copy: expert GEMM sizes are host arguments
	xg            Buf   // shared by all layers
	ex            ffnActs
	y             Buf
	shared        []ffnActs
	counts        F64 // [maxB, E]
}

type layerActs struct {
	res, rstd1   Buf
	q, k, v      Buf
	qr, kr       Buf // minimind-3
	rstdq, rstdk Buf
	att, lse     Buf
	mid, rstd2   Buf
	ffn          ffnActs
	moe          *moeActs
}

type acts struct {
	maxN, maxB int
	layers     []layerActs
	ln, out    Buf
	final, lnf Buf
	rstdf      Buf
	logits     Buf
	losses     Buf
	dLoss      Buf
	pos        Ints
	ids, tgt   Ints // the step's token ids and targets, uploaded
	mask       Buf  // the step's loss mask, uploaded
	// The positions sorted by token for the embedding gradient (training):
	// [order N | segment starts nseg+1 | tokens nseg], built on the host.
	embSort  Ints
	hostSort []int32
	nseg     int
	// Backward scratch (training only).
	dres, dln       Buf
	dq, datt        Buf
	dk, dv          Buf
	dqr, dkr        Buf
	dffn            ffnActs
	dxg, dy         Buf
	dwSel           Buf
	dTopW           Buf
	dProbs, dLogitR Buf
	// scalars: [0] the CE sum, [1+l] layer l's balance loss.
	scalars F64
	host    []float64
	bytes   int64
}

// allocator allocates on a device and remembers the first error, so the
// table reads as a list (the error is returned once at the end). With no
// device it only counts bytes (estimateActs).
type allocator struct {
	dev   Device
	err   error
	bytes int64
}

func (a *allocator) f(n int) Buf {
	if a.err != nil || a.dev == nil {
		a.bytes += 4 * int64(n)
		return Buf{}
	}
	b, err := a.dev.Alloc(n)
	a.err, a.bytes = err, a.bytes+4*int64(n)
	return b
}

func (a *allocator) i(n int) Ints {
	if a.err != nil || a.dev == nil {
		a.bytes += 4 * int64(n)
		return Ints{}
	}
	b, err := a.dev.AllocInts(n)
	a.err, a.bytes = err, a.bytes+4*int64(n)
	return b
}

func (a *allocator) d(n int) F64 {
	if a.err != nil || a.dev == nil {
		a.bytes += 8 * int64(n)
		return F64{}
	}
	b, err := a.dev.AllocF64(n)
	a.err, a.bytes = err, a.bytes+8*int64(n)
	return b
}

func newActs(dev Device, c *model.Config, maxB, maxN int, training bool) (*acts, error) {
	al := &allocator{dev: dev}
	f, ints := al.f, al.i
	C, F, V := c.HiddenSize, c.IntermediateSize, c.VocabSize
	Fe := c.ExpertSize()
	kvC, qC := c.NumKeyValueHeads*c.HeadSize(), c.QDim()
	NK := maxN * c.NumExpertsPerTok
	E := c.Experts()
	hLen := maxN * F
	var xg Buf
	if c.UseMoE {
		hLen = NK * Fe
		if c.SharedExperts() > 0 {
			hLen = max(hLen, maxN*F)
		}
		xg = f(NK * C)
	}
	h := f(hLen)
	ffn := func(rows, F int) ffnActs {
		return ffnActs{gate: f(rows * F), up: f(rows * F), h: h.Slice(0, min(h.Len(), rows*F))}
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
			logits: f(maxN * E), probs: f(maxN * E), topW: f(NK), topIdx: ints(NK),
			tok: ints(NK), slot: ints(NK), inv: ints(NK), wSel: f(NK), off: ints(E + 1), offHost: make([]int, E+1),
			xg: xg, ex: ffn(NK, Fe), y: f(NK * C), counts: al.d(maxB * E),
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
	a.pos, a.ids, a.tgt, a.mask = ints(maxN), ints(maxN), ints(maxN), f(maxN)
	a.scalars = al.d(1 + c.NumHiddenLayers)
	a.host = make([]float64, 1+c.NumHiddenLayers)
	if training {
		a.embSort, a.hostSort = ints(3*maxN+1), make([]int32, 3*maxN+1)
		a.dres, a.dln = f(maxN*C), f(maxN*C)
		a.dq, a.datt = f(maxN*qC), f(maxN*qC)
		a.dk, a.dv = f(maxN*kvC), f(maxN*kvC)
		if c.IsMiniMind3() {
			a.dqr, a.dkr = f(maxN*qC), f(maxN*kvC)
		}
		n := maxN * F
		if c.UseMoE {
			n = NK * Fe
			if c.SharedExperts() > 0 {
				n = max(n, maxN*F)
			}
			a.dxg, a.dy, a.dwSel = f(NK*C), f(NK*C), f(NK)
			a.dTopW, a.dProbs, a.dLogitR = f(NK), f(maxN*E), f(maxN*E)
		}
		a.dffn = ffnActs{gate: f(n), up: f(n), h: f(n)}
	}
	a.bytes = al.bytes
	return a, al.err
}
