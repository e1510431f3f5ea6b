package generate

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// Options are the sampling and stopping settings of one sequence. The zero
// value is greedy decoding up to the context window, stopping at eos.
type Options struct {
	// MaxNewTokens caps the reply (0 = as many as the context window
	// allows); it is always capped by the window.
	MaxNewTokens int
	// Temperature divides the logits; 0 picks the argmax (greedy).
	Temperature float64
	// TopK keeps the K most likely tokens (0 = all).
	TopK int
	// TopP keeps the smallest set of most likely tokens whose probability
	// reaches TopP, always at least one (0 or 1 = all).
	TopP float64
	// RepetitionPenalty divides positive and multiplies negative logits of
	// every token already in the prompt or the reply (HF's rule; 0 or 1 =
	// off).
	RepetitionPenalty float64
	// FrequencyPenalty is subtracted from a token's logit once for every
	// time the sampler has already picked it in this reply (OpenAI's rule;
	// 0 = off, negative favours repeats). Prompt tokens do not count.
	FrequencyPenalty float64
	// PresencePenalty is subtracted once from the logit of every token the
	// sampler has already picked in this reply (OpenAI's rule; 0 = off).
	PresencePenalty float64
	// Seed seeds the sequence's own random stream: the same seed, prompt and
	// options give the same reply.
	Seed uint64
	// Stop strings end the reply where one first appears; the reply does not
	// include it.
	Stop []string
	// StopTokens end the reply when sampled (the token is not part of the
	// text); nil means the model's eos and <|im_end|>.
	StopTokens []int32
	// IgnoreEOS keeps generating past stop tokens (benchmarks).
	IgnoreEOS bool
	// LogProbs records, per sampled token, its log-probability under the
	// model's raw distribution (log softmax of the logits before penalties,
	// temperature and truncation): Result.LogProbs, for RL's old policy.
	LogProbs bool
}

// DefaultOptions returns MiniMind's eval_llm.py sampling: temperature 0.85,
// top-p 0.85, HF's implicit top-k 50, no repetition penalty, seed 2026, and
// a reply of up to 512 tokens.
func DefaultOptions() Options {
	return Options{MaxNewTokens: 512, Temperature: 0.85, TopK: 50, TopP: 0.85, RepetitionPenalty: 1, Seed: 2026}
}

// Limits on what Validate accepts.
const (
	MaxStopStrings = 16
	maxStopLen     = 256
)

// Validate reports settings no sampler can honour, wrapping ErrInvalid.
func (o *Options) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	switch {
	case o.MaxNewTokens < 0:
		return bad("max_new_tokens %d is negative", o.MaxNewTokens)
	case !(o.Temperature >= 0) || math.IsInf(o.Temperature, 0):
		return bad("temperature %v must be a finite number >= 0", o.Temperature)
	case o.TopK < 0:
		return bad("top_k %d is negative", o.TopK)
	case !(o.TopP >= 0 && o.TopP <= 1):
		return bad("top_p %v must be in [0, 1]", o.TopP)
	case !(o.RepetitionPenalty >= 0) || math.IsInf(o.RepetitionPenalty, 0):
		return bad("repetition_penalty %v must be a finite number > 0", o.RepetitionPenalty)
	case math.IsNaN(o.FrequencyPenalty) || math.IsInf(o.FrequencyPenalty, 0):
		return bad("frequency_penalty %v must be a finite number", o.FrequencyPenalty)
	case math.IsNaN(o.PresencePenalty) || math.IsInf(o.PresencePenalty, 0):
		return bad("presence_penalty %v must be a finite number", o.PresencePenalty)
	case len(o.Stop) > MaxStopStrings:
		return bad("%d stop strings; at most %d", len(o.Stop), MaxStopStrings)
	}
	for _, s := range o.Stop {
		if s == "" || len(s) > maxStopLen {
			return bad("stop strings must be 1 to %d bytes long", maxStopLen)
		}
	}
	return nil
}

// ErrInvalid is wrapped by errors about a request no model can serve.
var ErrInvalid = errors.New("invalid generation request")

// Sampler picks tokens from logits with one sequence's settings and random
// stream, and counts the tokens it picks (for the frequency and presence
// penalties): one Sampler serves one reply. It keeps scratch buffers, so it
// is used by one goroutine.
type Sampler struct {
	opts  Options
	rng   *rand.Rand
	idx   []int32
	probs []float64
	// picked counts each token Sample has returned; nil when neither the
	// frequency nor the presence penalty is on.
	picked map[int32]int
}

// NewSampler returns a sampler for opts, seeded by opts.Seed.
func NewSampler(opts Options) *Sampler {
	s := &Sampler{opts: opts, rng: rand.New(rand.NewPCG(opts.Seed, 0x67656e6572617465))} // "generate"
	if opts.FrequencyPenalty != 0 || opts.PresencePenalty != 0 {
		s.picked = map[int32]int{}
	}
	return s
}

// Sample returns the next token for a row of logits [V]. seen lists every
// distinct token of the prompt and the reply so far (for the repetition
// penalty; each id once). logits is modified. The token returned counts as
// part of the reply for the frequency and presence penalties of later
// calls.
func (s *Sampler) Sample(logits []float32, seen []int32) int32 {
	s.penalize(logits, seen)
	tok := s.pick(logits)
	if s.picked != nil {
		s.picked[tok]++
	}
	return tok
}

// penalize applies the penalties to logits in place, before temperature
// and truncation: HF's repetition penalty over seen, then OpenAI's
// logits[t] -= frequency·count[t] + presence·(count[t] > 0) over the
// tokens picked so far.
func (s *Sampler) penalize(logits []float32, seen []int32) {
	if p := float32(s.opts.RepetitionPenalty); p > 0 && p != 1 {
		for _, id := range seen {
			if l := logits[id]; l > 0 {
				logits[id] = l / p
			} else {
				logits[id] = l * p
			}
		}
	}
	for id, n := range s.picked { // each id once, so the order is immaterial
		logits[id] -= float32(s.opts.FrequencyPenalty*float64(n) + s.opts.PresencePenalty)
	}
}

// pick draws a token from penalised logits with the sequence's
// temperature, top-k and top-p (argmax at temperature 0).
func (s *Sampler) pick(logits []float32) int32 {
	if s.opts.Temperature == 0 {
		return argmax(logits)
	}
	V := len(logits)
	invT := 1 / s.opts.Temperature
	k, topP := s.opts.TopK, s.opts.TopP
	if k <= 0 || k > V {
		k = V
	}
	if topP <= 0 {
		topP = 1
	}
	// Candidates in descending logit order (ties: lower id first), cut to
	// the top k. Without top-k or top-p no order is needed.
	s.idx = s.idx[:0]
	for i := range V {
		s.idx = append(s.idx, int32(i))
	}
	byLogit := func(a, b int32) int {
		if c := cmp.Compare(logits[b], logits[a]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	}
	switch {
	case k < V:
		selectTop(s.idx, k, byLogit)
		s.idx = s.idx[:k]
		slices.SortFunc(s.idx, byLogit)
	case topP < 1:
		slices.SortFunc(s.idx, byLogit)
	}
	// Softmax over the candidates, in float64.
	maxL := float64(logits[s.idx[0]])
	for _, id := range s.idx {
		maxL = max(maxL, float64(logits[id]))
	}
	s.probs = s.probs[:0]
	var sum float64
	for _, id := range s.idx {
		p := math.Exp((float64(logits[id]) - maxL) * invT)
		s.probs = append(s.probs, p)
		sum += p
	}
	n := len(s.idx)
	if topP < 1 {
		// HF's TopPLogitsWarper: a token stays while the probability of the
		// tokens before it (in descending order) is below top_p; the first
		// always stays.
		var before float64
		for i, p := range s.probs {
			if before >= topP*sum {
				n = i
				break
			}
			before += p
		}
	}
	var total float64
	for _, p := range s.probs[:n] {
		total += p
	}
	r := s.rng.Float64() * total
	for i, p := range s.probs[:n] {
		r -= p
		if r < 0 {
			return s.idx[i]
		}
	}
	return s.idx[n-1]
}

// argmax returns the index of the largest logit (the first among equals,
// as torch.argmax).
func argmax(x []float32) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// selectTop reorders idx so its first k entries are the k smallest under
// less (quickselect; k < len(idx)).
func selectTop(idx []int32, k int, less func(a, b int32) int) {
	lo, hi := 0, len(idx)-1
	for lo < hi {
		// Median of three as the pivot keeps sorted inputs linear.
		mid := lo + (hi-lo)/2
		if less(idx[mid], idx[lo]) < 0 {
			idx[mid], idx[lo] = idx[lo], idx[mid]
		}
		if less(idx[hi], idx[lo]) < 0 {
			idx[hi], idx[lo] = idx[lo], idx[hi]
		}
		if less(idx[hi], idx[mid]) < 0 {
			idx[hi], idx[mid] = idx[mid], idx[hi]
		}
		pivot := idx[mid]
		i, j := lo, hi
		for i <= j {
			for less(idx[i], pivot) < 0 {
				i++
			}
			for less(pivot, idx[j]) < 0 {
				j--
			}
			if i <= j {
				idx[i], idx[j] = idx[j], idx[i]
				i++
				j--
			}
		}
		switch {
		case k-1 <= j:
			hi = j
		case k-1 >= i:
			lo = i
		default:
			return
		}
	}
}
