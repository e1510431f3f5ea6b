package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// TrainOptions are the flags of `minimind pretrain|sft|train`, named as the
// seed's (train_pretrain.py / train_full_sft.py / main.py).
type TrainOptions struct {
	Mode         string
	DataPath     []string
	OutDir       string
	Epochs       int
	BatchSize    int
	LearningRate float64
	MaxSeqLen    int
	Accumulation int
	GradClip     float64
	WarmupIters  int
	SaveInterval int
	LogInterval  int
	Seed         uint64
	Tokenizer    string
	Init         string
	Resume       bool
	Shuffle      bool
	SkipBadLines bool
	DDP          bool
	SaveDType    string
	Model        ModelFlags
	Device       DeviceFlags

	// Seed main.py aliases for --data_path by mode.
	pretrainData, sftData string
}

// AddFlags registers the training flags with the defaults of mode.
func (o *TrainOptions) AddFlags(f *pflag.FlagSet, mode string) {
	batch, lr := 32, 5e-4
	if mode == "sft" {
		batch, lr = 16, 5e-7
	}
	f.StringSliceVar(&o.DataPath, "data_path", nil, "training data: .jsonl/.jsonl.gz files (comma-separated or repeated) or a file made by `minimind data prepare`")
	f.StringVar(&o.OutDir, "out_dir", "./out", "where checkpoints, metrics.jsonl and loss.png go")
	f.IntVar(&o.Epochs, "epochs", 2, "passes over the data")
	f.IntVar(&o.BatchSize, "batch_size", batch, "sequences per micro-batch (per rank)")
	f.Float64Var(&o.LearningRate, "learning_rate", lr, "peak learning rate (warmup, then cosine to lr/10)")
	f.IntVar(&o.MaxSeqLen, "max_seq_len", 512, "tokens per sample (longer texts are cut, shorter padded)")
	f.IntVar(&o.Accumulation, "accumulation_steps", 1, "micro-batches per optimizer step")
	f.Float64Var(&o.GradClip, "grad_clip", 1.0, "clip the global gradient norm to this (0 = off)")
	f.IntVar(&o.WarmupIters, "warmup_iters", 0, "optimizer steps of linear warmup")
	f.IntVar(&o.SaveInterval, "save_interval", 500, "optimizer steps between checkpoints (also saved at each epoch end)")
	f.IntVar(&o.LogInterval, "log_interval", 100, "optimizer steps between log lines")
	f.Uint64Var(&o.Seed, "seed", 42, "seed for initialisation, shuffling and SFT augmentation")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder with one (default: the project's own)")
	f.StringVar(&o.Init, "init", "", "start from these weights (HF directory or .pth) instead of random / the pretrain checkpoint")
	f.BoolVar(&o.Resume, "resume", false, "continue from the resume state in --out_dir (exactly: same losses as an uninterrupted run)")
	f.BoolVar(&o.Shuffle, "shuffle", true, "shuffle each epoch (from --seed); --shuffle=false keeps file order")
	f.BoolVar(&o.SkipBadLines, "skip_bad_lines", false, "skip malformed JSONL lines (and count them) instead of stopping")
	f.BoolVar(&o.DDP, "ddp", false, "data-parallel training across processes started by mpirun or torchrun-style env vars")
	f.StringVar(&o.SaveDType, "save_dtype", "f16", "precision of the saved .pth weights: f16 (as MiniMind), bf16 or f32")
	o.Model.AddFlags(f)
	o.Device.AddFlags(f)
}

const trainExamples = `
Files written to --out_dir:
  pretrain_{hidden}[_moe].pth / full_sft_{hidden}[_moe].pth   fp16 state dict (torch.load reads it)
  ..._resume.safetensors   fp32 weights, AdamW moments, step and data position (--resume)
  metrics.jsonl            one JSON object per optimizer step
  loss.png                 the loss curve, redrawn at every save

Ctrl-C saves a resume point and exits with status 130; --resume continues
with exactly the losses an uninterrupted run would have had.`

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
			return runTrain(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags(), mode)
	return cmd
}

// newTrainCommand is the seed's main.py: --mode picks pretrain or sft.
func newTrainCommand(g *globalOptions) *cobra.Command {
	var opts TrainOptions
	cmd := &cobra.Command{
		Use:   "train --mode pretrain|sft --data_path FILE [flags]",
		Short: "Pretrain or fine-tune, as the seed's main.py --mode",
		Long: `The seed's unified entry point: --mode pretrain or --mode sft, with the same
flags as 'minimind pretrain' and 'minimind sft' (defaults: the pretrain ones;
--learning_rate and --batch_size change to 5e-7 and 16 for sft unless given).
--pretrain_data_path and --sft_data_path are accepted as in main.py.

Examples:
  minimind train --mode pretrain --pretrain_data_path ./dataset/pretrain_hq.jsonl
  minimind train --mode sft --sft_data_path ./dataset/sft_data.jsonl` + trainExamples,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f := cmd.Flags()
			if opts.Mode == "sft" {
				if !f.Changed("learning_rate") {
					opts.LearningRate = 5e-7
				}
				if !f.Changed("batch_size") {
					opts.BatchSize = 16
				}
			}
			if len(opts.DataPath) == 0 {
				if opts.Mode == "sft" && opts.sftData != "" {
					opts.DataPath = []string{opts.sftData}
				} else if opts.Mode == "pretrain" && opts.pretrainData != "" {
					opts.DataPath = []string{opts.pretrainData}
				}
			}
			return runTrain(cmd.Context(), opts, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags(), "pretrain")
	cmd.Flags().StringVar(&opts.Mode, "mode", "pretrain", "pretrain or sft")
	cmd.Flags().StringVar(&opts.pretrainData, "pretrain_data_path", "", "data for --mode pretrain (main.py's name)")
	cmd.Flags().StringVar(&opts.sftData, "sft_data_path", "", "data for --mode sft (main.py's name)")
	return cmd
}

// weightName is the seed's checkpoint stem: pretrain_512, full_sft_512_moe.
func weightName(mode string, c *model.Config) string {
	w := "pretrain"
	if mode == "sft" {
		w = "full_sft"
	}
	s := fmt.Sprintf("%s_%d", w, c.HiddenSize)
	if c.UseMoE {
		s += "_moe"
	}
	return s
}

// openDataset opens prepared files directly and tokenizes JSONL on the fly.
func openDataset(ctx context.Context, paths []string, kind data.Kind, tok *tokenizer.Tokenizer, maxSeqLen int, seed uint64, skip bool, errOut io.Writer) (data.Dataset, error) {
	if len(paths) == 1 && !isJSONL(paths[0]) {
		d, err := data.OpenPrepared(paths[0])
		if err != nil {
			return nil, err
		}
		h := d.Header()
		if h.Kind != kind {
			return nil, fmt.Errorf("%s holds %v data, this command needs %v", paths[0], h.Kind, kind)
		}
		if h.VocabSize != tok.VocabSize() {
			return nil, fmt.Errorf("%s was prepared with a %d-token vocabulary; the tokenizer has %d", paths[0], h.VocabSize, tok.VocabSize())
		}
		if h.MaxSeqLen != maxSeqLen {
			fmt.Fprintf(errOut, "note: %s was prepared with max_seq_len %d; using it\n", paths[0], h.MaxSeqLen)
		}
		return d, nil
	}
	opts := data.DefaultEncodeOptions(maxSeqLen)
	opts.Seed = seed
	enc, err := data.NewEncoder(tok, opts)
	if err != nil {
		return nil, err
	}
	ds, err := data.LoadJSONL(ctx, paths, kind, enc, data.ReadOptions{SkipBadLines: skip})
	if err != nil {
		return nil, err
	}
	if n := ds.Skipped(); n > 0 {
		fmt.Fprintf(errOut, "skipped %d malformed lines (--skip_bad_lines)\n", n)
	}
	return ds, nil
}

func isJSONL(p string) bool {
	p = strings.ToLower(p)
	return strings.HasSuffix(p, ".jsonl") || strings.HasSuffix(p, ".jsonl.gz") || strings.HasSuffix(p, ".json")
}

func runTrain(ctx context.Context, opts TrainOptions, g *globalOptions, out, errOut io.Writer) (err error) {
	kind := data.KindPretrain
	switch opts.Mode {
	case "pretrain":
	case "sft":
		kind = data.KindSFT
	default:
		return fmt.Errorf("%w: --mode %q: want pretrain or sft", errUsage, opts.Mode)
	}
	if len(opts.DataPath) == 0 {
		return fmt.Errorf("%w: --data_path is required", errUsage)
	}
	if opts.BatchSize <= 0 || opts.Epochs <= 0 || opts.MaxSeqLen < 2 || opts.Accumulation <= 0 || opts.LearningRate < 0 {
		return fmt.Errorf("%w: --batch_size, --epochs, --accumulation_steps must be positive, --max_seq_len at least 2", errUsage)
	}
	dt, err := parseDType(opts.SaveDType)
	if err != nil {
		return err
	}
	cfg, err := opts.Model.Config()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(opts.OutDir, 0o755); err != nil {
		return err
	}
	comm, err := initComm(ctx, opts.DDP)
	if err != nil {
		return err
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
	logf := func(format string, a ...any) {
		if rank0 {
			fmt.Fprintf(out, format, a...)
		}
	}

	tok, err := loadTokenizer(opts.Tokenizer)
	if err != nil {
		return err
	}
	if tok.VocabSize() != cfg.VocabSize {
		return fmt.Errorf("%w: the tokenizer has %d tokens but --vocab_size is %d", errUsage, tok.VocabSize(), cfg.VocabSize)
	}

	// Weights: resume state > --init > (sft) pretrain checkpoint > random.
	stem := weightName(opts.Mode, &cfg)
	resumePath := filepath.Join(opts.OutDir, stem+"_resume.safetensors")
	var resume *train.ResumeState
	if opts.Resume {
		resume, err = train.LoadResume(resumePath)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			logf("no resume state at %s: starting fresh\n", resumePath)
		case err != nil:
			return err
		default:
			cfg = resume.Config
		}
	}
	var params *model.Params
	source := "random init (seed " + fmt.Sprint(opts.Seed) + ")"
	switch {
	case resume != nil:
		params, err = model.NewParams(cfg)
		source = fmt.Sprintf("%s (step %d)", resumePath, resume.Step)
	case opts.Init != "":
		params, err = checkpoint.Load(opts.Init, cfg)
		source = opts.Init
	default:
		pre := filepath.Join(opts.OutDir, weightName("pretrain", &cfg)+".pth")
		if _, serr := os.Stat(pre); serr == nil && opts.Mode == "sft" {
			params, err = checkpoint.Load(pre, cfg)
			source = pre
		} else {
			if opts.Mode == "sft" {
				logf("warning: %s not found; fine-tuning a randomly initialised model\n", pre)
			}
			if params, err = model.NewParams(cfg); err == nil {
				params.Init(opts.Seed)
			}
		}
	}
	if err != nil {
		return err
	}
	cfg = params.Config
	if comm.Size() > 1 && resume == nil {
		// Identical initial weights on every rank: rank 0's.
		if err := comm.Broadcast(ctx, params.Data, 0); err != nil {
			return fmt.Errorf("broadcast initial weights: %w", err)
		}
	}

	ds, err := openDataset(ctx, opts.DataPath, kind, tok, opts.MaxSeqLen, opts.Seed, opts.SkipBadLines, errOut)
	if err != nil {
		return err
	}
	if ds.Len() == 0 {
		return fmt.Errorf("%s: no training examples", strings.Join(opts.DataPath, ","))
	}
	loader, err := data.NewLoader(ds, data.LoaderOptions{
		BatchSize: opts.BatchSize, Seed: opts.Seed, Shuffle: opts.Shuffle,
		Rank: comm.Rank(), World: comm.Size(), Workers: workerCount(g.threads),
	})
	if err != nil {
		return err
	}
	be, closeBackend, err := selectDevice(g, opts.Device, "auto")
	if err != nil {
		return err
	}
	defer closeBackend()
	m := model.New(params, be)
	to := train.DefaultOptions()
	to.Epochs, to.Accumulation, to.LearningRate = opts.Epochs, opts.Accumulation, opts.LearningRate
	to.WarmupIters, to.GradClip, to.SaveInterval, to.LogInterval = opts.WarmupIters, opts.GradClip, opts.SaveInterval, opts.LogInterval
	tr := &train.Trainer{Model: m, Loader: loader, Opt: train.NewAdamW(params, to.AdamW), Options: to}
	if comm.Size() > 1 {
		tr.Comm = comm
	}
	if resume != nil {
		if err := tr.Restore(resume, 0); err != nil {
			return err
		}
	}

	// Report the resolved run (nanoGPT prints its config the same way).
	T := ds.MaxSeqLen() - 1
	logf("%s: %s, %s parameters, from %s\n", opts.Mode, describeModel(&cfg), humanCount(len(params.Data)), source)
	logf("data: %d examples of %d tokens from %s; %d epochs × %d steps = %d optimizer steps\n",
		ds.Len(), T, strings.Join(opts.DataPath, ","), opts.Epochs, tr.StepsPerEpoch(), tr.TotalSteps())
	logf("batch: %d × %d accumulation × %d ranks = %d sequences per step; lr %g (warmup %d, cosine to %g); %s\n",
		opts.BatchSize, opts.Accumulation, comm.Size(), opts.BatchSize*opts.Accumulation*comm.Size(),
		opts.LearningRate, opts.WarmupIters, opts.LearningRate/10, be.Name())

	metricsPath := filepath.Join(opts.OutDir, "metrics.jsonl")
	plotPath := filepath.Join(opts.OutDir, "loss.png")
	weightsPath := filepath.Join(opts.OutDir, stem+".pth")
	var rec *train.Recorder
	if rank0 {
		keep := 0
		if resume != nil {
			keep = resume.Step
		}
		if rec, err = train.OpenRecorder(metricsPath, opts.Mode, keep); err != nil {
			return err
		}
		defer rec.Close()
	}
	var bar *progressbar.ProgressBar
	if rank0 && !g.quiet {
		bar = progressbar.NewOptions(tr.TotalSteps(),
			progressbar.OptionSetWriter(errOut),
			progressbar.OptionSetWidth(24),
			progressbar.OptionShowCount(),
			progressbar.OptionSetPredictTime(true),
			progressbar.OptionThrottle(250*time.Millisecond),
			progressbar.OptionClearOnFinish())
		_ = bar.Set(tr.Step)
	}
	tr.OnStep = func(s train.Step) {
		if !rank0 {
			return
		}
		_ = rec.Add(s)
		if bar != nil {
			bar.Describe(fmt.Sprintf("epoch %d/%d loss %.4f lr %.2e %.0f tok/s", s.Epoch+1, opts.Epochs, s.Loss, s.LR, s.TokensPerS))
			_ = bar.Set(s.Step)
		}
		if s.Step == 1 || s.Step%max(1, opts.LogInterval) == 0 || s.Step == s.Total {
			if bar != nil {
				_ = bar.Clear()
			}
			eta := time.Duration(float64(s.Total-s.Step) * s.ElapsedS / float64(max(1, s.Step-initialStep(resume))) * float64(time.Second)).Round(time.Second)
			fmt.Fprintf(out, "epoch %d/%d step %d/%d loss %.4f (ce %.4f aux %.4f) lr %.3e grad_norm %.3f %.0f tok/s eta %s\n",
				s.Epoch+1, opts.Epochs, s.Step, s.Total, s.Loss, s.CE, s.Aux, s.LR, s.GradNorm, s.TokensPerS, eta)
		}
	}
	tr.OnSave = func(_ context.Context, reason string, st *train.ResumeState) error {
		if !rank0 {
			return nil
		}
		if err := checkpoint.SavePth(weightsPath, params, string(dt)); err != nil {
			return err
		}
		if err := train.SaveResume(resumePath, st); err != nil {
			return err
		}
		if err := rec.Plot(plotPath, fmt.Sprintf("MiniMind-Go %s — %s", opts.Mode, describeModel(&cfg))); err != nil {
			return err
		}
		if reason == "interrupt" {
			if bar != nil {
				_ = bar.Clear()
			}
			fmt.Fprintf(out, "interrupted: saved step %d to %s (continue with --resume)\n", st.Step, resumePath)
		}
		return nil
	}
	if err := tr.Run(ctx); err != nil {
		return err
	}
	if bar != nil {
		_ = bar.Finish()
	}
	if !rank0 {
		return nil
	}
	if h := rec.History(); len(h) > 0 {
		logf("done: %d steps, loss %.4f → %.4f, %.1f min\n", len(h), h[0].Loss, h[len(h)-1].Loss, tr.Elapsed()/60)
		logf("weights %s\nresume  %s\nmetrics %s\nplot    %s\n", weightsPath, resumePath, metricsPath, plotPath)
	}
	return nil
}

func initialStep(r *train.ResumeState) int {
	if r == nil {
		return 0
	}
	return r.Step
}

// workerCount resolves --threads (0 = all cores).
func workerCount(threads int) int {
	if threads > 0 {
		return threads
	}
	return runtime.GOMAXPROCS(0)
}
