package checkpoint

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/minimind-go/minimind/checkpoint/pickle"
	"github.com/minimind-go/minimind/checkpoint/pth"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/gguf"
	"github.com/minimind-go/minimind/model"
)

// Load reads weights from any path a user may give as a "model path": an
// HF-layout directory (LoadHF: ours, upstream's, or transformers' Llama /
// Qwen3 / Qwen3-MoE), or a PyTorch .pth
// state dict (sizes from the tensors; heads, rope_theta and the other
// fields that shapes cannot tell come from base, e.g. the user's flags),
// or a GGUF file (llama / qwen3 / qwen3moe, config from its metadata).
//
// A .bin or .safetensors file with a config.json beside it (an HF
// directory's pytorch_model.bin, model.safetensors or one of its shards)
// loads as its directory does: the config, rope_theta, rms_norm_eps and
// MoE settings included, comes from that config.json, not from the shapes
// and base. The weights are those of the file named (DIR/pytorch_model.bin
// loads the .bin even when DIR also holds model.safetensors), or, for a
// shard named by the directory's index, the whole sharded checkpoint. A
// .bin or .safetensors without a config.json is read as a .pth is (sizes
// from the shapes, the rest from base); a .pth or .pt always is,
// config.json or not, as the trainers' output directories may hold a
// config.json of another model.
func Load(path string, base model.Config) (*model.Params, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.IsDir() {
		return LoadHF(path)
	}
	ext := strings.ToLower(filepath.Ext(path))
	switch ext {
	case ".bin", ".safetensors":
		cfgPath := filepath.Join(filepath.Dir(path), ConfigFile)
		_, err := os.Stat(cfgPath)
		switch {
		case err == nil:
			return loadWeightFile(path)
		case !errors.Is(err, os.ErrNotExist):
			return nil, err
		case ext == ".safetensors":
			src, err := openSafetensors(path)
			if err != nil {
				return nil, err
			}
			return loadShapes(path, dropBuffers(src), base)
		}
		return LoadPth(path, base)
	case ".pth", ".pt":
		return LoadPth(path, base)
	case ".gguf":
		return gguf.Load(path)
	}
	return nil, fmt.Errorf("%s: not a model directory, .pth, .bin, .safetensors or .gguf file", path)
}

// stripPrefix removes wrappers' key prefixes: DDP's "module." and
// torch.compile's "_orig_mod.".
func stripPrefix(name string) string {
	for _, p := range []string{"module.", "_orig_mod."} {
		name = strings.TrimPrefix(name, p)
	}
	return name
}

var layerRe = regexp.MustCompile(`^model\.layers\.(\d+)\.`)
var expertRe = regexp.MustCompile(`^model\.layers\.0\.mlp\.experts\.(\d+)\.`)
var sharedRe = regexp.MustCompile(`^model\.layers\.0\.mlp\.shared_experts\.(\d+)\.`)

// ConfigFromShapes derives the sizes of a MiniMind model from its
// state-dict shapes (hidden from model.norm.weight, layers from the largest
// layer index, intermediate from a gate_proj, experts from mlp.experts.N,
// vocab from the embedding, kv heads from k_proj and the head size implied
// by base's num_attention_heads). Other fields come from base.
//
// Weights with q_norm tensors are minimind-3: then the head size comes
// from q_norm, the query heads from q_proj, and the fields shapes cannot
// tell keep base's values when base is a minimind-3 config, else
// upstream's minimind-3 defaults (model.DefaultConfig3; rope_theta,
// max_position_embeddings and inference_rope_scaling still from base).
// Likewise MiniMind2 weights with a minimind-3 base start from
// model.DefaultConfig with base's heads.
func ConfigFromShapes(shapes map[string][]int, base model.Config) (model.Config, error) {
	c := base
	_, m3 := shapes[qNormName]
	if m3 != base.IsMiniMind3() { // the tensors choose the family
		c = model.DefaultConfig()
		if m3 {
			c = model.DefaultConfig3()
		}
		c.NumAttentionHeads = base.NumAttentionHeads
		c.RopeTheta, c.MaxPositionEmbeddings, c.Dropout = base.RopeTheta, base.MaxPositionEmbeddings, base.Dropout
		c.SetInferenceRopeScaling(base.InferenceRopeScaling)
	}
	get := func(name string, dims int) ([]int, error) {
		s, ok := shapes[name]
		if !ok {
			return nil, fmt.Errorf("tensor %q: %w", name, ErrMissingTensor)
		}
		if len(s) != dims {
			return nil, fmt.Errorf("tensor %q: shape %s, want %d dimensions: %w", name, safetensors.FormatShape(s), dims, ErrShape)
		}
		return s, nil
	}
	norm, err := get("model.norm.weight", 1)
	if err != nil {
		return c, err
	}
	c.HiddenSize = norm[0]
	emb, err := get(model.EmbedName, 2)
	if err != nil {
		if emb, err = get(model.LMHeadName, 2); err != nil {
			return c, err
		}
	}
	c.VocabSize = emb[0]
	layers, experts, shared := 0, 0, 0
	// index parses the N of a key; one too large for any model (an
	// overflow, or a count the layout would take memory to build) is an
	// error, so a corrupt key cannot size the model.
	index := func(re *regexp.Regexp, name string, limit int) (int, error) {
		m := re.FindStringSubmatch(name)
		if m == nil {
			return 0, nil
		}
		n, err := strconv.Atoi(m[1])
		if err != nil || n >= limit || n >= len(shapes) {
			return 0, fmt.Errorf("tensor %s: index %s is larger than the state dict's %d tensors allow: %w", pickle.Quote(name), pickle.Quote(m[1]), len(shapes), ErrShape)
		}
		return n + 1, nil
	}
	for name := range shapes {
		for _, x := range []struct {
			re    *regexp.Regexp
			n     *int
			limit int
		}{{layerRe, &layers, model.MaxLayers}, {expertRe, &experts, model.MaxExperts}, {sharedRe, &shared, model.MaxExperts}} {
			n, err := index(x.re, name, x.limit)
			if err != nil {
				return c, err
			}
			*x.n = max(*x.n, n)
		}
	}
	if layers == 0 {
		return c, fmt.Errorf("no model.layers.N tensors: not a MiniMind state dict")
	}
	c.NumHiddenLayers = layers
	c.UseMoE = experts > 0
	if m3 {
		return configFromShapes3(c, get, experts)
	}
	gate := "model.layers.0.mlp.gate_proj.weight"
	if c.UseMoE {
		c.NRoutedExperts, c.NSharedExperts = experts, shared
		c.NumExpertsPerTok = min(c.NumExpertsPerTok, experts)
		gate = "model.layers.0.mlp.experts.0.gate_proj.weight"
	}
	g, err := get(gate, 2)
	if err != nil {
		return c, err
	}
	c.IntermediateSize = g[0]
	if c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0 {
		return c, fmt.Errorf("hidden size %d is not divisible by num_attention_heads %d (pass the model's head count)", c.HiddenSize, c.NumAttentionHeads)
	}
	k, err := get("model.layers.0.self_attn.k_proj.weight", 2)
	if err != nil {
		return c, err
	}
	hd := c.HiddenSize / c.NumAttentionHeads
	if k[0]%hd != 0 {
		return c, fmt.Errorf("k_proj has %d rows, not a multiple of the head size %d (check num_attention_heads)", k[0], hd)
	}
	c.NumKeyValueHeads = k[0] / hd
	return c, c.Validate()
}

// LoadPth reads a PyTorch state dict (fp32, fp16 or bf16; with or without a
// "module." prefix; one or both tied keys) as written by MiniMind's trainers.
func LoadPth(path string, base model.Config) (*model.Params, error) {
	ts, err := pth.ReadStateDict(path)
	if err != nil {
		return nil, err
	}
	return loadShapes(path, pthSource(ts), base)
}

// loadShapes builds a model from a weight file without a config.json (a
// .pth, or a lone .safetensors): sizes from the tensors' shapes, the rest
// from base (ConfigFromShapes).
func loadShapes(path string, src tensorSource, base model.Config) (*model.Params, error) {
	shapes := map[string][]int{}
	for _, n := range src.names {
		shapes[n], _ = src.shape(n)
	}
	cfg, err := ConfigFromShapes(shapes, base)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// Upstream's trainers save both tied keys (the same values); an
	// lm_head.weight that differs from the embedding is an untied head.
	if _, ok := shapes[model.EmbedName]; ok {
		if _, ok := shapes[model.LMHeadName]; ok {
			e, err := src.data(model.EmbedName)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			h, err := src.data(model.LMHeadName)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			if !slices.Equal(e, h) {
				cfg.TieWordEmbeddings = false
			}
		}
	}
	p, err := build(cfg, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// SavePth writes p as a MiniMind trainer state dict: every tensor in
// state_dict order plus lm_head.weight, stored as dtype ("F16" as MiniMind
// does, "BF16" or "F32"); torch.load reads it.
func SavePth(path string, p *model.Params, dtype string) error {
	ts := make([]pth.Tensor, 0, len(p.Specs)+1)
	for _, s := range p.Specs {
		ts = append(ts, pth.Tensor{Name: s.Name, Shape: s.Shape, Data: p.View(p.Data, s.Name)})
	}
	// The original's state_dict() lists lm_head.weight last; the trainers'
	// {k: v.half()} then stores it as a separate copy. Untied, it is in
	// the layout already.
	if p.Config.Tied() {
		emb, _ := p.Spec(model.EmbedName)
		ts = append(ts, pth.Tensor{Name: model.LMHeadName, Shape: emb.Shape, Data: p.View(p.Data, model.EmbedName)})
	}
	return pth.WriteStateDict(path, ts, dtype)
}

// configFromShapes3 finishes ConfigFromShapes for minimind-3 weights.
func configFromShapes3(c model.Config, get func(string, int) ([]int, error), experts int) (model.Config, error) {
	qn, err := get(qNormName, 1)
	if err != nil {
		return c, err
	}
	hd := qn[0]
	if hd <= 0 {
		return c, fmt.Errorf("tensor %s: head_dim %d: %w", qNormName, hd, ErrShape)
	}
	c.HeadDim = hd
	for _, x := range []struct {
		name string
		n    *int
	}{{"model.layers.0.self_attn.q_proj.weight", &c.NumAttentionHeads}, {"model.layers.0.self_attn.k_proj.weight", &c.NumKeyValueHeads}} {
		s, err := get(x.name, 2)
		if err != nil {
			return c, err
		}
		if s[0]%hd != 0 || s[0] == 0 {
			return c, fmt.Errorf("tensor %s has %d rows, not a multiple of head_dim %d (from q_norm): %w", x.name, s[0], hd, ErrShape)
		}
		*x.n = s[0] / hd
	}
	if c.UseMoE {
		g, err := get("model.layers.0.mlp.experts.0.gate_proj.weight", 2)
		if err != nil {
			return c, err
		}
		c.NumExperts, c.MoeIntermediateSize = experts, g[0]
		c.NumExpertsPerTok = min(max(c.NumExpertsPerTok, 1), experts)
		c.IntermediateSize = model.MiniMind3Intermediate(c.HiddenSize)
	} else {
		g, err := get("model.layers.0.mlp.gate_proj.weight", 2)
		if err != nil {
			return c, err
		}
		c.IntermediateSize = g[0]
	}
	return c, c.Validate()
}
