package devmodel

import "math"

// GradScaler is torch.cuda.amp.GradScaler's dynamic loss scaling, the
// state machine of torch's _amp_update_scale_ (aten/src/ATen/native/cuda/
// AmpKernels.cu): the loss is multiplied by Scale before backward; after
// it, gradients are unscaled by 1/Scale and checked. A step with an
// infinite or NaN gradient is skipped and the scale multiplied by
// BackoffFactor; after GrowthInterval consecutive clean steps the scale is
// multiplied by GrowthFactor (unless that overflows float32). The scale
// is a float32, as torch's _scale tensor.
type GradScaler struct {
	Scale          float32
	GrowthFactor   float32
	BackoffFactor  float32
	GrowthInterval int
	// Tracker counts the clean steps since the last growth or backoff
	// (torch's _growth_tracker).
	Tracker int
}

// NewGradScaler returns torch's defaults: init_scale 65536 (2¹⁶),
// growth_factor 2, backoff_factor 0.5, growth_interval 2000.
func NewGradScaler() *GradScaler {
	return &GradScaler{Scale: 65536, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 2000}
}

// InvScale is the unscale factor, computed as torch does:
// scale.double().reciprocal().float().
func (s *GradScaler) InvScale() float32 { return float32(1 / float64(s.Scale)) }

// Update advances the state after a step: foundInf says the unscaled
// gradients held an infinity or NaN (the step was skipped).
func (s *GradScaler) Update(foundInf bool) {
	if foundInf {
		s.Scale *= s.BackoffFactor
		s.Tracker = 0
		return
	}
	next := s.Tracker + 1
	if next == s.GrowthInterval {
		if g := s.Scale * s.GrowthFactor; !math.IsInf(float64(g), 0) && !math.IsNaN(float64(g)) {
			s.Scale = g
		}
		next = 0
	}
	s.Tracker = next
}
