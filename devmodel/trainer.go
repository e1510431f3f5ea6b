package devmodel

import (
	"fmt"
	"math"

	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/model"
)

// AdamWConfig is torch.optim.AdamW's hyper-parameters besides lr (the
// same fields as train.AdamWConfig).
type AdamWConfig struct {
	Beta1, Beta2 float32
	Eps          float32
	WeightDecay  float32
}

// DefaultAdamW is MiniMind's optimizer: betas 0.9/0.999, eps 1e-8,
// weight decay 0.01.
func DefaultAdamW() AdamWConfig {
	return AdamWConfig{Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, WeightDecay: 0.01}
}

// Trainer is the device-resident optimizer: AdamW's moments on the device
// next to the model's gradients, gradient clipping from a norm reduced on
// the device, and, in FP16, the GradScaler.
type Trainer struct {
	Model  *Model
	Config AdamWConfig
	// T is the optimizer steps taken (AdamW's bias correction).
	T int
	// Scaler is the dynamic loss scaler: set by NewTrainer in FP16, nil
	// otherwise (bf16 and fp32 need none, as in the seed).
	Scaler *GradScaler
	m, v   Buf
	norm   F64
	host   []float64
}

// StepResult is what Step reports.
type StepResult struct {
	// GradNorm is the L2 norm of the (unscaled) gradients before
	// clipping; NaN or Inf when the step was skipped.
	GradNorm float64
	// Skipped: the gradients were not finite and no update was applied
	// (with a scaler, the scale backed off).
	Skipped bool
	// LossScale is the scale the step's gradients carried (1 without a
	// scaler).
	LossScale float32
}

// NewTrainer allocates zeroed moments on the model's device.
func NewTrainer(m *Model, cfg AdamWConfig) (*Trainer, error) {
	t := &Trainer{Model: m, Config: cfg, host: make([]float64, 1)}
	var err error
	if t.m, err = m.dev.Alloc(m.NumParams()); err != nil {
		return nil, fmt.Errorf("devmodel: AdamW first moment: %w", err)
	}
	if t.v, err = m.dev.Alloc(m.NumParams()); err != nil {
		return nil, fmt.Errorf("devmodel: AdamW second moment: %w", err)
	}
	if t.norm, err = m.dev.AllocF64(1); err != nil {
		return nil, err
	}
	if m.dev.Precision() == cuda.FP16 {
		t.Scaler = NewGradScaler()
	}
	return t, m.EnableGrads()
}

// LossScale is the factor ForwardBackward's scale must carry this step.
func (t *Trainer) LossScale() float32 {
	if t.Scaler == nil {
		return 1
	}
	return t.Scaler.Scale
}

// Micro runs one micro-batch (model.Model.ForwardBackward), with the loss
// scale applied: scale is the micro-batch's weight, 1/accumulation.
func (t *Trainer) Micro(ids, targets []int32, mask []float32, B, T int, scale float32) (model.Stats, error) {
	return t.Model.ForwardBackward(ids, targets, mask, B, T, scale*t.LossScale())
}

// Step ends an optimizer step as the CPU loop does (train.ClipGradNorm,
// then AdamW), after torch's GradScaler unscale when there is one: the
// gradients are unscaled, their norm reduced on the device and brought
// down (8 bytes), a non-finite norm skips the update, otherwise they are
// clipped to maxNorm (0: no clipping) and AdamW steps with lr.
func (t *Trainer) Step(lr float32, maxNorm float64) (StepResult, error) {
	r, err := t.Unscale()
	if err != nil || r.Skipped {
		return r, err
	}
	t.Apply(lr, maxNorm, r.GradNorm)
	return r, nil
}

// Unscale is Step's first half: unscale the gradients (with a scaler) and
// return their norm. A non-finite norm means the update must be skipped;
// with a scaler that is routine (the scale backs off, already done here).
func (t *Trainer) Unscale() (StepResult, error) {
	m, d := t.Model, t.Model.dev
	r := StepResult{LossScale: t.LossScale()}
	if t.Scaler != nil {
		d.Scale(m.grads, t.Scaler.InvScale())
	}
	d.SumSquares(t.norm, m.grads)
	if err := d.DownloadF64(t.host, t.norm); err != nil {
		return r, fmt.Errorf("devmodel: download gradient norm: %w", err)
	}
	r.GradNorm = math.Sqrt(t.host[0])
	if !finite(r.GradNorm) {
		r.Skipped = true
		if t.Scaler != nil {
			t.Scaler.Update(true)
		}
	}
	return r, nil
}

// Apply is Step's second half, for a finite norm from Unscale: clip to
// maxNorm (coef = min(1, max/(norm+1e-6)) in float32, applied even when it
// is 1, as train.ClipGradNorm; maxNorm 0: none) and take the AdamW step.
func (t *Trainer) Apply(lr float32, maxNorm, norm float64) {
	m, d := t.Model, t.Model.dev
	if maxNorm > 0 {
		coef := float64(float32(maxNorm) / float32(norm+1e-6))
		if coef > 1 {
			coef = 1
		}
		d.Scale(m.grads, float32(coef))
	}
	t.T++
	c := t.Config
	d.AdamW(m.params, m.grads, t.m, t.v, lr, c.Beta1, c.Beta2, c.Eps, c.WeightDecay, t.T)
	if t.Scaler != nil {
		t.Scaler.Update(false)
	}
}

// DownloadMoments copies AdamW's moments into m and v (resume files).
func (t *Trainer) DownloadMoments(m, v []float32) error {
	if err := t.Model.dev.Download(m, t.m); err != nil {
		return err
	}
	return t.Model.dev.Download(v, t.v)
}

// UploadMoments restores AdamW's moments and step count (resume).
func (t *Trainer) UploadMoments(m, v []float32, steps int) error {
	if len(m) != t.m.Len() || len(v) != t.v.Len() {
		return fmt.Errorf("devmodel: moments of %d and %d values for %d parameters", len(m), len(v), t.m.Len())
	}
	if err := t.Model.dev.Upload(t.m, m); err != nil {
		return err
	}
	t.T = steps
	return t.Model.dev.Upload(t.v, v)
}
