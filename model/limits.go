package model

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// ErrTooLarge is wrapped by CheckSizes errors: a config whose sizes are
// beyond what this program can hold, typically a corrupt or hostile
// config.json.
var ErrTooLarge = errors.New("model too large")

// Upper bounds CheckSizes enforces. They are far above any MiniMind model
// (hidden 512-768, 8-16 layers, vocab 6400, 32768 positions) and above
// today's largest open models, so they only stop sizes that would make the
// first allocation panic or ask for terabytes.
const (
	// MaxWidth bounds hidden_size, intermediate_size and vocab_size.
	MaxWidth = 1 << 20
	// MaxLayers bounds num_hidden_layers.
	MaxLayers = 1 << 12
	// MaxExperts bounds n_routed_experts and n_shared_experts.
	MaxExperts = 1 << 10
	// MaxParams bounds the parameter count (64 GiB as float32).
	MaxParams = 1 << 34
	// MaxTensors bounds the number of parameter tensors (Layout's length).
	MaxTensors = 1 << 20
	// MaxRopeBytes bounds the RoPE tables (cos and sin, float32, for
	// max_position_embeddings positions): 2 GiB, 8 MiB for MiniMind.
	MaxRopeBytes = 1 << 31
)

// CheckSizes reports, as an error wrapping ErrTooLarge, a size that is too
// large to allocate: a dimension above its Max constant, a parameter count
// or tensor count that overflows or passes MaxParams or MaxTensors, or RoPE
// tables above MaxRopeBytes. Call it before anything is sized by c (Layout,
// NewParams, RopeTables): those trust c. It does not repeat Validate's
// checks for zero or negative sizes, and it does not allocate.
func (c *Config) CheckSizes() error {
	dims := []struct {
		name string
		v    int
		max  int
	}{
		{"hidden_size", c.HiddenSize, MaxWidth},
		{"intermediate_size", c.IntermediateSize, MaxWidth},
		{"vocab_size", c.VocabSize, MaxWidth},
		{"num_hidden_layers", c.NumHiddenLayers, MaxLayers},
		{"num_attention_heads", c.NumAttentionHeads, MaxWidth},
		{"num_key_value_heads", c.NumKeyValueHeads, MaxWidth},
		{"n_routed_experts", c.NRoutedExperts, MaxExperts},
		{"n_shared_experts", c.NSharedExperts, MaxExperts},
		{"num_experts", c.NumExperts, MaxExperts},
		{"moe_intermediate_size", c.MoeIntermediateSize, MaxWidth},
		{"head_dim", c.HeadDim, MaxWidth},
		{"max_position_embeddings", c.MaxPositionEmbeddings, math.MaxInt32},
	}
	for _, d := range dims {
		if d.v > d.max {
			return fmt.Errorf("config: %s %d exceeds the limit %d: %w", d.name, d.v, d.max, ErrTooLarge)
		}
	}
	n, err := c.ParamCount()
	if err != nil {
		return err
	}
	if n > MaxParams {
		return fmt.Errorf("config: %d parameters exceed the limit %d: %w", n, MaxParams, ErrTooLarge)
	}
	if t := c.NumTensors(); t > MaxTensors {
		return fmt.Errorf("config: %d parameter tensors exceed the limit %d: %w", t, MaxTensors, ErrTooLarge)
	}
	if c.NumAttentionHeads > 0 {
		// cos and sin, each [positions, HS/2] float32: positions·HS·4 bytes.
		rope := uint64(max(c.MaxPositionEmbeddings, 0)) * uint64(max(c.HeadSize(), 0)) * 4
		if rope > MaxRopeBytes {
			return fmt.Errorf("config: RoPE tables for max_position_embeddings %d need %d bytes, over the limit %d: %w",
				c.MaxPositionEmbeddings, rope, uint64(MaxRopeBytes), ErrTooLarge)
		}
	}
	return nil
}

// ParamCount is NumParams computed without building the layout and with
// overflow checks: an error wrapping ErrTooLarge when the count does not
// fit in an int. Negative sizes count as 0 (Validate reports them).
func (c *Config) ParamCount() (int, error) {
	var ovf bool
	mul := func(xs ...int) uint64 {
		p := uint64(1)
		for _, x := range xs {
			hi, lo := bits.Mul64(p, uint64(max(x, 0)))
			ovf = ovf || hi != 0
			p = lo
		}
		return p
	}
	add := func(xs ...uint64) uint64 {
		var s uint64
		for _, x := range xs {
			var carry uint64
			s, carry = bits.Add64(s, x, 0)
			ovf = ovf || carry != 0
		}
		return s
	}
	C, F := c.HiddenSize, c.IntermediateSize
	hd := 0
	if c.NumAttentionHeads > 0 {
		hd = c.HeadSize()
	}
	kvC, qC := int(mul(c.NumKeyValueHeads, hd)), int(mul(c.NumAttentionHeads, hd))
	if ovf || kvC < 0 || qC < 0 {
		return 0, fmt.Errorf("config: parameter count overflows: %w", ErrTooLarge)
	}
	attn := add(mul(2, qC, C), mul(2, kvC, C), mul(2, C)) // q,o; k,v; two norms
	if c.IsMiniMind3() {
		attn = add(attn, mul(2, hd)) // q_norm, k_norm
	}
	ffn := mul(3, F, C)
	layer := add(attn, ffn)
	if c.UseMoE {
		ex := mul(3, c.ExpertSize(), C)
		layer = add(attn, mul(int(ex), max(c.Experts(), 0)), mul(int(ffn), max(c.SharedExperts(), 0)), mul(c.Experts(), C))
		if ffn > math.MaxInt || ex > math.MaxInt {
			ovf = true
		}
	}
	head := uint64(0)
	if !c.Tied() {
		head = mul(c.VocabSize, C)
	}
	n := add(mul(c.VocabSize, C), mul(int(layer), c.NumHiddenLayers), uint64(max(C, 0)), head)
	if ovf || layer > math.MaxInt || n > math.MaxInt {
		return 0, fmt.Errorf("config: parameter count overflows: %w", ErrTooLarge)
	}
	return int(n), nil
}

// NumTensors is len(Layout(c)), computed without building it. Sizes above
// CheckSizes' limits give a saturated count rather than overflowing.
func (c *Config) NumTensors() int {
	attn := 6 // q, k, v, o, two norms
	if c.IsMiniMind3() {
		attn += 2 // q_norm, k_norm
	}
	perLayer := attn + 3 // dense FFN
	if c.UseMoE {
		perLayer = attn + 3*min(max(c.Experts(), 0), 1<<20) + 1 + 3*min(max(c.SharedExperts(), 0), 1<<20)
	}
	n := 2 + min(max(c.NumHiddenLayers, 0), 1<<30)*perLayer
	if !c.Tied() {
		n++
	}
	return n
}
