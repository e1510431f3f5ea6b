package model_test

import (
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/kerneltest"
)

// TestHalfDecode decodes the kv-cache fixture greedily with 16-bit
// inference weights: every decode step's logits must stay within a
// documented tolerance of the float32 (PyTorch) logits, and the greedy
// tokens must match. Step 0's logits come from the prefill, which uses the
// float32 weights when the prompt has more than 8 rows.
//
// Tolerance: a weight rounded to bf16 has relative error ≤ 2⁻⁹ (f16:
// 2⁻¹²); summed over a dot product of length C with random signs, a logit
// of scale ~|z| moves by about 2⁻⁹·|z|·√(depth) — we allow 0.05 + 2% for
// bf16 and 0.01 + 0.5% for f16, and report the measured maximum.
func TestHalfDecode(t *testing.T) {
	for _, tc := range []struct {
		dtype      string
		atol, rtol float64
	}{
		{"bf16", 0.05, 0.02},
		{"f16", 0.01, 0.005},
	} {
		t.Run(tc.dtype, func(t *testing.T) {
			dir := fixture.Dir(t, "kv-cache")
			be := cpu.New(cpu.Options{})
			defer be.Close()
			m := loadModel(t, dir, be, "")
			if err := m.SetInferenceDType(tc.dtype); err != nil {
				t.Fatal(err)
			}
			if got := m.InferenceDType(); got != tc.dtype {
				t.Fatalf("InferenceDType() = %q, want %q", got, tc.dtype)
			}
			var in struct {
				PromptIDs    [][]int32 `json:"prompt_ids"`
				MaxNewTokens int       `json:"max_new_tokens"`
			}
			readJSON(t, filepath.Join(dir, "inputs.json"), &in)
			var exp struct {
				GeneratedIDs []int32 `json:"generated_ids"`
			}
			readJSON(t, filepath.Join(dir, "expected.json"), &exp)
			want := tensors(t, filepath.Join(dir, "expected.safetensors"))
			V := m.Config.VocabSize
			stepWant := floats(t, want, "step_logits")

			kv, err := m.NewKVCache(1, 16)
			if err != nil {
				t.Fatal(err)
			}
			prompt := in.PromptIDs[0]
			last, err := m.Forward(kv, prompt, len(prompt), nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			var got []int32
			var maxd float64
			for i := 0; i < in.MaxNewTokens; i++ {
				maxd = max(maxd, kerneltest.AllClose(t, "step_logits", last, stepWant[i*V:(i+1)*V], tc.atol, tc.rtol))
				tok := int32(argmax(last))
				got = append(got, tok)
				if i == in.MaxNewTokens-1 {
					break
				}
				if last, err = m.Forward(kv, []int32{tok}, 1, nil, 1); err != nil {
					t.Fatal(err)
				}
			}
			for i := range exp.GeneratedIDs {
				if got[i] != exp.GeneratedIDs[i] {
					t.Fatalf("%s greedy tokens %v, want %v", tc.dtype, got, exp.GeneratedIDs)
				}
			}
			t.Logf("%s decode: max |logit diff| %.3g vs float32 over %d steps", tc.dtype, maxd, in.MaxNewTokens)
		})
	}
}
