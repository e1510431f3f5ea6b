package main

import (
	"fmt"
	"strings"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/gemm"
	"github.com/minimind-go/minimind/model"
	"github.com/spf13/pflag"
)

// ModelFlags are the architecture flags MiniMind users know, with
// MiniMind-Go's defaults (the SPEC decisions table).
type ModelFlags struct {
	HiddenSize        int
	NumHiddenLayers   int
	NumAttentionHeads int
	NumKeyValueHeads  int
	IntermediateSize  int
	VocabSize         int
	MaxPositions      int
	UseMoE            bool
	RopeScaling       bool
	// Preset starts from an upstream model size (model.PresetNames);
	// the architecture flags given explicitly override it.
	Preset string

	// fs is the flag set AddFlags registered on, to tell the flags the user
	// gave from defaults; nil (a ModelFlags built in code) means every field
	// is meant.
	fs *pflag.FlagSet
}

// AddFlags registers the architecture flags.
func (o *ModelFlags) AddFlags(f *pflag.FlagSet) {
	d := model.DefaultConfig()
	f.IntVar(&o.HiddenSize, "hidden_size", d.HiddenSize, "model width")
	f.IntVar(&o.NumHiddenLayers, "num_hidden_layers", d.NumHiddenLayers, "decoder blocks")
	f.IntVar(&o.NumAttentionHeads, "num_attention_heads", d.NumAttentionHeads, "query heads")
	f.IntVar(&o.NumKeyValueHeads, "num_key_value_heads", d.NumKeyValueHeads, "key/value heads (grouped-query attention)")
	f.IntVar(&o.IntermediateSize, "intermediate_size", 0, "FFN width (default 3·hidden_size, the seed's rule: 1536 at hidden 512; MiniMind2 releases use 1408 at 512)")
	f.IntVar(&o.VocabSize, "vocab_size", d.VocabSize, "vocabulary size (must match the tokenizer)")
	f.IntVar(&o.MaxPositions, "max_position_embeddings", d.MaxPositionEmbeddings, "longest position the RoPE tables cover")
	f.BoolVar(&o.UseMoE, "use_moe", false, "Mixture-of-Experts FFN (4 routed experts, top-2, 1 shared)")
	f.BoolVar(&o.RopeScaling, "inference_rope_scaling", false, "YaRN RoPE scaling (x16 context) as MiniMind's inference option")
	f.StringVar(&o.Preset, "preset", "", "start from an upstream size: "+strings.Join(model.PresetNames(), "|")+" (explicit architecture flags override it)")
	o.fs = f
}

// changed reports whether the user gave flag name (always true for a
// ModelFlags not bound to a flag set).
func (o *ModelFlags) changed(name string) bool {
	return o.fs == nil || o.fs.Changed(name)
}

// FFN returns the FFN width the flags ask for: --intermediate_size, or
// when it is 0 (not given) the seed's rule 3·hidden_size (SPEC decisions
// table), so a hidden-256 model gets 768 rather than a fixed 1536.
func (o *ModelFlags) FFN() int {
	if o.IntermediateSize != 0 {
		return o.IntermediateSize
	}
	return 3 * o.HiddenSize
}

// Config returns the validated model config the flags describe; a size
// that is not positive is an error naming its flag.
func (o *ModelFlags) Config() (model.Config, error) {
	if err := firstError(
		positiveInt("hidden_size", o.HiddenSize),
		positiveInt("num_hidden_layers", o.NumHiddenLayers),
		positiveInt("num_attention_heads", o.NumAttentionHeads),
		positiveInt("num_key_value_heads", o.NumKeyValueHeads),
		positiveInt("intermediate_size", o.FFN()),
		positiveInt("vocab_size", o.VocabSize),
		positiveInt("max_position_embeddings", o.MaxPositions),
	); err != nil {
		return model.Config{}, err
	}
	var c model.Config
	if o.Preset != "" {
		var err error
		if c, err = o.presetConfig(); err != nil {
			return c, err
		}
	} else {
		c = model.DefaultConfig()
		c.HiddenSize, c.NumHiddenLayers = o.HiddenSize, o.NumHiddenLayers
		c.NumAttentionHeads, c.NumKeyValueHeads = o.NumAttentionHeads, o.NumKeyValueHeads
		c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings = o.FFN(), o.VocabSize, o.MaxPositions
		c.UseMoE, c.InferenceRopeScaling = o.UseMoE, o.RopeScaling
	}
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	if err := c.CheckSizes(); err != nil {
		return c, fmt.Errorf("%w: %v", errUsage, err)
	}
	return c, nil
}

// newBackend returns the CPU backend with the global thread setting.
func newBackend(g *globalOptions, kind string) (*cpu.Backend, error) {
	k := gemm.Auto
	switch kind {
	case "", "auto":
	case "generic":
		k = gemm.Generic
	case "avx2":
		k = gemm.AVX2
	case "avx512":
		k = gemm.AVX512
	default:
		return nil, fmt.Errorf("%w: --gemm %q: want auto, avx512, avx2 or generic", errUsage, kind)
	}
	return cpu.NewChecked(cpu.Options{Threads: g.threads, GEMM: k})
}

// presetConfig is --preset's config with the explicitly given
// architecture flags on top. Sizes that follow from others keep the
// preset family's rules: the FFN width (8/3·hidden rounded to 64 for
// MiniMind2, 64·ceil(π·hidden/64) for minimind-3) unless
// --intermediate_size is given, and minimind-3's head_dim = hidden/heads
// when the width or head count changes.
func (o *ModelFlags) presetConfig() (model.Config, error) {
	c, err := model.Preset(o.Preset)
	if err != nil {
		return c, fmt.Errorf("%w: --preset: %v", errUsage, err)
	}
	for _, f := range []struct {
		name string
		dst  *int
		v    int
	}{
		{"hidden_size", &c.HiddenSize, o.HiddenSize},
		{"num_hidden_layers", &c.NumHiddenLayers, o.NumHiddenLayers},
		{"num_attention_heads", &c.NumAttentionHeads, o.NumAttentionHeads},
		{"num_key_value_heads", &c.NumKeyValueHeads, o.NumKeyValueHeads},
		{"vocab_size", &c.VocabSize, o.VocabSize},
		{"max_position_embeddings", &c.MaxPositionEmbeddings, o.MaxPositions},
	} {
		if o.changed(f.name) {
			*f.dst = f.v
		}
	}
	widthChanged := o.changed("hidden_size") || o.changed("num_attention_heads")
	switch {
	case o.changed("intermediate_size"):
		c.IntermediateSize = o.IntermediateSize
	case o.changed("hidden_size") && c.IsMiniMind3():
		c.IntermediateSize = model.MiniMind3Intermediate(c.HiddenSize)
	case o.changed("hidden_size"):
		c.IntermediateSize = model.MiniMindIntermediate(c.HiddenSize)
	}
	if c.IsMiniMind3() {
		if widthChanged && c.NumAttentionHeads > 0 {
			c.HeadDim = c.HiddenSize / c.NumAttentionHeads
		}
		c.MoeIntermediateSize = c.IntermediateSize
	}
	if o.changed("use_moe") {
		c.UseMoE = o.UseMoE
	}
	if o.changed("inference_rope_scaling") {
		c.SetInferenceRopeScaling(o.RopeScaling)
	}
	return c, nil
}
