package train

import (
	"math"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/model"
)

// AdamWConfig is torch.optim.AdamW's hyper-parameters (besides lr).
type AdamWConfig struct {
	Beta1, Beta2 float32
	Eps          float32
	WeightDecay  float32 // decoupled, applied to every parameter as MiniMind does
}

// DefaultAdamW is MiniMind's optimizer: AdamW with PyTorch's defaults
// (betas 0.9/0.999, eps 1e-8, weight decay 0.01) on every parameter.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// AdamW is the optimizer state: both moments in slabs with the layout of
// the parameters, and the step count.
type AdamW struct {
	Config AdamWConfig
	M, V   []float32
	T      int // optimizer steps taken
}

// NewAdamW returns fresh state (zero moments) for p.
func NewAdamW(p *model.Params, cfg AdamWConfig) *AdamW {
	return &AdamW{Config: cfg, M: make([]float32, len(p.Data)), V: make([]float32, len(p.Data))}
}

// Step applies one AdamW update with learning rate lr.
func (o *AdamW) Step(be kernels.Backend, params, grads []float32, lr float32) {
	o.T++
	c := o.Config
	be.AdamW(params, grads, o.M, o.V, lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, o.T)
}

// StepScaled is Step on the gradients grads·gscale, as Scale(grads,
// gscale) then Step give, but in one pass when the backend has the fused
// update (cpu.Backend does): the gradients are then left unscaled. With
// GradNorm it replaces ClipGradNorm + Step, saving a pass over the
// gradient slab.
func (o *AdamW) StepScaled(be kernels.Backend, params, grads []float32, lr, gscale float32) {
	if gscale == 1 {
		o.Step(be, params, grads, lr)
		return
	}
	f, ok := be.(scaledAdamW)
	if !ok {
		be.Scale(grads, gscale)
		o.Step(be, params, grads, lr)
		return
	}
	o.T++
	c := o.Config
	f.AdamWScaled(params, grads, o.M, o.V, gscale, lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, o.T)
}

// scaledAdamW is the optional fused clip-and-update: AdamW on g·gscale
// without writing g; the bits of Scale(g, gscale) then AdamW.
type scaledAdamW interface {
	AdamWScaled(p, g, m, v []float32, gscale, lr, beta1, beta2, eps, wd float32, t int)
}

// ClipGradNorm scales grads so that their global L2 norm is at most
// maxNorm, as torch.nn.utils.clip_grad_norm_: coef = min(1, max/(norm+1e-6)),
// applied even when it is 1 (that changes no bit, so no pass is made). It
// returns the norm before clipping and coef. The tied matrix is one tensor
// in the slab, so it counts once.
func ClipGradNorm(be kernels.Backend, grads []float32, maxNorm float64) (norm, coef float64) {
	norm, coef = GradNorm(be, grads, maxNorm)
	if s := ClipScale(coef, maxNorm); s != 1 {
		be.Scale(grads, s)
	}
	return norm, coef
}

// GradNorm is ClipGradNorm without the scaling: the norm and coef. The
// gradients are then clipped by StepScaled(…, ClipScale(coef, maxNorm)).
func GradNorm(be kernels.Backend, grads []float32, maxNorm float64) (norm, coef float64) {
	norm = math.Sqrt(be.SumSquares(grads))
	coef = float64(float32(maxNorm) / float32(norm+1e-6))
	if coef > 1 {
		coef = 1
	}
	return norm, coef
}

// ClipScale is the factor ClipGradNorm multiplies the gradients by: coef,
// or 1 without clipping (maxNorm ≤ 0).
func ClipScale(coef, maxNorm float64) float32 {
	if maxNorm > 0 {
		return float32(coef)
	}
	return 1
}
