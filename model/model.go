// Package model is the MiniMind decoder in both upstream generations —
// MiniMind2 ("2510") and minimind-3 (Qwen3-style: explicit head_dim, q/k
// RMSNorm before RoPE, top-1 MoE without shared experts, per-batch
// balance loss) — chosen by the config (Config.Family), never guessed:
// its Config (config.json) and presets, the parameter slab and its named
// views, the forward pass, the hand-written backward pass,
// Mixture-of-Experts routing and the KV cache for incremental decoding.
//
// YaRN (--inference_rope_scaling): call
// Params.Config.SetInferenceRopeScaling(true) on loaded weights before
// New, which builds the RoPE tables.
//
// The model calls a kernels.Backend for every computation; it never loops
// over tensors itself except for O(N·E) routing bookkeeping.
//
// A Model is used by one goroutine at a time. Activations are allocated
// once for the largest batch seen and reused, so a training step does not
// allocate after the first.
package model

import (
	"fmt"

	"github.com/minimind-go/minimind/kernels"
)

// Model binds a parameter slab to a backend and owns the activations.
type Model struct {
	Config Config
	Params *Params
	// Grads has the layout of Params.Data; it is allocated by the first
	// ForwardBackward (or EnableGrads) and accumulates until ZeroGrad.
	Grads []float32

	be       kernels.Backend
	w, g     weights[float32]
	cos, sin []float32 // RoPE tables [MaxPositionEmbeddings, HS/2]
	train    *acts     // per-layer activations for training
	infer    *acts     // shared-buffer activations for inference

	// Half-precision inference (half.go): the 16-bit copy of the weights
	// (nil views without one) and its format (nil: none).
	w16  weights[uint16]
	half *halfWeights
	// 8-bit inference (q8.go): the Q8_0 copy of every matrix (nil views
	// without one) and its kernel (nil: none).
	w8 weights[byte]
	q8 *q8Weights

	dlogits []float32 // ForwardBackwardLogits' d(loss)/d(logits) [N,V] (custom.go)
	lora    *LoRA     // attached adapters (lora.go); nil: none
}

// New binds p to the backend be.
func New(p *Params, be kernels.Backend) *Model {
	m := &Model{Config: p.Config, Params: p, be: be}
	m.w = bind(p, p.Data)
	m.w16 = bind[uint16](p, nil)
	m.w8 = bind[byte](p, nil)
	m.cos, m.sin = m.Config.RopeTables(m.Config.MaxPositionEmbeddings)
	return m
}

// Backend returns the kernels the model runs on.
func (m *Model) Backend() kernels.Backend { return m.be }

// EnableGrads allocates the gradient slab (zeroed) if it is not there yet;
// with a LoRA attached the base has none (the LoRA's slab takes them).
func (m *Model) EnableGrads() {
	if m.Grads == nil && m.lora == nil {
		m.Grads = make([]float32, len(m.Params.Data))
		m.g = bind(m.Params, m.Grads)
	}
}

// ZeroGrad clears the gradient slab (once per optimizer step).
func (m *Model) ZeroGrad() {
	if m.lora != nil {
		m.be.Zero(m.lora.Grads)
		return
	}
	m.EnableGrads()
	m.be.Zero(m.Grads)
}

// Stats is the outcome of a loss computation.
type Stats struct {
	Loss   float64 // CE + Aux: what the optimizer minimises
	CE     float64 // masked mean cross-entropy
	Aux    float64 // MoE balance loss summed over layers (0 for dense, and in eval)
	Tokens float64 // Σ loss_mask (target positions counted)
}

func (m *Model) checkBatch(ids []int32, B, T int) error {
	if B <= 0 || T <= 0 {
		return fmt.Errorf("model: batch %d×%d must be positive", B, T)
	}
	if len(ids) != B*T {
		return fmt.Errorf("model: %d token ids for a %d×%d batch", len(ids), B, T)
	}
	// The RoPE tables end there: past it the kernels would index beyond
	// them. One check for every entry point (training, loss, logits, the
	// post-training losses).
	if T > m.Config.MaxPositionEmbeddings {
		return fmt.Errorf("model: %d positions exceed max_position_embeddings %d", T, m.Config.MaxPositionEmbeddings)
	}
	for i, id := range ids {
		if id < 0 || int(id) >= m.Config.VocabSize {
			return fmt.Errorf("model: token id %d at position %d is outside the vocabulary [0,%d)", id, i, m.Config.VocabSize)
		}
	}
	return nil
}

func (m *Model) trainActs(B, N int) *acts {
	if m.train == nil || m.train.maxN < N || m.train.maxB < B {
		m.train = newActs(&m.Config, B, N, true)
	}
	return m.train
}

func (m *Model) inferActs(B, N int) *acts {
	if m.infer == nil || m.infer.maxN < N || m.infer.maxB < B {
		m.infer = newActs(&m.Config, B, N, false)
	}
	return m.infer
}

// ForwardBackward runs one micro-batch in training mode: ids, targets and
// lossMask are [B,T] (targets with mask 0 are ignored; negative targets are
// ignored too). The loss is CE + aux; its gradient times scale (1/accumulation
// steps) is ADDED to Grads.
func (m *Model) ForwardBackward(ids, targets []int32, lossMask []float32, B, T int, scale float32) (Stats, error) {
	if err := m.checkLoss(ids, targets, lossMask, B, T); err != nil {
		return Stats{}, err
	}
	m.EnableGrads()
	p := m.trainPass(B, T)
	p.forward(ids, nil, nil)
	st, fused := p.loss(targets, lossMask, scale, true)
	if fused {
		targets = nil // the logits buffer holds dlogits already
	}
	p.backward(ids, targets, scale)
	return st, nil
}

// Loss runs the forward pass and the masked cross-entropy without touching
// gradients. training selects the training-mode MoE balance loss.
func (m *Model) Loss(ids, targets []int32, lossMask []float32, B, T int, training bool) (Stats, error) {
	if err := m.checkLoss(ids, targets, lossMask, B, T); err != nil {
		return Stats{}, err
	}
	p := m.inferPass(B, T)
	if training {
		p = m.trainPass(B, T)
	}
	p.forward(ids, nil, nil)
	st, _ := p.loss(targets, lossMask, 0, false)
	return st, nil
}

func (m *Model) checkLoss(ids, targets []int32, lossMask []float32, B, T int) error {
	if err := m.checkBatch(ids, B, T); err != nil {
		return err
	}
	if len(targets) != B*T || len(lossMask) != B*T {
		return fmt.Errorf("model: targets (%d) and loss mask (%d) must have %d entries", len(targets), len(lossMask), B*T)
	}
	for i, t := range targets {
		if int(t) >= m.Config.VocabSize {
			return fmt.Errorf("model: target id %d at position %d is outside the vocabulary", t, i)
		}
	}
	return nil
}

// Logits runs the forward pass in inference mode over ids [B,T] and returns
// the logits: all [B,T,V] when keep is 0, else those of the last keep
// positions of each row, [B,keep,V] (logits_to_keep). mask is nil or [B,T]
// (1 = token, 0 = padding). The returned slice is reused by the next call.
func (m *Model) Logits(ids []int32, B, T int, mask []float32, keep int) ([]float32, error) {
	if err := m.checkBatch(ids, B, T); err != nil {
		return nil, err
	}
	if mask != nil && len(mask) != B*T {
		return nil, fmt.Errorf("model: attention mask has %d entries, want %d", len(mask), B*T)
	}
	p := m.inferPass(B, T)
	p.forward(ids, nil, mask)
	return p.project(keep), nil
}

// FinalHidden returns the final-norm output [N,C] of the last forward pass.
func (m *Model) FinalHidden(training bool) []float32 {
	a := m.infer
	if training {
		a = m.train
	}
	return a.lnf[:a.n*m.Config.HiddenSize]
}

// TokenLosses returns the per-position cross-entropy [N] (before masking)
// of the last Loss or ForwardBackward.
func (m *Model) TokenLosses(training bool) []float32 {
	a := m.infer
	if training {
		a = m.train
	}
	return a.losses[:a.n]
}

// ActivationBytes reports the training activation memory allocated so far.
func (m *Model) ActivationBytes() int64 {
	if m.train == nil {
		return 0
	}
	return m.train.bytes()
}

// Routing returns layer l's MoE routing in the last training pass (Loss
// with training, or ForwardBackward): the chosen experts [N,K], the router
// probabilities [N,E] and the layer's balance loss. ok is false for a
// dense model or before any training pass. The slices are reused by the
// next pass.
func (m *Model) Routing(l int) (experts []int32, probs []float32, aux float64, ok bool) {
	if !m.Config.UseMoE || m.train == nil || l < 0 || l >= len(m.train.layers) {
		return nil, nil, 0, false
	}
	mo, n := m.train.layers[l].moe, m.train.n
	return mo.topIdx[:n*m.Config.NumExpertsPerTok], mo.probs[:n*m.Config.Experts()], mo.aux, true
}
