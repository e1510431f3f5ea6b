package train

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// Reasoning SFT (2510's train_reason.py): the targets that are tokens of
// the think and answer tags weigh Options.ThinkWeight in the loss, and the
// weighted sum is divided by the UNWEIGHTED number of targets:
//
//	loss = Σ w·ce / Σ mask   (w = think_weight at tag tokens, 1 elsewhere)
//
// The weights travel in the batches' LossMask (data.WeightTargets). The
// model's cross-entropy divides by the sum of the mask it is given, Σ w;
// the loop multiplies the micro-batch's gradient scale and its logged CE
// by Σ w / Σ mask (maskSums), which turns that into upstream's
// normalisation. For an unweighted mask that factor is exactly 1.

// thinkWeight is o.ThinkWeight, with 0 (a resume state written before the
// option existed) meaning 1.
func (o *Options) thinkWeight() float64 {
	if o.ThinkWeight == 0 {
		return 1
	}
	return o.ThinkWeight
}

// reasonData returns cfg.Data with the tag tokens weighted when
// ThinkWeight is not 1, after checking that the run can use it.
func reasonData(cfg *Config, mc *model.Config) (data.Dataset, error) {
	w := cfg.Options.thinkWeight()
	if w == 1 {
		return cfg.Data, nil
	}
	switch {
	case w < 0 || math.IsNaN(w) || math.IsInf(w, 0):
		return nil, fmt.Errorf("train: --think_weight %g: want a finite weight > 0", w)
	case cfg.Data.Kind() != data.KindSFT:
		return nil, fmt.Errorf("train: --think_weight %g weighs SFT targets; %s has none", w, cfg.Stage)
	case cfg.Tokenizer == nil:
		return nil, errors.New("train: --think_weight needs the tokenizer (Config.Tokenizer) to find the tag tokens")
	}
	return data.WeightTargets(cfg.Data, data.ThinkTagIDs(cfg.Tokenizer), float32(w)), nil
}

// maskSums returns the sum of b's loss mask over real targets (what the
// model's mean divides by) and the number of them with a non-zero mask
// (upstream's unweighted count).
func maskSums(b *data.Batch) (sum float64, count int) {
	if b.Pairs > 0 {
		// A DPO loss is a mean over pairs: they are its unit.
		return float64(b.Pairs), b.Pairs
	}
	for i, y := range b.Y[:b.B*b.T] {
		if m := b.LossMask[i]; y >= 0 && m != 0 {
			sum += float64(m)
			count++
		}
	}
	return sum, count
}

// thinkWeightMoEStep is the weighted cross-entropy for an MoE model. The
// loop's correction multiplies the whole gradient scale by Σw/Σmask,
// which would weigh the balance loss too (upstream adds it unweighted);
// so here the cross-entropy and its gradient are computed on the logits
// (ForwardBackwardLogits) with the correction inside, and the model's
// scale is divided by it:
//
//	CE  = Σ w·ce / Σ w         (what ForwardBackward reports; the loop
//	                            multiplies it by its w = Σw/Σmask)
//	dlogits_i = w_i/Σmask · (softmax − onehot)
//	scale' = scale · Σmask/Σw  (so dlogits·scale' is the loop's CE
//	                            gradient and the aux gets the plain scale)
//
// The returned Aux is divided by the same factor, so the loop logs it
// unweighted.
func thinkWeightMoEStep(m *model.Model) MicroStep {
	return func(ctx context.Context, b *data.Batch, scale float32) (model.Stats, Rewards, error) {
		ws, n := maskSums(b)
		if n == 0 || ws == 0 {
			st, err := m.ForwardBackward(b.X, b.Y, b.LossMask, b.B, b.T, scale)
			return st, Rewards{}, err
		}
		ratio := ws / float64(n)
		V := m.Config.VocabSize
		st, err := m.ForwardBackwardLogits(b.X, b.B, b.T, float32(float64(scale)/ratio), func(logits, dlogits []float32) (float64, error) {
			var sum float64
			for i, y := range b.Y[:b.B*b.T] {
				w := b.LossMask[i]
				if y < 0 || w == 0 {
					continue
				}
				row, d := logits[i*V:(i+1)*V], dlogits[i*V:(i+1)*V]
				mx, logZ := model.SoftmaxNorm(row)
				lse := float64(mx) + logZ
				sum += float64(w) * (lse - float64(row[y]))
				g := float64(w) / float64(n)
				for j, x := range row {
					d[j] = float32(g * math.Exp(float64(x)-lse))
				}
				d[y] -= float32(g)
			}
			return sum / ws, nil
		})
		if err != nil {
			return st, Rewards{}, err
		}
		st.Aux /= ratio
		st.Loss = st.CE + st.Aux
		return st, Rewards{}, nil
	}
}
