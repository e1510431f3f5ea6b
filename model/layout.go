package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// ParamSpec names one parameter tensor: its HF key, shape and offset in the
// slab.
type ParamSpec struct {
	Name   string
	Shape  []int
	Offset int
}

// Size is the number of elements.
func (s ParamSpec) Size() int {
	n := 1
	for _, d := range s.Shape {
		n *= d
	}
	return n
}

// EmbedName is the embedding matrix. LMHeadName is the LM head: with tied
// embeddings (Config.Tied) an alias of the embedding, not a second tensor
// in the slab (writers that need it, .pth, add it on the way out);
// untied, its own tensor, last in the layout.
const (
	EmbedName  = "model.embed_tokens.weight"
	LMHeadName = "lm_head.weight"
)

// Layout returns every parameter in MiniMind's state_dict order (SPEC §3):
// embedding, then per layer attention (with minimind-3's q_norm and
// k_norm), norms and FFN (dense, or routed experts, router, shared
// experts), then the final norm and, untied, lm_head.weight.
func Layout(c *Config) []ParamSpec {
	C, hd := c.HiddenSize, c.HeadSize()
	kvC, qC := c.NumKeyValueHeads*hd, c.QDim()
	var specs []ParamSpec
	add := func(name string, shape ...int) {
		off := 0
		if n := len(specs); n > 0 {
			off = specs[n-1].Offset + specs[n-1].Size()
		}
		specs = append(specs, ParamSpec{Name: name, Shape: shape, Offset: off})
	}
	ffn := func(prefix string, F int) {
		add(prefix+".gate_proj.weight", F, C)
		add(prefix+".down_proj.weight", C, F)
		add(prefix+".up_proj.weight", F, C)
	}
	add(EmbedName, c.VocabSize, C)
	for l := 0; l < c.NumHiddenLayers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"self_attn.q_proj.weight", qC, C)
		add(p+"self_attn.k_proj.weight", kvC, C)
		add(p+"self_attn.v_proj.weight", kvC, C)
		add(p+"self_attn.o_proj.weight", C, qC)
		if c.IsMiniMind3() {
			add(p+"self_attn.q_norm.weight", hd)
			add(p+"self_attn.k_norm.weight", hd)
		}
		add(p+"input_layernorm.weight", C)
		add(p+"post_attention_layernorm.weight", C)
		if !c.UseMoE {
			ffn(p+"mlp", c.IntermediateSize)
			continue
		}
		if c.IsMiniMind3() { // upstream registers the router first
			add(p+"mlp.gate.weight", c.Experts(), C)
		}
		for e := 0; e < c.Experts(); e++ {
			ffn(fmt.Sprintf("%smlp.experts.%d", p, e), c.ExpertSize())
		}
		if !c.IsMiniMind3() {
			add(p+"mlp.gate.weight", c.Experts(), C)
		}
		for s := 0; s < c.SharedExperts(); s++ {
			ffn(fmt.Sprintf("%smlp.shared_experts.%d", p, s), c.IntermediateSize)
		}
	}
	add("model.norm.weight", C)
	if !c.Tied() {
		add(LMHeadName, c.VocabSize, C)
	}
	return specs
}

// Params is every parameter of a model in one contiguous float32 slab, with
// named views in Layout order. Gradients and optimizer moments use slabs of
// the same length and layout (see View).
type Params struct {
	Config Config
	Specs  []ParamSpec
	Data   []float32
	index  map[string]int
}

// NewParams allocates a zeroed slab for cfg (which must be valid).
func NewParams(cfg Config) (*Params, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	// Configs also come from flags and untrusted files: refuse absurd sizes
	// before the layout or the slab is built.
	if err := cfg.CheckSizes(); err != nil {
		return nil, err
	}
	specs := Layout(&cfg)
	last := specs[len(specs)-1]
	p := &Params{Config: cfg, Specs: specs, Data: make([]float32, last.Offset+last.Size()), index: map[string]int{}}
	for i, s := range specs {
		p.index[s.Name] = i
	}
	return p, nil
}

// Spec looks a parameter up by its HF key; lm_head.weight resolves to the
// tied embedding when the config ties them.
func (p *Params) Spec(name string) (ParamSpec, bool) {
	if name == LMHeadName && p.Config.Tied() {
		name = EmbedName
	}
	i, ok := p.index[name]
	if !ok {
		return ParamSpec{}, false
	}
	return p.Specs[i], true
}

// View returns the named tensor's elements within slab, which must have the
// layout of p (p.Data itself, a gradient slab or a moment slab). The view is
// capped so appending to it cannot spill into its neighbour.
func (p *Params) View(slab []float32, name string) []float32 {
	s, ok := p.Spec(name)
	if !ok {
		panic("model: no parameter " + name)
	}
	return slab[s.Offset : s.Offset+s.Size() : s.Offset+s.Size()]
}

// Init fills the slab as PyTorch's default initialisation does for the
// original (SPEC §2.7; the original calls no post_init): every Linear and
// the router ~ U(−1/√fan_in, 1/√fan_in) (the tied embedding is lm_head's
// Linear), RMSNorm weights = 1. Deterministic for a seed.
func (p *Params) Init(seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x6d696e696d696e64)) // "minimind"
	for _, s := range p.Specs {
		v := p.Data[s.Offset : s.Offset+s.Size()]
		if len(s.Shape) == 1 {
			for i := range v {
				v[i] = 1
			}
			continue
		}
		bound := 1 / math.Sqrt(float64(s.Shape[1]))
		for i := range v {
			v[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
}
