package model

import (
	"fmt"
	"math"
)

// Value-head tensor names in upstream's CriticModel state dict
// (trainer/train_ppo.py): nn.Linear(hidden_size, 1) with bias.
const (
	ValueHeadWeightName = "value_head.weight" // [1, C]
	ValueHeadBiasName   = "value_head.bias"   // [1]
)

// ForwardBackwardHidden runs one micro-batch [B,T] in training mode, hands
// the final-norm output hidden [N,C] to grad, which returns the loss and
// writes d(loss)/d(hidden) into dhidden ([N,C], zeroed before the call),
// then backpropagates dhidden·scale from the final norm down, ADDING to
// Grads. The LM head is not used (its gradient is untouched) and the MoE
// balance loss is neither added nor backpropagated: upstream's critic loss
// is the value loss alone. Stats.Loss = Stats.CE = loss. The slices are
// valid only during grad.
func (m *Model) ForwardBackwardHidden(ids []int32, B, T int, scale float32,
	grad func(hidden, dhidden []float32) (float64, error)) (Stats, error) {
	if err := m.checkBatch(ids, B, T); err != nil {
		return Stats{}, err
	}
	m.EnableGrads()
	p := m.trainPass(B, T)
	p.forward(ids, nil, nil)
	N, C := p.N, m.Config.HiddenSize
	dln := p.a.dln[:N*C]
	m.be.Zero(dln)
	loss, err := grad(p.a.lnf[:N*C], dln)
	if err != nil {
		return Stats{}, fmt.Errorf("model: loss on hidden states: %w", err)
	}
	m.be.Scale(dln, scale)
	p.backwardFromNorm(ids, 0)
	return Stats{Loss: loss, CE: loss}, nil
}

// Critic is upstream's CriticModel: the MiniMind backbone and a value head
// Linear(C, 1) with bias. Upstream's forward applies model.norm AGAIN to
// the backbone's output, which is already normalised, so
//
//	values = RMSNorm_final(RMSNorm_final(h))·wᵀ + b
//
// and the final norm's weight gets gradient from both applications.
type Critic struct {
	*Model
	// Head is value_head.weight [C] then value_head.bias; HeadGrad has the
	// same layout (AdamW steps them as one more slab).
	Head, HeadGrad []float32

	h2, rstd, dh2, values, dvalues []float32 // scratch, grown per batch
	dnorm                          []float32 // [C] the second norm's weight gradient
}

// NewCritic wraps m with a value head: head is [C+1] (weight then bias),
// or nil for upstream's fresh nn.Linear init, which the caller must then
// fill (InitValueHead).
func NewCritic(m *Model, head []float32) (*Critic, error) {
	C := m.Config.HiddenSize
	if head == nil {
		head = make([]float32, C+1)
	}
	if len(head) != C+1 {
		return nil, fmt.Errorf("model: value head has %d values, want hidden_size+1 = %d", len(head), C+1)
	}
	return &Critic{Model: m, Head: head, HeadGrad: make([]float32, C+1)}, nil
}

// InitValueHead fills the head as torch's nn.Linear(C, 1) does:
// weight and bias uniform in ±1/sqrt(C); u returns uniform [0,1) draws.
func (c *Critic) InitValueHead(u func() float64) {
	C := c.Config.HiddenSize
	bound := 1 / math.Sqrt(float64(C))
	for i := range c.Head {
		c.Head[i] = float32((2*u() - 1) * bound)
	}
}

func (c *Critic) grow(N int) {
	C := c.Config.HiddenSize
	if len(c.rstd) < N {
		c.h2, c.dh2 = make([]float32, N*C), make([]float32, N*C)
		c.rstd, c.values, c.dvalues = make([]float32, N), make([]float32, N), make([]float32, N)
	}
}

// head computes values [N] from the final-norm output lnf [N,C].
func (c *Critic) head(lnf []float32, N int) []float32 {
	C := c.Config.HiddenSize
	c.grow(N)
	h2, v := c.h2[:N*C], c.values[:N]
	c.be.RMSNormForward(h2, c.rstd[:N], lnf, c.w.norm, N, C, float32(c.Config.RMSNormEps))
	w, b := c.Head[:C], c.Head[C]
	for i := 0; i < N; i++ {
		// float64 accumulation: C is 64..1024, the values feed a loss.
		s := float64(b)
		for j, x := range h2[i*C : (i+1)*C] {
			s += float64(x) * float64(w[j])
		}
		v[i] = float32(s)
	}
	return v
}

// Values runs the critic in inference mode over ids [B,T] and returns the
// value of every position [B*T] (reused by the next call).
func (c *Critic) Values(ids []int32, B, T int) ([]float32, error) {
	if _, err := c.Logits(ids, B, T, nil, 1); err != nil {
		return nil, err
	}
	return c.head(c.FinalHidden(false), B*T), nil
}

// ForwardBackward runs the critic in training mode over ids [B,T]: grad
// gets values [B*T] and writes d(loss)/d(values) into dvalues (zeroed),
// returning the loss; dvalues·scale is backpropagated, ADDING to HeadGrad
// and the backbone's Grads.
func (c *Critic) ForwardBackward(ids []int32, B, T int, scale float32,
	grad func(values, dvalues []float32) (float64, error)) (Stats, error) {
	C := c.Config.HiddenSize
	return c.ForwardBackwardHidden(ids, B, T, scale, func(lnf, dlnf []float32) (float64, error) {
		N := len(lnf) / C
		v := c.head(lnf, N)
		dv := c.dvalues[:N]
		clear(dv)
		loss, err := grad(v, dv)
		if err != nil {
			return 0, err
		}
		// values = h2·wᵀ + b: dh2 = dv·w, dw += Σ dv·h2, db += Σ dv
		// (dlnf is scaled by the caller; the head's grads by scale here).
		h2, dh2 := c.h2[:N*C], c.dh2[:N*C]
		w, gw := c.Head[:C], c.HeadGrad[:C]
		var db float64
		for i := 0; i < N; i++ {
			d := dv[i]
			db += float64(d)
			for j := 0; j < C; j++ {
				dh2[i*C+j] = d * w[j]
				gw[j] += scale * d * h2[i*C+j]
			}
		}
		c.HeadGrad[C] += float32(db) * scale
		// h2 = RMSNorm_final(lnf): the norm weight's gradient from this
		// second application is scaled here; the first application's comes
		// from backwardFromNorm with dlnf·scale.
		gn := c.g.norm
		if c.dnorm == nil {
			c.dnorm = make([]float32, C)
		}
		tmp := c.dnorm
		clear(tmp)
		c.be.RMSNormBackward(dlnf, tmp, dh2, lnf, c.w.norm, c.rstd[:N], N, C)
		for j := range tmp {
			gn[j] += tmp[j] * scale
		}
		return loss, nil
	})
}
