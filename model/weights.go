package model

import "fmt"

// ffnW is one SwiGLU feed-forward network: down(silu(gate x) ⊙ up x).
type ffnW struct{ gate, down, up []float32 }

// layerW holds one decoder block's tensors (weights, or their gradients:
// the same struct is bound to either slab).
type layerW struct {
	wq, wk, wv, wo   []float32
	inNorm, postNorm []float32
	ffn              ffnW   // dense FFN
	experts          []ffnW // MoE routed experts
	router           []float32
	shared           []ffnW // MoE shared experts
}

// weights is the model's tensors as named views into one slab.
type weights struct {
	embed  []float32 // [V,C], also the LM head
	layers []layerW
	norm   []float32
}

// bind cuts slab (laid out as p) into named views.
func bind(p *Params, slab []float32) weights {
	c := &p.Config
	v := func(name string) []float32 { return p.View(slab, name) }
	ffn := func(prefix string) ffnW {
		return ffnW{gate: v(prefix + ".gate_proj.weight"), down: v(prefix + ".down_proj.weight"), up: v(prefix + ".up_proj.weight")}
	}
	w := weights{embed: v(EmbedName), norm: v("model.norm.weight")}
	for l := 0; l < c.NumHiddenLayers; l++ {
		pre := fmt.Sprintf("model.layers.%d.", l)
		lw := layerW{
			wq:       v(pre + "self_attn.q_proj.weight"),
			wk:       v(pre + "self_attn.k_proj.weight"),
			wv:       v(pre + "self_attn.v_proj.weight"),
			wo:       v(pre + "self_attn.o_proj.weight"),
			inNorm:   v(pre + "input_layernorm.weight"),
			postNorm: v(pre + "post_attention_layernorm.weight"),
		}
		if c.UseMoE {
			for e := 0; e < c.NRoutedExperts; e++ {
				lw.experts = append(lw.experts, ffn(fmt.Sprintf("%smlp.experts.%d", pre, e)))
			}
			lw.router = v(pre + "mlp.gate.weight")
			for s := 0; s < c.NSharedExperts; s++ {
				lw.shared = append(lw.shared, ffn(fmt.Sprintf("%smlp.shared_experts.%d", pre, s)))
			}
		} else {
			lw.ffn = ffn(pre + "mlp")
		}
		w.layers = append(w.layers, lw)
	}
	return w
}
