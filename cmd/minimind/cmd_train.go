package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/minimind-go/minimind/dashboard"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tensorboard"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TrainOptions are the flags of `minimind pretrain|sft|train`, named as the
// seed's (train_pretrain.py / train_full_sft.py / main.py).
type TrainOptions struct {
	Mode      string
	DataPath  []string
	OutDir    string
	Train     train.Options
	Tokenizer string
	Init      string
	Resume    bool
	// AllowChangedSchedule lets --resume continue with a different
	// schedule (train.Config.AllowChangedSchedule).
	AllowChangedSchedule bool
	SkipBadLines         bool
	DDP                  bool
	SaveDType            string
	DPO                  train.DPOOptions    // --dpo_loss, --beta (cmd_dpo.go)
	Distill              train.DistillConfig // --teacher, --alpha, --temperature (cmd_distill.go)
	Model                ModelFlags
	Device               DeviceFlags

	// Experiment tracking: TensorBoard event files (also for --use_wandb,
	// which only prints how to upload them) and a live page of the run.
	TensorBoard  string
	UseWandb     bool
	WandbProject string // "" is the stage's default (wandbProject)
	Dashboard    string

	// Held-out evaluation during training (train.Config.Eval).
	EvalData     []string
	EvalInterval int

	// Seed main.py aliases for --data_path by mode.
	pretrainData, sftData string
	// flags are the command's flag values, logged as text in the event
	// file; set by the command (flagValues).
	flags map[string]string
	// explicit are the architecture flags given on the command line
	// (train.Config.Explicit); set by the command (explicitArch).
	explicit []string
}

// archFlags are the architecture flags that --init or --resume files
// decide unless given.
var archFlags = []string{"hidden_size", "num_hidden_layers", "num_attention_heads", "num_key_value_heads",
	"intermediate_size", "vocab_size", "max_position_embeddings", "use_moe"}

// explicitArch returns the architecture flags set on the command line.
func explicitArch(f *pflag.FlagSet) []string {
	var out []string
	for _, n := range archFlags {
		if f.Changed(n) {
			out = append(out, n)
		}
	}
	return out
}

// wandbProject is the seed's --wandb_project default of each stage.
func wandbProject(mode string) string {
	switch mode {
	case train.StageSFT:
		return "MiniMind-Full-SFT"
	case train.StageDPO:
		return "MiniMind-DPO"
	case train.StageDistill:
		return "MiniMind-Distillation"
	}
	return "MiniMind-Pretrain"
}

// flagValues returns every flag of f (set or default) by name, as typed.
func flagValues(f *pflag.FlagSet) map[string]string {
	m := map[string]string{}
	f.VisitAll(func(fl *pflag.Flag) { m[fl.Name] = fl.Value.String() })
	return m
}

// AddFlags registers the training flags with the defaults of mode
// (train.DefaultConfig).
func (o *TrainOptions) AddFlags(f *pflag.FlagSet, mode string) {
	d := train.DefaultConfig(mode)
	t := &o.Train
	t.AdamW = d.Options.AdamW // no flags
	f.StringSliceVar(&o.DataPath, "data_path", nil, "training data: .jsonl/.jsonl.gz files (comma-separated or repeated) or a file made by 'minimind data prepare'")
	f.StringVar(&o.OutDir, "out_dir", d.OutDir, "where checkpoints, metrics.jsonl and loss.png go")
	f.IntVar(&t.Epochs, "epochs", d.Options.Epochs, "passes over the data")
	f.IntVar(&t.BatchSize, "batch_size", d.Options.BatchSize, "sequences per micro-batch (per rank)")
	f.Float64Var(&t.LearningRate, "learning_rate", d.Options.LearningRate, "peak learning rate (warmup, then cosine to lr/10)")
	f.IntVar(&t.MaxSeqLen, "max_seq_len", d.Options.MaxSeqLen, "tokens per sample (longer texts are cut, shorter padded)")
	f.IntVar(&t.Accumulation, "accumulation_steps", d.Options.Accumulation, "micro-batches per optimizer step")
	f.Float64Var(&t.GradClip, "grad_clip", d.Options.GradClip, "clip the global gradient norm to this (0 = off)")
	f.IntVar(&t.WarmupIters, "warmup_iters", d.Options.WarmupIters, "optimizer steps of linear warmup")
	f.IntVar(&t.SaveInterval, "save_interval", d.Options.SaveInterval, "optimizer steps between checkpoints (also saved at each epoch end)")
	f.IntVar(&t.LogInterval, "log_interval", d.Options.LogInterval, "optimizer steps between log lines")
	f.Uint64Var(&t.Seed, "seed", d.Options.Seed, "seed for initialisation, shuffling and SFT augmentation")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder with one (default: the project's own)")
	f.StringVar(&o.Init, "init", d.Init, "start from these weights (HF directory or .pth) instead of random / the pretrain checkpoint")
	f.BoolVar(&o.Resume, "resume", d.Resume, "continue from the resume state in --out_dir (exactly: same losses as an uninterrupted run)")
	f.BoolVar(&o.AllowChangedSchedule, "allow_changed_schedule", d.AllowChangedSchedule, "with --resume: accept changed --epochs, --batch_size, --accumulation_steps, --max_seq_len, --learning_rate, --warmup_iters or --grad_clip (the learning rate jumps; each change is printed)")
	f.IntVar(&t.SkipNonfinite, "skip_nonfinite", d.Options.SkipNonfinite, "optimizer steps with a NaN/Inf loss or gradient norm to skip (no update) before stopping; 0 stops at the first")
	f.BoolVar(&t.Shuffle, "shuffle", d.Options.Shuffle, "shuffle each epoch (from --seed); --shuffle=false keeps file order")
	f.Float64Var(&t.ThinkWeight, "think_weight", d.Options.ThinkWeight, "sft: loss weight of the tokens of <think>, </think>, <answer>, </answer> (2510's train_reason.py: 10), normalised by the unweighted target count; 1 = off")
	f.BoolVar(&o.SkipBadLines, "skip_bad_lines", false, "skip malformed JSONL lines (and count them) instead of stopping")
	f.BoolVar(&o.DDP, "ddp", false, "data-parallel training across processes started by mpirun or torchrun-style env vars")
	f.StringVar(&o.SaveDType, "save_dtype", d.SaveDType, "precision of the saved .pth weights: f16 (as MiniMind), bf16 or f32")
	f.StringVar(&o.TensorBoard, "tensorboard", "", "write TensorBoard event files to `DIR` (default with --use_wandb: {out_dir}/runs/{stage}-{yyyymmdd-hhmmss}; --resume adds a file to the stage's latest one)")
	f.BoolVar(&o.UseWandb, "use_wandb", false, "write TensorBoard event files and print the 'wandb sync --sync-tensorboard' command that uploads them (online logging is not built in)")
	f.StringVar(&o.WandbProject, "wandb_project", wandbProject(mode), "W&B project named in the printed 'wandb sync' command")
	f.StringVar(&o.Dashboard, "dashboard", "", "serve a live page of the run (loss, lr, grad norm, tokens/s) on `HOST:PORT`, e.g. 127.0.0.1:6006, while it trains")
	f.StringSliceVar(&o.EvalData, "eval_data", nil, "held-out `FILE` (.jsonl/.jsonl.gz of the stage's kind) scored every --eval_interval steps and at the end: printed, in metrics.jsonl (eval_loss), on loss.png and in TensorBoard")
	f.IntVar(&o.EvalInterval, "eval_interval", 100, "optimizer steps between evaluations of --eval_data")
	o.Model.AddFlags(f)
	o.Device.AddFlags(f)
}

const trainExamples = `
Files written to --out_dir:
  pretrain_{hidden}[_moe].pth / full_sft_{hidden}[_moe].pth   fp16 state dict (torch.load reads it);
                           {hidden} is the trained model's (--init's or the resume state's when given)
  tokenizer.json, tokenizer_config.json   the tokenizer and chat template trained with
                           (eval, generate, chat and serve of a .pth look next to it first)
  ..._resume.safetensors   fp32 weights, AdamW moments, step and data position (--resume)
  metrics.jsonl            one JSON object per optimizer step
  loss.png                 the loss curve, redrawn at every save
  runs/{stage}-{time}/     TensorBoard event files (--tensorboard, --use_wandb)

Watching a run: --dashboard 127.0.0.1:6006 serves a live page while it
trains ('minimind dashboard --out_dir DIR' serves it afterwards);
--tensorboard DIR writes event files for 'tensorboard --logdir DIR';
--use_wandb writes them too and prints the 'wandb sync --sync-tensorboard'
command that uploads the run to Weights & Biases later.

Ctrl-C saves a resume point and exits with status 130; --resume continues
with exactly the losses an uninterrupted run would have had. --resume with a
different --epochs, --batch_size, --accumulation_steps, --max_seq_len,
--learning_rate, --warmup_iters or --grad_clip is refused (it would change
the learning-rate schedule mid-run) unless --allow_changed_schedule.
dpo and distill refuse --resume with another --dpo_loss or --beta, other
reference weights, another --teacher (its weights are compared), --alpha
or --temperature (exit status 2): the saved moments belong to the saved
objective.

A NaN or infinite loss or gradient norm stops the run (status 3) without
applying that step or saving: the files keep the last save point.
--skip_nonfinite N skips up to N such steps instead (no update, as AMP's
GradScaler), each one noted and marked "nonfinite" in metrics.jsonl.

Exit status: 0 success, 1 error, 2 bad flags, 3 non-finite loss or gradient,
130 interrupted.`

func newPretrainCommand(g *globalOptions) *cobra.Command {
	return newTrainModeCommand(g, "pretrain", "Pretrain a MiniMind model on {\"text\"} JSONL",
		`Pretrain a MiniMind model from scratch (or --init) on {"text"} lines, as the
seed's train_pretrain.py: each text becomes <|im_start|> + tokens + <|im_end|>,
cut to --max_seq_len and padded (pads are not in the loss).

Examples:
  minimind pretrain --data_path data/pretrain_hq.jsonl
  minimind pretrain --data_path a.jsonl.gz,b.jsonl.gz --batch_size 8 --hidden_size 256 --epochs 1
  minimind pretrain --data_path data/pretrain.bin --resume`+trainExamples)
}

func newSFTCommand(g *globalOptions) *cobra.Command {
	return newTrainModeCommand(g, "sft", "Supervised fine-tuning on {\"conversations\"} JSONL",
		`Fine-tune on {"conversations": [...]} lines, as the seed's train_full_sft.py:
each conversation is rendered with the chat template and only the assistant
replies (through <|im_end|>\n) are in the loss. Starts from
--out_dir/pretrain_{hidden}[_moe].pth when it exists, or from --init.

Examples:
  minimind sft --data_path data/sft_mini_512.jsonl
  minimind sft --data_path sft.jsonl --init ./MiniMind2-Small --learning_rate 1e-6`+trainExamples)
}

func newTrainModeCommand(g *globalOptions, mode, short, long string) *cobra.Command {
	var opts TrainOptions
	cmd := &cobra.Command{
		Use:   mode + " --data_path FILE [flags]",
		Short: short,
		Long:  long,
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			opts.Mode = mode
			opts.flags = flagValues(cmd.Flags())
			opts.explicit = explicitArch(cmd.Flags())
			return runTrain(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags(), mode)
	return cmd
}

// newTrainCommand is the seed's main.py: --mode picks pretrain or sft.
func newTrainCommand(g *globalOptions) *cobra.Command {
	var opts TrainOptions
	sft := train.DefaultSFTOptions()
	cmd := &cobra.Command{
		Use:   "train --mode pretrain|sft --data_path FILE [flags]",
		Short: "Pretrain or fine-tune, as the seed's main.py --mode",
		Long: `The seed's unified entry point: --mode pretrain or --mode sft, with the same
flags as 'minimind pretrain' and 'minimind sft' (defaults: the pretrain ones;
--learning_rate, --batch_size and --wandb_project change to 5e-7, 16 and
MiniMind-Full-SFT for sft unless given).
--pretrain_data_path and --sft_data_path are accepted as in main.py.

Examples:
  minimind train --mode pretrain --pretrain_data_path ./dataset/pretrain_hq.jsonl
  minimind train --mode sft --sft_data_path ./dataset/sft_data.jsonl` + trainExamples,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if opts.Mode == train.StageGRPO {
				return runGRPOMode(cmd, opts, g)
			}
			applyDPODefaults(f, &opts)
			if opts.Mode == train.StageSFT {
				if !f.Changed("learning_rate") {
					opts.Train.LearningRate = sft.LearningRate
				}
				if !f.Changed("batch_size") {
					opts.Train.BatchSize = sft.BatchSize
				}
				if !f.Changed("wandb_project") {
					opts.WandbProject = wandbProject(opts.Mode)
				}
			}
			if len(opts.DataPath) == 0 {
				if opts.Mode == "sft" && opts.sftData != "" {
					opts.DataPath = []string{opts.sftData}
				} else if opts.Mode == "pretrain" && opts.pretrainData != "" {
					opts.DataPath = []string{opts.pretrainData}
				}
			}
			opts.flags = flagValues(f)
			opts.explicit = explicitArch(f)
			return runTrain(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags(), "pretrain")
	cmd.Flags().StringVar(&opts.Mode, "mode", "pretrain", "pretrain, sft, dpo or grpo")
	addDPOFlags(cmd.Flags(), &opts)
	addGRPOTrainFlags(cmd.Flags())
	cmd.Flags().StringVar(&opts.pretrainData, "pretrain_data_path", "", "data for --mode pretrain (main.py's name)")
	cmd.Flags().StringVar(&opts.sftData, "sft_data_path", "", "data for --mode sft (main.py's name)")
	return cmd
}

// openDataset opens --data_path with data.Open (a prepared file as is,
// JSONL tokenized on the fly), prints its notes and the malformed lines
// skipped, and refuses data without targets.
func openDataset(ctx context.Context, paths []string, kind data.Kind, tok *tokenizer.Tokenizer, maxSeqLen int, seed uint64, skip bool, errOut io.Writer) (data.Dataset, error) {
	ds, err := data.Open(ctx, paths, kind, tok, maxSeqLen, seed, data.OpenOptions{
		Read: data.ReadOptions{SkipBadLines: skip},
		Note: func(msg string) { fmt.Fprintln(errOut, "note: "+msg) },
	})
	if err != nil {
		return nil, err
	}
	if j, ok := ds.(*data.JSONLDataset); ok && j.Skipped() > 0 {
		fmt.Fprintf(errOut, "skipped %d malformed lines (--skip_bad_lines)\n", j.Skipped())
	}
	switch kind {
	case data.KindPretrain, data.KindSFT, data.KindDPO: // RLAIF prompts have no targets
		if err := checkTargets(ds, paths, errOut); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

// targetProbe is how many examples checkTargets looks at.
const targetProbe = 64

// checkTargets refuses data in which the examples looked at have no target
// token at all (SFT conversations without an assistant reply inside
// max_seq_len, say): training would run at loss 0 and change nothing. Some
// examples without targets only get a note.
func checkTargets(ds data.Dataset, paths []string, errOut io.Writer) error {
	with, checked, err := data.CountTargets(ds, targetProbe)
	if err != nil {
		return err
	}
	switch {
	case checked > 0 && with == 0:
		return fmt.Errorf("%w: --data_path %s: none of the %d examples checked has a target token (for %v data: an assistant reply that starts within --max_seq_len %d); training would run at loss 0. Check the file's format and --max_seq_len",
			errUsage, strings.Join(paths, ","), checked, ds.Kind(), ds.MaxSeqLen())
	case with < checked:
		fmt.Fprintf(errOut, "note: %d of %d examples checked have no target token within --max_seq_len %d; they add nothing to the loss\n", checked-with, checked, ds.MaxSeqLen())
	}
	return nil
}

func runTrain(ctx context.Context, opts TrainOptions, g *globalOptions, out, errOut io.Writer) error {
	_, err := trainStage(ctx, opts, g, out, errOut)
	return err
}

// trainStage runs train.Run with the resolved flags, printing its progress
// on rank 0; quickstart reads the losses from its result.
func trainStage(ctx context.Context, opts TrainOptions, g *globalOptions, out, errOut io.Writer) (_ *train.Result, err error) {
	kind, err := train.StageKind(opts.Mode)
	if err != nil {
		return nil, fmt.Errorf("%w: --mode %q: want pretrain, sft or dpo", errUsage, opts.Mode)
	}
	if len(opts.DataPath) == 0 {
		return nil, fmt.Errorf("%w: --data_path is required", errUsage)
	}
	o := opts.Train
	if err := firstError(positiveInt("batch_size", o.BatchSize), positiveInt("epochs", o.Epochs),
		intAtLeast("max_seq_len", o.MaxSeqLen, 2), positiveInt("accumulation_steps", o.Accumulation),
		nonNegativeFloat("learning_rate", o.LearningRate), intAtLeast("warmup_iters", o.WarmupIters, 0),
		nonNegativeFloat("grad_clip", o.GradClip), intAtLeast("skip_nonfinite", o.SkipNonfinite, 0),
		intAtLeast("save_interval", o.SaveInterval, 0), intAtLeast("log_interval", o.LogInterval, 0),
		positiveFloat("think_weight", o.ThinkWeight)); err != nil {
		return nil, err
	}
	dt, err := parseDType(opts.SaveDType)
	if err != nil {
		return nil, err
	}
	cfg, err := opts.Model.Config()
	if err != nil {
		return nil, err
	}
	comm, err := initComm(ctx, opts.DDP)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Closing a failed communicator aborts the whole MPI job at once,
		// this process included: say why first.
		if err != nil && comm.Size() > 1 {
			fmt.Fprintf(errOut, "minimind: rank %d: %v\n", comm.Rank(), err)
		}
		comm.Close()
	}()
	rank0 := comm.Rank() == 0

	// Tracking starts before data and model load, so that a taken port or
	// an unwritable directory fails now rather than after them. Only rank
	// 0 serves the page and writes event files.
	var events *tensorboard.Writer
	if rank0 {
		if opts.Dashboard != "" {
			d, err := dashboard.Start(ctx, opts.Dashboard, opts.OutDir)
			if errors.Is(err, dashboard.ErrBadAddr) {
				return nil, fmt.Errorf("%w: --dashboard: %v", errUsage, err)
			}
			if err != nil {
				return nil, err
			}
			defer d.Stop()
			if d.Note != "" {
				fmt.Fprintln(errOut, d.Note)
			}
			fmt.Fprintf(errOut, "dashboard: %s (stops when the run ends; 'minimind dashboard --out_dir %s' serves it afterwards)\n", d.URL, opts.OutDir)
		}
		if events, err = openEvents(opts, time.Now(), out); err != nil {
			return nil, err
		}
		if events != nil {
			defer events.Close() // on error paths; the run's end checks Close
		}
	}

	// The tokenizer of the weights the run starts from: saved with --init,
	// or with the pretrain checkpoint or resume state in --out_dir.
	from := opts.Init
	if from == "" && (opts.Resume || opts.Mode != train.StagePretrain) {
		from = opts.OutDir
	}
	tok, tokSource, err := modelTokenizer(opts.Tokenizer, from)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(opts.explicit, "vocab_size") {
		cfg.VocabSize = tok.VocabSize() // a new model's; train.Run checks a loaded one's
	}
	ds, err := openDataset(ctx, opts.DataPath, kind, tok, o.MaxSeqLen, o.Seed, opts.SkipBadLines, errOut)
	if err != nil {
		return nil, err
	}
	if ds.Len() == 0 {
		return nil, fmt.Errorf("%s: no training examples", strings.Join(opts.DataPath, ","))
	}
	var evalSet *train.EvalSet
	if len(opts.EvalData) > 0 {
		if opts.EvalInterval < 1 {
			return nil, fmt.Errorf("%w: --eval_interval %d: want at least 1", errUsage, opts.EvalInterval)
		}
		// No augmentation: every evaluation scores the same samples.
		enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: ds.MaxSeqLen()})
		if err != nil {
			return nil, err
		}
		eds, err := data.LoadJSONL(ctx, opts.EvalData, kind, enc, data.ReadOptions{})
		if err != nil {
			return nil, fmt.Errorf("--eval_data: %w", err)
		}
		if eds.Len() == 0 {
			return nil, fmt.Errorf("--eval_data %s: no examples", strings.Join(opts.EvalData, ","))
		}
		evalSet = &train.EvalSet{Data: eds, Enc: enc, Interval: opts.EvalInterval, BatchTokens: 8192}
	}
	// --device cuda: the GPU trains (device_resident.go), the host model on
	// the CPU backend keeps the weights that checkpoints and evaluations read.
	hostDevice, resident, closeResident, err := residentTraining(ctx, opts.Device, opts.Mode, comm, o.AdamW, errOut)
	if err != nil {
		return nil, err
	}
	defer closeResident()
	be, closeBackend, err := selectDevice(g, hostDevice, "auto")
	if err != nil {
		return nil, err
	}
	defer closeBackend()

	rc := train.Config{Device: resident,
		Stage: opts.Mode, Model: cfg, Options: o, Data: ds, Backend: be, Comm: comm, Workers: workerCount(g.threads),
		Explicit: opts.explicit, Tokenizer: tok, Eval: evalSet, DPO: opts.DPO, Distill: opts.Distill,
		OutDir: opts.OutDir, Init: opts.Init, Resume: opts.Resume, AllowChangedSchedule: opts.AllowChangedSchedule, SaveDType: string(dt),
		PlotTitle: func(c *model.Config) string { return fmt.Sprintf("MiniMind-Go %s — %s", opts.Mode, describeModel(c)) },
	}
	paths := rc.Paths()
	var bar *progressbar.ProgressBar
	moe := false // dense runs have no aux loss to print
	// Progress inside a long step, and Ctrl-C acknowledged at once (rank 0).
	tty := isTerminal(errOut)
	watch := newStepWatch(errOut, 30*time.Second)
	if rank0 {
		go watch.run(250 * time.Millisecond)
		defer watch.close()
		go func() {
			select {
			case <-ctx.Done():
				watch.interrupted()
			case <-watch.stop:
			}
		}()
		rc.OnMicro = func(m train.Micro) { watch.micro(m, time.Now()) }
		if !g.quiet && tty {
			rc.OnEval = func(done, total int) {
				watch.mu.Lock()
				defer watch.mu.Unlock()
				if watch.bar != nil {
					watch.bar.Describe(fmt.Sprintf("evaluating --eval_data: %d/%d samples", done, total))
				}
			}
		}
	}
	var eta etaClock
	eventsWarned := false
	rc.OnLog = func(msg string) { fmt.Fprintln(out, msg) }
	rc.OnStart = func(s train.Start) {
		// Report the resolved run (nanoGPT prints its config the same way).
		paths = rc.PathsFor(&s.Model)
		fmt.Fprintf(out, "%s: %s, %s parameters, from %s; tokenizer: %s (%d tokens)\n",
			opts.Mode, describeModel(&s.Model), humanCount(s.Params), s.Source, tokSource, tok.VocabSize())
		fmt.Fprintf(out, "data: %d examples of %d tokens from %s; %d epochs × %d steps = %d optimizer steps\n",
			ds.Len(), ds.MaxSeqLen()-1, strings.Join(opts.DataPath, ","), o.Epochs, s.StepsPerEpoch, s.TotalSteps)
		unit := "sequences"
		if opts.Mode == train.StageDPO {
			unit = "pairs (chosen + rejected)"
		}
		fmt.Fprintf(out, "batch: %d × %d accumulation × %d ranks = %d %s per step; lr %g (warmup %d, cosine to %g); %s\n",
			o.BatchSize, o.Accumulation, comm.Size(), o.BatchSize*o.Accumulation*comm.Size(), unit,
			o.LearningRate, o.WarmupIters, o.LearningRate/10, be.Name())
		moe = s.Model.UseMoE
		if events != nil {
			now := time.Now()
			if s.Step > 0 { // resumed: steps from here on replace the interrupted process's
				events.AddSessionStart(s.Step+1, now)
			}
			if opts.flags != nil {
				events.AddText(s.Step, now, "flags", tensorboard.FlagsMarkdown(opts.flags))
			}
			if err := events.Flush(); err != nil {
				eventsWarned = true
				fmt.Fprintf(errOut, "warning: %v (no more event files this run)\n", err)
			}
		}
		if !g.quiet && tty {
			bar = progressbar.NewOptions(s.TotalSteps,
				progressbar.OptionSetWriter(errOut),
				progressbar.OptionSetWidth(24),
				progressbar.OptionShowCount(),
				progressbar.OptionSetPredictTime(true),
				progressbar.OptionThrottle(250*time.Millisecond),
				progressbar.OptionClearOnFinish())
			_ = bar.Set(s.Step)
		}
		watch.setBar(bar)
	}
	rc.OnStep = func(s train.Step) {
		watch.stepDone()
		if bar != nil {
			bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f lr %.2e %.0f tok/s", s.Epoch+1, o.Epochs, s.Loss, s.LR, s.TokensPerS))
			_ = bar.Set(s.Step)
		}
		if s.Nonfinite != "" && !s.Stopped { // a stop is reported by the error
			if bar != nil {
				_ = bar.Clear()
			}
			fmt.Fprintf(out, "step %d/%d: non-finite %s (loss %g, grad_norm %g): update skipped (--skip_nonfinite %d)\n",
				s.Step, s.Total, s.Nonfinite, s.Loss, s.GradNorm, o.SkipNonfinite)
		}
		logStep := s.Step == 1 || s.Step%max(1, o.LogInterval) == 0 || s.Step == s.Total
		if events != nil {
			events.AddStep(s, time.Now())
			if s.EvalLoss != 0 {
				events.AddEvalLoss(s.Step, time.Now(), s.EvalLoss)
			}
			if logStep {
				if err := events.Flush(); err != nil && !eventsWarned {
					eventsWarned = true
					fmt.Fprintf(errOut, "warning: %v (no more event files this run)\n", err)
				}
			}
		}
		etaText := eta.observe(s.Step, s.Total, time.Now())
		if logStep {
			if bar != nil {
				_ = bar.Clear()
			}
			parts := ""
			if moe {
				parts = fmt.Sprintf(" (ce %.4f aux %.4f)", s.CE, s.Aux)
			}
			if opts.Mode == train.StageDPO {
				parts += dpoLogPart(s)
			}
			if opts.Mode == train.StageDistill {
				parts = distillLogPart(s, opts.Distill.Loss, moe)
			}
			fmt.Fprintf(out, "epoch %d/%d step %d/%d loss %.4f%s lr %.3e grad_norm %.3f %.0f tok/s eta %s\n",
				s.Epoch+1, o.Epochs, s.Step, s.Total, s.Loss, parts, s.LR, s.GradNorm, s.TokensPerS, etaText)
		}
		if s.EvalLoss != 0 {
			if bar != nil {
				_ = bar.Clear()
			}
			fmt.Fprintf(out, "eval step %d/%d: loss %.4f ppl %.2f on %s\n", s.Step, s.Total, s.EvalLoss, math.Exp(s.EvalLoss), strings.Join(opts.EvalData, ","))
		}
	}
	rc.OnSave = func(s train.Save) {
		if s.Reason == "interrupt" {
			if bar != nil {
				_ = bar.Clear()
			}
			fmt.Fprintf(out, "interrupted: saved step %d to %s (continue with --resume)\n", s.Step, paths.Resume)
		}
	}
	res, err := train.Run(ctx, rc)
	if err != nil { // isUsage (exitCode) tells which are usage errors
		return nil, err
	}
	if events != nil {
		if err := events.Close(); err != nil {
			return nil, err
		}
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if h := res.Steps; rank0 && len(h) > 0 {
		fmt.Fprintf(out, "done: %d steps, loss %.4f → %.4f, %.1f min\n", len(h), h[0].Loss, h[len(h)-1].Loss, res.Elapsed/60)
		fmt.Fprintf(out, "weights %s\nresume  %s\nmetrics %s\nplot    %s\n", res.Weights, res.Resume, res.Metrics, res.Plot)
		if events != nil {
			fmt.Fprintf(out, "events  %s\n", events.Path())
		}
	}
	return res, nil
}

// openEvents opens the event file of --tensorboard, or of --use_wandb in
// the stage's run directory under --out_dir (tensorboard.RunDir), and says
// where it goes; nil when neither flag is given.
func openEvents(opts TrainOptions, now time.Time, out io.Writer) (*tensorboard.Writer, error) {
	dir := opts.TensorBoard
	if dir == "" {
		if !opts.UseWandb {
			return nil, nil
		}
		var err error
		if dir, err = tensorboard.RunDir(opts.OutDir, opts.Mode, opts.Resume, now); err != nil {
			return nil, err
		}
	}
	w, err := tensorboard.Open(dir)
	if err != nil {
		return nil, err
	}
	if opts.UseWandb {
		project := opts.WandbProject
		if project == "" {
			project = wandbProject(opts.Mode)
		}
		for _, l := range tensorboard.WandbNotes(dir, project, os.Getenv, nil) {
			fmt.Fprintln(out, l)
		}
	} else {
		fmt.Fprintf(out, "tensorboard: event files in %s (view with: tensorboard --logdir %s)\n", dir, dir)
	}
	return w, nil
}

// workerCount resolves --threads (0 = all cores).
func workerCount(threads int) int {
	if threads > 0 {
		return threads
	}
	return runtime.GOMAXPROCS(0)
}

// etaClock estimates the time left from the steps this process has run
// since the end of its first one: the first step (warm-up, page faults)
// and a resumed run's earlier time would skew it, and a figure from one
// step is a guess, so it prints "…" until there are two.
type etaClock struct {
	t0 time.Time // end of this process's first step
	n0 int       // its step number
}

func (e *etaClock) observe(step, total int, now time.Time) string {
	if e.n0 == 0 {
		e.t0, e.n0 = now, step
		return "…"
	}
	if step <= e.n0 {
		return "…"
	}
	per := now.Sub(e.t0) / time.Duration(step-e.n0)
	return (time.Duration(total-step) * per).Round(time.Second).String()
}
