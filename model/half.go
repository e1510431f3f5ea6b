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

// halfWeights is the 16-bit copy's format and the backend kernel that
// multiplies by it; the copy itself is Model.w16, bound as views of a
// uint16 slab with the layout of Params.Data.
type halfWeights struct {
	dtype string
	bf16  bool
	mm    kernels.HalfMatMuler
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
		m.half, m.w16 = nil, bind[uint16](m.Params, nil)
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
	// One slab in the parameter layout, converted whole: the norms and
	// routers, never multiplied in 16 bits (moeForward), are a negligible
	// share of it.
	d := make([]uint16, len(m.Params.Data))
	for i, v := range m.Params.Data {
		if bf16 {
			d[i] = half.Float32ToBF16(v)
		} else {
			d[i] = half.Float32ToF16(v)
		}
	}
	m.w16 = bind(m.Params, d)
	m.half = &halfWeights{dtype: dtype, bf16: bf16, mm: mm}
	return nil
}

// InferenceDType reports the weight precision of inference forward passes.
func (m *Model) InferenceDType() string {
	if m.half == nil {
		return "f32"
	}
	return m.half.dtype
}
