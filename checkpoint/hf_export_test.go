package checkpoint_test

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// transformersKeys are the config.json keys transformers 4.x's
// LlamaConfig, Qwen3Config and Qwen3MoeConfig save (their __init__
// arguments plus model_type, architectures and torch_dtype; Qwen3's
// layer_types from 4.53 on), checked against transformers'
// configuration_llama.py, configuration_qwen3.py and
// configuration_qwen3_moe.py.
var transformersKeys = map[string][]string{
	"llama": {"architectures", "attention_bias", "attention_dropout", "bos_token_id", "eos_token_id", "head_dim",
		"hidden_act", "hidden_size", "initializer_range", "intermediate_size", "max_position_embeddings", "mlp_bias",
		"model_type", "num_attention_heads", "num_hidden_layers", "num_key_value_heads", "pretraining_tp",
		"rms_norm_eps", "rope_scaling", "rope_theta", "tie_word_embeddings", "torch_dtype", "use_cache", "vocab_size"},
	"qwen3": {"architectures", "attention_bias", "attention_dropout", "bos_token_id", "eos_token_id", "head_dim",
		"hidden_act", "hidden_size", "initializer_range", "intermediate_size", "layer_types", "max_position_embeddings",
		"max_window_layers", "model_type", "num_attention_heads", "num_hidden_layers", "num_key_value_heads",
		"rms_norm_eps", "rope_scaling", "rope_theta", "sliding_window", "tie_word_embeddings", "torch_dtype",
		"use_cache", "use_sliding_window", "vocab_size"},
	"qwen3_moe": {"architectures", "attention_bias", "attention_dropout", "bos_token_id", "decoder_sparse_step",
		"eos_token_id", "head_dim", "hidden_act", "hidden_size", "initializer_range", "intermediate_size",
		"max_position_embeddings", "max_window_layers", "mlp_only_layers", "model_type", "moe_intermediate_size",
		"norm_topk_prob", "num_attention_heads", "num_experts", "num_experts_per_tok", "num_hidden_layers",
		"num_key_value_heads", "output_router_logits", "rms_norm_eps", "rope_scaling", "rope_theta",
		"router_aux_loss_coef", "sliding_window", "tie_word_embeddings", "torch_dtype", "use_cache",
		"use_sliding_window", "vocab_size"},
}

// logits runs p on a fixed batch (2 sequences of 7 tokens) on the
// reference backend.
func logits(t *testing.T, p *model.Params) []float32 {
	t.Helper()
	V := p.Config.VocabSize
	ids := make([]int32, 14)
	for i := range ids {
		ids[i] = int32((i*37 + 5) % V)
	}
	out, err := model.New(p, ref.New()).Logits(ids, 2, 7, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func loadFixture(t *testing.T, name string) *model.Params {
	t.Helper()
	p, err := checkpoint.LoadHF(fixture.Dir(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestTransformersRoundTrip exports MiniMind2 dense as LlamaForCausalLM and
// minimind-3 dense and MoE as Qwen3ForCausalLM / Qwen3MoeForCausalLM, reads
// the directories back, and checks the config keys against transformers'
// classes, the config values, every parameter bit for bit and the f32
// logits.
func TestTransformersRoundTrip(t *testing.T) {
	untied := func(c model.Config) model.Config { c.TieWordEmbeddings = false; return c }
	for _, tc := range []struct {
		name      string
		params    func(t *testing.T) *model.Params
		target    string
		modelType string
		arch      string
	}{
		{"tiny-dense fixture → llama", func(t *testing.T) *model.Params { return loadFixture(t, "tiny-dense") }, checkpoint.TargetLlama, "llama", "LlamaForCausalLM"},
		{"MiniMind2 untied → llama", func(t *testing.T) *model.Params { return modeltest.Params(t, untied(modeltest.TinyConfig(false)), 3) }, checkpoint.TargetLlama, "llama", "LlamaForCausalLM"},
		{"minimind3-dense → qwen3", func(t *testing.T) *model.Params { return loadFixture(t, "minimind3-dense") }, checkpoint.TargetQwen3, "qwen3", "Qwen3ForCausalLM"},
		{"minimind3-head_dim24 → qwen3", func(t *testing.T) *model.Params { return loadFixture(t, "minimind3-head_dim24") }, checkpoint.TargetQwen3, "qwen3", "Qwen3ForCausalLM"},
		{"minimind3-moe → qwen3_moe", func(t *testing.T) *model.Params { return loadFixture(t, "minimind3-moe") }, checkpoint.TargetQwen3, "qwen3_moe", "Qwen3MoeForCausalLM"},
		{"minimind-3 MoE untied, no renorm → qwen3_moe", func(t *testing.T) *model.Params {
			c := untied(modeltest.TinyConfig3(true))
			c.NormTopkProb = false
			return modeltest.Params(t, c, 4)
		}, checkpoint.TargetQwen3, "qwen3_moe", "Qwen3MoeForCausalLM"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := tc.params(t)
			dir := t.TempDir()
			arch, err := checkpoint.ExportTransformers(dir, p, tc.target, safetensors.F32)
			if err != nil {
				t.Fatal(err)
			}
			if arch != tc.arch {
				t.Errorf("architecture %s, want %s", arch, tc.arch)
			}
			var cfg map[string]any
			b, err := os.ReadFile(filepath.Join(dir, checkpoint.ConfigFile))
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			var keys []string
			for k := range cfg {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			if want := transformersKeys[tc.modelType]; !slices.Equal(keys, want) {
				t.Errorf("config.json keys\n got %v\nwant %v", keys, want)
			}
			c := p.Config
			for k, want := range map[string]any{
				"model_type": tc.modelType, "architectures": []any{tc.arch}, "torch_dtype": "float32",
				"hidden_size": float64(c.HiddenSize), "head_dim": float64(c.HeadSize()), "num_key_value_heads": float64(c.NumKeyValueHeads),
				"rms_norm_eps": c.RMSNormEps, "rope_theta": c.RopeTheta, "tie_word_embeddings": c.Tied(), "rope_scaling": nil,
				"hidden_act": "silu", "attention_bias": false, "intermediate_size": float64(c.IntermediateSize),
			} {
				if !jsonEqual(cfg[k], want) {
					t.Errorf("config.json %s = %v, want %v", k, cfg[k], want)
				}
			}
			if c.UseMoE {
				for k, want := range map[string]any{
					"num_experts": float64(c.Experts()), "num_experts_per_tok": float64(c.NumExpertsPerTok),
					"moe_intermediate_size": float64(c.ExpertSize()), "norm_topk_prob": c.NormTopkProb,
					"decoder_sparse_step": 1.0, "mlp_only_layers": []any{}, "router_aux_loss_coef": c.RouterAuxLossCoef,
				} {
					if !jsonEqual(cfg[k], want) {
						t.Errorf("config.json %s = %v, want %v", k, cfg[k], want)
					}
				}
			}
			if !strings.Contains(string(b), `"rope_theta": 1000000.0`) {
				t.Errorf("rope_theta not written as a float:\n%s", b)
			}
			f, err := safetensors.ReadFile(filepath.Join(dir, checkpoint.SafetensorsFile))
			if err != nil {
				t.Fatal(err)
			}
			if _, ok := f.Get(model.LMHeadName); ok != !c.Tied() {
				t.Errorf("lm_head.weight stored: %v, tied: %v", ok, c.Tied())
			}
			if _, err := os.Stat(filepath.Join(dir, checkpoint.GenerationConfigFile)); err != nil {
				t.Error(err)
			}

			q, err := checkpoint.LoadHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			qc := q.Config
			if qc.Family() != c.Family() || qc.Tied() != c.Tied() || qc.UseMoE != c.UseMoE || qc.HeadSize() != c.HeadSize() ||
				qc.RMSNormEps != c.RMSNormEps || qc.RopeTheta != c.RopeTheta ||
				c.UseMoE && (qc.NormTopkProb != c.NormTopkProb || qc.Experts() != c.Experts() || qc.ExpertSize() != c.ExpertSize() || qc.NumExpertsPerTok != c.NumExpertsPerTok) ||
				qc.MaxPositionEmbeddings != c.MaxPositionEmbeddings || qc.BosTokenID != c.BosTokenID || qc.EosTokenID != c.EosTokenID {
				t.Fatalf("config read back\n got %+v\nwant %+v", qc, c)
			}
			if !slices.Equal(q.Data, p.Data) {
				t.Fatal("parameters differ after the round trip")
			}
			want, got := logits(t, p), logits(t, q)
			if !slices.Equal(got, want) {
				t.Fatal("logits differ after the round trip")
			}
		})
	}
}

// jsonEqual compares a decoded JSON value with want.
func jsonEqual(got, want any) bool {
	a, _ := json.Marshal(got)
	b, _ := json.Marshal(want)
	return string(a) == string(b)
}

// TestExportRefusals: models the target cannot compute exactly are errors
// that say why, and write nothing.
func TestExportRefusals(t *testing.T) {
	yarn := modeltest.TinyConfig(false)
	yarn.SetInferenceRopeScaling(true)
	yarn.MaxPositionEmbeddings = 4096
	for _, tc := range []struct {
		name   string
		cfg    model.Config
		target string
		want   string
	}{
		{"MiniMind2-MoE → llama", modeltest.TinyConfig(true), checkpoint.TargetLlama, "MiniMind2-MoE"},
		{"MiniMind2-MoE → qwen3", modeltest.TinyConfig(true), checkpoint.TargetQwen3, "no q/k RMSNorm"},
		{"MiniMind2 → qwen3", modeltest.TinyConfig(false), checkpoint.TargetQwen3, "--to hf-llama"},
		{"minimind-3 → llama", modeltest.TinyConfig3(false), checkpoint.TargetLlama, "--to hf-qwen3"},
		{"minimind-3 MoE → llama", modeltest.TinyConfig3(true), checkpoint.TargetLlama, "q_norm"},
		{"YaRN", yarn, checkpoint.TargetLlama, "rope_scaling yarn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			_, err := checkpoint.ExportTransformers(dir, modeltest.Params(t, tc.cfg, 1), tc.target, safetensors.F16)
			if !errors.Is(err, checkpoint.ErrNotRepresentable) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want ErrNotRepresentable mentioning %q", err, tc.want)
			}
			if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused export wrote %s", dir)
			}
		})
	}
	if _, err := checkpoint.ExportTransformers(t.TempDir(), modeltest.Params(t, modeltest.TinyConfig(false), 1), "gpt2", safetensors.F32); err == nil || !strings.Contains(err.Error(), `"gpt2"`) {
		t.Errorf("unknown target: %v", err)
	}
}

// TestTransformersTorch runs exported directories through
// testdata/torch_transformers.py, a PyTorch transcription of transformers'
// Llama / Qwen3 / Qwen3-MoE forward that reads config.json with those
// classes' defaults and loads model.safetensors with
// load_state_dict(strict=True), and compares its logits with ours (the
// transformers package itself is not installable here).
func TestTransformersTorch(t *testing.T) {
	t.Parallel() // mostly waiting for torch to start
	py := torchPython(t)
	topK2 := modeltest.TinyConfig3(true)
	topK2.NumExpertsPerTok, topK2.NormTopkProb, topK2.TieWordEmbeddings = 2, false, false
	cases := []struct {
		name   string
		params func(t *testing.T) *model.Params
		target string
		dtype  safetensors.DType
	}{
		{"tiny-dense → llama", func(t *testing.T) *model.Params { return loadFixture(t, "tiny-dense") }, checkpoint.TargetLlama, safetensors.F32},
		{"MiniMind2 untied → llama bf16", func(t *testing.T) *model.Params {
			c := modeltest.TinyConfig(false)
			c.TieWordEmbeddings = false
			return modeltest.Params(t, c, 3)
		}, checkpoint.TargetLlama, safetensors.BF16},
		{"minimind3-head_dim24 → qwen3", func(t *testing.T) *model.Params { return loadFixture(t, "minimind3-head_dim24") }, checkpoint.TargetQwen3, safetensors.F32},
		{"minimind3-moe → qwen3_moe", func(t *testing.T) *model.Params { return loadFixture(t, "minimind3-moe") }, checkpoint.TargetQwen3, safetensors.F32},
		{"minimind-3 MoE top-2 unnormalised untied → qwen3_moe", func(t *testing.T) *model.Params { return modeltest.Params(t, topK2, 8) }, checkpoint.TargetQwen3, safetensors.F16},
		{"minimind-3 MoE top-2 normalised → qwen3_moe", func(t *testing.T) *model.Params {
			c := modeltest.TinyConfig3(true)
			c.NumExpertsPerTok = 2
			return modeltest.Params(t, c, 12)
		}, checkpoint.TargetQwen3, safetensors.F32},
	}
	type job struct {
		Dir  string  `json:"dir"`
		IDs  []int32 `json:"ids"`
		arch string
		q    *model.Params
	}
	var jobs []job
	for _, tc := range cases {
		p := tc.params(t)
		dir := t.TempDir()
		arch, err := checkpoint.ExportTransformers(dir, p, tc.target, tc.dtype)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		// Ours runs the original config (not what we read back: an
		// export mistake must not cancel out) on the stored, rounded
		// weights.
		q, err := model.NewParams(p.Config)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range p.Data {
			q.Data[k] = roundTo(v, tc.dtype)
		}
		V := int32(p.Config.VocabSize)
		jobs = append(jobs, job{Dir: dir, IDs: []int32{1, V - 1, 17, 3, V / 2, 42 % V, 7, 2, 9}, arch: arch, q: q})
	}
	arg, _ := json.Marshal(jobs)
	out, err := exec.Command(py, "testdata/torch_transformers.py", string(arg)).CombinedOutput()
	if err != nil {
		t.Fatalf("torch: %v\n%s", err, out)
	}
	var res []struct {
		Arch   string    `json:"architecture"`
		Logits []float32 `json:"logits"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res) != len(jobs) {
		t.Fatalf("%v: %s", err, out)
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			j, r := jobs[i], res[i]
			if r.Arch != j.arch {
				t.Errorf("torch built %s, we wrote %s", r.Arch, j.arch)
			}
			got, err := model.New(j.q, ref.New()).Logits(j.IDs, 1, len(j.IDs), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(r.Logits) {
				t.Fatalf("%d logits, torch %d", len(got), len(r.Logits))
			}
			var maxd float64
			for k := range got {
				maxd = math.Max(maxd, math.Abs(float64(got[k]-r.Logits[k])))
			}
			if maxd > 1e-4 {
				t.Errorf("logits differ from the transformers transcription's by up to %g", maxd)
			}
			t.Logf("%s: strict load_state_dict passed; logits max |diff| %.2g", j.arch, maxd)
		})
	}
}

// roundTo rounds v to dt's precision, as a safetensors file of dt stores it.
func roundTo(v float32, dt safetensors.DType) float32 {
	switch dt {
	case safetensors.F16:
		return half.F16ToFloat32(half.Float32ToF16(v))
	case safetensors.BF16:
		return half.BF16ToFloat32(half.Float32ToBF16(v))
	}
	return v
}
