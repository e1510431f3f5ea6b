package modeltest

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/model"
)

// Parity runs the model on be against every PyTorch model fixture, one
// subtest per fixture (skipped when ../shared lacks it):
//
//   - tiny-dense, tiny-moe and tiny-moe-seq_aux_false: the loss and its
//     cross-entropy and balance parts, the final hidden states, per-token
//     losses, logits and every gradient (grad/<HF key>);
//   - kv-cache: greedy decoding with the cache (each step's logits, the
//     generated ids, the final cache), the cache-free forward and chunked
//     prefill;
//   - attention-mask: a left-padded batch, then masked batched decoding;
//   - half-decode/bf16 and half-decode/f16, when be implements
//     kernels.HalfMatMuler: kv-cache decoding with 16-bit weights;
//   - q8-decode, when be implements kernels.Q8MatMuler: kv-cache prefill
//     and decoding with Q8_0 weights;
//   - minimind3-dense, minimind3-head_dim24 and minimind3-moe: loss, CE,
//     aux (and per layer), router choices and probabilities, final
//     hidden, per-token CE, logits and every gradient, within each
//     README's tolerances; minimind3-decode/*: token-by-token decoding
//     with the KV cache equals the full forward pass;
//   - minimind3-yarn: YaRN RoPE rows and logits at 2080 positions, with
//     and without inference_rope_scaling.
//
// A backend's model-level test calls it once; the kernels themselves are
// checked by kernels/kerneltest.Run.
func Parity(t *testing.T, be kernels.Backend) {
	for _, tc := range trainStepCases {
		t.Run(tc.name, func(t *testing.T) { trainStep(t, be, tc) })
	}
	t.Run("kv-cache", func(t *testing.T) { kvCache(t, be) })
	t.Run("attention-mask", func(t *testing.T) { attentionMask(t, be) })
	if _, ok := be.(kernels.HalfMatMuler); ok {
		t.Run("half-decode", func(t *testing.T) { halfDecode(t, be) })
	}
	if _, ok := be.(kernels.Q8MatMuler); ok {
		t.Run("q8-decode", func(t *testing.T) { q8Decode(t, be) })
	}
	for _, tc := range m3Cases {
		t.Run(tc.dir, func(t *testing.T) { m3TrainStep(t, be, tc) })
	}
	for _, dir := range []string{"minimind3-head_dim24", "minimind3-moe"} {
		t.Run("minimind3-decode/"+dir, func(t *testing.T) { m3Decode(t, be, dir) })
	}
	t.Run("minimind3-yarn", func(t *testing.T) { m3Yarn(t, be) })
}

// trainStepCase is one forward+backward fixture; cfg, expected and grads,
// when set, are paths under the fixtures root that replace the fixture
// directory's own files.
type trainStepCase struct {
	name, dir, cfg, expected, grads string
	hasLogits                       bool
}

var trainStepCases = []trainStepCase{
	{name: "tiny-dense", dir: "tiny-dense", hasLogits: true},
	{name: "tiny-moe", dir: "tiny-moe", hasLogits: true},
	{name: "tiny-moe-seq_aux_false", dir: "tiny-moe", cfg: "tiny-moe/seq_aux_false/config.json",
		expected: "tiny-moe/seq_aux_false/expected.json", grads: "tiny-moe/seq_aux_false/grads.safetensors"},
}

// trainInputs is inputs.json of the forward+backward fixtures.
type trainInputs struct {
	X        [][]int32   `json:"X"`
	Y        [][]int32   `json:"Y"`
	LossMask [][]float32 `json:"loss_mask"`
}

// trainExpected is the loss part of their expected.json.
type trainExpected struct {
	Loss    float64 `json:"loss"`
	CELoss  float64 `json:"ce_loss"`
	AuxLoss float64 `json:"aux_loss"`
}

func trainStep(t *testing.T, be kernels.Backend, tc trainStepCase) {
	dir := fixture.Dir(t, tc.dir)
	root := filepath.Dir(dir)
	path := func(override, name string) string {
		if override != "" {
			return filepath.Join(root, override)
		}
		return filepath.Join(dir, name)
	}
	cfgPath := ""
	if tc.cfg != "" {
		cfgPath = path(tc.cfg, "")
	}
	m := loadModel(t, dir, be, cfgPath)
	var in trainInputs
	readJSON(t, filepath.Join(dir, "inputs.json"), &in)
	var exp trainExpected
	readJSON(t, path(tc.expected, "expected.json"), &exp)
	B, T := len(in.X), len(in.X[0])
	ids, tg, mask := flatten(in.X), flatten(in.Y), flatten(in.LossMask)

	m.ZeroGrad()
	st, err := m.ForwardBackward(ids, tg, mask, B, T, 1)
	if err != nil {
		t.Fatal(err)
	}
	report := map[string]float64{"loss": math.Abs(st.Loss - exp.Loss)}
	if math.Abs(st.Loss-exp.Loss) > 1e-5 || math.Abs(st.CE-exp.CELoss) > 1e-5 || math.Abs(st.Aux-exp.AuxLoss) > 1e-6 {
		t.Errorf("loss %.8f ce %.8f aux %.8f, want %.8f %.8f %.8f", st.Loss, st.CE, st.Aux, exp.Loss, exp.CELoss, exp.AuxLoss)
	}
	if tc.hasLogits {
		want := ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
		report["final_hidden"] = kerneltest.AllClose(t, "final_hidden", m.FinalHidden(true), Floats(t, want, "final_hidden"), 1e-4, 0)
		report["token_ce"] = kerneltest.AllClose(t, "token_ce", m.TokenLosses(true), Floats(t, want, "token_ce"), 1e-5, 0)
		logits, err := m.Logits(ids, B, T, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		report["logits"] = kerneltest.AllClose(t, "logits", logits, Floats(t, want, "logits"), 1e-4, 0)
	}
	grads := ReadTensors(t, path(tc.grads, "grads.safetensors"))
	for _, s := range m.Params.Specs {
		d := kerneltest.AllClose(t, "grad/"+s.Name, m.Params.View(m.Grads, s.Name), Floats(t, grads, s.Name), 1e-5, 0)
		report["grads"] = math.Max(report["grads"], d)
	}
	t.Logf("max |diff|: %s", fmtReport(report))
}

func fmtReport(r map[string]float64) string {
	s := ""
	for _, k := range []string{"loss", "logits", "final_hidden", "token_ce", "grads"} {
		if v, ok := r[k]; ok {
			s += fmt.Sprintf("%s=%.2g ", k, v)
		}
	}
	return s
}

// kvInputs and kvExpected are the kv-cache fixture's JSON files.
type kvInputs struct {
	PromptIDs    [][]int32 `json:"prompt_ids"`
	MaxNewTokens int       `json:"max_new_tokens"`
}

type kvExpected struct {
	GeneratedIDs []int32 `json:"generated_ids"`
	FullSequence []int32 `json:"full_sequence"`
}

// kvCache decodes greedily with the KV cache and checks every step's
// logits, the generated ids, chunked prefill and the final cache.
func kvCache(t *testing.T, be kernels.Backend) {
	dir := fixture.Dir(t, "kv-cache")
	m := loadModel(t, dir, be, "")
	var in kvInputs
	readJSON(t, filepath.Join(dir, "inputs.json"), &in)
	var exp kvExpected
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	want := ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	V := m.Config.VocabSize

	kv, err := m.NewKVCache(1, 16)
	if err != nil {
		t.Fatal(err)
	}
	prompt := in.PromptIDs[0]
	logits, err := m.Forward(kv, prompt, len(prompt), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	maxd := kerneltest.AllClose(t, "prefill_logits", logits, Floats(t, want, "prefill_logits"), 1e-4, 0)
	stepWant := Floats(t, want, "step_logits")
	last := logits[(len(prompt)-1)*V:]
	var got []int32
	for i := 0; i < in.MaxNewTokens; i++ {
		maxd = max(maxd, kerneltest.AllClose(t, "step_logits", last, stepWant[i*V:(i+1)*V], 1e-4, 0))
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
			t.Fatalf("generated %v, want %v", got, exp.GeneratedIDs)
		}
	}
	for l := 0; l < m.Config.NumHiddenLayers; l++ {
		for _, kvName := range []string{"k", "v"} {
			name := fmt.Sprintf("cache.layer%d.%s", l, kvName)
			src := kv.K[l]
			if kvName == "v" {
				src = kv.V[l]
			}
			kerneltest.AllClose(t, name, src, Floats(t, want, name), 1e-4, 0)
		}
	}
	// The full forward without cache picks the same tokens.
	full, err := m.Logits(exp.FullSequence[:16], 1, 16, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	kerneltest.AllClose(t, "full_logits", full, Floats(t, want, "full_logits"), 1e-4, 0)
	// Chunked prefill: 3 tokens, then 2 on top of the cache.
	kv.Reset()
	if _, err := m.Forward(kv, prompt[:3], 3, nil, 0); err != nil {
		t.Fatal(err)
	}
	chunk, err := m.Forward(kv, prompt[3:5], 2, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	maxd = max(maxd, kerneltest.AllClose(t, "chunk_logits", chunk, Floats(t, want, "chunk_logits"), 1e-4, 0))
	t.Logf("kv-cache: max |logit diff| %.2g over prefill, %d steps and chunked prefill", maxd, in.MaxNewTokens)
}

// attentionMask runs a left-padded batch with an attention mask, then
// greedy batched decoding with the mask extended by ones.
func attentionMask(t *testing.T, be kernels.Backend) {
	dir := fixture.Dir(t, "attention-mask")
	m := loadModel(t, dir, be, "")
	var in struct {
		InputIDs      [][]int32   `json:"input_ids"`
		AttentionMask [][]float32 `json:"attention_mask"`
		NewTokens     int         `json:"decode_new_tokens"`
	}
	readJSON(t, filepath.Join(dir, "inputs.json"), &in)
	var exp struct {
		GeneratedIDs [][]int32 `json:"generated_ids"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	want := ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	B, T, V := len(in.InputIDs), len(in.InputIDs[0]), m.Config.VocabSize
	ids, mask := flatten(in.InputIDs), flatten(in.AttentionMask)

	logits, err := m.Logits(ids, B, T, mask, 0)
	if err != nil {
		t.Fatal(err)
	}
	maxd := kerneltest.AllClose(t, "logits", logits, Floats(t, want, "logits"), 1e-4, 0)

	kv, err := m.NewKVCache(B, T+in.NewTokens)
	if err != nil {
		t.Fatal(err)
	}
	step, err := m.Forward(kv, ids, T, mask, 1)
	if err != nil {
		t.Fatal(err)
	}
	decWant := Floats(t, want, "decode_step_logits") // [steps, B, V]
	W := T
	for s := 0; s < in.NewTokens; s++ {
		maxd = max(maxd, kerneltest.AllClose(t, "decode_step_logits", step, decWant[s*B*V:(s+1)*B*V], 1e-4, 0))
		next := make([]int32, B)
		for b := 0; b < B; b++ {
			next[b] = int32(argmax(step[b*V : (b+1)*V]))
			if next[b] != exp.GeneratedIDs[b][s] {
				t.Fatalf("step %d row %d: token %d, want %d", s, b, next[b], exp.GeneratedIDs[b][s])
			}
		}
		if s == in.NewTokens-1 {
			break
		}
		// Extend the mask by a column of ones, as generate does.
		W++
		m2 := make([]float32, 0, B*W)
		for b := 0; b < B; b++ {
			m2 = append(m2, mask[b*(W-1):(b+1)*(W-1)]...)
			m2 = append(m2, 1)
		}
		mask = m2
		if step, err = m.Forward(kv, next, 1, mask, 1); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("attention-mask: max |logit diff| %.2g", maxd)
}

// halfDecode decodes the kv-cache fixture greedily with 16-bit inference
// weights: every decode step's logits must stay within a documented
// tolerance of the float32 (PyTorch) logits, and the greedy tokens must
// match. Step 0's logits come from the prefill, which uses the float32
// weights when the prompt has more than 8 rows.
//
// Tolerance: a weight rounded to bf16 has relative error ≤ 2⁻⁹ (f16:
// 2⁻¹²); summed over a dot product of length C with random signs, a logit
// of scale ~|z| moves by about 2⁻⁹·|z|·√(depth) — we allow 0.05 + 2% for
// bf16 and 0.01 + 0.5% for f16, and report the measured maximum.
func halfDecode(t *testing.T, be kernels.Backend) {
	for _, tc := range []struct {
		dtype      string
		atol, rtol float64
	}{
		{"bf16", 0.05, 0.02},
		{"f16", 0.01, 0.005},
	} {
		t.Run(tc.dtype, func(t *testing.T) {
			dir := fixture.Dir(t, "kv-cache")
			m := loadModel(t, dir, be, "")
			if err := m.SetInferenceDType(tc.dtype); err != nil {
				t.Fatal(err)
			}
			if got := m.InferenceDType(); got != tc.dtype {
				t.Fatalf("InferenceDType() = %q, want %q", got, tc.dtype)
			}
			maxd, steps := greedyFixtureDecode(t, m, dir, tc.dtype, tc.atol, tc.rtol)
			t.Logf("%s decode: max |logit diff| %.3g vs float32 over %d steps", tc.dtype, maxd, steps)
		})
	}
}

// greedyFixtureDecode decodes the kv-cache fixture in dir greedily with m:
// every step's logits must be within atol/rtol of the float32 (PyTorch)
// step_logits and the greedy tokens must be the fixture's. It returns the
// largest logit difference seen and the number of steps; name labels the
// failure.
func greedyFixtureDecode(t *testing.T, m *model.Model, dir, name string, atol, rtol float64) (maxd float64, steps int) {
	t.Helper()
	var in kvInputs
	readJSON(t, filepath.Join(dir, "inputs.json"), &in)
	var exp kvExpected
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	want := ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	V := m.Config.VocabSize
	stepWant := Floats(t, want, "step_logits")

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
	for i := 0; i < in.MaxNewTokens; i++ {
		maxd = max(maxd, kerneltest.AllClose(t, "step_logits", last, stepWant[i*V:(i+1)*V], atol, rtol))
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
			t.Fatalf("%s greedy tokens %v, want %v", name, got, exp.GeneratedIDs)
		}
	}
	return maxd, in.MaxNewTokens
}

// loadModel loads the HF directory dir onto be, with the config at
// cfgPath in place of dir's own when cfgPath is not empty.
func loadModel(t testing.TB, dir string, be kernels.Backend, cfgPath string) *model.Model {
	t.Helper()
	p, err := checkpoint.LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	if cfgPath != "" {
		cfg, err := model.ReadConfig(cfgPath)
		if err != nil {
			t.Fatal(err)
		}
		p.Config = cfg
	}
	return model.New(p, be)
}

func readJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// ReadTensors reads a fixture's safetensors file, failing the test if it
// cannot.
func ReadTensors(t testing.TB, path string) *safetensors.File {
	t.Helper()
	f, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// Floats returns tensor name of f as float32s, failing the test if f lacks
// it.
func Floats(t testing.TB, f *safetensors.File, name string) []float32 {
	t.Helper()
	tt, ok := f.Get(name)
	if !ok {
		t.Fatalf("fixture lacks tensor %s", name)
	}
	x, err := tt.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func flatten[T any](rows [][]T) []T {
	var out []T
	for _, r := range rows {
		out = append(out, r...)
	}
	return out
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
