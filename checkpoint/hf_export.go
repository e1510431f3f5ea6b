package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/atomicfile"
	"github.com/minimind-go/minimind/model"
)

// Targets of ExportTransformers: the transformers architecture families a
// MiniMind model maps onto exactly.
const (
	// TargetLlama is LlamaForCausalLM (model_type "llama"): MiniMind2
	// dense, as upstream 2510's convert_torch2transformers_llama.
	TargetLlama = "llama"
	// TargetQwen3 is Qwen3ForCausalLM ("qwen3") for minimind-3 dense and
	// Qwen3MoeForCausalLM ("qwen3_moe") for minimind-3 MoE, as upstream
	// HEAD's convert_torch2transformers.
	TargetQwen3 = "qwen3"
)

// File names transformers writes next to config.json.
const (
	GenerationConfigFile = "generation_config.json"
	SafetensorsIndexFile = "model.safetensors.index.json"
	PytorchBinFile       = "pytorch_model.bin"
	PytorchBinIndexFile  = "pytorch_model.bin.index.json"
)

// ErrNotRepresentable is wrapped by export errors for a model the target
// architecture cannot compute exactly; the message says why.
var ErrNotRepresentable = errors.New("cannot be represented exactly")

// ExportTransformers writes p into dir as a transformers checkpoint of
// target (TargetLlama or TargetQwen3): config.json with the architecture's
// own keys, generation_config.json and model.safetensors in dtype (F32,
// F16 or BF16). The tensor names are MiniMind's, which are already those
// of LlamaForCausalLM and (per-expert) Qwen3MoeForCausalLM; the tied
// matrix is stored once as model.embed_tokens.weight with
// tie_word_embeddings true, as save_pretrained writes it. It returns the
// architecture written ("LlamaForCausalLM", ...). A model the target
// cannot compute exactly is refused (ErrNotRepresentable), never
// approximated.
func ExportTransformers(dir string, p *model.Params, target string, dtype safetensors.DType) (string, error) {
	cfg, err := TransformersConfig(&p.Config, target, dtype)
	if err != nil {
		return "", err
	}
	arch := cfg["architectures"].([]string)[0]
	cfgJSON, err := marshalSorted(cfg)
	if err != nil {
		return "", err
	}
	gen, err := marshalSorted(map[string]any{
		"_from_model_config": true,
		"bos_token_id":       p.Config.BosTokenID,
		"eos_token_id":       p.Config.EosTokenID,
	})
	if err != nil {
		return "", err
	}
	if err := saveSafetensors(dir, p, dtype); err != nil {
		return "", err
	}
	for _, f := range []struct {
		name string
		data []byte
	}{{ConfigFile, cfgJSON}, {GenerationConfigFile, gen}} {
		err := atomicfile.Write(filepath.Join(dir, f.name), 0o644, func(w io.Writer) error {
			_, err := w.Write(f.data)
			return err
		})
		if err != nil {
			return "", err
		}
	}
	return arch, nil
}

// TransformersConfig returns the config.json that transformers'
// LlamaConfig, Qwen3Config or Qwen3MoeConfig (transformers 4.x key names,
// which 5.x also reads; rope_theta and rope_scaling null rather than 5.x's
// rope_parameters, as upstream's converter writes) would save for c, or
// an ErrNotRepresentable error naming what the target lacks.
func TransformersConfig(c *model.Config, target string, dtype safetensors.DType) (map[string]any, error) {
	torchDType, ok := map[safetensors.DType]string{safetensors.F32: "float32", safetensors.F16: "float16", safetensors.BF16: "bfloat16"}[dtype]
	if !ok {
		return nil, fmt.Errorf("checkpoint: cannot save weights as %s (want F32, F16 or BF16)", dtype)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if rs := c.Scaling(); rs != nil {
		// transformers' YaRN clamps the correction range to head_dim-1
		// (MiniMind: head_dim/2-1), always scales (MiniMind: only when
		// max_position_embeddings exceeds the original), and upstream's
		// converter exports rope_scaling null anyway.
		return nil, fmt.Errorf("the model has rope_scaling %s (inference_rope_scaling): transformers' YaRN is not MiniMind's, so the export would not compute the same logits; export the model without it: %w", rs.Type, ErrNotRepresentable)
	}
	m := map[string]any{
		"attention_bias":          false,
		"attention_dropout":       pyFloat(0),
		"bos_token_id":            c.BosTokenID,
		"eos_token_id":            c.EosTokenID,
		"head_dim":                c.HeadSize(),
		"hidden_act":              "silu",
		"hidden_size":             c.HiddenSize,
		"initializer_range":       pyFloat(0.02),
		"intermediate_size":       c.IntermediateSize,
		"max_position_embeddings": c.MaxPositionEmbeddings,
		"num_attention_heads":     c.NumAttentionHeads,
		"num_hidden_layers":       c.NumHiddenLayers,
		"num_key_value_heads":     c.NumKeyValueHeads,
		"rms_norm_eps":            pyFloat(c.RMSNormEps),
		"rope_scaling":            nil,
		"rope_theta":              pyFloat(c.RopeTheta),
		"tie_word_embeddings":     c.Tied(),
		"torch_dtype":             torchDType,
		"use_cache":               true,
		"vocab_size":              c.VocabSize,
	}
	switch target {
	case TargetLlama:
		switch {
		case c.IsMiniMind3():
			return nil, fmt.Errorf("a minimind-3 model applies RMSNorm to q and k (q_norm, k_norm), which LlamaForCausalLM lacks: export it with --to hf-qwen3: %w", ErrNotRepresentable)
		case c.UseMoE:
			return nil, fmt.Errorf("MiniMind2-MoE (%d routed experts, top-%d, %d shared) is not a Llama: LlamaForCausalLM is dense, and no transformers architecture has MiniMind2's routed + ungated shared experts: %w",
				c.Experts(), c.NumExpertsPerTok, c.SharedExperts(), ErrNotRepresentable)
		}
		m["architectures"] = []string{"LlamaForCausalLM"}
		m["model_type"] = "llama"
		m["mlp_bias"] = false
		m["pretraining_tp"] = 1
	case TargetQwen3:
		if !c.IsMiniMind3() {
			return nil, fmt.Errorf("a MiniMind2 model has no q/k RMSNorm, which Qwen3 applies: export it with --to hf-llama: %w", ErrNotRepresentable)
		}
		m["max_window_layers"] = c.NumHiddenLayers
		m["sliding_window"] = nil
		m["use_sliding_window"] = false
		if !c.UseMoE {
			m["architectures"] = []string{"Qwen3ForCausalLM"}
			m["model_type"] = "qwen3"
			layers := make([]string, c.NumHiddenLayers)
			for i := range layers {
				layers[i] = "full_attention"
			}
			m["layer_types"] = layers
			break
		}
		// Qwen3MoeSparseMoeBlock: softmax over the experts, top-k, and
		// with norm_topk_prob w/Σw, which is minimind-3's
		// w/(Σw+1e-20) in float32 (and 1 for top-1); no shared experts.
		m["architectures"] = []string{"Qwen3MoeForCausalLM"}
		m["model_type"] = "qwen3_moe"
		m["decoder_sparse_step"] = 1
		m["mlp_only_layers"] = []int{}
		m["moe_intermediate_size"] = c.ExpertSize()
		m["norm_topk_prob"] = c.NormTopkProb
		m["num_experts"] = c.Experts()
		m["num_experts_per_tok"] = c.NumExpertsPerTok
		m["output_router_logits"] = false
		m["router_aux_loss_coef"] = pyFloat(c.RouterAuxLossCoef)
	default:
		return nil, fmt.Errorf("checkpoint: unknown transformers target %q (want %q or %q)", target, TargetLlama, TargetQwen3)
	}
	return m, nil
}

// pyFloat is a float written as Python's json.dumps writes one (1000000.0,
// 1e-05, 0.0), so a float field reads back as a float in Python.
type pyFloat float64

// MarshalJSON writes f as Python's repr: positional notation with a
// decimal point for exponents in [-4, 16), else scientific with a
// two-digit exponent.
func (f pyFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return nil, fmt.Errorf("checkpoint: %v has no JSON form", v)
	}
	if v == 0 {
		return []byte("0.0"), nil
	}
	if e := math.Floor(math.Log10(math.Abs(v))); e < -4 || e >= 16 {
		return []byte(strconv.FormatFloat(v, 'e', -1, 64)), nil // Go's and Python's forms agree: 1e-05, 1.5e+16
	}
	s := strconv.FormatFloat(v, 'f', -1, 64)
	if !strings.ContainsAny(s, ".") {
		s += ".0"
	}
	return []byte(s), nil
}

// marshalSorted writes m as indented JSON with sorted keys and a final
// newline (as transformers' to_json_string(sort_keys=True)).
func marshalSorted(m map[string]any) ([]byte, error) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, k := range keys {
		kb, _ := json.Marshal(k)
		v, err := json.Marshal(m[k])
		if err != nil {
			return nil, fmt.Errorf("config field %s: %w", k, err)
		}
		fmt.Fprintf(&buf, "  %s: %s", kb, v)
		if i < len(keys)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}\n")
	return buf.Bytes(), nil
}
