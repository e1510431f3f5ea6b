package model

import (
	"fmt"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/kernels"
)

// Half-precision inference: SetInferenceDType keeps a 16-bit copy of every
// weight matrix, and forward passes in inference mode with at most
// halfMaxRows rows (decode steps, small batches) multiply by the copy
// through the backend's optional kernels.HalfMatMuler. Decode is bound by
// the bytes of weights read per token, so this roughly halves its time;
// prefill and training (many rows, compute-bound) keep the float32
// weights, which stay the master copy.

// halfMaxRows is the most rows a product may have to take the 16-bit
// path: the weights are widened once per 8 rows (gemm.SgemmHalfB).
const halfMaxRows = 8

// halfWeights is the 16-bit copy of the weight matrices, found by the
// address of the float32 view they were converted from.
type halfWeights struct {
	dtype string
	bf16  bool
	mm    kernels.HalfMatMuler
	byPtr map[*float32][]uint16
}

// SetInferenceDType chooses the weight precision of inference forward
// passes: "f32" (the default), "f16" (IEEE binary16) or "bf16" (bfloat16).
// For f16/bf16 it converts every matrix (embedding/LM head, attention and
// FFN projections, experts) with round-to-nearest-even, adding 2 bytes per
// parameter; activations and accumulation stay float32. Call it again
// after changing Params: the copy is not updated. It is an error if the
// backend does not implement kernels.HalfMatMuler.
//
// Accuracy: bf16 keeps 8 significant bits, so logits move by about 1e-2
// relative to float32 on trained weights (f16: about 1e-3); greedy
// decoding normally picks the same tokens (see TestHalfDecode).
func (m *Model) SetInferenceDType(dtype string) error {
	var bf16 bool
	switch dtype {
	case "", "f32", "fp32", "float32":
		m.half = nil
		return nil
	case "f16", "fp16", "float16":
		dtype = "f16"
	case "bf16", "bfloat16":
		dtype, bf16 = "bf16", true
	default:
		return fmt.Errorf("model: unknown inference dtype %q (want f32, f16 or bf16)", dtype)
	}
	mm, ok := m.be.(kernels.HalfMatMuler)
	if !ok {
		return fmt.Errorf("model: backend %s has no 16-bit matrix multiply", m.be.Name())
	}
	h := &halfWeights{dtype: dtype, bf16: bf16, mm: mm, byPtr: map[*float32][]uint16{}}
	add := func(w []float32) {
		if len(w) == 0 {
			return
		}
		d := make([]uint16, len(w))
		for i, v := range w {
			if bf16 {
				d[i] = half.Float32ToBF16(v)
			} else {
				d[i] = half.Float32ToF16(v)
			}
		}
		h.byPtr[&w[0]] = d
	}
	addFFN := func(f *ffnW) { add(f.gate); add(f.up); add(f.down) }
	add(m.w.embed)
	for l := range m.w.layers {
		lw := &m.w.layers[l]
		add(lw.wq)
		add(lw.wk)
		add(lw.wv)
		add(lw.wo)
		addFFN(&lw.ffn)
		for e := range lw.experts {
			addFFN(&lw.experts[e])
		}
		for s := range lw.shared {
			addFFN(&lw.shared[s])
		}
	}
	m.half = h
	return nil
}

// InferenceDType reports the weight precision of inference forward passes.
func (m *Model) InferenceDType() string {
	if m.half == nil {
		return "f32"
	}
	return m.half.dtype
}

// linear is the model's linear layer in forward passes: out[rows,n] =
// x[rows,k]·w[n,k]ᵀ, or += when accumulate. In inference with a 16-bit copy
// of w (SetInferenceDType) and at most halfMaxRows rows it multiplies by
// the copy; otherwise it is MatMul(out, x, w, rows, n, k, false, true, acc).
func (m *Model) linear(out, x, w []float32, rows, n, k int, accumulate bool) {
	if m.useHalf && rows <= halfMaxRows {
		if hw, ok := m.half.byPtr[&w[0]]; ok {
			m.half.mm.MatMulHalf(out, x, hw, rows, n, k, m.half.bf16, accumulate)
			return
		}
	}
	m.be.MatMul(out, x, w, rows, n, k, false, true, accumulate)
}
