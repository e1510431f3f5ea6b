package model

import (
	"fmt"
	"strings"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/quant"
)

// 8-bit inference: SetInferenceDType("q8_0") keeps a Q8_0 copy (GGUF's
// format, package quant) of every weight matrix, and every forward pass in
// inference mode multiplies by it through the backend's optional
// kernels.Q8MatMuler, at any row count (decode and prefill alike, as
// llama.cpp), and looks embeddings up in it; so prefill, decode and eval
// all see the quantized weights. Decode reads 1.0625 bytes per weight
// instead of bf16's 2. The float32 weights stay the master copy
// (training, LoRA, Params) and are not modified.

// q8Weights is the Q8_0 copy's kernel; the copy itself is Model.w8, one
// byte slab holding each quantized matrix in turn.
type q8Weights struct {
	mm    kernels.Q8MatMuler
	bytes int // the slab's size
}

// q8Matrix reports whether parameter s gets a Q8_0 copy:
// every matrix but the MoE routers, which stay float32 in every mode (their
// top-k choice can flip on small changes of the logits).
func q8Matrix(s ParamSpec) bool {
	return len(s.Shape) == 2 && !strings.HasSuffix(s.Name, ".mlp.gate.weight")
}

// Q8CopyBytes is the size of the Q8_0 copy that SetInferenceDType("q8_0")
// makes of p's matrices (1.0625 bytes per weight), or an error naming a
// matrix whose input size is not a multiple of 32.
func Q8CopyBytes(p *Params) (int64, error) {
	var n int64
	for _, s := range p.Specs {
		if !q8Matrix(s) {
			continue
		}
		if k := s.Shape[1]; k%quant.Q8Block != 0 {
			return 0, fmt.Errorf("model: q8_0 needs matrices whose input size is a multiple of %d; %s is %v",
				quant.Q8Block, s.Name, s.Shape)
		}
		n += int64(quant.Q8Bytes(s.Size()))
	}
	return n, nil
}

// setQ8 quantizes every matrix (q8Matrix) with quant.QuantizeQ8, which is
// bit-exact to ggml's: a model read from a Q8_0 GGUF (dequantized to
// float32 on load) quantizes back to the file's own bytes.
func (m *Model) setQ8() error {
	mm, ok := m.be.(kernels.Q8MatMuler)
	if !ok {
		return fmt.Errorf("model: backend %s has no 8-bit (q8_0) matrix multiply", m.be.Name())
	}
	total, err := Q8CopyBytes(m.Params)
	if err != nil {
		return err
	}
	off := map[string]int{}
	n := 0
	for _, s := range m.Params.Specs {
		if q8Matrix(s) {
			off[s.Name] = n
			n += quant.Q8Bytes(s.Size())
		}
	}
	slab := make([]byte, total)
	for _, s := range m.Params.Specs {
		o, ok := off[s.Name]
		if !ok {
			continue
		}
		nb := quant.Q8Bytes(s.Size())
		if err := quant.QuantizeQ8(slab[o:o+nb], m.Params.Data[s.Offset:s.Offset+s.Size()]); err != nil {
			return fmt.Errorf("model: quantize %s: %w", s.Name, err)
		}
	}
	m.w8 = bindViews(m.Params, func(name string) []byte {
		s, ok := m.Params.Spec(name)
		if !ok {
			panic("model: no parameter " + name)
		}
		o, ok := off[s.Name]
		if !ok {
			return nil
		}
		nb := quant.Q8Bytes(s.Size())
		return slab[o : o+nb : o+nb]
	})
	m.q8 = &q8Weights{mm: mm, bytes: n}
	return nil
}
