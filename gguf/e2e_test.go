package gguf_test

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/minimind-go/minimind/gguf"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// The texts whose token ids llama.cpp must reproduce (besides the tokenizer
// fixtures' encode.jsonl, when present).
var e2eTexts = []string{
	"", "hello world", "Hello, World! It's 2026; we're here.", "  leading and trailing spaces  ",
	"tabs\tand\nnewlines\n\n\nrun", "数字123和English混合，标点！？", "你好，请介绍一下你自己。",
	"emoji 🙂👍🏽 and ｶﾀｶﾅ", "code: func main() { fmt.Println(\"hi\") }",
	"<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n", "<think>\nhmm\n</think>\n\nok",
}

// e2eRun is one model file given to check.mjs, and what llama.cpp answered.
type e2eRun struct {
	Model  string   `json:"model"`
	Texts  []string `json:"texts"`
	Prompt []int32  `json:"prompt"`
	Steps  int      `json:"steps"`

	name string
	typ  gguf.TensorType
	ref  *model.Params // our model as loaded back from the file
	tok  *tokenizer.Tokenizer
}

// e2eResult is check.mjs's answer for one run.
type e2eResult struct {
	Tokens   [][]int32 `json:"tokens"`
	Logprobs []float64 `json:"logprobs"`
	Greedy   []int32   `json:"greedy"`
}

// TestLlamaCpp exports trained MiniMind2 (dense: llama; MoE top-2:
// ernie4_5-moe; MoE top-1: deepseek) and minimind-3 (dense: qwen3; MoE:
// qwen3moe) models as GGUF, loads every file in llama.cpp through
// node-llama-cpp (gguf/e2e; install with NODE_LLAMA_CPP_SKIP_DOWNLOAD=true
// npm ci --omit=optional --prefix gguf/e2e) and checks that llama.cpp's
// tokenizer gives our ids and that its first-token log-probabilities are
// ours (the model as read back from the same file) within 2e-3 (f32),
// 5e-3 (f16), 2e-2 (bf16: llama.cpp rounds the activations to bf16 too) or
// 0.1 (q8_0: it quantises the activations to 8 bits too); its 32 greedy
// tokens must be ours for f32 and f16 (q8_0's are reported: an 8-bit
// activation may flip a near-tie).
func TestLlamaCpp(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: skipping the llama.cpp check")
	}
	script, err := filepath.Abs(filepath.Join("e2e", "check.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join("e2e", "node_modules", "node-llama-cpp")); err != nil {
		t.Skip("gguf/e2e/node_modules absent: run NODE_LLAMA_CPP_SKIP_DOWNLOAD=true npm ci --omit=optional --prefix gguf/e2e")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found")
	}
	tok2, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	texts := append([]string(nil), e2eTexts...)
	var tok3 *tokenizer.Tokenizer
	if dir := fixtureDir("minimind3-tokenizer"); dir != "" {
		if tok3, err = tokenizer.Load(dir); err != nil {
			t.Fatal(err)
		}
		texts = append(texts, fixtureTexts(t, filepath.Join(dir, "encode.jsonl"))...)
	} else {
		t.Log("minimind3-tokenizer fixture absent: checking MiniMind2 only")
	}
	start := time.Now()
	corpus := quickstartTexts(t, 400)

	m2 := model.DefaultConfig()
	m2.HiddenSize, m2.NumHiddenLayers, m2.NumAttentionHeads, m2.NumKeyValueHeads, m2.IntermediateSize = 128, 2, 4, 2, 384
	m2.MaxPositionEmbeddings = 512
	type e2eModel struct {
		name string
		cfg  model.Config
		tok  *tokenizer.Tokenizer
	}
	// MiniMind2-MoE as upstream's default (4 routed, top-2 renormalised, one
	// shared: ernie4_5-moe) and top-1 (deepseek), at a smaller width.
	moe2 := m2
	moe2.HiddenSize, moe2.IntermediateSize = 64, 128
	moe2.UseMoE, moe2.NRoutedExperts, moe2.NumExpertsPerTok, moe2.NSharedExperts = true, 4, 2, 1
	moe2top1 := moe2
	moe2top1.NumExpertsPerTok = 1
	models := []e2eModel{{"minimind2", m2, tok2}, {"minimind2-moe", moe2, tok2}, {"minimind2-moe-top1", moe2top1, tok2}}
	if tok3 != nil {
		m3 := model.DefaultConfig3()
		m3.HiddenSize, m3.NumHiddenLayers, m3.NumAttentionHeads, m3.NumKeyValueHeads, m3.HeadDim = 64, 2, 4, 2, 32
		m3.IntermediateSize, m3.MaxPositionEmbeddings = 256, 512
		moe := m3
		moe.UseMoE, moe.NumExperts, moe.NumExpertsPerTok, moe.MoeIntermediateSize = true, 4, 2, 128
		moeTop1 := moe // upstream's default routing
		moeTop1.NumExpertsPerTok = 1
		models = append(models, e2eModel{"minimind3", m3, tok3}, e2eModel{"minimind3-moe", moe, tok3}, e2eModel{"minimind3-moe-top1", moeTop1, tok3})
	}

	dir := t.TempDir()
	var runs []*e2eRun
	for _, m := range models {
		steps := 30
		if m.name == "minimind2" {
			steps = 40
		}
		p := trainSmall(t, m.name, m.cfg, m.tok, corpus, steps)
		prompt := m.tok.Encode(corpus[len(corpus)-1])[:24]
		types := []gguf.TensorType{gguf.F32, gguf.F16, gguf.Q8_0}
		switch m.name {
		case "minimind2":
			types = append(types, gguf.BF16)
		case "minimind2-moe-top1", "minimind3-moe-top1": // routing only: the types are checked above
			types = types[:1]
		}
		for _, typ := range types {
			path := filepath.Join(dir, m.name+"-"+typ.String()+".gguf")
			if err := gguf.Export(path, p, m.tok, gguf.ExportOptions{Type: typ, Name: m.name}); err != nil {
				t.Fatal(err)
			}
			ref, err := gguf.Load(path)
			if err != nil {
				t.Fatal(err)
			}
			runs = append(runs, &e2eRun{Model: path, Texts: texts, Prompt: prompt, Steps: 32, name: m.name + "/" + typ.String(), typ: typ, ref: ref, tok: m.tok})
		}
	}
	req, err := json.Marshal(map[string]any{"threads": 1, "runs": runs})
	if err != nil {
		t.Fatal(err)
	}
	reqPath := filepath.Join(dir, "request.json")
	if err := os.WriteFile(reqPath, req, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("models trained and exported in %v", time.Since(start).Round(time.Millisecond))
	cmd := exec.Command(node, script, reqPath)
	cmd.Dir = "e2e"
	cmd.Env = append(os.Environ(), "NODE_LLAMA_CPP_SKIP_DOWNLOAD=true")
	out, err := cmd.Output()
	if err != nil {
		msg := ""
		if ee, ok := err.(*exec.ExitError); ok {
			msg = string(ee.Stderr)
		}
		t.Fatalf("node check.mjs: %v\n%s", err, msg)
	}
	t.Logf("llama.cpp ran %d files in %v", len(runs), time.Since(start).Round(time.Millisecond))
	var results []*e2eResult
	if err := json.Unmarshal(out, &results); err != nil || len(results) != len(runs) {
		t.Fatalf("node check.mjs printed %d results (%v), want %d:\n%.2000s", len(results), err, len(runs), out)
	}
	for i, r := range runs {
		got := results[i]
		t.Run(r.name, func(t *testing.T) {
			for j, text := range r.Texts {
				if want := r.tok.Encode(text); !slices.Equal(got.Tokens[j], want) {
					t.Errorf("tokenize %q: llama.cpp %v, ours %v", text, got.Tokens[j], want)
				}
			}
			be := cpu.New(cpu.Options{Threads: 2})
			m := model.New(r.ref, be)
			logits, err := m.Logits(r.Prompt, 1, len(r.Prompt), nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			ours := logSoftmax(logits)
			if len(got.Logprobs) != len(ours) {
				t.Fatalf("llama.cpp gave %d log-probabilities, want %d", len(got.Logprobs), len(ours))
			}
			d := 0.0
			for k, v := range ours {
				d = math.Max(d, math.Abs(v-got.Logprobs[k]))
			}
			greedy := greedyIDs(t, m, r.Prompt, r.Steps)
			same := 0
			for same < len(greedy) && same < len(got.Greedy) && greedy[same] == got.Greedy[same] {
				same++
			}
			t.Logf("max |Δ log-prob| %.3g; greedy: %d of %d tokens identical; %d texts tokenized", d, same, r.Steps, len(r.Texts))
			tol := map[gguf.TensorType]float64{gguf.F32: 2e-3, gguf.F16: 5e-3, gguf.BF16: 2e-2, gguf.Q8_0: 0.1}[r.typ]
			if d > tol {
				t.Errorf("max |Δ log-prob| %.3g > %.g", d, tol)
			}
			if (r.typ == gguf.F32 || r.typ == gguf.F16) && same != r.Steps {
				t.Errorf("greedy: ours %v, llama.cpp %v", greedy, got.Greedy)
			}
		})
	}
}

// fixtureDir returns ../shared/fixtures/name next to the module root, or
// "" when it is absent (the minimind-3 part is then left out, not the test).
func fixtureDir(name string) string {
	dir := filepath.Join("..", "..", "shared", "fixtures", name)
	if _, err := os.Stat(dir); err != nil {
		return ""
	}
	return dir
}

func logSoftmax(l []float32) []float64 {
	mx := math.Inf(-1)
	for _, v := range l {
		mx = math.Max(mx, float64(v))
	}
	s := 0.0
	for _, v := range l {
		s += math.Exp(float64(v) - mx)
	}
	out := make([]float64, len(l))
	for i, v := range l {
		out[i] = float64(v) - mx - math.Log(s)
	}
	return out
}

// greedyIDs continues prompt by argmax for steps tokens (no stop token).
func greedyIDs(t *testing.T, m *model.Model, prompt []int32, steps int) []int32 {
	ids := append([]int32(nil), prompt...)
	for range steps {
		l, err := m.Logits(ids, 1, len(ids), nil, 1)
		if err != nil {
			t.Fatal(err)
		}
		best := 0
		for k, v := range l {
			if v > l[best] {
				best = k
			}
		}
		ids = append(ids, int32(best))
	}
	return ids[len(prompt):]
}

// trainSmall trains a fresh model for a few AdamW steps on corpus, so that
// its logits are peaked as a trained model's are (a random one's are flat
// and its greedy choices near-ties).
func trainSmall(t *testing.T, name string, cfg model.Config, tok *tokenizer.Tokenizer, corpus []string, steps int) *model.Params {
	t.Helper()
	cfg.VocabSize = tok.VocabSize()
	p, err := model.NewParams(cfg)
	if err != nil {
		t.Fatal(err)
	}
	p.Init(1)
	var stream []int32
	for _, s := range corpus {
		stream = append(stream, tok.Encode(s)...)
		stream = append(stream, int32(cfg.EosTokenID))
	}
	const B, T = 4, 64
	be := cpu.New(cpu.Options{Threads: 2})
	m := model.New(p, be)
	opt := train.NewAdamW(p, train.DefaultAdamW())
	ids, targets, mask := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
	for i := range mask {
		mask[i] = 1
	}
	var last float64
	for step := range steps {
		for b := range B {
			off := ((step*B + b) * T) % (len(stream) - T - 1)
			copy(ids[b*T:], stream[off:off+T])
			copy(targets[b*T:], stream[off+1:off+T+1])
		}
		m.ZeroGrad()
		st, err := m.ForwardBackward(ids, targets, mask, B, T, 1)
		if err != nil {
			t.Fatal(err)
		}
		train.ClipGradNorm(be, m.Grads, 1)
		opt.Step(be, p.Data, m.Grads, 3e-3)
		last = st.Loss
	}
	t.Logf("%s: trained %d steps, last loss %.5f", name, steps, last)
	return p
}

// quickstartTexts returns the first n texts of the bundled pretraining
// sample.
func quickstartTexts(t *testing.T, n int) []string {
	f, err := os.Open(filepath.Join("..", "quickstart", "data", "pretrain.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	z, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(z)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	var out []string
	for sc.Scan() && len(out) < n {
		var row struct {
			Text string `json:"text"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err == nil && row.Text != "" {
			out = append(out, row.Text)
		}
	}
	if len(out) < 2 {
		t.Fatalf("quickstart data: %d texts", len(out))
	}
	return out
}

func fixtureTexts(t *testing.T, path string) []string {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range splitLines(data) {
		var row struct {
			Text string `json:"text"`
		}
		if json.Unmarshal(line, &row) == nil {
			out = append(out, row.Text)
		}
	}
	return out
}

func splitLines(b []byte) [][]byte {
	var out [][]byte
	for len(b) > 0 {
		i := slices.Index(b, '\n')
		if i < 0 {
			return append(out, b)
		}
		out = append(out, b[:i])
		b = b[i+1:]
	}
	return out
}
