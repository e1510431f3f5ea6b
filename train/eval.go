package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"slices"
	"sync"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// ErrNoTargets is returned by Evaluate when the dataset has no target
// positions to score.
var ErrNoTargets = errors.New("no target positions")

// EvalResult is a model's token-weighted mean cross-entropy on a dataset;
// its JSON is what `minimind eval --json` prints.
type EvalResult struct {
	Loss    float64 `json:"loss"`   // mean cross-entropy over every target position (no MoE balance loss)
	PPL     float64 `json:"ppl"`    // exp(Loss)
	Tokens  int64   `json:"tokens"` // target positions
	Samples int     `json:"-"`      // samples with at least one position
}

// Evaluate scores m on every sample of ds (enc is the encoder ds was loaded
// with), unpadded: each sample is the dataset builder's, cut to its real
// length. Samples of similar length are batched, up to batchTokens
// positions per forward pass.
func Evaluate(ctx context.Context, m *model.Model, ds *data.JSONLDataset, enc *data.Encoder, batchTokens int) (*EvalResult, error) {
	return EvaluateProgress(ctx, m, ds, enc, batchTokens, nil)
}

// EvaluateProgress is Evaluate calling progress (when not nil) after each
// forward pass with the samples scored so far and the total.
func EvaluateProgress(ctx context.Context, m *model.Model, ds *data.JSONLDataset, enc *data.Encoder, batchTokens int, progress func(done, total int)) (*EvalResult, error) {
	if batchTokens < 1 {
		return nil, fmt.Errorf("eval: batch of %d tokens", batchTokens)
	}
	samples, err := evalSamples(ctx, ds, enc)
	if err != nil {
		return nil, err
	}
	// Longest first, in batches of similar length: little padding, and
	// the padded positions carry mask 0.
	slices.SortStableFunc(samples, func(a, b evalSample) int { return len(b.x) - len(a.x) })
	var sum, tokens float64
	for i := 0; i < len(samples); {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		T := len(samples[i].x)
		if T > m.Config.MaxPositionEmbeddings {
			return nil, fmt.Errorf("eval: a sample of %d positions %w %d", T, ErrMaxSeqLen, m.Config.MaxPositionEmbeddings)
		}
		B := min(max(1, batchTokens/T), len(samples)-i)
		x, y, mask := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
		for b, s := range samples[i : i+B] {
			copy(x[b*T:], s.x)
			copy(y[b*T:], s.y)
			copy(mask[b*T:], s.mask)
		}
		st, err := m.Loss(x, y, mask, B, T, false)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		sum += st.CE * st.Tokens
		tokens += st.Tokens
		i += B
		if progress != nil {
			progress(i, len(samples))
		}
	}
	if tokens == 0 {
		return nil, ErrNoTargets
	}
	loss := sum / tokens
	res := &EvalResult{Loss: loss, PPL: math.Exp(loss), Tokens: int64(tokens), Samples: len(samples)}
	if bad := nonfinite([]string{"loss", "ppl"}, res.Loss, res.PPL); bad != "" {
		// NaN or Inf weights, or a loss beyond exp's range: no number to report.
		return nil, fmt.Errorf("eval: non-finite %s (loss %g, ppl %g over %d tokens): %w", bad, res.Loss, res.PPL, res.Tokens, ErrNonFinite)
	}
	return res, nil
}

// evalSample is one unpadded sample.
type evalSample struct {
	x, y []int32
	mask []float32
}

// evalSamples tokenizes every record in parallel into unpadded samples:
// the dataset builder's padded sample cut to the sequence's real length.
func evalSamples(ctx context.Context, ds *data.JSONLDataset, enc *data.Encoder) ([]evalSample, error) {
	n, kind := ds.Len(), ds.Kind()
	out := make([]evalSample, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			var s data.Sample
			for i := w; i < n; i += workers {
				if ctx.Err() != nil {
					return
				}
				seqs, err := enc.Encode(kind, i, ds.Record(i))
				if err == nil {
					err = ds.Sample(i, &s)
				}
				if err != nil {
					errs[i] = fmt.Errorf("sample %d: %w", i, err)
					continue
				}
				L := len(seqs[0]) - 1 // positions with a real next token
				if L < 1 {
					continue
				}
				out[i] = evalSample{x: slices.Clone(s.X[:L]), y: slices.Clone(s.Y[:L]), mask: slices.Clone(s.LossMask[:L])}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(out, func(s evalSample) bool { return len(s.x) == 0 }), nil
}
