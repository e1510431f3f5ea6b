package train

import (
	"context"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// MicroStep runs one micro-batch's forward and backward pass in place of
// the masked cross-entropy: it ADDS the gradient of its loss times scale
// to the model's Grads and returns the loss (Stats.Loss, with the MoE
// aux) and, for preference losses, the micro-batch's mean rewards (zero
// otherwise). The loop weighs both like the cross-entropy.
type MicroStep func(ctx context.Context, b *data.Batch, scale float32) (model.Stats, Rewards, error)

// Rewards are DPO's implicit rewards, means over a batch's pairs: what
// users watch to see preference training work.
type Rewards struct {
	Acc      float64 // fraction of pairs whose chosen reward beats the rejected one
	Chosen   float64 // β·(π(chosen) − ref(chosen))
	Rejected float64 // β·(π(rejected) − ref(rejected))
	Margin   float64 // Chosen − Rejected
}

// add accumulates r weighted by w.
func (r *Rewards) add(o Rewards, w float64) {
	r.Acc += o.Acc * w
	r.Chosen += o.Chosen * w
	r.Rejected += o.Rejected * w
	r.Margin += o.Margin * w
}

// fill copies r into a step record.
func (r *Rewards) fill(s *Step) {
	s.RewardAcc, s.RewardChosen, s.RewardRejected, s.RewardMargin = r.Acc, r.Chosen, r.Rejected, r.Margin
}
