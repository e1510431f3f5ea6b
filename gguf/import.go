package gguf

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"github.com/minimind-go/minimind/model"
)

// archKeys are the per-architecture keys Load understands (after the
// "arch." prefix); any other key of the architecture is refused, since it
// may change what the model computes.
var archKeys = map[string]bool{
	"vocab_size": true, "context_length": true, "embedding_length": true, "block_count": true,
	"feed_forward_length": true, "attention.head_count": true, "attention.head_count_kv": true,
	"attention.layer_norm_rms_epsilon": true, "rope.freq_base": true, "rope.dimension_count": true,
	"attention.key_length": true, "attention.value_length": true,
	"expert_count": true, "expert_used_count": true, "expert_feed_forward_length": true,
	// deepseek / ernie4_5-moe; values other than MiniMind's are refused in Config.
	"leading_dense_block_count": true, "expert_shared_count": true, "expert_weights_scale": true,
	"interleave_moe_layer_step": true, "expert_shared_feed_forward_length": true,
}

// Load reads a GGUF file written for llama, qwen3 or qwen3moe (by Export
// or by llama.cpp's converter from a model of MiniMind's shape) into
// float32 Params: the config from the metadata, weights dequantised, q/k
// rows of a llama file permuted back to rotate-half RoPE. lm_head is tied
// when output.weight is absent or byte-identical to token_embd.weight.
func Load(path string) (*model.Params, error) {
	f, closer, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return f.Params()
}

// Params converts the file's weights to model.Params (see Load).
func (f *File) Params() (*model.Params, error) {
	cfg, err := f.Config()
	if err != nil {
		return nil, err
	}
	tied, err := f.tiedOutput()
	if err != nil {
		return nil, err
	}
	cfg.TieWordEmbeddings = tied
	// Metadata alone must not make us allocate: the model it describes has
	// to be no larger than the tensors the file really holds.
	n, err := cfg.ParamCount()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	held := uint64(0)
	for i := range f.Tensors {
		held += f.Tensors[i].Elements()
	}
	if uint64(n) > held {
		return nil, fmt.Errorf("%s: the metadata describes %d parameters but the tensors hold %d", f.Name, n, held)
	}
	p, err := model.NewParams(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	arch, _ := f.str("general.architecture")
	used := map[string]bool{}
	c := &p.Config
	read := func(gname string, want []int) ([]float32, error) {
		t, ok := f.Tensor(gname)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q missing", f.Name, gname)
		}
		if got := t.Shape(); !equalInts(got, want) {
			return nil, fmt.Errorf("%s: tensor %q has shape %v, the metadata implies %v", f.Name, gname, got, want)
		}
		used[gname] = true
		return f.ReadFloat32(t)
	}
	load := func(gname, hname string) error {
		s, _ := p.Spec(hname)
		d, err := read(gname, s.Shape)
		if err != nil {
			return err
		}
		copy(p.View(p.Data, hname), d)
		return nil
	}
	if err := load("token_embd.weight", model.EmbedName); err != nil {
		return nil, err
	}
	hs := c.HeadSize()
	for l := range c.NumHiddenLayers {
		hp := fmt.Sprintf("model.layers.%d.", l)
		gp := fmt.Sprintf("blk.%d.", l)
		pairs := [][2]string{
			{"attn_norm.weight", "input_layernorm.weight"},
			{"attn_v.weight", "self_attn.v_proj.weight"},
			{"attn_output.weight", "self_attn.o_proj.weight"},
			{"ffn_norm.weight", "post_attention_layernorm.weight"},
		}
		if c.IsMiniMind3() {
			pairs = append(pairs, [2]string{"attn_q_norm.weight", "self_attn.q_norm.weight"}, [2]string{"attn_k_norm.weight", "self_attn.k_norm.weight"})
		}
		if !c.UseMoE {
			for _, x := range []string{"gate", "up", "down"} {
				pairs = append(pairs, [2]string{"ffn_" + x + ".weight", "mlp." + x + "_proj.weight"})
			}
		} else {
			pairs = append(pairs, [2]string{"ffn_gate_inp.weight", "mlp.gate.weight"})
		}
		for _, pr := range pairs {
			if err := load(gp+pr[0], hp+pr[1]); err != nil {
				return nil, err
			}
		}
		for _, qk := range []struct {
			g, h  string
			heads int
		}{{"attn_q", "q_proj", c.NumAttentionHeads}, {"attn_k", "k_proj", c.NumKeyValueHeads}} {
			hname := hp + "self_attn." + qk.h + ".weight"
			s, _ := p.Spec(hname)
			d, err := read(gp+qk.g+".weight", s.Shape)
			if err != nil {
				return nil, err
			}
			if !c.IsMiniMind3() {
				d = permuteRoPE(d, qk.heads, hs, c.HiddenSize, true)
			}
			copy(p.View(p.Data, hname), d)
		}
		if c.UseMoE {
			E := c.Experts()
			for _, x := range []string{"gate", "up", "down"} {
				first := fmt.Sprintf("%smlp.experts.0.%s_proj.weight", hp, x)
				s, _ := p.Spec(first)
				d, err := read(gp+"ffn_"+x+"_exps.weight", append([]int{E}, s.Shape...))
				if err != nil {
					return nil, err
				}
				n := s.Size()
				for e := range E {
					copy(p.View(p.Data, fmt.Sprintf("%smlp.experts.%d.%s_proj.weight", hp, e, x)), d[e*n:(e+1)*n])
				}
			}
			if S := c.SharedExperts(); S > 0 {
				F, C := c.IntermediateSize, c.HiddenSize
				for _, x := range []string{"gate", "up", "down"} {
					shape := []int{S * F, C}
					if x == "down" {
						shape = []int{C, S * F}
					}
					d, err := read(gp+"ffn_"+x+"_shexp.weight", shape)
					if err != nil {
						return nil, err
					}
					for sh := range S {
						v := p.View(p.Data, fmt.Sprintf("%smlp.shared_experts.%d.%s_proj.weight", hp, sh, x))
						if x != "down" {
							copy(v, d[sh*F*C:(sh+1)*F*C])
							continue
						}
						for r := range C {
							copy(v[r*F:(r+1)*F], d[r*S*F+sh*F:r*S*F+(sh+1)*F])
						}
					}
				}
			}
		}
	}
	if err := load("output_norm.weight", "model.norm.weight"); err != nil {
		return nil, err
	}
	if !tied {
		if err := load("output.weight", model.LMHeadName); err != nil {
			return nil, err
		}
	}
	used["output.weight"] = true // tied: checked equal to token_embd
	for _, t := range f.Tensors {
		if !used[t.Name] {
			return nil, fmt.Errorf("%s: tensor %q is not part of a MiniMind %s model", f.Name, t.Name, arch)
		}
	}
	return p, nil
}

// tiedOutput reports whether the LM head is the embedding: output.weight
// absent (llama.cpp then uses token_embd) or byte-identical to it.
func (f *File) tiedOutput() (bool, error) {
	out, ok := f.Tensor("output.weight")
	if !ok {
		return true, nil
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok {
		return false, fmt.Errorf("%s: tensor %q missing", f.Name, "token_embd.weight")
	}
	if out.Type != emb.Type || !equalDims(out.Dims, emb.Dims) {
		return false, nil
	}
	a, err := f.raw(out)
	if err != nil {
		return false, err
	}
	b, err := f.raw(emb)
	if err != nil {
		return false, err
	}
	return bytes.Equal(a, b), nil
}

func (f *File) raw(t *TensorInfo) ([]byte, error) {
	b := make([]byte, t.Bytes())
	if _, err := f.r.ReadAt(b, int64(f.DataOffset+t.Offset)); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: read data: %w", f.Name, t.Name, err)
	}
	return b, nil
}

// Config derives the MiniMind config from the metadata: llama is
// MiniMind2 dense, qwen3 minimind-3 dense, qwen3moe minimind-3 MoE.
// Unknown architectures, unknown keys of the architecture and values
// MiniMind cannot represent are errors naming the key.
func (f *File) Config() (model.Config, error) {
	arch, err := f.str("general.architecture")
	if err != nil {
		return model.Config{}, err
	}
	var c model.Config
	switch arch {
	case "llama":
		c = model.DefaultConfig()
	case "deepseek", "ernie4_5-moe":
		c = model.DefaultConfig()
		c.UseMoE = true
		c.NormTopkProb = arch == "ernie4_5-moe" // deepseek never renormalises, ernie always
	case "qwen3", "qwen3moe":
		c = model.DefaultConfig3()
		c.UseMoE = arch == "qwen3moe"
		c.NormTopkProb = true // qwen3moe always renormalises
	default:
		return model.Config{}, fmt.Errorf("%s: metadata key %q: architecture %q is not one MiniMind runs (llama, deepseek, ernie4_5-moe, qwen3, qwen3moe)", f.Name, "general.architecture", arch)
	}
	for _, e := range f.KV {
		k := e.Key
		switch {
		case strings.HasPrefix(k, arch+"."):
			if !archKeys[strings.TrimPrefix(k, arch+".")] {
				return model.Config{}, fmt.Errorf("%s: metadata key %q is not supported (it may change what the model computes)", f.Name, k)
			}
		case strings.HasPrefix(k, "general."), strings.HasPrefix(k, "tokenizer."), strings.HasPrefix(k, "quantize."):
		default:
			return model.Config{}, fmt.Errorf("%s: metadata key %q is not supported", f.Name, k)
		}
	}
	key := func(s string) string { return arch + "." + s }
	ints := []struct {
		key      string
		dst      *int
		required bool
	}{
		{"embedding_length", &c.HiddenSize, true},
		{"block_count", &c.NumHiddenLayers, true},
		{"attention.head_count", &c.NumAttentionHeads, true},
		{"feed_forward_length", &c.IntermediateSize, !c.UseMoE},
		{"context_length", &c.MaxPositionEmbeddings, false},
	}
	for _, x := range ints {
		v, ok, err := f.uint(key(x.key))
		if err != nil {
			return model.Config{}, err
		}
		if !ok && x.required {
			return model.Config{}, fmt.Errorf("%s: metadata key %q missing", f.Name, key(x.key))
		}
		if ok {
			*x.dst = v
		}
	}
	c.NumKeyValueHeads = c.NumAttentionHeads
	if v, ok, err := f.uint(key("attention.head_count_kv")); err != nil {
		return model.Config{}, err
	} else if ok {
		c.NumKeyValueHeads = v
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok || len(emb.Dims) != 2 {
		return model.Config{}, fmt.Errorf("%s: tensor %q missing or not a matrix", f.Name, "token_embd.weight")
	}
	c.VocabSize = int(emb.Dims[1])
	if v, ok, err := f.uint(key("vocab_size")); err != nil {
		return model.Config{}, err
	} else if ok && v != c.VocabSize {
		return model.Config{}, fmt.Errorf("%s: metadata key %q is %d but token_embd.weight has %d rows", f.Name, key("vocab_size"), v, c.VocabSize)
	}
	if c.NumAttentionHeads <= 0 || c.HiddenSize%c.NumAttentionHeads != 0 && !c.IsMiniMind3() {
		return model.Config{}, fmt.Errorf("%s: metadata key %q: %d heads do not divide embedding_length %d", f.Name, key("attention.head_count"), c.NumAttentionHeads, c.HiddenSize)
	}
	hs := 0
	if c.NumAttentionHeads > 0 {
		hs = c.HiddenSize / c.NumAttentionHeads
	}
	for _, k := range []string{"attention.key_length", "attention.value_length"} {
		v, ok, err := f.uint(key(k))
		if err != nil {
			return model.Config{}, err
		}
		if ok && c.IsMiniMind3() && k == "attention.key_length" {
			hs = v
		} else if ok && v != hs {
			return model.Config{}, fmt.Errorf("%s: metadata key %q is %d, MiniMind needs %d (the head size)", f.Name, key(k), v, hs)
		}
	}
	if c.IsMiniMind3() {
		c.HeadDim = hs
	}
	if v, ok, err := f.uint(key("rope.dimension_count")); err != nil {
		return model.Config{}, err
	} else if ok && v != hs {
		return model.Config{}, fmt.Errorf("%s: metadata key %q is %d: partial RoPE (head size %d) is not MiniMind's", f.Name, key("rope.dimension_count"), v, hs)
	}
	for _, x := range []struct {
		key string
		dst *float64
	}{{"attention.layer_norm_rms_epsilon", &c.RMSNormEps}, {"rope.freq_base", &c.RopeTheta}} {
		v, ok, err := f.float(key(x.key))
		if err != nil {
			return model.Config{}, err
		}
		if !ok {
			return model.Config{}, fmt.Errorf("%s: metadata key %q missing", f.Name, key(x.key))
		}
		*x.dst = v
	}
	if err := f.moe2Config(arch, &c); err != nil {
		return model.Config{}, err
	}
	if c.UseMoE && c.IsMiniMind3() {
		for _, x := range []struct {
			key string
			dst *int
		}{{"expert_count", &c.NumExperts}, {"expert_used_count", &c.NumExpertsPerTok}, {"expert_feed_forward_length", &c.MoeIntermediateSize}} {
			v, ok, err := f.uint(key(x.key))
			if err != nil {
				return model.Config{}, err
			}
			if !ok {
				return model.Config{}, fmt.Errorf("%s: metadata key %q missing", f.Name, key(x.key))
			}
			*x.dst = v
		}
		if c.IntermediateSize == 0 {
			c.IntermediateSize = c.MoeIntermediateSize
		}
	}
	for _, x := range []struct {
		key string
		dst *int
	}{{"tokenizer.ggml.bos_token_id", &c.BosTokenID}, {"tokenizer.ggml.eos_token_id", &c.EosTokenID}} {
		if v, ok, err := f.uint(x.key); err != nil {
			return model.Config{}, err
		} else if ok {
			*x.dst = v
		}
	}
	if err := c.Validate(); err != nil {
		return model.Config{}, fmt.Errorf("%s: metadata describes an invalid model: %w", f.Name, err)
	}
	if err := c.CheckSizes(); err != nil {
		return model.Config{}, fmt.Errorf("%s: %w", f.Name, err)
	}
	return c, nil
}

// moe2Config reads a deepseek or ernie4_5-moe file's MoE keys into a
// MiniMind2-MoE config, refusing values MiniMind2 cannot compute: dense
// leading layers, MoE on some layers only, scaled expert weights, shared
// experts of another width than the routed ones, and (ernie, which always
// renormalises) top-1 routing, which MiniMind2 leaves unnormalised.
func (f *File) moe2Config(arch string, c *model.Config) error {
	if arch != "deepseek" && arch != "ernie4_5-moe" {
		return nil
	}
	key := func(s string) string { return arch + "." + s }
	get := func(k string, required bool) (int, error) {
		v, ok, err := f.uint(key(k))
		if err == nil && !ok && required {
			err = fmt.Errorf("%s: metadata key %q missing", f.Name, key(k))
		}
		return v, err
	}
	var err error
	if c.NRoutedExperts, err = get("expert_count", true); err != nil {
		return err
	}
	if c.NumExpertsPerTok, err = get("expert_used_count", true); err != nil {
		return err
	}
	ff, err := get("expert_feed_forward_length", true)
	if err != nil {
		return err
	}
	if _, ok := f.Get(key("feed_forward_length")); !ok {
		c.IntermediateSize = ff
	}
	if c.IntermediateSize != ff {
		return fmt.Errorf("%s: metadata key %q is %d but feed_forward_length is %d: MiniMind2's experts are intermediate_size wide", f.Name, key("expert_feed_forward_length"), ff, c.IntermediateSize)
	}
	if v, err := get("leading_dense_block_count", false); err != nil {
		return err
	} else if v != 0 {
		return fmt.Errorf("%s: metadata key %q is %d: MiniMind2-MoE has no dense leading layers", f.Name, key("leading_dense_block_count"), v)
	}
	if arch == "deepseek" {
		if c.NSharedExperts, err = get("expert_shared_count", true); err != nil {
			return err
		}
		if v, ok, err := f.float(key("expert_weights_scale")); err != nil {
			return err
		} else if ok && v != 1 {
			return fmt.Errorf("%s: metadata key %q is %g: MiniMind2 does not scale expert weights", f.Name, key("expert_weights_scale"), v)
		}
		return nil
	}
	if v, err := get("interleave_moe_layer_step", true); err != nil {
		return err
	} else if v != 1 {
		return fmt.Errorf("%s: metadata key %q is %d: MiniMind2-MoE has MoE in every layer", f.Name, key("interleave_moe_layer_step"), v)
	}
	sh, err := get("expert_shared_feed_forward_length", false)
	if err != nil {
		return err
	}
	if ff == 0 || sh%ff != 0 {
		return fmt.Errorf("%s: metadata key %q is %d, not a multiple of the expert width %d", f.Name, key("expert_shared_feed_forward_length"), sh, ff)
	}
	c.NSharedExperts = sh / ff
	if c.NumExpertsPerTok < 2 {
		return fmt.Errorf("%s: metadata key %q is %d: ernie4_5-moe renormalises a single expert's weight to 1, MiniMind2 does not", f.Name, key("expert_used_count"), c.NumExpertsPerTok)
	}
	return nil
}

func (f *File) str(key string) (string, error) {
	e, ok := f.Get(key)
	if !ok {
		return "", fmt.Errorf("%s: metadata key %q missing", f.Name, key)
	}
	s, ok := e.Value.(string)
	if !ok {
		return "", fmt.Errorf("%s: metadata key %q: type %s, want string", f.Name, key, e.Type)
	}
	return s, nil
}

// maxMeta bounds integer metadata: sizes far beyond any model are refused
// here rather than overflowing later arithmetic.
const maxMeta = 1 << 30

// uint reads an integer key of any integer type.
func (f *File) uint(key string) (int, bool, error) {
	e, ok := f.Get(key)
	if !ok {
		return 0, false, nil
	}
	var v int64
	switch x := e.Value.(type) {
	case uint8:
		v = int64(x)
	case int8:
		v = int64(x)
	case uint16:
		v = int64(x)
	case int16:
		v = int64(x)
	case uint32:
		v = int64(x)
	case int32:
		v = int64(x)
	case uint64:
		if x > maxMeta {
			return 0, false, fmt.Errorf("%s: metadata key %q: %d is out of range", f.Name, key, x)
		}
		v = int64(x)
	case int64:
		v = x
	default:
		return 0, false, fmt.Errorf("%s: metadata key %q: type %s, want an integer", f.Name, key, e.Type)
	}
	if v < 0 || v > maxMeta {
		return 0, false, fmt.Errorf("%s: metadata key %q: %d is out of range", f.Name, key, v)
	}
	return int(v), true, nil
}

func (f *File) float(key string) (float64, bool, error) {
	e, ok := f.Get(key)
	if !ok {
		return 0, false, nil
	}
	switch x := e.Value.(type) {
	case float32:
		// The shortest decimal that rounds to x: 1e-5 stored as float32
		// comes back as 1e-5, not 9.99999974738e-06.
		v, _ := strconv.ParseFloat(strconv.FormatFloat(float64(x), 'g', -1, 32), 64)
		return v, true, nil
	case float64:
		return x, true, nil
	}
	return 0, false, fmt.Errorf("%s: metadata key %q: type %s, want a float", f.Name, key, e.Type)
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func equalDims(a, b []uint64) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
