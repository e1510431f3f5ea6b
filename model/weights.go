package model

import "fmt"

// elem is what a slab holds: float32 (parameters, gradients), the 16-bit
// bits of the inference copy (half.go) or the Q8_0 bytes of the 8-bit one
// (q8.go).
type elem interface{ float32 | uint16 | byte }

// ffnW is one SwiGLU feed-forward network: down(silu(gate x) ⊙ up x).
type ffnW[T elem] struct{ gate, down, up []T }

// layerW holds one decoder block's tensors (weights, their gradients or
// their 16-bit copies: the same struct is bound to any slab of the layout).
type layerW[T elem] struct {
	wq, wk, wv, wo   []T
	qNorm, kNorm     []T // minimind-3's per-head RMSNorm weights [HS] (nil in MiniMind2)
	inNorm, postNorm []T
	ffn              ffnW[T]   // dense FFN
	experts          []ffnW[T] // MoE routed experts
	router           []T
	shared           []ffnW[T] // MoE shared experts
}

// weights is the model's tensors as named views into one slab.
type weights[T elem] struct {
	embed  []T // [V,C]
	layers []layerW[T]
	norm   []T
	lmHead []T // [V,C]: embed itself when tied
}

// bind cuts slab (laid out as p) into named views. A nil slab gives nil
// views in the model's shape (every layer, expert and shared expert
// present), which is how a model without 16-bit copies binds them.
func bind[T elem](p *Params, slab []T) weights[T] {
	return bindViews(p, func(name string) []T {
		if slab == nil {
			return nil
		}
		s, ok := p.Spec(name)
		if !ok {
			panic("model: no parameter " + name)
		}
		return slab[s.Offset : s.Offset+s.Size() : s.Offset+s.Size()]
	})
}

// bindViews builds the named views of the model's shape from v, which
// returns the view of one HF key (nil: none).
func bindViews[T elem](p *Params, v func(name string) []T) weights[T] {
	c := &p.Config
	ffn := func(prefix string) ffnW[T] {
		return ffnW[T]{gate: v(prefix + ".gate_proj.weight"), down: v(prefix + ".down_proj.weight"), up: v(prefix + ".up_proj.weight")}
	}
	w := weights[T]{embed: v(EmbedName), norm: v("model.norm.weight"), lmHead: v(LMHeadName)}
	for l := 0; l < c.NumHiddenLayers; l++ {
		pre := fmt.Sprintf("model.layers.%d.", l)
		lw := layerW[T]{
			wq:       v(pre + "self_attn.q_proj.weight"),
			wk:       v(pre + "self_attn.k_proj.weight"),
			wv:       v(pre + "self_attn.v_proj.weight"),
			wo:       v(pre + "self_attn.o_proj.weight"),
			inNorm:   v(pre + "input_layernorm.weight"),
			postNorm: v(pre + "post_attention_layernorm.weight"),
		}
		if c.IsMiniMind3() {
			lw.qNorm, lw.kNorm = v(pre+"self_attn.q_norm.weight"), v(pre+"self_attn.k_norm.weight")
		}
		if c.UseMoE {
			for e := 0; e < c.Experts(); e++ {
				lw.experts = append(lw.experts, ffn(fmt.Sprintf("%smlp.experts.%d", pre, e)))
			}
			lw.router = v(pre + "mlp.gate.weight")
			for s := 0; s < c.SharedExperts(); s++ {
				lw.shared = append(lw.shared, ffn(fmt.Sprintf("%smlp.shared_experts.%d", pre, s)))
			}
		} else {
			lw.ffn = ffn(pre + "mlp")
		}
		w.layers = append(w.layers, lw)
	}
	return w
}
