package train

import "math"

// LR is the seed's learning-rate schedule at optimizer step t (0-based) of
// total: linear warmup from 0 over warmup steps, then cosine from lr down
// to lr/10 over the remaining steps. With warmup 0 this is MiniMind 2510's
// lr·(0.1 + 0.45·(1 + cos(π·t/total))).
func LR(t, total, warmup int, lr float64) float64 {
	if t < warmup {
		return lr * float64(t) / float64(warmup)
	}
	minLR := lr / 10
	span := total - warmup
	if span <= 0 {
		return minLR
	}
	progress := math.Min(float64(t-warmup)/float64(span), 1)
	return minLR + 0.5*(1+math.Cos(math.Pi*progress))*(lr-minLR)
}
