package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"time"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/jsonl"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/reward"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// grpoFlags are the grpo command's settings.
type grpoFlags struct {
	Model         ModelFlags
	DataPath      string
	Init          string
	OutDir        string
	Tokenizer     string
	Reward        string
	RewardURL     string
	RewardTimeout time.Duration
	ThinkingRatio float64
	Resume        bool
	Run           train.GRPOConfig
}

func (o *grpoFlags) addFlags(f *pflag.FlagSet) {
	d := train.DefaultGRPOConfig()
	o.Model.AddFlags(f)
	f.StringVar(&o.DataPath, "data_path", "", `RLAIF JSONL: {"conversations": [...], "gt": optional answer} per line`)
	f.StringVar(&o.Init, "init", "", "weights the policy and the frozen reference start from (default --out_dir/full_sft_{hidden}[_moe].pth)")
	f.StringVar(&o.OutDir, "out_dir", "out", "where grpo_{hidden}[_moe].pth, its resume state, metrics.jsonl and grpo_reward.png go")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or its directory (default: the one saved with --init, else the project's)")
	f.StringVar(&o.Reward, "reward", "rules", "reward: rules (upstream's rule terms), gt (the line's \"gt\" answer + rules), or url:http://... (as --reward_url)")
	f.StringVar(&o.RewardURL, "reward_url", "", "a reward-model server to score rollouts with")
	f.DurationVar(&o.RewardTimeout, "reward_timeout", 60*time.Second, "timeout of one --reward_url request")
	f.Float64Var(&o.ThinkingRatio, "thinking_ratio", 0.5, "probability that a prompt opens a think block (minimind-3 templates)")
	f.BoolVar(&o.Resume, "resume", false, "continue from --out_dir's grpo resume state")
	f.StringVar(&o.Run.Loss.LossType, "loss_type", d.Loss.LossType, "cispo (upstream default) or grpo")
	f.Float64Var(&o.Run.Loss.Beta, "beta", d.Loss.Beta, "weight of the per-token k3 KL to the reference")
	f.Float64Var(&o.Run.Loss.Epsilon, "epsilon", d.Loss.Epsilon, "GRPO's ratio clip")
	f.Float64Var(&o.Run.Loss.EpsilonHigh, "epsilon_high", d.Loss.EpsilonHigh, "CISPO's ratio cap")
	f.IntVar(&o.Run.NumGenerations, "num_generations", d.NumGenerations, "completions sampled per prompt")
	f.IntVar(&o.Run.BatchSize, "batch_size", d.BatchSize, "prompts per update")
	f.IntVar(&o.Run.Epochs, "epochs", d.Epochs, "passes over the prompts")
	f.Float64Var(&o.Run.LearningRate, "learning_rate", d.LearningRate, "peak learning rate (cosine to a tenth)")
	f.Float64Var(&o.Run.GradClip, "grad_clip", d.GradClip, "max global gradient norm (0 = none)")
	f.IntVar(&o.Run.MaxGenLen, "max_gen_len", d.MaxGenLen, "completion tokens at most")
	f.Float64Var(&o.Run.Temperature, "temperature", d.Temperature, "sampling temperature of the rollouts")
	f.Uint64Var(&o.Run.Seed, "seed", d.Seed, "shuffling, thinking draws and sampling")
	f.IntVar(&o.Run.SaveInterval, "save_interval", d.SaveInterval, "updates between checkpoints (0: the end only)")
	f.StringVar(&o.Run.SaveDType, "save_dtype", "f16", "precision of the saved .pth weights: f16 (as MiniMind), bf16 or f32")
}

func newGRPOCommand(g *globalOptions) *cobra.Command {
	var o grpoFlags
	cmd := &cobra.Command{
		Use:   "grpo --data_path FILE [flags]",
		Short: "GRPO / CISPO reinforcement learning on RLAIF prompts",
		Long: `Group-relative policy optimisation, as upstream MiniMind's trainer/train_grpo.py:
for every prompt of --data_path, --num_generations completions are sampled
(temperature 0.8, up to --max_gen_len tokens) by the generation engine on the
policy being trained, scored by --reward, and their advantages normalised in
the group: (r − mean)/(std + 1e-4). The loss is, per completion token up to
and including the first end token, with k3 = exp(ref−logp) − (ref−logp) − 1:
  --loss_type cispo  −(min(ratio, epsilon_high)·A·logp − beta·k3)  (default)
  --loss_type grpo   −(min(ratio·A, clip(ratio, 1±epsilon)·A) − beta·k3)
averaged per completion, then over the batch (+ the MoE balance loss). The
reference is the frozen starting model. Logs and metrics.jsonl carry the mean
reward, KL, ratio, clipped share, rollout tokens/s and the share of a step
spent in rollout and in the update; grpo_reward.png plots the reward.
Writes grpo_{hidden}[_moe].pth; kill it and pass --resume to continue (a
resume with another --init model, --reward, loss, --num_generations,
--temperature, --max_gen_len, --thinking_ratio, --epochs, --batch_size,
--learning_rate, --grad_clip, --seed or number of prompts exits with
status 2).

Examples:
  minimind grpo --data_path dataset/rlaif.jsonl --init out/full_sft_512.pth
  minimind grpo --data_path math.jsonl --reward gt --loss_type grpo`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runGRPO(cmd.Context(), o, g, cmd.OutOrStdout())
		},
	}
	o.addFlags(cmd.Flags())
	return cmd
}

// runGRPO loads the models, the prompts and the reward and runs the
// training; Ctrl-C saves a checkpoint to --resume from.
func runGRPO(ctx context.Context, o grpoFlags, g *globalOptions, out io.Writer) error {
	if o.DataPath == "" {
		return fmt.Errorf("%w: --data_path is required", errUsage)
	}
	if !(o.ThinkingRatio >= 0 && o.ThinkingRatio <= 1) {
		return fmt.Errorf("%w: --thinking_ratio %g: want 0..1", errUsage, o.ThinkingRatio)
	}
	cfg, err := o.Model.Config()
	if err != nil {
		return err
	}
	initPath := o.Init
	if initPath == "" {
		initPath = filepath.Join(o.OutDir, train.WeightName(train.StageSFT, &cfg)+".pth")
		if _, err := os.Stat(initPath); err != nil {
			return fmt.Errorf("%w: grpo starts from the SFT model, and %s is not there: run sft first or pass --init FILE", errUsage, initPath)
		}
	}
	be, err := newBackend(g, "auto")
	if err != nil {
		return err
	}
	defer be.Close()
	load := func() (*model.Model, error) {
		p, err := checkpoint.Load(initPath, cfg)
		if err != nil {
			return nil, fmt.Errorf("grpo --init %s: %w", initPath, err)
		}
		return model.New(p, be), nil
	}
	policy, err := load()
	if err != nil {
		return err
	}
	ref, err := load()
	if err != nil {
		return err
	}
	tok, tokSrc, err := modelTokenizer(o.Tokenizer, initPath)
	if err != nil {
		return err
	}
	if err := checkVocab(tok, tokSrc, o.Tokenizer != "", policy.Config.VocabSize, initPath); err != nil {
		return err
	}
	prompts, err := readRLAIF(o.DataPath, tok, o.ThinkingRatio, o.Run.Seed)
	if err != nil {
		return err
	}
	rf, err := reward.Parse(o.Reward, o.RewardURL, o.RewardTimeout)
	if err != nil {
		return fmt.Errorf("%w: --reward: %v", errUsage, err)
	}
	maxP := 0
	for _, p := range prompts {
		if len(p.IDs) >= policy.Config.MaxPositionEmbeddings {
			return fmt.Errorf("%w: grpo: %s line %d: the prompt has %d tokens, the context window (max_position_embeddings %d) leaves no room for a reply",
				errUsage, o.DataPath, p.Line, len(p.IDs), policy.Config.MaxPositionEmbeddings)
		}
		maxP = max(maxP, len(p.IDs))
	}
	rc := o.Run
	eng, err := generate.NewEngine(policy, tok, generate.EngineOptions{
		Slots: rc.BatchSize * rc.NumGenerations, Window: min(maxP+rc.MaxGenLen, policy.Config.MaxPositionEmbeddings)})
	if err != nil {
		return fmt.Errorf("grpo: %w", err)
	}
	rc.Policy, rc.Ref, rc.Tokenizer, rc.Prompts = policy, ref, tok, prompts
	rc.Rollout = engineRollout(eng)
	rc.Score = func(ctx context.Context, ps, rs, as []string) ([]float64, error) {
		batch := make([]reward.Sample, len(ps))
		for i := range ps {
			batch[i] = reward.Sample{Prompt: ps[i], Response: rs[i], Answer: as[i]}
		}
		return rf.Score(ctx, batch)
	}
	rc.RewardName, rc.RefPath, rc.ThinkingRatio = rewardName(o.Reward, o.RewardURL), initPath, o.ThinkingRatio
	rc.OutDir, rc.Resume = o.OutDir, o.Resume
	rc.Logf = func(format string, args ...any) { fmt.Fprintf(out, format+"\n", args...) }
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	res, err := train.RunGRPO(ctx, rc)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return fmt.Errorf("grpo: interrupted; continue with --resume: %w", err)
		}
		return err
	}
	if err := tok.Save(o.OutDir); err != nil {
		return err
	}
	fmt.Fprintf(out, "grpo: wrote %s\n", res.Weights)
	return nil
}

// rewardName is the resume state's name of the reward that reward.Parse
// builds from spec and url (both valid): the rule terms, then "+gt" and
// "+url:URL" for the scores added to them, so that spellings of one reward
// ("gt" and "rules+gt", "url" with --reward_url and "url:URL") compare equal.
func rewardName(spec, url string) string {
	gt := false
	for _, term := range strings.Split(spec, "+") {
		switch term = strings.TrimSpace(term); {
		case term == "gt":
			gt = true
		case strings.HasPrefix(term, "url:"):
			url = strings.TrimPrefix(term, "url:")
		}
	}
	name := "rules"
	if gt {
		name += "+gt"
	}
	if url != "" {
		name += "+url:" + url
	}
	return name
}

// engineRollout samples with eng (the engine on the policy): the ids of
// each reply, with the stop token that ended it.
func engineRollout(eng *generate.Engine) train.RolloutFunc {
	stop := int32(eng.Config().EosTokenID)
	if id, ok := eng.Tokenizer().TokenID("<|im_end|>"); ok {
		stop = id
	}
	return func(ctx context.Context, prompts [][]int32, seeds []uint64, temp float64, maxNew int) ([]train.Completion, error) {
		reqs := make([]generate.Request, len(prompts))
		for i, p := range prompts {
			reqs[i] = generate.Request{Prompt: p, Options: generate.Options{MaxNewTokens: maxNew, Temperature: temp, RepetitionPenalty: 1, Seed: seeds[i], LogProbs: true}}
		}
		res, err := eng.Generate(ctx, reqs, nil)
		if err != nil {
			return nil, err
		}
		out := make([]train.Completion, len(res))
		for i, r := range res {
			ids := append([]int32(nil), r.Tokens...)
			if r.Finish == generate.FinishStop {
				// The engine stops on eos or <|im_end|>; which one is in
				// LogProbs only, and both end the loss mask alike.
				ids = append(ids, stop)
			}
			out[i] = train.Completion{IDs: ids, LogProbs: r.LogProbs}
		}
		return out, nil
	}
}

// readRLAIF reads RLAIF prompts: each line's conversation without its last
// message, rendered with the generation prompt (a think block opened with
// probability thinkingRatio, drawn from PCG(seed, line)), and its "gt".
func readRLAIF(path string, tok *tokenizer.Tokenizer, thinkingRatio float64, seed uint64) ([]train.GRPOPrompt, error) {
	tmpl, err := chat.ForTokenizer(tok)
	if err != nil {
		return nil, fmt.Errorf("grpo: %w", err)
	}
	r, err := jsonl.Open(path) // gzip by content; errors name file and line
	if err != nil {
		return nil, fmt.Errorf("grpo --data_path: %w", err)
	}
	defer r.Close()
	var ps []train.GRPOPrompt
	for {
		b, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("grpo: %w", err)
		}
		line := r.Line()
		rec, err := data.ParseRecord(data.KindRLAIF, b)
		if err != nil {
			return nil, fmt.Errorf("grpo: %s line %d: %w", path, line, err)
		}
		msgs := rec.Conversations
		think := rand.New(rand.NewPCG(seed, uint64(line))).Float64() < thinkingRatio
		text, err := tmpl.Render(msgs[:len(msgs)-1], chat.Options{AddGenerationPrompt: true, OpenThinking: &think})
		if err != nil {
			return nil, fmt.Errorf("grpo: %s line %d: %w", path, line, err)
		}
		ps = append(ps, train.GRPOPrompt{Text: text, IDs: tok.Encode(text), Answer: rec.GT, Line: line})
	}
	if len(ps) == 0 {
		return nil, fmt.Errorf("%w: grpo: %s has no prompts", errUsage, path)
	}
	return ps, nil
}

// addGRPOTrainFlags gives `train` the grpo flags it lacks, for --mode grpo
// (the shared ones, --data_path, --batch_size, --beta, ..., are train's).
func addGRPOTrainFlags(f *pflag.FlagSet) {
	tmp := pflag.NewFlagSet("grpo", pflag.ContinueOnError)
	new(grpoFlags).addFlags(tmp)
	tmp.VisitAll(func(fl *pflag.Flag) {
		if f.Lookup(fl.Name) == nil {
			f.AddFlag(fl)
		}
	})
}

// runGRPOMode runs `train --mode grpo`: the grpo command with train's
// values of the flags both have (grpo's defaults for those not given).
func runGRPOMode(cmd *cobra.Command, opts TrainOptions, g *globalOptions) error {
	f := cmd.Flags()
	if len(opts.DataPath) != 1 {
		return fmt.Errorf("%w: --mode grpo reads one --data_path file, got %d", errUsage, len(opts.DataPath))
	}
	var o grpoFlags
	tmp := pflag.NewFlagSet("grpo", pflag.ContinueOnError)
	o.addFlags(tmp)
	var perr error
	f.Visit(func(fl *pflag.Flag) {
		if tmp.Lookup(fl.Name) != nil && perr == nil {
			perr = tmp.Set(fl.Name, fl.Value.String())
		}
	})
	if perr != nil {
		return fmt.Errorf("%w: %v", errUsage, perr)
	}
	o.Model = opts.Model
	o.DataPath = opts.DataPath[0]
	return runGRPO(cmd.Context(), o, g, cmd.OutOrStdout())
}
