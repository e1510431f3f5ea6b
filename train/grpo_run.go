package train

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// GRPOPrompt is one RLAIF prompt: its rendered text, its ids and the
// data line's ground truth ("" when none).
type GRPOPrompt struct {
	Text   string
	IDs    []int32
	Answer string
	Line   int // 1-based line of the data file, for errors
}

// ScoreFunc scores rollouts, one reward per (prompt, response, answer), in
// order (reward.Func's Score, adapted by the caller).
type ScoreFunc func(ctx context.Context, prompts, responses, answers []string) ([]float64, error)

// RolloutFunc samples one completion per prompt with the policy being
// trained (cmd wires the continuous-batching engine on the same model; the
// package graph keeps train below generate), seeded per sequence, at the
// given temperature and length cap.
type RolloutFunc func(ctx context.Context, prompts [][]int32, seeds []uint64, temperature float64, maxNew int) ([]Completion, error)

// Completion is one sampled reply.
type Completion struct {
	// IDs are the sampled ids, the final stop token included when one ended
	// the reply.
	IDs []int32
	// LogProbs, when the sampler records them, are the sampling policy's
	// log-probabilities of IDs (the old log-probs); nil: RunGRPO computes
	// them with a forward pass, as upstream's compute_per_token_logps.
	LogProbs []float32
}

// GRPOConfig is a GRPO/CISPO run: rollouts by Rollout on Policy, scored by
// Score, updated in place.
type GRPOConfig struct {
	Policy, Ref *model.Model
	Tokenizer   *tokenizer.Tokenizer
	Prompts     []GRPOPrompt
	Score       ScoreFunc
	Rollout     RolloutFunc
	Loss        GRPOOptions

	NumGenerations int     // --num_generations (6)
	BatchSize      int     // --batch_size: prompts per update (2)
	Epochs         int     // --epochs (1)
	LearningRate   float64 // --learning_rate (3e-7)
	GradClip       float64 // --grad_clip (1.0)
	MaxGenLen      int     // --max_gen_len: completion tokens at most
	Temperature    float64 // sampling temperature (0.8)
	Seed           uint64  // shuffling and sampling
	SaveInterval   int     // updates between checkpoints (0: the end only)
	SaveDType      string  // --save_dtype: f16 ("" too), bf16 or f32

	// RewardName identifies Score in the resume state (cmd: the --reward
	// terms with the server's URL): a resumed run with another is refused
	// (ErrChangedSetup). "" leaves the reward unchecked.
	RewardName string
	// RefPath is where Ref came from, named in a resume error when the
	// resumed run's reference has other weights (the weights are compared).
	RefPath string
	// ThinkingRatio is how the caller rendered Prompts (cmd:
	// --thinking_ratio, the share of prompts that open a think block).
	// RunGRPO only records it: a resumed run with another is refused
	// (ErrChangedSetup), as its rollouts would answer other prompts.
	ThinkingRatio float64

	OutDir string
	Resume bool // continue from OutDir's grpo resume state
	Logf   func(format string, args ...any)
}

// DefaultGRPOConfig holds upstream HEAD train_grpo.py's defaults.
func DefaultGRPOConfig() GRPOConfig {
	return GRPOConfig{Loss: DefaultGRPOLossOptions(), NumGenerations: 6, BatchSize: 2, Epochs: 1,
		LearningRate: 3e-7, GradClip: 1.0, MaxGenLen: 1536, Temperature: 0.8, Seed: 42, SaveInterval: 10}
}

// GRPOStep is one update's line of metrics.jsonl.
type GRPOStep struct {
	Stage        string  `json:"stage"`
	Step         int     `json:"step"`
	Total        int     `json:"total"`
	Epoch        int     `json:"epoch"`
	Loss         float64 `json:"loss"`
	Aux          float64 `json:"aux"`
	Reward       float64 `json:"reward"`     // mean reward of the step's rollouts
	RewardStd    float64 `json:"reward_std"` // their standard deviation
	KL           float64 `json:"kl"`
	Ratio        float64 `json:"ratio"`
	Clipped      float64 `json:"clipped"`
	CompLen      float64 `json:"completion_len"` // mean completion tokens
	LR           float64 `json:"lr"`
	GradNorm     float64 `json:"grad_norm"`
	RolloutTokS  float64 `json:"rollout_tokens_per_s"`
	RolloutShare float64 `json:"rollout_share"` // of the step's wall time
	UpdateShare  float64 `json:"update_share"`
	ElapsedS     float64 `json:"elapsed_s"`
}

// GRPOResult is what a finished run returns.
type GRPOResult struct {
	Steps   []GRPOStep // this run's (a resumed run: from the resumed step on)
	Weights string     // the saved weights
}

// GRPOWeightName is upstream's save name: grpo_{hidden}[_moe].
func GRPOWeightName(c *model.Config) string {
	s := fmt.Sprintf("grpo_%d", c.HiddenSize)
	if c.UseMoE {
		s += "_moe"
	}
	return s
}

func (c *GRPOConfig) check() error {
	switch {
	case c.Policy == nil || c.Ref == nil || c.Tokenizer == nil || c.Score == nil || c.Rollout == nil:
		return errors.New("train: grpo: policy, reference, tokenizer, rollout and reward are required")
	case len(c.Prompts) == 0:
		return errors.New("train: grpo: no prompts")
	case c.NumGenerations < 2:
		return fmt.Errorf("train: grpo: --num_generations %d: want at least 2 (advantages compare a group)", c.NumGenerations)
	case c.BatchSize < 1:
		return fmt.Errorf("train: grpo: --batch_size %d: want at least 1", c.BatchSize)
	case c.Epochs < 1:
		return fmt.Errorf("train: grpo: --epochs %d: want at least 1", c.Epochs)
	case c.MaxGenLen < 1:
		return fmt.Errorf("train: grpo: --max_gen_len %d: want at least 1", c.MaxGenLen)
	case !(c.LearningRate >= 0) || math.IsInf(c.LearningRate, 0):
		return fmt.Errorf("train: grpo: --learning_rate %g: want a finite number >= 0", c.LearningRate)
	case !slices.Contains([]string{"", "F16", "BF16", "F32"}, strings.ToUpper(c.SaveDType)):
		return fmt.Errorf("train: grpo: --save_dtype %q: want f16, bf16 or f32", c.SaveDType)
	case !(c.Temperature > 0) || math.IsInf(c.Temperature, 0):
		return fmt.Errorf("train: grpo: temperature %g: want a finite number > 0", c.Temperature)
	}
	maxPos := c.Policy.Config.MaxPositionEmbeddings
	for _, p := range c.Prompts {
		if len(p.IDs) < 1 || len(p.IDs) >= maxPos {
			return fmt.Errorf("train: grpo: data line %d: the prompt has %d tokens, the context window %d (max_position_embeddings) leaves no room for a reply",
				p.Line, len(p.IDs), maxPos)
		}
	}
	return nil
}

// RunGRPO trains c.Policy in place: per update, BatchSize prompts ×
// NumGenerations sampled completions (the continuous-batching engine on the
// policy itself), rewards, group advantages, old log-probs of the sampling
// policy, one GRPO/CISPO step, clipping and AdamW. Checkpoints go to
// OutDir/grpo_{hidden}.pth with a resume state; metrics.jsonl gets one
// GRPOStep per update and grpo_reward.png the reward curve. The resume
// state records the setup (the reference's weights, RewardName, the loss
// and rollout settings) and the schedule (epochs, batch size, learning
// rate, clipping, seed, the number of prompts); a resumed run with another
// setup fails with ErrChangedSetup, with another schedule with
// ErrChangedSchedule.
func RunGRPO(ctx context.Context, c GRPOConfig) (*GRPOResult, error) {
	if err := c.check(); err != nil {
		return nil, err
	}
	logf := c.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	g, err := NewGRPO(c.Policy, c.Ref, c.Loss)
	if err != nil {
		return nil, err
	}
	pol := c.Policy
	be := pol.Backend()
	eos := []int32{int32(pol.Config.EosTokenID)}
	if id, ok := c.Tokenizer.TokenID("<|im_end|>"); ok && id != eos[0] {
		eos = append(eos, id)
	}
	perEpoch := (len(c.Prompts) + c.BatchSize - 1) / c.BatchSize
	total := perEpoch * c.Epochs
	opt := NewAdamW(pol.Params, c.options().AdamW)
	name := GRPOWeightName(&pol.Config)
	weights := filepath.Join(c.OutDir, name+".pth")
	resumePath := filepath.Join(c.OutDir, name+"_resume.safetensors")
	metrics := filepath.Join(c.OutDir, "metrics.jsonl")
	if err := os.MkdirAll(c.OutDir, 0o755); err != nil {
		return nil, fmt.Errorf("train: grpo: %w", err)
	}
	setup := c.setup(g.Opts)
	start := 0
	if c.Resume {
		st, err := LoadResume(resumePath)
		if err != nil {
			return nil, fmt.Errorf("train: grpo --resume: %w", err)
		}
		if len(st.Params) != len(pol.Params.Data) {
			return nil, fmt.Errorf("train: grpo --resume %s: saved for %d parameters, this model has %d: %w",
				resumePath, len(st.Params), len(pol.Params.Data), ErrArchitecture)
		}
		if err := checkSetup(resumePath, st.Setup, setup); err != nil {
			return nil, err
		}
		if err := changedSchedule(StageGRPO, resumePath, rlScheduleChanges(st.Options, c.options(), st.Loader.Len, len(c.Prompts))); err != nil {
			return nil, err
		}
		copy(pol.Params.Data, st.Params)
		copy(opt.M, st.M)
		copy(opt.V, st.V)
		opt.T, start = st.AdamStep, st.Step
		logf("grpo: resumed at update %d of %d from %s", start, total, resumePath)
	}
	if err := keepMetrics(metrics, start); err != nil {
		return nil, err
	}
	save := func(step int) error {
		if err := checkpoint.SavePth(weights, pol.Params, c.dtype()); err != nil {
			return fmt.Errorf("train: grpo: %w", err)
		}
		ep := step / perEpoch
		st := &ResumeState{Config: pol.Config, Step: step, AdamStep: opt.T, Epoch: ep, WorldSize: 1,
			Loader:  data.LoaderState{Epoch: ep, Offset: min((step%perEpoch)*c.BatchSize, len(c.Prompts)), Seed: c.Seed, Shfl: true, Len: len(c.Prompts)},
			Options: c.options(),
			Setup:   setup, Params: pol.Params.Data, M: opt.M, V: opt.V}
		if err := SaveResume(resumePath, st); err != nil {
			return fmt.Errorf("train: grpo: %w", err)
		}
		return nil
	}
	res := &GRPOResult{Weights: weights}
	t0 := time.Now()
	var order []int
	for step := start; step < total; step++ {
		if err := ctx.Err(); err != nil {
			if step > start {
				if serr := save(step); serr != nil {
					return res, errors.Join(err, serr)
				}
			}
			return res, err
		}
		ep, k := step/perEpoch, step%perEpoch
		if order == nil || k == 0 {
			// The epoch's order depends on (seed, epoch) only, so a resumed
			// run sees the same prompts.
			rng := rand.New(rand.NewPCG(c.Seed, uint64(ep)))
			order = rng.Perm(len(c.Prompts))
		}
		batch := order[k*c.BatchSize : min((k+1)*c.BatchSize, len(order))]
		ts := time.Now()
		// Rollouts: a sequence's sampling seed depends on (seed, step, row):
		// a resumed run samples what the uninterrupted run would have.
		var reqs [][]int32
		var seeds []uint64
		for _, pi := range batch {
			for range c.NumGenerations {
				reqs = append(reqs, c.Prompts[pi].IDs)
				seeds = append(seeds, c.Seed^(uint64(step+1)<<20)^uint64(len(seeds)+1)*0x9E3779B97F4A7C15)
			}
		}
		comps, err := c.Rollout(ctx, reqs, seeds, c.Temperature, c.MaxGenLen)
		if err == nil && len(comps) != len(reqs) {
			err = fmt.Errorf("%d completions for %d prompts", len(comps), len(reqs))
		}
		if err != nil {
			return res, fmt.Errorf("train: grpo: update %d: rollout: %w", step+1, err)
		}
		r := &Rollouts{B: len(reqs), Eos: eos}
		prompts, responses, answers := make([]string, len(reqs)), make([]string, len(reqs)), make([]string, len(reqs))
		var genToks int
		engineLP := true
		for i, cp := range comps {
			toks := cp.IDs
			engineLP = engineLP && len(cp.LogProbs) == len(toks)
			p := c.Prompts[batch[i/c.NumGenerations]]
			genToks += len(toks)
			r.T = max(r.T, len(p.IDs)+len(toks))
			prompts[i], responses[i], answers[i] = p.Text, c.Tokenizer.Decode(toks), p.Answer
		}
		rollS := time.Since(ts).Seconds()
		rewards, err := c.Score(ctx, prompts, responses, answers)
		if err != nil {
			return res, fmt.Errorf("train: grpo: update %d: reward: %w", step+1, err)
		}
		if len(rewards) != len(reqs) {
			return res, fmt.Errorf("train: grpo: update %d: the reward returned %d scores for %d rollouts", step+1, len(rewards), len(reqs))
		}
		tu := time.Now()
		r.T = max(r.T, 2)
		r.IDs = make([]int32, r.B*r.T)
		for i := range reqs {
			p := c.Prompts[batch[i/c.NumGenerations]].IDs
			copy(r.IDs[i*r.T:], p)
			copy(r.IDs[i*r.T+len(p):], comps[i].IDs)
			r.PromptLen = append(r.PromptLen, len(p))
			r.CompLen = append(r.CompLen, len(comps[i].IDs))
		}
		if r.Advantages, err = GroupAdvantages(rewards, c.NumGenerations); err != nil {
			return res, err
		}
		if engineLP {
			// The sampler's own log-probs: no extra forward pass.
			r.OldLogProbs = make([]float32, r.B*r.T)
			for i, cp := range comps {
				copy(r.OldLogProbs[i*r.T+r.PromptLen[i]-1:], cp.LogProbs)
			}
		} else if err := g.PolicyLogProbs(r); err != nil {
			return res, err
		}
		pol.ZeroGrad()
		gs, err := g.Step(ctx, r, 1)
		if err != nil {
			return res, fmt.Errorf("train: grpo: update %d: %w", step+1, err)
		}
		norm, coef := GradNorm(be, pol.Grads, c.GradClip)
		lr := LR(step, total, 0, c.LearningRate)
		if bad := nonfinite([]string{"loss", "grad_norm"}, gs.Loss, norm); bad != "" {
			return res, fmt.Errorf("train: grpo: update %d: %s is not finite: %w", step+1, bad, ErrNonFinite)
		}
		opt.StepScaled(be, pol.Params.Data, pol.Grads, float32(lr), ClipScale(coef, c.GradClip))
		updS := time.Since(tu).Seconds()
		stepS := time.Since(ts).Seconds()
		mean, std := meanStd(rewards)
		s := GRPOStep{Stage: StageGRPO, Step: step + 1, Total: total, Epoch: ep, Loss: gs.Loss, Aux: gs.Aux,
			Reward: mean, RewardStd: std, KL: gs.KL, Ratio: gs.Ratio, Clipped: gs.Clipped,
			CompLen: float64(genToks) / float64(len(reqs)), LR: lr, GradNorm: norm,
			RolloutTokS: float64(genToks) / max(rollS, 1e-9), RolloutShare: rollS / stepS, UpdateShare: updS / stepS,
			ElapsedS: time.Since(t0).Seconds()}
		res.Steps = append(res.Steps, s)
		if err := appendJSONL(metrics, s); err != nil {
			return res, err
		}
		logf("grpo update %d/%d: reward %.4f±%.4f loss %.4f kl %.4f ratio %.3f clipped %.3f len %.1f lr %.3g grad_norm %.3f | rollout %.0f tok/s, %.0f%% rollout / %.0f%% update of %.2fs",
			s.Step, total, s.Reward, s.RewardStd, s.Loss, s.KL, s.Ratio, s.Clipped, s.CompLen, lr, norm, s.RolloutTokS, 100*s.RolloutShare, 100*s.UpdateShare, stepS)
		if (c.SaveInterval > 0 && (step+1)%c.SaveInterval == 0) || step+1 == total {
			if err := save(step + 1); err != nil {
				return res, err
			}
		}
	}
	if err := plotRewards(filepath.Join(c.OutDir, "grpo_reward.png"), metrics); err != nil {
		logf("grpo: %v", err)
	}
	return res, nil
}

// setup is the run's Setup, with the loss options as NewGRPO resolved them.
func (c *GRPOConfig) setup(loss GRPOOptions) *Setup {
	return &Setup{GRPO: &GRPOSetup{Reference: weightsID(c.RefPath, c.Ref.Params.Data), Reward: c.RewardName,
		LossType: loss.LossType, Beta: loss.Beta, Epsilon: loss.Epsilon, EpsilonHigh: loss.EpsilonHigh,
		NumGenerations: c.NumGenerations, Temperature: c.Temperature, MaxGenLen: c.MaxGenLen, ThinkingRatio: new(c.ThinkingRatio)}}
}

// options are the run's schedule in Options terms, as its resume state
// records them and a resumed run compares them (rlScheduleChanges).
func (c *GRPOConfig) options() Options {
	return Options{Epochs: c.Epochs, BatchSize: c.BatchSize, LearningRate: c.LearningRate, GradClip: c.GradClip,
		Seed: c.Seed, Shuffle: true, AdamW: DefaultAdamW()}
}

func (c *GRPOConfig) dtype() string {
	if c.SaveDType == "" {
		return "F16"
	}
	return strings.ToUpper(c.SaveDType)
}

func meanStd(x []float64) (mean, std float64) {
	for _, v := range x {
		mean += v
	}
	mean /= float64(len(x))
	for _, v := range x {
		std += (v - mean) * (v - mean)
	}
	return mean, math.Sqrt(std / float64(len(x)))
}

// keepMetrics drops the grpo lines of path after update keep (all of them
// when keep is 0); a resumed run repeats them. Other lines stay.
func keepMetrics(path string, keep int) error {
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("train: grpo: %w", err)
	}
	var out bytes.Buffer
	for line := range bytes.Lines(old) {
		var s struct {
			Stage string `json:"stage"`
			Step  int    `json:"step"`
		}
		if json.Unmarshal(line, &s) == nil && s.Stage == StageGRPO && s.Step > keep {
			continue
		}
		if len(bytes.TrimSpace(line)) > 0 && bytes.HasSuffix(line, []byte("\n")) {
			out.Write(line)
		}
	}
	return os.WriteFile(path, out.Bytes(), 0o644)
}

func appendJSONL(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("train: grpo: metrics: %w", err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return fmt.Errorf("train: grpo: %w", err)
	}
	w := bufio.NewWriter(f)
	w.Write(append(b, '\n'))
	if err := w.Flush(); err != nil {
		f.Close()
		return fmt.Errorf("train: grpo: %s: %w", path, err)
	}
	return f.Close()
}

// plotRewards draws the mean reward per update of path's grpo lines
// (through PlotCurve, the loss plot with a reward axis).
func plotRewards(png, metrics string) error {
	raw, err := os.ReadFile(metrics)
	if err != nil {
		return err
	}
	var steps []Step
	for line := range bytes.Lines(raw) {
		var s GRPOStep
		if json.Unmarshal(line, &s) == nil && s.Stage == StageGRPO {
			steps = append(steps, Step{Stage: StageGRPO, Step: s.Step, Total: s.Total, Loss: s.Reward, LR: s.LR})
		}
	}
	return PlotCurve(png, "GRPO mean reward per update", "mean reward", steps)
}
