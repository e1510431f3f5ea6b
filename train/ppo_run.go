package train

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/pth"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/reward"
	"github.com/minimind-go/minimind/tokenizer"
)

// PPOConfig is one `minimind ppo` run (upstream trainer/train_ppo.py).
type PPOConfig struct {
	// Init is the starting policy (the SFT weights): the actor, the frozen
	// reference and the critic's backbone all start from it, as upstream.
	Init *model.Params
	// Options: LearningRate is the actor's, Epochs, BatchSize (prompts
	// per rollout), Accumulation, GradClip, SaveInterval, LogInterval,
	// Seed, Shuffle, AdamW; MaxSeqLen is the prompt's token limit (the
	// prompt keeps its last MaxSeqLen tokens).
	Options     Options
	CriticLR    float64 // --critic_learning_rate
	PPO         PPOOptions
	MaxGenLen   int     // --max_gen_len: response tokens per rollout
	Temperature float64 // rollout sampling temperature (upstream 0.8)
	Data        *data.JSONLDataset
	Tokenizer   *tokenizer.Tokenizer
	Reward      reward.Func
	Backend     kernels.Backend
	// RewardName identifies Reward in the resume state (cmd: the --reward
	// terms with the server's URL): a resumed run with another is refused
	// (ErrChangedSetup). "" leaves the reward unchecked.
	RewardName string
	// InitPath is where Init came from, named in a resume error when the
	// resumed run's reference has other weights (the weights are compared).
	InitPath  string
	OutDir    string
	Resume    bool   // continue from ppo_actor_{hidden}_resume.safetensors when it exists
	SaveDType string // the .pth files' precision ("F16" as upstream)

	OnLog  func(msg string)
	OnStep func(PPOStep)
}

// DefaultPPOOptions are train_ppo.py's defaults: 1 epoch, 2 prompts per
// rollout, actor lr 3e-7, prompts up to 768 tokens, a save every 10 steps.
func DefaultPPOOptions() Options {
	o := DefaultSFTOptions()
	o.Epochs, o.BatchSize, o.LearningRate, o.MaxSeqLen = 1, 2, 3e-7, 768
	o.SaveInterval, o.LogInterval = 10, 1
	return o
}

// PPOStep is one PPO step (one rollout batch and its updates): a line of
// metrics.jsonl (Step's keys plus the PPO terms, means over the step's
// minibatches as upstream logs them).
type PPOStep struct {
	Step
	Reward     float64 `json:"reward"`       // mean sequence reward of the rollouts
	PolicyLoss float64 `json:"policy_loss"`  // incl. kl_coef·KL to the reference
	ValueLoss  float64 `json:"value_loss"`   // the critic's
	KLRef      float64 `json:"kl_ref"`       // k3 KL to the reference
	ApproxKL   float64 `json:"approx_kl"`    // ½(logp − old)², the early-stop test
	ClipFrac   float64 `json:"clipfrac"`     // tokens with |ratio − 1| > clip
	RespLen    float64 `json:"avg_resp_len"` // mean response length (tokens, through eos)
	CriticLR   float64 `json:"critic_lr"`
	RolloutS   float64 `json:"rollout_s"` // seconds generating
	UpdateS    float64 `json:"update_s"`  // seconds scoring and updating
	RolloutTPS float64 `json:"rollout_tokens_per_s"`
}

// MarshalJSON writes Step's keys then the PPO terms.
func (s PPOStep) MarshalJSON() ([]byte, error) {
	base, err := s.Step.MarshalJSON()
	if err != nil {
		return nil, err
	}
	type extra PPOStep // no methods: plain field encoding
	e := extra(s)
	e.Step = Step{}
	more, err := json.Marshal(struct {
		Reward, PolicyLoss, ValueLoss, KLRef, ApproxKL, ClipFrac, RespLen, CriticLR, RolloutS, UpdateS, RolloutTPS jsonFloat
	}{jsonFloat(e.Reward), jsonFloat(e.PolicyLoss), jsonFloat(e.ValueLoss), jsonFloat(e.KLRef), jsonFloat(e.ApproxKL),
		jsonFloat(e.ClipFrac), jsonFloat(e.RespLen), jsonFloat(e.CriticLR), jsonFloat(e.RolloutS), jsonFloat(e.UpdateS), jsonFloat(e.RolloutTPS)})
	if err != nil {
		return nil, err
	}
	// Rename the Go names to the snake_case keys.
	var m map[string]json.RawMessage
	if err := json.Unmarshal(more, &m); err != nil {
		return nil, err
	}
	keys := []struct{ goName, key string }{{"Reward", "reward"}, {"PolicyLoss", "policy_loss"}, {"ValueLoss", "value_loss"},
		{"KLRef", "kl_ref"}, {"ApproxKL", "approx_kl"}, {"ClipFrac", "clipfrac"}, {"RespLen", "avg_resp_len"},
		{"CriticLR", "critic_lr"}, {"RolloutS", "rollout_s"}, {"UpdateS", "update_s"}, {"RolloutTPS", "rollout_tokens_per_s"}}
	out := base[:len(base)-1]
	for _, k := range keys {
		out = append(out, fmt.Sprintf(",%q:%s", k.key, m[k.goName])...)
	}
	return append(out, '}'), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *PPOStep) UnmarshalJSON(b []byte) error {
	if err := s.Step.UnmarshalJSON(b); err != nil {
		return err
	}
	var e struct {
		Reward     jsonFloat `json:"reward"`
		PolicyLoss jsonFloat `json:"policy_loss"`
		ValueLoss  jsonFloat `json:"value_loss"`
		KLRef      jsonFloat `json:"kl_ref"`
		ApproxKL   jsonFloat `json:"approx_kl"`
		ClipFrac   jsonFloat `json:"clipfrac"`
		RespLen    jsonFloat `json:"avg_resp_len"`
		CriticLR   jsonFloat `json:"critic_lr"`
		RolloutS   jsonFloat `json:"rollout_s"`
		UpdateS    jsonFloat `json:"update_s"`
		RolloutTPS jsonFloat `json:"rollout_tokens_per_s"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		return err
	}
	s.Reward, s.PolicyLoss, s.ValueLoss, s.KLRef = float64(e.Reward), float64(e.PolicyLoss), float64(e.ValueLoss), float64(e.KLRef)
	s.ApproxKL, s.ClipFrac, s.RespLen, s.CriticLR = float64(e.ApproxKL), float64(e.ClipFrac), float64(e.RespLen), float64(e.CriticLR)
	s.RolloutS, s.UpdateS, s.RolloutTPS = float64(e.RolloutS), float64(e.UpdateS), float64(e.RolloutTPS)
	return nil
}

// readPPOHistory returns the PPO lines of metrics.jsonl up to step upTo
// (OpenRecorder has already dropped the later ones and a torn last line).
func readPPOHistory(path string, upTo int) ([]PPOStep, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []PPOStep
	for i, line := range bytes.Split(raw, []byte("\n")) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var s PPOStep
		if err := json.Unmarshal(line, &s); err != nil {
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		if s.Stage == StagePPO && s.Step.Step <= upTo {
			out = append(out, s)
		}
	}
	return out, nil
}

// PPOPaths are the files of a PPO run.
type PPOPaths struct {
	Actor        string // ppo_actor_{hidden}[_moe].pth: upstream's actor weights
	Critic       string // ppo_critic_{hidden}[_moe].pth: CriticModel's state dict (backbone + value_head)
	Resume       string // ppo_actor_{hidden}[_moe]_resume.safetensors: actor weights, moments, position
	CriticResume string // ppo_critic_{hidden}[_moe]_resume.safetensors: critic weights (value head last) and moments
	Metrics      string
	Plot         string // reward_ppo.png: the mean reward per step
}

// Paths returns the files for architecture mc.
func (c *PPOConfig) Paths(mc *model.Config) PPOPaths {
	suf := fmt.Sprintf("_%d", mc.HiddenSize)
	if mc.UseMoE {
		suf += "_moe"
	}
	a, cr := filepath.Join(c.OutDir, "ppo_actor"+suf), filepath.Join(c.OutDir, "ppo_critic"+suf)
	return PPOPaths{a + ".pth", cr + ".pth", a + "_resume.safetensors", cr + "_resume.safetensors",
		filepath.Join(c.OutDir, "metrics.jsonl"), filepath.Join(c.OutDir, "reward_ppo.png")}
}

// ppoState is what the PPO resume files hold besides the slabs.
type ppoState struct {
	Config   model.Config `json:"config"`
	Step     int          `json:"step"` // PPO steps done
	AdamStep int          `json:"adam_step"`
	Options  Options      `json:"options"`
	PPO      PPOOptions   `json:"ppo"`
	// Setup is the reference, reward and PPO settings the run trains
	// under; nil in older files.
	Setup *Setup `json:"setup,omitempty"`
	// Prompts and CriticLR complete Options' schedule: the number of
	// prompts (0 in older files) and --critic_learning_rate (nil in older
	// files); neither is compared when absent.
	Prompts  int      `json:"prompts,omitempty"`
	CriticLR *float64 `json:"critic_learning_rate,omitempty"`
}

// RunPPO trains cfg's actor and critic: for each batch of prompts it
// samples one response each with the generation engine on the actor
// (the model being trained: no weight copy), scores them with cfg.Reward,
// runs Prepare and PPO.UpdateIters epochs of minibatches, stepping AdamW
// on both models every Accumulation minibatches (and at the end of the
// batch). Every SaveInterval steps, at the end and when ctx is cancelled
// it writes the actor, the critic, both resume files, metrics.jsonl and
// the reward plot. Rollout seeds and minibatch orders derive from
// (Seed, step), so a resumed run continues as the uninterrupted one would;
// one with another setup (Init's weights, RewardName, the PPO and rollout
// settings) fails with ErrChangedSetup, one with another schedule (epochs,
// batch size, accumulation, prompt length, both learning rates, clipping,
// seed, shuffling, the number of prompts) with ErrChangedSchedule.
func RunPPO(ctx context.Context, cfg PPOConfig) (steps []PPOStep, err error) {
	switch {
	case cfg.Init == nil:
		return nil, errors.New("ppo: no starting weights")
	case cfg.Data == nil || cfg.Data.Len() == 0:
		return nil, errors.New("ppo: no prompts")
	case cfg.Data.Kind() != data.KindRLAIF:
		return nil, fmt.Errorf("ppo: needs %v data, the dataset holds %v", data.KindRLAIF, cfg.Data.Kind())
	case cfg.Tokenizer == nil || cfg.Reward == nil || cfg.Backend == nil:
		return nil, errors.New("ppo: tokenizer, reward and backend are required")
	case cfg.MaxGenLen < 1:
		return nil, fmt.Errorf("ppo: --max_gen_len %d: want at least 1", cfg.MaxGenLen)
	case !(cfg.Options.LearningRate >= 0) || math.IsInf(cfg.Options.LearningRate, 0):
		return nil, fmt.Errorf("ppo: --learning_rate %g: want a finite number, at least 0", cfg.Options.LearningRate)
	case !(cfg.CriticLR >= 0) || math.IsInf(cfg.CriticLR, 0):
		return nil, fmt.Errorf("ppo: --critic_learning_rate %g: want a finite number, at least 0", cfg.CriticLR)
	case cfg.Options.BatchSize < 1 || cfg.Options.Epochs < 1:
		return nil, fmt.Errorf("ppo: --batch_size %d, --epochs %d: want at least 1", cfg.Options.BatchSize, cfg.Options.Epochs)
	}
	if err := cfg.PPO.Validate(); err != nil {
		return nil, err
	}
	o := cfg.Options
	o.Accumulation = max(o.Accumulation, 1)
	logf := func(format string, a ...any) {
		if cfg.OnLog != nil {
			cfg.OnLog(fmt.Sprintf(format, a...))
		}
	}
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return nil, err
	}
	mc := cfg.Init.Config
	paths := cfg.Paths(&mc)
	clone := func() *model.Params {
		p, err := model.NewParams(mc)
		if err != nil {
			panic(err) // the config came from loaded weights
		}
		copy(p.Data, cfg.Init.Data)
		return p
	}
	actorP, criticP := clone(), clone()
	refP := cfg.Init
	C := mc.HiddenSize
	head := make([]float32, C+1)
	// upstream: a fresh nn.Linear(hidden, 1) (kaiming-uniform weight and
	// bias, both within ±1/sqrt(hidden)).
	hr := rand.New(rand.NewPCG(o.Seed, 0x7a1e))
	bound := 1 / math.Sqrt(float64(C))
	for i := range head {
		head[i] = float32((2*hr.Float64() - 1) * bound)
	}
	actorOpt, criticOpt := NewAdamW(actorP, o.AdamW), NewAdamW(criticP, o.AdamW)
	headOpt := &AdamW{Config: o.AdamW, M: make([]float32, C+1), V: make([]float32, C+1)}
	N := cfg.Data.Len()
	// now is what a save records besides the counters, and what a resume
	// state must agree with.
	now := ppoState{Config: mc, Options: o, PPO: cfg.PPO, Setup: cfg.setup(), Prompts: N, CriticLR: &cfg.CriticLR}
	start := 0
	if cfg.Resume {
		st, err := loadPPOResume(paths, &now, actorP, criticP, head, actorOpt, criticOpt, headOpt)
		switch {
		case errors.Is(err, os.ErrNotExist):
			logf("no resume state at %s: starting fresh", paths.Resume)
		case err != nil:
			return nil, err
		default:
			start = st.Step
			logf("resuming %s at step %d", paths.Resume, start)
		}
	}
	be := cfg.Backend
	actor := model.New(actorP, be)
	critic, err := model.NewCritic(model.New(criticP, be), head)
	if err != nil {
		return nil, err
	}
	ppo := &PPO{Actor: actor, Ref: model.New(refP, be), Critic: critic, Opts: cfg.PPO}
	window := min(mc.MaxPositionEmbeddings, o.MaxSeqLen+cfg.MaxGenLen)
	eng, err := generate.NewEngine(actor, cfg.Tokenizer, generate.EngineOptions{Slots: o.BatchSize, Window: window})
	if err != nil {
		return nil, fmt.Errorf("ppo: rollout engine: %w", err)
	}

	perEpoch := (N + o.BatchSize - 1) / o.BatchSize
	total := o.Epochs * perEpoch
	mbFactor := (o.BatchSize + cfg.PPO.MiniBatch - 1) / cfg.PPO.MiniBatch
	totalOpt := (total*cfg.PPO.UpdateIters*mbFactor + o.Accumulation - 1) / o.Accumulation

	rec, err := OpenRecorder(paths.Metrics, StagePPO, start)
	if err != nil {
		return nil, err
	}
	if err := rec.Close(); err != nil {
		return nil, err
	}
	if steps, err = readPPOHistory(paths.Metrics, start); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	mf, err := os.OpenFile(paths.Metrics, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := mf.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()

	save := func(step int) error {
		if err := checkpoint.SavePth(paths.Actor, actorP, saveDType(cfg.SaveDType)); err != nil {
			return err
		}
		if err := saveCritic(paths.Critic, criticP, head, saveDType(cfg.SaveDType)); err != nil {
			return err
		}
		st := now
		st.Step, st.AdamStep = step, actorOpt.T
		if err := savePPOResume(paths, &st, actorP, criticP, head, actorOpt, criticOpt, headOpt); err != nil {
			return err
		}
		plot := make([]Step, len(steps))
		for i, s := range steps {
			plot[i] = s.Step
			plot[i].Loss = s.Reward
		}
		if len(plot) > 0 {
			return PlotCurve(paths.Plot, "MiniMind-Go PPO mean reward", "mean reward", plot)
		}
		return nil
	}

	t0 := time.Now()
	adamStep := actorOpt.T
	for step := start; step < total; step++ {
		if err := ctx.Err(); err != nil {
			if serr := save(step); serr != nil {
				return steps, errors.Join(err, serr)
			}
			return steps, err
		}
		epoch, k := step/perEpoch, step%perEpoch
		order := ppoOrder(N, epoch, o)
		rows := order[k*o.BatchSize : min((k+1)*o.BatchSize, N)]
		B := len(rows)

		// Rollout: one response per prompt, all in flight together.
		tr := time.Now()
		prompts := make([][]int32, B)
		samples := make([]reward.Sample, B)
		reqs := make([]generate.Request, B)
		eos := int32(mc.EosTokenID)
		for j, i := range rows {
			pr, err := cfg.Data.Prompt(i)
			if err != nil {
				return steps, fmt.Errorf("ppo: prompt %d: %w", i, err)
			}
			// The last MaxSeqLen tokens, as Encoder.PromptIDs.
			prompts[j] = cfg.Tokenizer.Encode(pr.Prompt)
			if o.MaxSeqLen > 0 && len(prompts[j]) > o.MaxSeqLen {
				prompts[j] = prompts[j][len(prompts[j])-o.MaxSeqLen:]
			}
			if len(prompts[j])+1 >= window {
				return steps, fmt.Errorf("ppo: prompt %d has %d tokens, the context window is %d (max_position_embeddings %d): %w",
					i, len(prompts[j]), window, mc.MaxPositionEmbeddings, ErrMaxSeqLen)
			}
			samples[j] = reward.Sample{Prompt: pr.Prompt, Answer: pr.GT}
			reqs[j] = generate.Request{Prompt: prompts[j], Options: generate.Options{
				MaxNewTokens: cfg.MaxGenLen, Temperature: cfg.Temperature, StopTokens: []int32{eos},
				Seed: o.Seed*1_000_003 + uint64(step)*7919 + uint64(j) + 1}}
		}
		res, err := eng.Generate(ctx, reqs, nil)
		if err != nil {
			if ctx.Err() != nil {
				continue // saved at the top of the loop
			}
			return steps, fmt.Errorf("ppo: step %d: rollout: %w", step+1, err)
		}
		responses := make([][]int32, B)
		ntok := 0
		for j, r := range res {
			responses[j] = append([]int32(nil), r.Tokens...)
			if r.Finish == generate.FinishStop {
				responses[j] = append(responses[j], eos)
			}
			if len(responses[j]) == 0 {
				responses[j] = []int32{eos} // an empty reply still ends
			}
			ntok += len(responses[j])
			samples[j].Response = r.Text
		}
		rolloutS := time.Since(tr).Seconds()

		tu := time.Now()
		rewards, err := cfg.Reward.Score(ctx, samples)
		if err != nil {
			return steps, fmt.Errorf("ppo: step %d: reward: %w", step+1, err)
		}
		if len(rewards) != B {
			return steps, fmt.Errorf("ppo: step %d: reward returned %d scores for %d responses", step+1, len(rewards), B)
		}
		r, err := NewPPORollout(prompts, responses, rewards, 0, eos)
		if err != nil {
			return steps, err
		}
		if err := ppo.Prepare(r); err != nil {
			return steps, fmt.Errorf("ppo: step %d: %w", step+1, err)
		}

		// Updates: PPO epochs of minibatches, AdamW every Accumulation.
		mbRNG := rand.New(rand.NewPCG(o.Seed, uint64(step)+1))
		var sum PPOStats
		var count, accum int
		var gnorm float64
		mb := min(cfg.PPO.MiniBatch, B)
		stop := false
		actor.ZeroGrad()
		critic.ZeroGrad()
		clear(critic.HeadGrad)
		lr, clr := 0.0, 0.0
		optStep := func() {
			lr = LR(adamStep, totalOpt, 0, o.LearningRate)
			clr = LR(adamStep, totalOpt, 0, cfg.CriticLR)
			var coef float64
			gnorm, coef = GradNorm(be, actor.Grads, o.GradClip)
			clipCritic(be, critic, o.GradClip)
			actorOpt.StepScaled(be, actorP.Data, actor.Grads, float32(lr), ClipScale(coef, o.GradClip))
			criticOpt.Step(be, criticP.Data, critic.Grads, float32(clr))
			headOpt.Step(be, head, critic.HeadGrad, float32(clr))
			adamStep++
			actor.ZeroGrad()
			critic.ZeroGrad()
			clear(critic.HeadGrad)
		}
		for it := 0; it < cfg.PPO.UpdateIters && !stop; it++ {
			perm := mbRNG.Perm(B)
			for s := 0; s < B; s += mb {
				st, err := ppo.Minibatch(r, perm[s:min(s+mb, B)], 1/float32(o.Accumulation))
				if err != nil {
					return steps, fmt.Errorf("ppo: step %d: %w", step+1, err)
				}
				stop = stop || st.Stop
				sum.Policy += st.Policy
				sum.Value += st.Value
				sum.KLRef += st.KLRef
				sum.ApproxKL += st.ApproxKL
				sum.ClipFrac += st.ClipFrac
				sum.Aux += st.Aux
				count++
				accum++
				if accum%o.Accumulation == 0 {
					optStep()
				}
			}
		}
		if accum%o.Accumulation != 0 {
			optStep()
		}
		n := float64(max(count, 1))
		var meanR, meanLen float64
		for j := range rewards {
			meanR += rewards[j] / float64(B)
			meanLen += float64(r.Lengths[j]) / float64(B)
		}
		updateS := time.Since(tu).Seconds()
		ps := PPOStep{
			Step: Step{Stage: StagePPO, Step: step + 1, Total: total, Epoch: epoch,
				Loss: sum.Policy/n + cfg.PPO.VFCoef*sum.Value/n + sum.Aux/n, Aux: sum.Aux / n, LR: lr, GradNorm: gnorm,
				TokensPerS: float64(ntok) / (rolloutS + updateS), ElapsedS: time.Since(t0).Seconds()},
			Reward: meanR, PolicyLoss: sum.Policy / n, ValueLoss: sum.Value / n, KLRef: sum.KLRef / n,
			ApproxKL: sum.ApproxKL / n, ClipFrac: sum.ClipFrac / n, RespLen: meanLen, CriticLR: clr,
			RolloutS: rolloutS, UpdateS: updateS, RolloutTPS: float64(ntok) / max(rolloutS, 1e-9),
		}
		line, err := json.Marshal(ps)
		if err != nil {
			return steps, err
		}
		if _, err := mf.Write(append(line, '\n')); err != nil {
			return steps, fmt.Errorf("%s: %w", paths.Metrics, err)
		}
		steps = append(steps, ps)
		if cfg.OnStep != nil {
			cfg.OnStep(ps)
		}
		if step+1 == total || o.SaveInterval > 0 && (step+1)%o.SaveInterval == 0 {
			if err := save(step + 1); err != nil {
				return steps, err
			}
		}
	}
	return steps, nil
}

// setup is the run's Setup: the reference is Init (RunPPO keeps it frozen).
func (c *PPOConfig) setup() *Setup {
	p := c.PPO
	return &Setup{PPO: &PPOSetup{Reference: weightsID(c.InitPath, c.Init.Data), Reward: c.RewardName,
		ClipEpsilon: p.ClipEpsilon, VFCoef: p.VFCoef, KLCoef: p.KLCoef, Gamma: p.Gamma, Lam: p.Lam,
		ClipRangeValue: p.ClipRangeValue, EarlyStopKL: p.EarlyStopKL, UpdateIters: p.UpdateIters, MiniBatch: p.MiniBatch,
		Temperature: c.Temperature, MaxGenLen: c.MaxGenLen}}
}

// ppoOrder is epoch's prompt order: a permutation drawn from (Seed,
// epoch), as upstream's setup_seed(42 + epoch); randperm, or file order.
func ppoOrder(N, epoch int, o Options) []int {
	if !o.Shuffle {
		return allRows(N)
	}
	return rand.New(rand.NewPCG(o.Seed, uint64(epoch)+42)).Perm(N)
}

// saveDType maps "" to MiniMind's fp16.
func saveDType(d string) string {
	if d == "" {
		return "F16"
	}
	return d
}

// clipCritic clips the critic's gradient (backbone and value head
// together, as clip_grad_norm_(critic_model.parameters())).
func clipCritic(be kernels.Backend, c *model.Critic, maxNorm float64) {
	norm := math.Sqrt(be.SumSquares(c.Grads) + be.SumSquares(c.HeadGrad))
	coef := min(float64(float32(maxNorm)/float32(norm+1e-6)), 1)
	if maxNorm > 0 {
		be.Scale(c.Grads, float32(coef))
		be.Scale(c.HeadGrad, float32(coef))
	}
}

// saveCritic writes upstream CriticModel's state dict: the backbone (with
// the tied lm_head alias, as SavePth) and value_head.weight/bias.
func saveCritic(path string, p *model.Params, head []float32, dtype string) error {
	C := p.Config.HiddenSize
	ts := make([]pth.Tensor, 0, len(p.Specs)+3)
	for _, s := range p.Specs {
		ts = append(ts, pth.Tensor{Name: s.Name, Shape: s.Shape, Data: p.View(p.Data, s.Name)})
	}
	if p.Config.Tied() {
		emb, _ := p.Spec(model.EmbedName)
		ts = append(ts, pth.Tensor{Name: model.LMHeadName, Shape: emb.Shape, Data: p.View(p.Data, model.EmbedName)})
	}
	ts = append(ts, pth.Tensor{Name: model.ValueHeadWeightName, Shape: []int{1, C}, Data: head[:C]},
		pth.Tensor{Name: model.ValueHeadBiasName, Shape: []int{1}, Data: head[C:]})
	return pth.WriteStateDict(path, ts, dtype)
}

// savePPOResume writes both resume files: the actor's (train's
// ResumeFile: weights and moments) and the critic's (backbone then value
// head, one slab).
func savePPOResume(paths PPOPaths, st *ppoState, actorP, criticP *model.Params, head []float32, ao, co, ho *AdamW) error {
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	cat := func(a, b []float32) []float32 { return append(append(make([]float32, 0, len(a)+len(b)), a...), b...) }
	if err := checkpoint.SaveResume(paths.CriticResume, &checkpoint.ResumeFile{Meta: meta,
		Params: cat(criticP.Data, head), M: cat(co.M, ho.M), V: cat(co.V, ho.V)}); err != nil {
		return err
	}
	return checkpoint.SaveResume(paths.Resume, &checkpoint.ResumeFile{Meta: meta, Params: actorP.Data, M: ao.M, V: ao.V})
}

// loadPPOResume reads both resume files into the given slabs, once their
// setup and schedule are checked against now's.
func loadPPOResume(paths PPOPaths, now *ppoState, actorP, criticP *model.Params, head []float32, ao, co, ho *AdamW) (*ppoState, error) {
	if _, err := os.Stat(paths.Resume); err != nil {
		return nil, err
	}
	af, err := checkpoint.LoadResume(paths.Resume)
	if err != nil {
		return nil, err
	}
	cf, err := checkpoint.LoadResume(paths.CriticResume)
	if err != nil {
		return nil, fmt.Errorf("ppo: %s exists but the critic's state does not load: %w", paths.Resume, err)
	}
	var st, cst ppoState
	if err := json.Unmarshal(af.Meta, &st); err != nil {
		return nil, fmt.Errorf("%s: resume metadata: %w", paths.Resume, err)
	}
	if err := json.Unmarshal(cf.Meta, &cst); err != nil {
		return nil, fmt.Errorf("%s: resume metadata: %w", paths.CriticResume, err)
	}
	if cst.Step != st.Step {
		// A kill between the two writes: the pair does not belong together.
		return nil, fmt.Errorf("ppo: %s is at step %d, %s at %d (a kill while saving?): %w", paths.CriticResume, cst.Step, paths.Resume, st.Step, ErrResumeField)
	}
	mc := &now.Config
	n, C := len(actorP.Data), mc.HiddenSize
	if st.Config.HiddenSize != mc.HiddenSize || st.Config.NumHiddenLayers != mc.NumHiddenLayers || st.Config.UseMoE != mc.UseMoE ||
		len(af.Params) != n || len(af.M) != n || len(af.V) != n || len(cf.Params) != n+C+1 || len(cf.M) != n+C+1 || len(cf.V) != n+C+1 {
		return nil, fmt.Errorf("ppo: resume %s was trained on hidden_size %d, %d layers, use_moe %v (%d values); these weights have %d, %d, %v (%d): %w",
			paths.Resume, st.Config.HiddenSize, st.Config.NumHiddenLayers, st.Config.UseMoE, len(af.Params), mc.HiddenSize, mc.NumHiddenLayers, mc.UseMoE, n, ErrArchitecture)
	}
	if err := checkSetup(paths.Resume, st.Setup, now.Setup); err != nil {
		return nil, err
	}
	ch := rlScheduleChanges(st.Options, now.Options, st.Prompts, now.Prompts)
	if st.CriticLR != nil && *st.CriticLR != *now.CriticLR {
		ch = append(ch, fmt.Sprintf("--critic_learning_rate %v → %v", *st.CriticLR, *now.CriticLR))
	}
	if err := changedSchedule(StagePPO, paths.Resume, ch); err != nil {
		return nil, err
	}
	for _, x := range []struct {
		name string
		s    []float32
	}{{paths.Resume, af.Params}, {paths.Resume, af.M}, {paths.Resume, af.V}, {paths.CriticResume, cf.Params}, {paths.CriticResume, cf.M}, {paths.CriticResume, cf.V}} {
		if i := firstNonfinite(x.s); i >= 0 {
			return nil, fmt.Errorf("%s: holds %v at index %d: %w", x.name, x.s[i], i, ErrNonFinite)
		}
	}
	copy(actorP.Data, af.Params)
	copy(ao.M, af.M)
	copy(ao.V, af.V)
	copy(criticP.Data, cf.Params[:n])
	copy(head, cf.Params[n:])
	copy(co.M, cf.M[:n])
	copy(co.V, cf.V[:n])
	copy(ho.M, cf.M[n:])
	copy(ho.V, cf.V[n:])
	ao.T, co.T, ho.T = st.AdamStep, st.AdamStep, st.AdamStep
	return &st, nil
}
