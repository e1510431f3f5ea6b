package main

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"time"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/reward"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// PPOOptions are the flags of `minimind ppo`, named as upstream's
// trainer/train_ppo.py.
type PPOOptions struct {
	DataPath     []string
	OutDir       string
	Init         string
	Heads        int
	Tokenizer    string
	Train        train.Options
	CriticLR     float64
	PPO          train.PPOOptions
	MaxGenLen    int
	Temperature  float64
	Reward       string
	RewardURL    string
	RewardTO     time.Duration
	Resume       bool
	SkipBadLines bool
	Device       DeviceFlags
}

// AddFlags registers ppo's flags with upstream HEAD's defaults.
func (o *PPOOptions) AddFlags(f *pflag.FlagSet) {
	d, p := train.DefaultPPOOptions(), train.DefaultPPO()
	t := &o.Train
	t.AdamW = d.AdamW
	f.StringSliceVar(&o.DataPath, "data_path", nil, "RLAIF prompts ({\"conversations\"} .jsonl/.jsonl.gz; the last message is dropped)")
	f.StringVar(&o.OutDir, "out_dir", "./out", "where ppo_actor/ppo_critic .pth, their resume state, metrics.jsonl and reward_ppo.png go")
	f.StringVar(&o.Init, "init", "", "the SFT model: actor, reference and critic backbone (default: the one {out_dir}/full_sft_*.pth)")
	f.IntVar(&o.Heads, "num_attention_heads", 0, "query heads of a .pth model, which its shapes cannot tell (default 8)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder with one (default: the model's, else the built-in one)")
	f.IntVar(&t.Epochs, "epochs", d.Epochs, "passes over the prompts")
	f.IntVar(&t.BatchSize, "batch_size", d.BatchSize, "prompts per rollout (one response each, generated together)")
	f.Float64Var(&t.LearningRate, "learning_rate", d.LearningRate, "actor learning rate (cosine to lr/10)")
	f.Float64Var(&o.CriticLR, "critic_learning_rate", 5e-7, "critic learning rate (cosine to lr/10)")
	f.IntVar(&t.MaxSeqLen, "max_seq_len", d.MaxSeqLen, "prompt tokens kept (the last ones)")
	f.IntVar(&o.MaxGenLen, "max_gen_len", 1024, "response tokens per rollout")
	f.Float64Var(&o.Temperature, "temperature", 0.8, "rollout sampling temperature")
	f.IntVar(&t.Accumulation, "accumulation_steps", d.Accumulation, "PPO minibatches per optimizer step")
	f.Float64Var(&t.GradClip, "grad_clip", d.GradClip, "clip each model's gradient norm to this (0 = off)")
	f.IntVar(&t.SaveInterval, "save_interval", d.SaveInterval, "rollout steps between saves (and at the end)")
	f.IntVar(&t.LogInterval, "log_interval", d.LogInterval, "rollout steps between log lines")
	f.Uint64Var(&t.Seed, "seed", d.Seed, "seed for prompt order, sampling and minibatch order")
	f.BoolVar(&t.Shuffle, "shuffle", d.Shuffle, "shuffle the prompts each epoch")
	pp := &o.PPO
	f.Float64Var(&pp.ClipEpsilon, "clip_epsilon", p.ClipEpsilon, "PPO ratio clip")
	f.Float64Var(&pp.VFCoef, "vf_coef", p.VFCoef, "value loss weight")
	f.Float64Var(&pp.KLCoef, "kl_coef", p.KLCoef, "k3 KL-to-reference weight")
	f.Float64Var(&pp.Gamma, "gamma", p.Gamma, "GAE discount")
	f.Float64Var(&pp.Lam, "lam", p.Lam, "GAE lambda")
	f.Float64Var(&pp.ClipRangeValue, "cliprange_value", p.ClipRangeValue, "value clip around the rollout's values")
	f.IntVar(&pp.UpdateIters, "ppo_update_iters", p.UpdateIters, "PPO epochs over each rollout batch")
	f.Float64Var(&pp.EarlyStopKL, "early_stop_kl", p.EarlyStopKL, "approx-KL that stops a batch's PPO epochs")
	f.IntVar(&pp.MiniBatch, "mini_batch_size", p.MiniBatch, "rollouts per PPO minibatch")
	f.StringVar(&o.Reward, "reward", "rules", "reward: rules (upstream's rule terms), gt (verifiable answer + rules), url (--reward_url + rules)")
	f.StringVar(&o.RewardURL, "reward_url", "", "HTTP reward server scoring (prompt, response) batches")
	f.DurationVar(&o.RewardTO, "reward_timeout", 0, "timeout of one reward server request (0: the reward package's default)")
	f.BoolVar(&o.Resume, "resume", false, "continue from {out_dir}/ppo_actor_{hidden}_resume.safetensors (exactly)")
	f.BoolVar(&o.SkipBadLines, "skip_bad_lines", false, "skip malformed JSONL lines instead of stopping")
	o.Device.AddFlags(f)
}

func newPPOCommand(g *globalOptions) *cobra.Command {
	var opts PPOOptions
	cmd := &cobra.Command{
		Use:   "ppo --data_path FILE [flags]",
		Short: "PPO with actor, reference and critic on RLAIF prompts, as upstream's train_ppo.py",
		Long: `Reinforcement learning with PPO (upstream trainer/train_ppo.py). For each batch
of prompts the actor samples one response each with the continuous-batching
engine (the model being trained: no weight copy), the reward scores it, and
the reward goes on the response's last token. The critic is the backbone
plus a value head Linear(hidden, 1) on the final norm applied twice (as
upstream's CriticModel), started from the same SFT weights. Token-level GAE
(--gamma 1, --lam 0.95), whitened advantages, then --ppo_update_iters epochs
of minibatches: clipped policy loss + --kl_coef·k3 KL to the frozen
reference, + --vf_coef·clipped value loss; a batch's epochs stop early when
approx-KL passes --early_stop_kl.

Writes {out_dir}/ppo_actor_{hidden}[_moe].pth (upstream's name),
ppo_critic_{hidden}[_moe].pth (CriticModel's state dict with value_head.*),
their resume state, metrics.jsonl (reward, policy_loss, value_loss, kl_ref,
approx_kl, clipfrac, rollout tokens/s and the rollout/update split) and
reward_ppo.png. A --resume with another --init model, --reward, PPO flag,
--temperature, --max_gen_len, schedule flag (--epochs, --batch_size,
--accumulation_steps, --max_seq_len, --learning_rate,
--critic_learning_rate, --grad_clip, --seed, --shuffle) or number of
prompts exits with status 2.

Examples:
  minimind ppo --data_path dataset/rlaif.jsonl --init out/full_sft_768.pth
  minimind ppo --data_path rlaif.jsonl --reward url --reward_url http://localhost:8000/score`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runPPO(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runPPO(ctx context.Context, opts PPOOptions, g *globalOptions, out, errOut io.Writer) error {
	o := opts.Train
	if len(opts.DataPath) == 0 {
		return fmt.Errorf("%w: --data_path is required", errUsage)
	}
	if err := firstError(positiveInt("batch_size", o.BatchSize), positiveInt("epochs", o.Epochs),
		positiveInt("max_seq_len", o.MaxSeqLen), positiveInt("max_gen_len", opts.MaxGenLen),
		positiveInt("accumulation_steps", o.Accumulation),
		nonNegativeFloat("learning_rate", o.LearningRate), nonNegativeFloat("critic_learning_rate", opts.CriticLR),
		nonNegativeFloat("temperature", opts.Temperature), nonNegativeFloat("grad_clip", o.GradClip),
		intAtLeast("save_interval", o.SaveInterval, 0), intAtLeast("log_interval", o.LogInterval, 0),
		intAtLeast("num_attention_heads", opts.Heads, 0)); err != nil {
		return err
	}
	if err := opts.PPO.Validate(); err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	rf, err := reward.Parse(opts.Reward, opts.RewardURL, opts.RewardTO)
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	initPath := opts.Init
	if initPath == "" {
		found, _ := filepath.Glob(filepath.Join(opts.OutDir, "full_sft_*.pth"))
		if len(found) != 1 {
			return fmt.Errorf("%w: no --init and %d full_sft_*.pth files in --out_dir %s: name the SFT model with --init", errUsage, len(found), opts.OutDir)
		}
		initPath = found[0]
	}
	base, err := loadModelParams(initPath, opts.Heads)
	if err != nil {
		return err
	}
	tok, tokSource, err := modelTokenizer(opts.Tokenizer, initPath)
	if err != nil {
		return err
	}
	if err := checkVocab(tok, tokSource, opts.Tokenizer != "", base.Config.VocabSize, initPath); err != nil {
		return err
	}
	ds, err := openDataset(ctx, opts.DataPath, data.KindRLAIF, tok, o.MaxSeqLen, o.Seed, opts.SkipBadLines, errOut)
	if err != nil {
		return err
	}
	jds, ok := ds.(*data.JSONLDataset)
	if !ok {
		return fmt.Errorf("%w: --data_path: ppo reads RLAIF .jsonl files, not prepared data", errUsage)
	}
	be, closeBackend, err := selectDevice(g, opts.Device, "auto")
	if err != nil {
		return err
	}
	defer closeBackend()
	fmt.Fprintf(out, "ppo: actor/reference/critic from %s (%s); tokenizer %s; %d prompts from %s; reward %s\n",
		initPath, describeModel(&base.Config), tokSource, jds.Len(), strings.Join(opts.DataPath, ","), opts.Reward)
	cfg := train.PPOConfig{Init: base, Options: o, CriticLR: opts.CriticLR, PPO: opts.PPO, MaxGenLen: opts.MaxGenLen,
		Temperature: opts.Temperature, Data: jds, Tokenizer: tok, Reward: rf, RewardName: rewardName(opts.Reward, opts.RewardURL),
		InitPath: initPath, Backend: be, OutDir: opts.OutDir,
		Resume: opts.Resume, SaveDType: "F16",
		OnLog: func(msg string) { fmt.Fprintln(errOut, msg) },
		OnStep: func(s train.PPOStep) {
			if o.LogInterval > 0 && s.Step.Step%o.LogInterval == 0 || s.Step.Step == s.Total {
				fmt.Fprintf(out, "epoch %d/%d step %d/%d reward %.4f kl_ref %.4f approx_kl %.4f clipfrac %.4f policy %.4f value %.4f len %.1f lr %.3e/%.3e rollout %.1fs (%.0f tok/s) update %.1fs\n",
					s.Epoch+1, o.Epochs, s.Step.Step, s.Total, s.Reward, s.KLRef, s.ApproxKL, s.ClipFrac, s.PolicyLoss, s.ValueLoss,
					s.RespLen, s.LR, s.CriticLR, s.RolloutS, s.RolloutTPS, s.UpdateS)
			}
		},
	}
	steps, err := train.RunPPO(ctx, cfg)
	if err != nil {
		return err
	}
	p := cfg.Paths(&base.Config)
	fmt.Fprintf(out, "done: %d steps; wrote %s, %s, %s\n", len(steps), p.Actor, p.Critic, p.Metrics)
	return nil
}
