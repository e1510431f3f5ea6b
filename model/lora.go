package model

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
)

// LoRATargets are the projections a LoRA may wrap (LoRASpec.Targets): the
// attention and feed-forward linears of every block (MoE experts and
// shared experts included). The router and the LM head are never wrapped.
var LoRATargets = []string{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"}

// LoRASpec says which linears get a low-rank adapter and how it is scaled.
type LoRASpec struct {
	Rank int // r: A is [r,in], B is [out,r]
	// Alpha scales the update by Alpha/Rank; 0 means no scaling (scale 1),
	// as upstream's model_lora.py.
	Alpha float64
	// Targets are projection names (LoRATargets); nil is upstream's rule:
	// every square projection (in == out), which for MiniMind is q_proj and
	// o_proj when heads·head_dim equals hidden_size, and nothing otherwise.
	Targets []string
	Seed    uint64 // A ~ N(0, 0.02) from this seed; B = 0
}

// Scale is the factor s of y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ.
func (s LoRASpec) Scale() float32 {
	if s.Alpha == 0 {
		return 1
	}
	return float32(s.Alpha / float64(s.Rank))
}

// LoRA is a set of low-rank adapters attached to a Model: its own
// parameter slab and gradient slab, described by Specs under upstream's
// save_lora key names ({module}.lora.A.weight, {module}.lora.B.weight).
// While a LoRA is attached the base weights get no gradient: training
// updates Params only.
type LoRA struct {
	Spec   LoRASpec
	Specs  []ParamSpec
	Params []float32
	Grads  []float32

	adapters []loraAdapter
	byW      map[*float32]*loraAdapter // keyed by the base weight's first element
	h, dh    []float32                 // scratch [rows, Rank]
}

// loraAdapter is one wrapped linear: out = x·Wᵀ + s·(x·Aᵀ)·Bᵀ.
type loraAdapter struct {
	module  string // HF module name, "model.layers.0.self_attn.q_proj"
	in, out int
	a, b    []float32 // [r,in], [out,r] views into LoRA.Params
	ga, gb  []float32 // their gradients
}

// Modules returns the wrapped modules' names in layout order.
func (l *LoRA) Modules() []string {
	names := make([]string, len(l.adapters))
	for i := range l.adapters {
		names[i] = l.adapters[i].module
	}
	return names
}

// LoRAModules lists the modules spec wraps in a model of config c, in
// layout order, with their [out, in] shapes. Unknown target names are an
// error naming them.
func LoRAModules(c *Config, spec LoRASpec) (names []string, shapes [][2]int, err error) {
	for _, t := range spec.Targets {
		if !slices.Contains(LoRATargets, t) {
			return nil, nil, fmt.Errorf("lora target %q: want some of %s", t, strings.Join(LoRATargets, ","))
		}
	}
	for _, s := range Layout(c) {
		if len(s.Shape) != 2 || !strings.HasSuffix(s.Name, ".weight") {
			continue
		}
		module := strings.TrimSuffix(s.Name, ".weight")
		proj := module[strings.LastIndexByte(module, '.')+1:]
		if !slices.Contains(LoRATargets, proj) {
			continue
		}
		if spec.Targets == nil && s.Shape[0] != s.Shape[1] || spec.Targets != nil && !slices.Contains(spec.Targets, proj) {
			continue
		}
		names = append(names, module)
		shapes = append(shapes, [2]int{s.Shape[0], s.Shape[1]})
	}
	return names, shapes, nil
}

// AttachLoRA wraps the linears spec selects with fresh adapters (A ~
// N(0, 0.02), B = 0, so the model's outputs do not change) and returns
// them. From then on the forward pass adds the adapters, and
// ForwardBackward computes gradients for the LoRA slab only: the base
// model's gradient slab is dropped. A spec that wraps nothing is an error
// (upstream silently trains nothing when no projection is square).
func (m *Model) AttachLoRA(spec LoRASpec) (*LoRA, error) {
	if m.lora != nil {
		return nil, fmt.Errorf("model: a LoRA is attached already")
	}
	if spec.Rank < 1 {
		return nil, fmt.Errorf("lora rank %d: want at least 1", spec.Rank)
	}
	if math.IsNaN(spec.Alpha) || math.IsInf(spec.Alpha, 0) || spec.Alpha < 0 {
		return nil, fmt.Errorf("lora alpha %g: want a finite number, at least 0", spec.Alpha)
	}
	names, shapes, err := LoRAModules(&m.Config, spec)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		what := "no projection is square (heads·head_dim ≠ hidden_size)"
		if spec.Targets != nil {
			what = "no projection matches --lora_targets " + strings.Join(spec.Targets, ",")
		}
		return nil, fmt.Errorf("lora: nothing to wrap: %s; name the projections with --lora_targets", what)
	}
	l := &LoRA{Spec: spec, byW: map[*float32]*loraAdapter{}}
	r, off := spec.Rank, 0
	for i, name := range names {
		out, in := shapes[i][0], shapes[i][1]
		l.Specs = append(l.Specs,
			ParamSpec{Name: name + ".lora.A.weight", Shape: []int{r, in}, Offset: off},
			ParamSpec{Name: name + ".lora.B.weight", Shape: []int{out, r}, Offset: off + r*in})
		off += r*in + out*r
	}
	l.Params = make([]float32, off)
	l.Grads = make([]float32, off)
	rng := rand.New(rand.NewPCG(spec.Seed, 0x6c6f7261)) // "lora"
	for i, name := range names {
		sa, sb := l.Specs[2*i], l.Specs[2*i+1]
		ad := loraAdapter{
			module: name, out: shapes[i][0], in: shapes[i][1],
			a: view(l.Params, sa), b: view(l.Params, sb), ga: view(l.Grads, sa), gb: view(l.Grads, sb),
		}
		for j := range ad.a {
			ad.a[j] = float32(rng.NormFloat64() * 0.02)
		}
		l.adapters = append(l.adapters, ad)
	}
	for i := range l.adapters {
		w := m.Params.View(m.Params.Data, l.adapters[i].module+".weight")
		l.byW[&w[0]] = &l.adapters[i]
	}
	m.lora = l
	m.Grads = nil
	m.g = frozenGrads(m.Params)
	return l, nil
}

// LoRA returns the attached adapters, or nil.
func (m *Model) LoRA() *LoRA { return m.lora }

// View returns the tensor name of the LoRA slab s (Params or Grads).
func (l *LoRA) View(s []float32, name string) ([]float32, bool) {
	for _, sp := range l.Specs {
		if sp.Name == name {
			return view(s, sp), true
		}
	}
	return nil, false
}

// Merge adds s·B·A to each wrapped weight of p (W ← W + s·B·A), in
// float32: a plain model with the result computes what the LoRA model
// does. p must have the layout the LoRA was made for.
func (l *LoRA) Merge(p *Params) {
	s := l.Spec.Scale()
	for _, ad := range l.adapters {
		w := p.View(p.Data, ad.module+".weight")
		r := l.Spec.Rank
		for o := 0; o < ad.out; o++ {
			for i := 0; i < ad.in; i++ {
				var d float32
				for k := 0; k < r; k++ {
					d += ad.b[o*r+k] * ad.a[k*ad.in+i]
				}
				w[o*ad.in+i] += s * d
			}
		}
	}
}

// Delta returns s·B·A of module (the [out,in] update Merge adds), or false
// when the module is not wrapped.
func (l *LoRA) Delta(module string) ([]float32, bool) {
	for _, ad := range l.adapters {
		if ad.module != module {
			continue
		}
		d, r, s := make([]float32, ad.out*ad.in), l.Spec.Rank, l.Spec.Scale()
		for o := 0; o < ad.out; o++ {
			for i := 0; i < ad.in; i++ {
				var v float32
				for k := 0; k < r; k++ {
					v += ad.b[o*r+k] * ad.a[k*ad.in+i]
				}
				d[o*ad.in+i] = s * v
			}
		}
		return d, true
	}
	return nil, false
}

func view(s []float32, sp ParamSpec) []float32 {
	return s[sp.Offset : sp.Offset+sp.Size() : sp.Offset+sp.Size()]
}

// frozenGrads binds the gradient views of a frozen base: no matrix
// gradients (linearBackward and the embedding skip nil views), and the
// small vectors (norm weights), whose kernels compute dx and dw together,
// write into a throw-away slab.
func frozenGrads(p *Params) weights[float32] {
	g := bind[float32](p, nil)
	var n int
	for _, s := range p.Specs {
		if len(s.Shape) == 1 {
			n += s.Size()
		}
	}
	sink := make([]float32, n)
	cut := func(name string) []float32 {
		s, _ := p.Spec(name)
		v := sink[:s.Size():s.Size()]
		sink = sink[s.Size():]
		return v
	}
	g.norm = cut("model.norm.weight")
	for l := range g.layers {
		pre := fmt.Sprintf("model.layers.%d.", l)
		lg := &g.layers[l]
		lg.inNorm, lg.postNorm = cut(pre+"input_layernorm.weight"), cut(pre+"post_attention_layernorm.weight")
		if p.Config.IsMiniMind3() {
			lg.qNorm, lg.kNorm = cut(pre+"self_attn.q_norm.weight"), cut(pre+"self_attn.k_norm.weight")
		}
	}
	return g
}

// scratch returns the LoRA's [rows, Rank] buffers, grown as needed (once
// for the largest batch, like the activations).
func (l *LoRA) scratch(rows int) (h, dh []float32) {
	n := rows * l.Spec.Rank
	if len(l.h) < n {
		l.h, l.dh = make([]float32, n), make([]float32, n)
	}
	return l.h[:n], l.dh[:n]
}

// loraForward adds s·(x·Aᵀ)·Bᵀ to out [rows,n] when w is wrapped.
func (p *pass) loraForward(out, x, w []float32, rows int) {
	ad := p.lora.adapter(w)
	if ad == nil {
		return
	}
	r := p.lora.Spec.Rank
	h, _ := p.lora.scratch(rows)
	p.be.MatMul(h, x, ad.a, rows, r, ad.in, false, true, false)
	if s := p.lora.Spec.Scale(); s != 1 {
		p.be.Scale(h, s)
	}
	p.be.MatMul(out, h, ad.b, rows, ad.out, r, false, true, true)
}

// loraBackward mirrors loraForward for dOut [rows,n]: with h = x·Aᵀ
// (recomputed), dB += s·dOutᵀ·h, dh = s·dOut·B, dA += dhᵀ·x and
// dx += dh·A.
func (p *pass) loraBackward(dx, dOut, x, w []float32, rows int) {
	ad := p.lora.adapter(w)
	if ad == nil {
		return
	}
	r, s := p.lora.Spec.Rank, p.lora.Spec.Scale()
	h, dh := p.lora.scratch(rows)
	p.be.MatMul(h, x, ad.a, rows, r, ad.in, false, true, false)
	if s != 1 {
		p.be.Scale(h, s)
	}
	p.be.MatMul(ad.gb, dOut, h, ad.out, r, rows, true, false, true)
	p.be.MatMul(dh, dOut, ad.b, rows, r, ad.out, false, false, false)
	if s != 1 {
		p.be.Scale(dh, s)
	}
	p.be.MatMul(ad.ga, dh, x, r, ad.in, rows, true, false, true)
	p.be.MatMul(dx, dh, ad.a, rows, ad.in, r, false, false, true)
}

func (l *LoRA) adapter(w []float32) *loraAdapter {
	if l == nil || len(w) == 0 {
		return nil
	}
	return l.byW[&w[0]]
}

// DetachLoRA removes the attached adapters: the model is the base again
// (its gradient slab is allocated again by the next EnableGrads).
func (m *Model) DetachLoRA() {
	m.lora = nil
	m.Grads = nil
	m.g = weights[float32]{}
}
