package modeltest

import (
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/kerneltest"
)

// q8Decode decodes the kv-cache fixture greedily with Q8_0 inference
// weights (prefill included: q8_0 serves every row count): every step's
// logits must stay within a tolerance of the float32 (PyTorch) logits and
// the greedy tokens must match.
//
// Tolerance: Q8_0 rounds each weight by up to max|w|/254 of its block of
// 32, a relative RMS error of about 0.5% for Gaussian-like weights (bf16:
// about 0.1%), and the activations entering each product are rounded the
// same way; so logits move about 5-7× as much as with bf16 weights
// (measured 0.022 here for bf16, 0.078 for q8_0). We allow 0.15 + 3% and
// report the measured maximum; the greedy tokens, some decided by margins
// of 0.013, are the sharper check.
func q8Decode(t *testing.T, be kernels.Backend) {
	const atol, rtol = 0.15, 0.03
	dir := fixture.Dir(t, "kv-cache")
	m := loadModel(t, dir, be, "")
	for _, dtype := range []string{"q8", "q8_0"} {
		if err := m.SetInferenceDType(dtype); err != nil {
			t.Fatal(err)
		}
		if got := m.InferenceDType(); got != "q8_0" {
			t.Fatalf("SetInferenceDType(%q): InferenceDType() = %q, want q8_0", dtype, got)
		}
	}
	// Every matrix once: 1.0625 bytes per weight, the norms left out.
	var weights int64
	for _, s := range m.Params.Specs {
		if len(s.Shape) == 2 {
			weights += int64(s.Size())
		}
	}
	if got, want := m.InferenceCopyBytes(), weights/32*34; got != want {
		t.Errorf("InferenceCopyBytes() = %d, want %d", got, want)
	}
	maxd, steps := greedyFixtureDecode(t, m, dir, "q8_0", atol, rtol)
	t.Logf("q8_0 decode: max |logit diff| %.3g vs float32 over %d steps", maxd, steps)

	// Back to float32: the PyTorch logits again, to float32 rounding.
	if err := m.SetInferenceDType("f32"); err != nil {
		t.Fatal(err)
	}
	if m.InferenceDType() != "f32" || m.InferenceCopyBytes() != 0 {
		t.Fatalf("after f32: dtype %q, copy %d bytes", m.InferenceDType(), m.InferenceCopyBytes())
	}
	var in kvInputs
	readJSON(t, filepath.Join(dir, "inputs.json"), &in)
	stepWant := Floats(t, ReadTensors(t, filepath.Join(dir, "expected.safetensors")), "step_logits")
	kv, err := m.NewKVCache(1, 16)
	if err != nil {
		t.Fatal(err)
	}
	prompt := in.PromptIDs[0]
	last, err := m.Forward(kv, prompt, len(prompt), nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	kerneltest.AllClose(t, "f32 step_logits[0]", last, stepWant[:m.Config.VocabSize], 1e-4, 1e-4)
}
