// Package reward scores RL rollouts (GRPO, PPO): upstream MiniMind's rule
// terms, a verifiable-answer reward for data lines with a ground truth, and
// an HTTP reward server, all behind one small interface, Func.
//
// # Composition (upstream trainer/train_grpo.py, train_ppo.py calculate_rewards)
//
// The reward of a sample is the rule terms plus one score that upstream takes
// from a reward model:
//
//	total = Rules(response) + clip(score(sample), -3, +3)
//
// Upstream clips only the reward model's score to ±3 (LMForRewardModel.get_score
// in trainer/trainer_utils.py); the rule terms, bounded by ±1.75, are added
// after the clip, so totals lie in [-4.75, 4.75]. WithRules reproduces this.
//
// # The --reward flag
//
// Parse reads the flag: "rules" (the default; the score is 0, upstream
// without its reward model), "gt" (the score is Answer's: +1 when the final
// answer matches the data line's "gt", -1 when not), "url" or "url:URL" (the
// score comes from an HTTP server, URL or --reward_url), or "gt+url" (both
// scores, summed before the clip). A non-empty --reward_url with "rules"
// turns the HTTP score on, so the URL alone is enough.
//
// # HTTP wire format
//
// One POST per batch to the URL, Content-Type application/json:
//
//	{"samples": [{"prompt": "<|im_start|>user\n...", "response": "...",
//	              "final": "...", "answer": "..."}, ...]}
//
// prompt is the rendered prompt (chat template applied), response the whole
// generated completion, final the text after the first "</think>" (trimmed;
// the whole response when there is none; what upstream's reward model scores)
// and answer the data line's ground truth, "" when it has none. The server
// replies 200 with
//
//	{"rewards": [0.7, -1.2, ...]}
//
// one finite JSON number per sample, in order. Each score is clipped to ±3.
// Each request has a timeout (--reward_timeout); a transport error, a
// timeout or a 5xx is retried twice with a short backoff; anything else (a
// 4xx, a missing "rewards", a wrong count, null, a string, NaN) is an error
// naming the URL. A failing server never yields a zero reward.
package reward

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"
)

// Sample is one rollout to score.
type Sample struct {
	Prompt   string // the rendered prompt text (chat template applied)
	Response string // the generated completion text (special tokens decoded as text)
	Answer   string // the data line's ground truth ("gt"), "" when none
}

// Func scores a batch of samples, one reward each, in order. Errors are real
// errors (a reward server that is down): never a silent zero.
type Func interface {
	Score(ctx context.Context, batch []Sample) ([]float64, error)
}

// ScoreClip bounds the model-like score as upstream's get_score does.
const ScoreClip = 3.0

// Rules is upstream's rule reward (train_grpo.py / train_ppo.py
// calculate_rewards rule terms); see RuleScore.
func Rules() Func { return rules{} }

type rules struct{}

func (rules) Score(_ context.Context, batch []Sample) ([]float64, error) {
	out := make([]float64, len(batch))
	for i, s := range batch {
		out[i] = RuleScore(s.Response)
	}
	return out, nil
}

// WithRules returns upstream's composition: the rule terms plus score's
// value clipped to ±ScoreClip, score standing where upstream has its
// reward model. A nil score gives the rules alone.
func WithRules(score Func) Func { return withRules{score} }

type withRules struct{ score Func }

func (w withRules) Score(ctx context.Context, batch []Sample) ([]float64, error) {
	out, _ := rules{}.Score(ctx, batch)
	if w.score == nil {
		return out, nil
	}
	sc, err := w.score.Score(ctx, batch)
	if err != nil {
		return nil, err
	}
	if len(sc) != len(batch) {
		return nil, fmt.Errorf("reward: scorer returned %d scores for %d samples", len(sc), len(batch))
	}
	for i, v := range sc {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("reward: scorer returned %v for sample %d", v, i)
		}
		out[i] += max(-ScoreClip, min(ScoreClip, v))
	}
	return out, nil
}

// sum adds scorers' values sample by sample.
type sum []Func

func (fs sum) Score(ctx context.Context, batch []Sample) ([]float64, error) {
	out := make([]float64, len(batch))
	for _, f := range fs {
		v, err := f.Score(ctx, batch)
		if err != nil {
			return nil, err
		}
		if len(v) != len(batch) {
			return nil, fmt.Errorf("reward: scorer returned %d scores for %d samples", len(v), len(batch))
		}
		for i := range out {
			out[i] += v[i]
		}
	}
	return out, nil
}

// Parse builds a Func from the --reward flag value: "rules" (default), "gt"
// (verifiable answer + rules), "url:http://..." or "url" (--reward_url's
// server + rules), "gt+url"; combined as upstream (see the package doc).
// timeout bounds each HTTP request (0: DefaultTimeout).
func Parse(spec, url string, timeout time.Duration) (Func, error) {
	if spec == "" {
		spec = "rules"
	}
	var gt, useURL bool
	for _, term := range strings.Split(spec, "+") {
		term = strings.TrimSpace(term)
		switch {
		case term == "rules":
		case term == "gt":
			gt = true
		case term == "url":
			useURL = true
		case strings.HasPrefix(term, "url:"):
			u := strings.TrimPrefix(term, "url:")
			if url != "" && url != u {
				return nil, fmt.Errorf("--reward %q names %s but --reward_url is %s: give one", spec, u, url)
			}
			url, useURL = u, true
		default:
			return nil, fmt.Errorf("--reward %q: unknown term %q (want rules, gt, url or url:URL, joined by +)", spec, term)
		}
	}
	if url != "" {
		useURL = true
	}
	if useURL && url == "" {
		return nil, fmt.Errorf("--reward %q needs --reward_url", spec)
	}
	var scores sum
	if gt {
		scores = append(scores, Answer())
	}
	if useURL {
		h, err := HTTP(url, timeout)
		if err != nil {
			return nil, err
		}
		scores = append(scores, h)
	}
	switch len(scores) {
	case 0:
		return Rules(), nil
	case 1:
		return WithRules(scores[0]), nil
	}
	return WithRules(scores), nil
}
