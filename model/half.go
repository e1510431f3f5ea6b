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
// passes: "f32" (the default), "f16" (IEEE binary16), "bf16" (bfloat16) or
// "q8_0" (also "q8": GGUF's 8-bit blocks, see q8.go).
//
// For f16/bf16 it converts every matrix (embedding/LM head, attention and
// FFN projections, experts) with round-to-nearest-even, adding 2 bytes per
// parameter, used by products of at most 8 rows (decode); activations and
// accumulation stay float32. For q8_0 it quantizes the same matrices (MoE
// routers excepted) to blocks of 32 int8 with a float16 scale, adding
// 1.0625 bytes per parameter, used by every inference product and
// embedding lookup. Call it again after changing Params: the copy is not
// updated. It is an error if the backend does not implement
// kernels.HalfMatMuler (f16, bf16) or kernels.Q8MatMuler (q8_0), or, for
// q8_0, if a matrix's input size is not a multiple of 32.
//
// Accuracy: bf16 keeps 8 significant bits, so logits move by about 1e-2
// relative to float32 on trained weights (f16: about 1e-3); greedy
// decoding normally picks the same tokens (see TestHalfDecode). A q8_0
// weight is off by up to half a quantum (max|w|/254 of its block of 32):
// about 0.5% RMS relative, five times bf16's; decode steps on the CPU
// backend also round the activations entering each product to 8 bits per
// block (as llama.cpp). On the tiny test models logits move by up to a
// few 1e-2 (modeltest.q8Decode, TestQ8Inference); on a trained model the
// evaluation loss by well under 1% (README).
func (m *Model) SetInferenceDType(dtype string) error {
	var bf16 bool
	m.half, m.w16 = nil, bind[uint16](m.Params, nil)
	m.q8, m.w8 = nil, bind[byte](m.Params, nil)
	switch dtype {
	case "", "f32", "fp32", "float32":
		return nil
	case "f16", "fp16", "float16":
		dtype = "f16"
	case "bf16", "bfloat16":
		dtype, bf16 = "bf16", true
	case "q8_0", "q8":
		return m.setQ8()
	default:
		return fmt.Errorf("model: unknown inference dtype %q (want f32, f16, bf16 or q8_0)", dtype)
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
	switch {
	case m.q8 != nil:
		return "q8_0"
	case m.half != nil:
		return m.half.dtype
	}
	return "f32"
}

// InferenceCopyBytes is the size of the inference weight copy that
// SetInferenceDType made (0 for f32): 2 bytes per parameter for f16/bf16,
// 1.0625 per quantized matrix weight for q8_0. It is what a decode step
// reads per token, embedding rows aside.
func (m *Model) InferenceCopyBytes() int64 {
	switch {
	case m.q8 != nil:
		return int64(m.q8.bytes)
	case m.half != nil:
		return 2 * int64(len(m.Params.Data))
	}
	return 0
}
