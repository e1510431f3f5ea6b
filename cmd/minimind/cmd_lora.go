package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// LoRAOptions are the flags of `minimind lora`, named as upstream's
// trainer/train_lora.py (--lora_rank, --lora_alpha and --lora_targets are
// MiniMind-Go's: upstream fixes rank 16, no scaling, square linears).
type LoRAOptions struct {
	DataPath     []string
	OutDir       string
	Name         string
	Rank         int
	Alpha        float64
	Targets      []string
	Train        train.Options
	Init         string
	Heads        int
	Tokenizer    string
	Resume       bool
	SkipBadLines bool
	DDP          bool
	EvalData     []string
	EvalInterval int
	Device       DeviceFlags
}

// AddFlags registers lora's flags with upstream's defaults.
func (o *LoRAOptions) AddFlags(f *pflag.FlagSet) {
	d := train.DefaultLoRAOptions()
	t := &o.Train
	t.AdamW = d.AdamW
	f.StringSliceVar(&o.DataPath, "data_path", nil, "SFT data ({\"conversations\"} .jsonl/.jsonl.gz, or a prepared sft file)")
	f.StringVar(&o.OutDir, "out_dir", "./out", "where the adapter file, its resume state, metrics.jsonl and the plot go")
	f.StringVar(&o.Name, "lora_name", "lora_medical", "adapter name: the file is {out_dir}/{lora_name}_{hidden}.pth")
	f.IntVar(&o.Rank, "lora_rank", 16, "rank r of the adapters (A is r×in, B is out×r)")
	f.Float64Var(&o.Alpha, "lora_alpha", 0, "scale the update by alpha/rank (0: no scaling, as upstream)")
	f.StringSliceVar(&o.Targets, "lora_targets", nil, "projections to wrap, from "+strings.Join(model.LoRATargets, ",")+" (default: upstream's rule, every square one)")
	f.StringVar(&o.Init, "init", "", "the base model (HF directory or .pth; default: the one {out_dir}/full_sft_*.pth)")
	f.IntVar(&o.Heads, "num_attention_heads", 0, "query heads of a .pth base, which its shapes cannot tell (default 8)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder with one (default: the base model's, else the built-in one)")
	f.IntVar(&t.Epochs, "epochs", d.Epochs, "passes over the data")
	f.IntVar(&t.BatchSize, "batch_size", d.BatchSize, "sequences per micro-batch")
	f.Float64Var(&t.LearningRate, "learning_rate", d.LearningRate, "peak learning rate (warmup, then cosine to lr/10)")
	f.IntVar(&t.MaxSeqLen, "max_seq_len", d.MaxSeqLen, "tokens per sample")
	f.IntVar(&t.Accumulation, "accumulation_steps", d.Accumulation, "micro-batches per optimizer step")
	f.Float64Var(&t.GradClip, "grad_clip", d.GradClip, "clip the adapters' gradient norm to this (0 = off)")
	f.IntVar(&t.WarmupIters, "warmup_iters", d.WarmupIters, "optimizer steps of linear warmup")
	f.IntVar(&t.SaveInterval, "save_interval", d.SaveInterval, "optimizer steps between saves (also at each epoch end)")
	f.IntVar(&t.LogInterval, "log_interval", d.LogInterval, "optimizer steps between log lines")
	f.Uint64Var(&t.Seed, "seed", d.Seed, "seed for A's initialisation and shuffling")
	f.BoolVar(&t.Shuffle, "shuffle", d.Shuffle, "shuffle each epoch")
	f.IntVar(&t.SkipNonfinite, "skip_nonfinite", d.SkipNonfinite, "steps with a NaN/Inf loss or gradient norm to skip before stopping")
	f.BoolVar(&o.Resume, "resume", false, "continue from {out_dir}/{lora_name}_{hidden}_resume.safetensors (exactly)")
	f.BoolVar(&o.SkipBadLines, "skip_bad_lines", false, "skip malformed JSONL lines instead of stopping")
	f.BoolVar(&o.DDP, "ddp", false, "data-parallel training across processes started by mpirun or torchrun-style env vars")
	f.StringSliceVar(&o.EvalData, "eval_data", nil, "held-out SFT `FILE` scored every --eval_interval steps and at the end")
	f.IntVar(&o.EvalInterval, "eval_interval", 100, "optimizer steps between evaluations of --eval_data")
	o.Device.AddFlags(f)
}

func newLoRACommand(g *globalOptions) *cobra.Command {
	var opts LoRAOptions
	cmd := &cobra.Command{
		Use:   "lora --data_path FILE [--lora_name NAME] [flags]",
		Short: "Fine-tune LoRA adapters on a frozen model, as upstream's train_lora.py",
		Long: `Train low-rank adapters y = x·Wᵀ + s·(x·Aᵀ)·Bᵀ (A ~ N(0, 0.02), B = 0) on SFT
data while the base weights stay frozen: they get no gradient and no AdamW
state, so memory is the base weights, the adapters ×4 and the activations.
By default, as upstream, every square projection is wrapped (q_proj and
o_proj when heads·head_dim = hidden_size, else nothing: then name the
projections with --lora_targets).

Writes {out_dir}/{lora_name}_{hidden}.pth with only the adapters, under
upstream's keys ({module}.lora.A.weight / .lora.B.weight, fp16); an
--lora_alpha scale is folded into B so that upstream reads the same model.
Use it with generate/chat/eval/serve --lora FILE, or merge it with
'minimind convert --merge_lora FILE'.

Examples:
  minimind lora --data_path lora_medical.jsonl --init ./out/full_sft_512.pth
  minimind lora --data_path d.jsonl --lora_name lora_identity --lora_rank 8 --lora_alpha 16 --lora_targets q_proj,v_proj`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runLoRA(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// loraBase is --init, or the one full_sft_*.pth in outDir.
func loraBase(init, outDir string) (string, error) {
	if init != "" {
		return init, nil
	}
	found, _ := filepath.Glob(filepath.Join(outDir, "full_sft_*.pth"))
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return "", fmt.Errorf("%w: no --init and no full_sft_*.pth in --out_dir %s: name the base model with --init", errUsage, outDir)
	}
	return "", fmt.Errorf("%w: --out_dir %s holds %s: pick one with --init", errUsage, outDir, strings.Join(found, ", "))
}

func runLoRA(ctx context.Context, opts LoRAOptions, g *globalOptions, out, errOut io.Writer) (err error) {
	o := opts.Train
	if len(opts.DataPath) == 0 {
		return fmt.Errorf("%w: --data_path is required", errUsage)
	}
	if err := firstError(positiveInt("lora_rank", opts.Rank), nonNegativeFloat("lora_alpha", opts.Alpha),
		positiveInt("batch_size", o.BatchSize), positiveInt("epochs", o.Epochs),
		intAtLeast("max_seq_len", o.MaxSeqLen, 2), positiveInt("accumulation_steps", o.Accumulation),
		nonNegativeFloat("learning_rate", o.LearningRate), intAtLeast("warmup_iters", o.WarmupIters, 0),
		nonNegativeFloat("grad_clip", o.GradClip), intAtLeast("skip_nonfinite", o.SkipNonfinite, 0),
		intAtLeast("save_interval", o.SaveInterval, 0), intAtLeast("log_interval", o.LogInterval, 0),
		intAtLeast("num_attention_heads", opts.Heads, 0)); err != nil {
		return err
	}
	if opts.Name == "" || strings.ContainsAny(opts.Name, `/\`) {
		return fmt.Errorf("%w: --lora_name %q: want a plain file name", errUsage, opts.Name)
	}
	spec := model.LoRASpec{Rank: opts.Rank, Alpha: opts.Alpha, Targets: opts.Targets}
	for _, t := range opts.Targets {
		if !slices.Contains(model.LoRATargets, t) {
			return fmt.Errorf("%w: --lora_targets %q: want some of %s", errUsage, t, strings.Join(model.LoRATargets, ","))
		}
	}
	basePath, err := loraBase(opts.Init, opts.OutDir)
	if err != nil {
		return err
	}
	base, err := loadModelParams(basePath, opts.Heads)
	if err != nil {
		return err
	}
	tok, tokSource, err := modelTokenizer(opts.Tokenizer, basePath)
	if err != nil {
		return err
	}
	if err := checkVocab(tok, tokSource, opts.Tokenizer != "", base.Config.VocabSize, basePath); err != nil {
		return err
	}
	ds, err := openDataset(ctx, opts.DataPath, data.KindSFT, tok, o.MaxSeqLen, o.Seed, opts.SkipBadLines, errOut)
	if err != nil {
		return err
	}
	var evalSet *train.EvalSet
	if len(opts.EvalData) > 0 {
		if opts.EvalInterval < 1 {
			return fmt.Errorf("%w: --eval_interval %d: want at least 1", errUsage, opts.EvalInterval)
		}
		enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: ds.MaxSeqLen()})
		if err != nil {
			return err
		}
		eds, err := data.LoadJSONL(ctx, opts.EvalData, data.KindSFT, enc, data.ReadOptions{})
		if err != nil {
			return fmt.Errorf("--eval_data: %w", err)
		}
		evalSet = &train.EvalSet{Data: eds, Enc: enc, Interval: opts.EvalInterval, BatchTokens: 8192}
	}
	comm, err := initComm(ctx, opts.DDP)
	if err != nil {
		return err
	}
	defer func() {
		// Closing a failed communicator aborts the whole MPI job: say why first.
		if err != nil && comm.Size() > 1 {
			fmt.Fprintf(errOut, "minimind: rank %d: %v\n", comm.Rank(), err)
		}
		comm.Close()
	}()
	if comm.Rank() != 0 {
		out = io.Discard // rank 0 reports
	}
	be, closeBackend, err := selectDevice(g, opts.Device, "auto")
	if err != nil {
		return err
	}
	defer closeBackend()
	var last train.Step
	cfg := train.LoRAConfig{
		Name: opts.Name, Base: base, BasePath: basePath, Spec: spec, Options: o, Data: ds, Backend: be, Comm: comm, Workers: workerCount(g.threads),
		Eval: evalSet, OutDir: opts.OutDir, Resume: opts.Resume,
		OnLog: func(msg string) { fmt.Fprintln(errOut, msg) },
		OnStart: func(s train.LoRAStart) {
			fmt.Fprintf(out, "lora %s: base %s (%s, %s parameters, frozen); tokenizer %s\n", opts.Name, basePath, describeModel(&base.Config), humanCount(s.BaseParams), tokSource)
			fmt.Fprintf(out, "LoRA parameters: %s (%.2f%% of the base) in %d linears; memory about %s (full fine-tuning: %s; the base has no gradients or AdamW state)\n",
				humanCount(s.LoRAParams), 100*float64(s.LoRAParams)/float64(s.BaseParams), len(s.Modules), humanBytes(s.MemoryBytes), humanBytes(s.FullBytes))
			fmt.Fprintf(out, "data: %d examples from %s; %d epochs × %d steps = %d optimizer steps", ds.Len(), strings.Join(opts.DataPath, ","), o.Epochs, s.StepsPerEpoch, s.TotalSteps)
			if s.Step > 0 {
				fmt.Fprintf(out, "; resuming at step %d", s.Step)
			}
			fmt.Fprintln(out)
		},
		OnStep: func(s train.Step) {
			last = s
			if s.Nonfinite != "" && !s.Stopped {
				fmt.Fprintf(out, "step %d/%d: non-finite %s: update skipped\n", s.Step, s.Total, s.Nonfinite)
			}
			if o.LogInterval > 0 && s.Step%o.LogInterval == 0 || s.Step == s.Total {
				fmt.Fprintf(out, "epoch %d/%d step %d/%d loss %.4f lr %.3e grad_norm %.3f %.0f tok/s\n",
					s.Epoch+1, o.Epochs, s.Step, s.Total, s.Loss, s.LR, s.GradNorm, s.TokensPerS)
			}
			if s.EvalLoss != 0 {
				fmt.Fprintf(out, "eval step %d/%d: loss %.4f on %s\n", s.Step, s.Total, s.EvalLoss, strings.Join(opts.EvalData, ","))
			}
		},
	}
	res, err := train.RunLoRA(ctx, cfg)
	if errors.Is(err, context.Canceled) {
		fmt.Fprintf(out, "interrupted: saved step %d (continue with --resume)\n", last.Step)
	}
	if err != nil {
		return err
	}
	if h := res.Steps; len(h) > 0 {
		fmt.Fprintf(out, "done: %d steps, loss %.4f → %.4f\n", len(h), h[0].Loss, h[len(h)-1].Loss)
	}
	fmt.Fprintf(out, "adapters %s\nresume   %s\nmetrics  %s\nplot     %s\n", res.Weights, res.Resume, res.Metrics, res.Plot)
	return nil
}
