package model_test

import (
	"math"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/quant"
)

// q8Configs are tiny models of both generations, dense and MoE, whose
// matrices all have input sizes that are multiples of 32 (Q8_0's block).
func q8Configs() map[string]model.Config {
	m2 := modeltest.TinyConfig(false)
	m2.IntermediateSize = 64
	m2moe := m2
	m2moe.UseMoE = true
	m3 := modeltest.TinyConfig3(false)
	m3.HeadDim, m3.IntermediateSize, m3.MoeIntermediateSize = 8, 64, 96
	m3moe := m3
	m3moe.UseMoE = true
	return map[string]model.Config{"minimind2": m2, "minimind2-moe": m2moe, "minimind3": m3, "minimind3-moe": m3moe}
}

// roundTripQ8 returns a copy of p whose Q8_0-quantized matrices (MoE
// routers excepted) hold their dequantized values: what loading a q8_0
// GGUF file gives.
func roundTripQ8(t *testing.T, p *model.Params) *model.Params {
	t.Helper()
	q, err := model.NewParams(p.Config)
	if err != nil {
		t.Fatal(err)
	}
	copy(q.Data, p.Data)
	for _, s := range q.Specs {
		if len(s.Shape) != 2 || strings.HasSuffix(s.Name, ".mlp.gate.weight") {
			continue
		}
		w := q.Data[s.Offset : s.Offset+s.Size()]
		enc := make([]byte, quant.Q8Bytes(len(w)))
		if err := quant.QuantizeQ8(enc, w); err != nil {
			t.Fatal(err)
		}
		if err := quant.DequantizeQ8(w, enc); err != nil {
			t.Fatal(err)
		}
	}
	return q
}

// TestQ8Inference runs q8_0 inference on tiny models of every family:
//   - the full pass (12 rows: the prefill path, float32 GEMM on weights
//     dequantized while packing) against float32 inference on the
//     dequantized weights: bit-identical for dense models; MoE experts
//     given ≤ 8 tokens take the decode path (8-bit activations), so there
//     the logits agree within that rounding and greedy tokens differ only
//     at near-ties;
//   - against q8_0 inference on the dequantized weights (a Q8_0 GGUF read
//     back to float32 and quantized again at load): bit-identical logits,
//     since re-quantizing is lossless (quant.TestQ8Requantize);
//   - decoding with the KV cache (the int8 path) against the full pass,
//     within the activation-rounding noise.
func TestQ8Inference(t *testing.T) {
	be := cpu.New(cpu.Options{})
	t.Cleanup(be.Close)
	ids := []int32{1, 5, 9, 14, 3, 27, 8, 41, 2, 6, 30, 17}
	const B, T = 2, 6
	for name, c := range q8Configs() {
		t.Run(name, func(t *testing.T) {
			p := modeltest.Params(t, c, 3)
			m := model.New(p, be)
			if err := m.SetInferenceDType("q8_0"); err != nil {
				t.Fatal(err)
			}
			if want, err := model.Q8CopyBytes(p); err != nil || m.InferenceCopyBytes() != want || want == 0 {
				t.Errorf("InferenceCopyBytes %d, Q8CopyBytes %d (%v)", m.InferenceCopyBytes(), want, err)
			}
			got, err := m.Logits(ids, B, T, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			got = append([]float32(nil), got...)

			deq := roundTripQ8(t, p)
			md := model.New(deq, be)
			want, err := md.Logits(ids, B, T, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			want = append([]float32(nil), want...)
			V := c.VocabSize
			var maxd, scale float64
			for i := range got {
				maxd = max(maxd, math.Abs(float64(got[i]-want[i])))
				scale = max(scale, math.Abs(float64(want[i])))
			}
			if !c.UseMoE && maxd != 0 {
				t.Errorf("dense prefill: max |Δlogit| %.3g vs float32 on the dequantized weights, want 0", maxd)
			}
			// 8-bit activations: ~0.5% relative per product, a few
			// products deep.
			if maxd > 0.03*scale {
				t.Errorf("q8_0 vs float32 on the same weights: max |Δlogit| %.3g (logits up to %.3g)", maxd, scale)
			}
			// Random weights leave near-ties, so the greedy token may
			// differ, but only for one whose float32 logit is within the
			// noise of the top.
			for r := range B * T {
				w := want[r*V : (r+1)*V]
				if a, b := argmax(got[r*V:(r+1)*V]), argmax(w); float64(w[b]-w[a]) > 2*maxd {
					t.Errorf("row %d: q8_0 picks %d (float32 logit %v), float32 picks %d (%v)", r, a, w[a], b, w[b])
				}
			}
			t.Logf("max |Δlogit| q8_0 vs float32 on dequantized weights: %.3g (logits up to %.3g)", maxd, scale)

			if err := md.SetInferenceDType("q8"); err != nil {
				t.Fatal(err)
			}
			again, err := md.Logits(ids, B, T, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for i := range got {
				if math.Float32bits(again[i]) != math.Float32bits(got[i]) {
					t.Fatalf("re-quantized weights: logit %d = %v, want %v (bit-identical)", i, again[i], got[i])
				}
			}

			// Decode one token at a time; compare with the full pass.
			kv, err := m.NewKVCache(1, T)
			if err != nil {
				t.Fatal(err)
			}
			var maxStep float64
			for j := range T {
				step, err := m.Forward(kv, ids[j:j+1], 1, nil, 1)
				if err != nil {
					t.Fatal(err)
				}
				for v := range V {
					d := math.Abs(float64(step[v] - got[j*V+v]))
					if d > 0.03*scale {
						t.Fatalf("decode step %d logit %d: %v, full pass %v", j, v, step[v], got[j*V+v])
					}
					maxStep = max(maxStep, d)
				}
			}
			t.Logf("max |Δlogit| decode (8-bit activations) vs full pass: %.3g", maxStep)
		})
	}
}

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestQ8Errors: backends without the kernel and matrices Q8_0 cannot
// block give clear errors, and leave the model in float32.
func TestQ8Errors(t *testing.T) {
	c := q8Configs()["minimind2"]
	m := model.New(modeltest.Params(t, c, 1), ref.New())
	err := m.SetInferenceDType("q8_0")
	if err == nil || !strings.Contains(err.Error(), "q8_0") {
		t.Errorf("ref backend: got %v, want an error about q8_0", err)
	}
	be := cpu.New(cpu.Options{})
	t.Cleanup(be.Close)
	odd := modeltest.TinyConfig(false) // FFN 48: down_proj's input is not a multiple of 32
	m = model.New(modeltest.Params(t, odd, 1), be)
	err = m.SetInferenceDType("q8_0")
	if err == nil || !strings.Contains(err.Error(), "down_proj") {
		t.Errorf("FFN 48: got %v, want an error naming down_proj", err)
	}
	if m.InferenceDType() != "f32" {
		t.Errorf("after a failed SetInferenceDType: %q, want f32", m.InferenceDType())
	}
	if _, err := model.Q8CopyBytes(m.Params); err == nil || !strings.Contains(err.Error(), "down_proj") {
		t.Errorf("Q8CopyBytes with FFN 48: got %v, want an error naming down_proj", err)
	}
	if err := m.SetInferenceDType("q4_0"); err == nil {
		t.Error("q4_0: want an error")
	}
}
