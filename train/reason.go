package train

import (
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
	case mc.UseMoE:
		// The model's one gradient scale also scales the balance loss, so
		// the loop's correction would weigh it by Σw/Σmask as well.
		return nil, fmt.Errorf("train: --think_weight %g with an MoE model is not supported: its balance loss would be weighted too", w)
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
