package model

// linear is the model's linear layer: out[rows,n] = x[rows,k]·w[n,k]ᵀ, or
// += when accumulate. An inference pass with 8-bit weights
// (SetInferenceDType "q8_0") multiplies by w8, w's Q8_0 copy, at any row
// count; one with 16-bit weights multiplies by w16, w's 16-bit copy, when
// there are at most halfMaxRows rows; otherwise, and when the copy is nil,
// by w.
func (p *pass) linear(out, x, w []float32, w16 []uint16, w8 []byte, rows, n, k int, accumulate bool) {
	if q := p.weights8; q != nil && w8 != nil {
		q.mm.MatMulQ8(out, x, w8, rows, n, k, accumulate)
	} else if h := p.weights16; h != nil && w16 != nil && rows <= halfMaxRows {
		h.mm.MatMulHalf(out, x, w16, rows, n, k, h.bf16, accumulate)
	} else {
		p.be.MatMul(out, x, w, rows, n, k, false, true, accumulate)
	}
	if p.lora != nil {
		p.loraForward(out, x, w, rows) // + s·(x·Aᵀ)·Bᵀ when w is wrapped (lora.go)
	}
}

// linearBackward mirrors linear (out = x·wᵀ, same rows, n, k): it adds
// dOutᵀ·x to dw[n,k] and dOut[rows,n]·w to dx[rows,k], or writes it there
// when accumulate is false: a scratch dx whose first contribution this is
// needs no zeroing pass (overwriting gives the bits of 0 + x).
// A frozen base (a LoRA attached) has no dw: then only dx and the
// adapter's gradients are computed.
func (p *pass) linearBackward(dx, dw, dOut, x, w []float32, rows, n, k int, accumulate bool) {
	p.be.MatMul(dx, dOut, w, rows, k, n, false, false, accumulate)
	if dw != nil {
		p.be.MatMul(dw, dOut, x, n, k, rows, true, false, true)
	}
	if p.lora != nil {
		p.loraBackward(dx, dOut, x, w, rows)
	}
}
