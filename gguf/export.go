package gguf

import (
	"errors"
	"fmt"
	"strings"

	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// ErrNotRepresentable is returned (wrapped) when a model has no exact
// llama.cpp architecture: the file would compute something else.
var ErrNotRepresentable = errors.New("no exact llama.cpp architecture")

// ggml file types (llama.h's llama_ftype) for general.file_type.
const (
	ftypeF32  = 0
	ftypeF16  = 1
	ftypeQ8_0 = 7
	ftypeBF16 = 32
)

// ParseDType maps the --dtype spellings to a tensor type.
func ParseDType(s string) (TensorType, error) {
	switch strings.ToLower(s) {
	case "f32", "fp32", "float32", "":
		return F32, nil
	case "f16", "fp16", "float16":
		return F16, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "q8_0", "q8":
		return Q8_0, nil
	}
	return 0, fmt.Errorf("dtype %q: want f32, f16, bf16 or q8_0", s)
}

// ExportOptions control Export.
type ExportOptions struct {
	// Type is the type of the weight matrices: F32, F16, BF16 or Q8_0.
	// Norm weights and MoE routers stay F32 (as llama.cpp's converter), and
	// Q8_0 falls back to F16 for a matrix whose rows are not a multiple of
	// 32 long.
	Type TensorType
	// Name is general.name.
	Name string
}

// Arch returns the llama.cpp architecture that computes cfg's model
// exactly, or an ErrNotRepresentable error saying why none does.
func Arch(cfg *model.Config) (string, error) {
	if s := cfg.Scaling(); s != nil {
		return "", fmt.Errorf("%w: YaRN rope scaling (rope_scaling %q / inference_rope_scaling): llama.cpp's YaRN differs from MiniMind's in its attention factor and ramp; export without it", ErrNotRepresentable, s.Type)
	}
	if cfg.HiddenAct != "" && cfg.HiddenAct != "silu" {
		return "", fmt.Errorf("%w: hidden_act %q (only silu)", ErrNotRepresentable, cfg.HiddenAct)
	}
	if !cfg.IsMiniMind3() {
		if cfg.UseMoE {
			return arch2MoE(cfg)
		}
		return "llama", nil
	}
	if !cfg.UseMoE {
		return "qwen3", nil
	}
	// qwen3moe always renormalises the chosen experts' softmax weights.
	if !cfg.NormTopkProb {
		return "", fmt.Errorf("%w: minimind-3 MoE with norm_topk_prob false: llama.cpp's qwen3moe always renormalises the top-k weights", ErrNotRepresentable)
	}
	return "qwen3moe", nil
}

// arch2MoE maps MiniMind2-MoE (softmax router, top-k, routed experts plus
// always-on ungated shared experts, llama attention) onto the two llama.cpp
// architectures whose MoE block is exactly that, told apart by whether the
// chosen weights are renormalised (MiniMind2 does when norm_topk_prob and
// k > 1): ernie4_5-moe always renormalises, deepseek (v1) never does. Both
// add the shared experts unscaled, with one wide FFN standing for several
// (a sum of SwiGLUs is a SwiGLU over the concatenated rows). qwen2moe is
// not exact: it gates its shared expert with a sigmoid.
func arch2MoE(cfg *model.Config) (string, error) {
	if cfg.NumExpertsPerTok > 1 && cfg.NormTopkProb {
		return "ernie4_5-moe", nil
	}
	if cfg.SharedExperts() == 0 {
		return "", fmt.Errorf("%w: MiniMind2-MoE without shared experts and without renormalised top-k weights (deepseek needs a shared expert; mixtral and ernie4_5-moe renormalise)", ErrNotRepresentable)
	}
	return "deepseek", nil
}

// Export writes p (and tok, its tokenizer) as a GGUF file at path for
// llama.cpp / Ollama. The tied embedding is written twice, as token_embd
// and output, so that every llama.cpp version finds output.weight.
func Export(path string, p *model.Params, tok *tokenizer.Tokenizer, opts ExportOptions) error {
	c := &p.Config
	arch, err := Arch(c)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	switch opts.Type {
	case F32, F16, BF16, Q8_0:
	default:
		return fmt.Errorf("%s: tensor type %s not supported for export (f32, f16, bf16, q8_0)", path, opts.Type)
	}
	if tok == nil {
		return fmt.Errorf("%s: a tokenizer is required (llama.cpp reads it from the file)", path)
	}
	if tok.VocabSize() > c.VocabSize {
		return fmt.Errorf("%s: the tokenizer has %d tokens but the model's vocab_size is %d", path, tok.VocabSize(), c.VocabSize)
	}
	name := opts.Name
	if name == "" {
		name = "MiniMind"
	}
	kv := modelKV(c, arch, opts.Type, name)
	tkv, err := tokenizerKV(tok, c.VocabSize)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	kv = append(kv, tkv...)
	return Write(path, kv, exportTensors(p, arch, opts.Type))
}

// modelKV is the general and architecture metadata of a model.
func modelKV(c *model.Config, arch string, typ TensorType, name string) []KV {
	kv := []KV{
		str("general.architecture", arch),
		str("general.name", name),
		u32("general.file_type", fileType(typ)),
		u32("general.quantization_version", 2),
	}
	a := func(key string) string { return arch + "." + key }
	kv = append(kv,
		u32(a("vocab_size"), c.VocabSize),
		u32(a("context_length"), c.MaxPositionEmbeddings),
		u32(a("embedding_length"), c.HiddenSize),
		u32(a("block_count"), c.NumHiddenLayers),
		u32(a("feed_forward_length"), c.IntermediateSize),
		u32(a("attention.head_count"), c.NumAttentionHeads),
		u32(a("attention.head_count_kv"), c.NumKeyValueHeads),
		f32(a("attention.layer_norm_rms_epsilon"), c.RMSNormEps),
		f32(a("rope.freq_base"), c.RopeTheta),
		u32(a("rope.dimension_count"), c.HeadSize()),
	)
	if c.IsMiniMind3() {
		kv = append(kv,
			u32(a("attention.key_length"), c.HeadSize()),
			u32(a("attention.value_length"), c.HeadSize()))
	}
	if c.UseMoE {
		kv = append(kv,
			u32(a("expert_count"), c.Experts()),
			u32(a("expert_used_count"), c.NumExpertsPerTok),
			u32(a("expert_feed_forward_length"), c.ExpertSize()))
	}
	switch arch {
	case "deepseek":
		kv = append(kv,
			u32(a("leading_dense_block_count"), 0),
			u32(a("expert_shared_count"), c.SharedExperts()),
			f32(a("expert_weights_scale"), 1))
	case "ernie4_5-moe":
		kv = append(kv,
			u32(a("leading_dense_block_count"), 0),
			u32(a("interleave_moe_layer_step"), 1),
			u32(a("expert_shared_feed_forward_length"), c.SharedExperts()*c.IntermediateSize))
	}
	return kv
}

func fileType(t TensorType) int {
	switch t {
	case F16:
		return ftypeF16
	case BF16:
		return ftypeBF16
	case Q8_0:
		return ftypeQ8_0
	}
	return ftypeF32
}

func str(k, v string) KV { return KV{Key: k, Type: TypeString, Value: v} }
func u32(k string, v int) KV {
	return KV{Key: k, Type: TypeUint32, Value: uint32(v)}
}
func f32(k string, v float64) KV { return KV{Key: k, Type: TypeFloat32, Value: float32(v)} }
func boolKV(k string, v bool) KV { return KV{Key: k, Type: TypeBool, Value: v} }

// exportTensors lists the tensors in llama.cpp's names, in MiniMind's
// layer order. Their Fill encodes each from p's views when Write streams
// the file, so no tensor is encoded (or permuted, or stacked) before its
// turn.
func exportTensors(p *model.Params, arch string, typ TensorType) []Tensor {
	c := &p.Config
	var out []Tensor
	// add declares a tensor of PyTorch shape whose values are the
	// concatenation of what rows emits: whole rows, or runs of them.
	add := func(name string, shape []int, t TensorType, rows func(emit func([]float32) error) error) {
		out = append(out, lazyTensor(name, shape, t, rows))
	}
	view := func(name string) ([]float32, []int) {
		s, _ := p.Spec(name)
		return p.View(p.Data, name), s.Shape
	}
	whole := func(d []float32) func(func([]float32) error) error {
		return func(emit func([]float32) error) error { return emit(d) }
	}
	matrix := func(gname, hname string) {
		d, s := view(hname)
		add(gname, s, typ, whole(d))
	}
	norm := func(gname, hname string) {
		d, s := view(hname)
		add(gname, s, F32, whole(d))
	}
	matrix("token_embd.weight", model.EmbedName)
	hs := c.HeadSize()
	for l := range c.NumHiddenLayers {
		hp := fmt.Sprintf("model.layers.%d.", l)
		gp := fmt.Sprintf("blk.%d.", l)
		norm(gp+"attn_norm.weight", hp+"input_layernorm.weight")
		for _, qk := range []struct {
			g, h  string
			heads int
		}{{"attn_q", "q_proj", c.NumAttentionHeads}, {"attn_k", "k_proj", c.NumKeyValueHeads}} {
			d, s := view(hp + "self_attn." + qk.h + ".weight")
			rows := whole(d)
			if !c.IsMiniMind3() { // llama, deepseek, ernie4_5-moe: interleaved RoPE
				rows = permutedRows(d, qk.heads, hs, c.HiddenSize)
			}
			add(gp+qk.g+".weight", s, typ, rows)
		}
		matrix(gp+"attn_v.weight", hp+"self_attn.v_proj.weight")
		matrix(gp+"attn_output.weight", hp+"self_attn.o_proj.weight")
		if c.IsMiniMind3() {
			norm(gp+"attn_q_norm.weight", hp+"self_attn.q_norm.weight")
			norm(gp+"attn_k_norm.weight", hp+"self_attn.k_norm.weight")
		}
		norm(gp+"ffn_norm.weight", hp+"post_attention_layernorm.weight")
		if !c.UseMoE {
			for _, f := range []string{"gate", "up", "down"} {
				matrix(gp+"ffn_"+f+".weight", hp+"mlp."+f+"_proj.weight")
			}
			continue
		}
		// The router stays F32, as llama.cpp's converter and quantizer keep
		// it: its rounding would move routing decisions.
		norm(gp+"ffn_gate_inp.weight", hp+"mlp.gate.weight")
		E := c.Experts()
		for _, f := range []string{"gate", "up", "down"} {
			// The experts' [out, in] matrices stacked into [E, out, in]:
			// one after the other.
			experts := make([][]float32, E)
			var shape []int
			for e := range E {
				d, s := view(fmt.Sprintf("%smlp.experts.%d.%s_proj.weight", hp, e, f))
				experts[e], shape = d, append([]int{E}, s...)
			}
			add(gp+"ffn_"+f+"_exps.weight", shape, typ, func(emit func([]float32) error) error {
				for _, d := range experts {
					if err := emit(d); err != nil {
						return err
					}
				}
				return nil
			})
		}
		if S := c.SharedExperts(); S > 0 {
			F, C := c.IntermediateSize, c.HiddenSize
			for _, f := range []string{"gate", "up", "down"} {
				shared := make([][]float32, S)
				for s := range S {
					shared[s], _ = view(fmt.Sprintf("%smlp.shared_experts.%d.%s_proj.weight", hp, s, f))
				}
				// gate/up [F, C] each: rows concatenated to [S·F, C].
				shape, rows := []int{S * F, C}, func(emit func([]float32) error) error {
					for _, d := range shared {
						if err := emit(d); err != nil {
							return err
						}
					}
					return nil
				}
				if f == "down" {
					// down [C, F] each: columns concatenated to [C, S·F],
					// one wide row at a time (a Q8_0 block may straddle
					// two experts' columns).
					shape, rows = []int{C, S * F}, func(emit func([]float32) error) error {
						row := make([]float32, S*F)
						for r := range C {
							for s, d := range shared {
								copy(row[s*F:(s+1)*F], d[r*F:(r+1)*F])
							}
							if err := emit(row); err != nil {
								return err
							}
						}
						return nil
					}
				}
				add(gp+"ffn_"+f+"_shexp.weight", shape, typ, rows)
			}
		}
	}
	norm("output_norm.weight", "model.norm.weight")
	// Tied or not, output.weight is written: some llama.cpp builds (and
	// Ollama's older engine) require it for llama.
	matrix("output.weight", model.LMHeadName)
	return out
}

// lazyTensor is a Tensor of PyTorch shape whose Fill encodes what rows
// emits as t, falling back from Q8_0 to F16 when rows are not a multiple
// of 32 long (as llama.cpp's converter does). rows emits whole rows (or
// runs of them), so each piece is whole Q8_0 blocks and encoding the
// pieces one by one equals encoding their concatenation.
func lazyTensor(name string, shape []int, t TensorType, rows func(emit func([]float32) error) error) Tensor {
	dims := make([]uint64, len(shape))
	for i, d := range shape {
		dims[len(shape)-1-i] = uint64(d)
	}
	if t == Q8_0 && dims[0]%32 != 0 {
		t = F16
	}
	fill := func(dst []byte) error {
		err := rows(func(x []float32) error {
			n, err := encodedBytes(t, len(x))
			if err != nil {
				return err
			}
			if dims[0] > 0 && uint64(len(x))%dims[0] != 0 {
				return fmt.Errorf("encode: a piece of %d values is not whole rows of %d", len(x), dims[0])
			}
			if n > len(dst) {
				return fmt.Errorf("encode: %d values do not fit the tensor's %d bytes left", len(x), len(dst))
			}
			if err := encodeInto(dst[:n], t, x); err != nil {
				return err
			}
			dst = dst[n:]
			return nil
		})
		if err == nil && len(dst) != 0 {
			err = fmt.Errorf("encode: %d bytes of the tensor left unwritten", len(dst))
		}
		return err
	}
	return Tensor{Name: name, Dims: dims, Type: t, Fill: fill}
}

// permutedRows emits the rows of a q or k projection ([heads·hs, in]) in
// llama.cpp's interleaved-RoPE order (permuteRoPE's, without its copy).
func permutedRows(w []float32, heads, hs, in int) func(emit func([]float32) error) error {
	return func(emit func([]float32) error) error {
		half := hs / 2
		for h := range heads {
			for j := range half {
				for s := range 2 { // interleaved row h·hs+2j+s is rotate-half row h·hs+s·half+j
					r := h*hs + s*half + j
					if err := emit(w[r*in : (r+1)*in]); err != nil {
						return err
					}
				}
			}
		}
		return nil
	}
}

// permuteRoPE reorders the rows of a q or k projection ([heads·hs, in])
// between rotate-half RoPE (HF: pairs i and i+hs/2) and llama.cpp's
// interleaved RoPE (pairs 2i and 2i+1), as convert_hf_to_gguf.py's
// LlamaModel.permute: row s·hs/2+j of a head becomes row 2j+s. inverse
// undoes it (for import).
func permuteRoPE(w []float32, heads, hs, in int, inverse bool) []float32 {
	out := make([]float32, len(w))
	half := hs / 2
	for h := range heads {
		for s := range 2 {
			for j := range half {
				hf := h*hs + s*half + j // rotate-half row
				il := h*hs + 2*j + s    // interleaved row
				src, dst := hf, il
				if inverse {
					src, dst = il, hf
				}
				copy(out[dst*in:(dst+1)*in], w[src*in:(src+1)*in])
			}
		}
	}
	return out
}
