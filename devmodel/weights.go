package devmodel

import (
	"fmt"

	"github.com/minimind-go/minimind/model"
)

// ffnW is one SwiGLU FFN's tensors (model's ffnW on a device slab).
type ffnW struct{ gate, down, up Buf }

// layerW is one decoder block's tensors.
type layerW struct {
	wq, wk, wv, wo   Buf
	qNorm, kNorm     Buf // minimind-3 only
	inNorm, postNorm Buf
	ffn              ffnW
	experts          []ffnW
	router           Buf
	shared           []ffnW
}

// weights is the model's tensors as named views into one device slab.
type weights struct {
	embed  Buf
	layers []layerW
	norm   Buf
	lmHead Buf // the embedding itself when tied
}

// bind cuts slab (laid out as model.Layout(c)) into named views, as
// model's bind does.
func bind(c *model.Config, slab Buf) (weights, error) {
	specs := map[string]model.ParamSpec{}
	for _, s := range model.Layout(c) {
		specs[s.Name] = s
	}
	var missing error
	v := func(name string) Buf {
		if name == model.LMHeadName && c.Tied() {
			name = model.EmbedName
		}
		s, ok := specs[name]
		if !ok {
			missing = fmt.Errorf("devmodel: no parameter %s in the layout", name)
			return Buf{}
		}
		return slab.Slice(s.Offset, s.Offset+s.Size())
	}
	ffn := func(prefix string) ffnW {
		return ffnW{gate: v(prefix + ".gate_proj.weight"), down: v(prefix + ".down_proj.weight"), up: v(prefix + ".up_proj.weight")}
	}
	w := weights{embed: v(model.EmbedName), norm: v("model.norm.weight"), lmHead: v(model.LMHeadName)}
	for l := 0; l < c.NumHiddenLayers; l++ {
		pre := fmt.Sprintf("model.layers.%d.", l)
		lw := layerW{
			wq: v(pre + "self_attn.q_proj.weight"), wk: v(pre + "self_attn.k_proj.weight"),
			wv: v(pre + "self_attn.v_proj.weight"), wo: v(pre + "self_attn.o_proj.weight"),
			inNorm: v(pre + "input_layernorm.weight"), postNorm: v(pre + "post_attention_layernorm.weight"),
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
	return w, missing
}
