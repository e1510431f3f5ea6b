package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/dashboard"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/quickstart"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
)

// QuickstartOptions are the flags of `minimind quickstart`.
type QuickstartOptions struct {
	OutDir     string
	Hidden     int
	Layers     int
	SeqLen     int
	SFTSeqLen  int
	BatchSize  int
	PreEpochs  int
	SFTEpochs  int
	PretrainLR float64
	SFTLR      float64
	Full       bool // --full: the longer run; see applyFull

	// Experiment tracking, as the training commands' flags of the same
	// names: one page for the whole quickstart, event files per stage.
	TensorBoard string
	UseWandb    bool
	Dashboard   string
	flags       map[string]string // logged in the event files
}

func newQuickstartCommand(g *globalOptions) *cobra.Command {
	var o QuickstartOptions
	cmd := &cobra.Command{
		Use:   "quickstart [--out_dir ./out/quickstart]",
		Short: "Pretrain and fine-tune a small MiniMind on the bundled sample, in about a minute",
		Long: `The whole MiniMind path on the data this binary carries (a few MB of the
project's Chinese poetry, English prose and SFT conversations, licences kept):

  1. show what a randomly initialised model writes,
  2. pretrain a small MiniMind (hidden 128, 4 layers) on the text,
  3. show its continuations,
  4. fine-tune it on conversations (SFT) and show its chat replies,
  5. say where the checkpoints, metrics and loss plots are.

Every sample it writes also goes to --out_dir/samples.jsonl, so that
--dashboard 127.0.0.1:6006 (or 'minimind dashboard --out_dir DIR' later)
shows them beside the loss curves.

It takes about a minute on 2 CPU cores. --full trains a bigger model
(hidden 256) on longer samples, for better samples, in about 7 minutes.
The same steps at full size are 'minimind pretrain' and 'minimind sft'.

Examples:
  minimind quickstart
  minimind quickstart --full
  minimind quickstart --out_dir /tmp/qs --hidden_size 64 --num_hidden_layers 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.Full {
				o.applyFull(cmd.Flags().Changed)
			}
			o.flags = flagValues(cmd.Flags())
			return runQuickstart(cmd.Context(), o, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.OutDir, "out_dir", "./out/quickstart", "where data, checkpoints, metrics and plots go")
	// The defaults take about 150 s of CPU time (2-core Xeon, AVX-512)
	// and still show learning: pretraining loss 8.9 → 6.0, SFT 7.6 → 3.9,
	// replies in the data's form. applyFull is the longer run of --full.
	f.BoolVar(&o.Full, "full", false, "the longer run (about 7 minutes on 2 cores): hidden 256, 256-token samples; flags given explicitly still win")
	f.IntVar(&o.Hidden, "hidden_size", 128, "model width (--full: 256)")
	f.IntVar(&o.Layers, "num_hidden_layers", 4, "decoder blocks")
	f.IntVar(&o.SeqLen, "max_seq_len", 128, "tokens per pretraining sample (--full: 256)")
	f.IntVar(&o.SFTSeqLen, "sft_max_seq_len", 96, "tokens per SFT sample: most bundled conversations are short (--full: 128)")
	f.IntVar(&o.BatchSize, "batch_size", 16, "sequences per step")
	f.IntVar(&o.PreEpochs, "pretrain_epochs", 2, "passes over the pretraining text")
	f.IntVar(&o.SFTEpochs, "sft_epochs", 1, "passes over the conversations")
	f.Float64Var(&o.PretrainLR, "pretrain_lr", 4e-3, "pretraining learning rate, higher than MiniMind's 5e-4 because the run is short (--full: 2e-3)")
	f.Float64Var(&o.SFTLR, "sft_lr", 1e-3, "SFT learning rate; MiniMind's 5e-7 is for long runs of a well-trained model (--full: 5e-4)")
	f.StringVar(&o.TensorBoard, "tensorboard", "", "write TensorBoard event files to `DIR`/pretrain and DIR/sft (default with --use_wandb: {out_dir}/runs/{stage}-{time})")
	f.BoolVar(&o.UseWandb, "use_wandb", false, "write TensorBoard event files and print the 'wandb sync --sync-tensorboard' commands that upload them")
	f.StringVar(&o.Dashboard, "dashboard", "", "serve a live page of the run (curves and samples) on `HOST:PORT`, e.g. 127.0.0.1:6006, until it ends")
	return cmd
}

// applyFull sets --full's values, the quickstart as it was before the
// 2-minute default (6.5 minutes on an idle 2-core machine), for the flags
// not given explicitly.
func (o *QuickstartOptions) applyFull(changed func(name string) bool) {
	set := func(name string, f func()) {
		if !changed(name) {
			f()
		}
	}
	set("hidden_size", func() { o.Hidden = 256 })
	set("max_seq_len", func() { o.SeqLen = 256 })
	set("sft_max_seq_len", func() { o.SFTSeqLen = 128 })
	set("pretrain_lr", func() { o.PretrainLR = 2e-3 })
	set("sft_lr", func() { o.SFTLR = 5e-4 })
}

var quickstartPrompts = []string{"床前明月光，", "春眠不觉晓，", "The President said that"}
var quickstartQuestions = []string{"请背诵《静夜思》。", "What does the word \"river\" mean?"}

func runQuickstart(ctx context.Context, o QuickstartOptions, g *globalOptions, out, errOut io.Writer) error {
	start := time.Now()
	if o.Dashboard != "" { // before anything slow, so that a taken port fails at once
		d, err := dashboard.Start(ctx, o.Dashboard, o.OutDir)
		if errors.Is(err, dashboard.ErrBadAddr) {
			return fmt.Errorf("%w: --dashboard: %v", errUsage, err)
		}
		if err != nil {
			return err
		}
		defer d.Stop()
		if d.Note != "" {
			fmt.Fprintln(errOut, d.Note)
		}
		fmt.Fprintf(errOut, "dashboard: %s (stops when the quickstart ends; 'minimind dashboard --out_dir %s' serves it afterwards)\n", d.URL, o.OutDir)
	}
	dataDir := filepath.Join(o.OutDir, "data")
	if err := quickstart.Extract(dataDir); err != nil {
		return err
	}
	// This run's samples only: an earlier quickstart's would show as new.
	if err := os.Remove(filepath.Join(o.OutDir, dashboard.SamplesFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	tok, err := tokenizer.Default()
	if err != nil {
		return err
	}
	mf := ModelFlags{}
	d := model.DefaultConfig()
	mf.HiddenSize, mf.NumHiddenLayers = o.Hidden, o.Layers
	mf.NumAttentionHeads, mf.NumKeyValueHeads = d.NumAttentionHeads, d.NumKeyValueHeads
	mf.IntermediateSize = 3 * o.Hidden // the seed's 3×hidden rule (1536 at 512)
	mf.VocabSize, mf.MaxPositions = tok.VocabSize(), d.MaxPositionEmbeddings
	cfg, err := mf.Config()
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "MiniMind-Go quickstart: data in %s (bundled sample, licences in %s/licenses)\n\n", dataDir, dataDir)

	be, err := newBackend(g, "auto")
	if err != nil {
		return err
	}
	defer be.Close()
	p, err := model.NewParams(cfg)
	if err != nil {
		return err
	}
	p.Init(42)
	fmt.Fprintln(out, "== 1. a randomly initialised model writes:")
	if err := showContinuations(ctx, out, model.New(p, be), tok, o.OutDir, train.StagePretrain, 0); err != nil {
		return err
	}

	base := TrainOptions{OutDir: o.OutDir, Train: train.DefaultOptions(), SaveDType: "f16", Model: mf,
		UseWandb: o.UseWandb, flags: o.flags}
	base.Train.BatchSize, base.Train.SaveInterval, base.Train.LogInterval = o.BatchSize, 0, 20
	pre := base
	pre.Mode, pre.DataPath = train.StagePretrain, []string{filepath.Join(dataDir, quickstart.Pretrain)}
	pre.Train.MaxSeqLen, pre.Train.Epochs, pre.Train.LearningRate, pre.Train.WarmupIters = o.SeqLen, o.PreEpochs, o.PretrainLR, 10
	if o.TensorBoard != "" {
		pre.TensorBoard = filepath.Join(o.TensorBoard, train.StagePretrain)
	}
	fmt.Fprintln(out, "\n== 2. pretraining")
	preRes, prePlot, err := quickstartStage(ctx, pre, cfg, g, out, errOut)
	if err != nil {
		return err
	}
	preLoss := firstLast(preRes.Steps)
	prePath := preRes.Weights
	pm, err := checkpoint.Load(prePath, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 3. after pretraining, the model continues:")
	if err := showContinuations(ctx, out, model.New(pm, be), tok, o.OutDir, train.StagePretrain, lastStep(preRes.Steps)); err != nil {
		return err
	}

	sft := base
	sft.Mode, sft.DataPath = train.StageSFT, []string{filepath.Join(dataDir, quickstart.SFT)}
	sft.Train.MaxSeqLen, sft.Train.Epochs, sft.Train.LearningRate, sft.Train.WarmupIters = o.SFTSeqLen, o.SFTEpochs, o.SFTLR, 5
	if o.TensorBoard != "" {
		sft.TensorBoard = filepath.Join(o.TensorBoard, train.StageSFT)
	}
	fmt.Fprintln(out, "\n== 4. supervised fine-tuning (starts from the pretrained weights)")
	sftRes, sftPlot, err := quickstartStage(ctx, sft, cfg, g, out, errOut)
	if err != nil {
		return err
	}
	sftLoss := firstLast(sftRes.Steps)
	sftPath := sftRes.Weights
	sm, err := checkpoint.Load(sftPath, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 5. after SFT, it answers:")
	if err := showChat(ctx, out, model.New(sm, be), tok, o.OutDir, train.StageSFT, lastStep(sftRes.Steps)); err != nil {
		return err
	}

	fmt.Fprintf(out, "\n== done in %s\n", time.Since(start).Round(time.Second))
	fmt.Fprintf(out, "pretrain loss %.3f → %.3f   (%s, plot %s)\n", preLoss[0], preLoss[1], prePath, prePlot)
	fmt.Fprintf(out, "sft loss      %.3f → %.3f   (%s, plot %s)\n", sftLoss[0], sftLoss[1], sftPath, sftPlot)
	fmt.Fprintf(out, "metrics       %s (samples %s)\n", filepath.Join(o.OutDir, "metrics.jsonl"), filepath.Join(o.OutDir, dashboard.SamplesFile))
	fmt.Fprintf(out, "next: minimind chat --model %s   (or minimind serve --model %s)\n", sftPath, sftPath)
	return nil
}

// firstLast returns the first and last loss of a stage's steps.
func firstLast(steps []train.Step) [2]float64 {
	if len(steps) == 0 {
		return [2]float64{}
	}
	return [2]float64{steps[0].Loss, steps[len(steps)-1].Loss}
}

// lastStep is the step a stage ended at (0 when it made none).
func lastStep(steps []train.Step) int {
	if len(steps) == 0 {
		return 0
	}
	return steps[len(steps)-1].Step
}

// quickstartStage trains one stage and keeps its loss plot as
// <stage>_loss.png, which it returns. Training names every stage's plot
// loss.png, which the next stage would overwrite, so the lines the stage
// prints name the file the plot is moved to: the summary then names the
// same files as the stage did.
func quickstartStage(ctx context.Context, opts TrainOptions, cfg model.Config, g *globalOptions, out, errOut io.Writer) (*train.Result, string, error) {
	rc := train.Config{Stage: opts.Mode, OutDir: opts.OutDir, Model: cfg}
	kept := filepath.Join(opts.OutDir, opts.Mode+"_loss.png")
	res, err := trainStage(ctx, opts, g, renameWriter{w: out, old: rc.Paths().Plot, new: kept}, errOut)
	if err != nil {
		return nil, "", err
	}
	if err := os.Rename(res.Plot, kept); err != nil {
		return nil, "", err
	}
	return res, kept, nil
}

// renameWriter writes to w with every old replaced by new. Each of
// trainStage's writes is one whole line, so a path is never split.
type renameWriter struct {
	w        io.Writer
	old, new string
}

func (r renameWriter) Write(b []byte) (int, error) {
	if _, err := io.WriteString(r.w, strings.ReplaceAll(string(b), r.old, r.new)); err != nil {
		return 0, err
	}
	return len(b), nil
}

// sampleReplies decodes every prompt at once (one batched engine), greedily
// with MiniMind's repetition penalty so that small models do not loop.
func sampleReplies(ctx context.Context, m *model.Model, tok *tokenizer.Tokenizer, prompts [][]int32, n int) []string {
	eng, err := generate.NewEngine(m, tok, generate.EngineOptions{Slots: len(prompts), Window: 512})
	if err != nil {
		return []string{err.Error()}
	}
	opt := generate.DefaultOptions()
	opt.Temperature, opt.RepetitionPenalty, opt.MaxNewTokens = 0, 1.3, n
	reqs := make([]generate.Request, len(prompts))
	for i, p := range prompts {
		reqs[i] = generate.Request{Prompt: p, Options: opt}
	}
	res, err := eng.Generate(ctx, reqs, nil)
	out := make([]string, len(prompts))
	for i := range out {
		if err != nil {
			out[i] = "error: " + err.Error()
		} else {
			out[i] = res[i].Text
		}
	}
	return out
}

// showContinuations prints the model's continuation of each prompt and
// adds them to outDir's samples.jsonl as samples of stage at step.
func showContinuations(ctx context.Context, out io.Writer, m *model.Model, tok *tokenizer.Tokenizer, outDir, stage string, step int) error {
	var prompts [][]int32
	for _, p := range quickstartPrompts {
		prompts = append(prompts, generate.TextPrompt(tok, int32(m.Config.BosTokenID), p))
	}
	for i, r := range sampleReplies(ctx, m, tok, prompts, 40) {
		fmt.Fprintf(out, "  %s|%s\n", quickstartPrompts[i], oneLine(r))
		if err := dashboard.AppendSample(outDir, dashboard.Sample{Stage: stage, Step: step, Prompt: quickstartPrompts[i], Text: r}); err != nil {
			return err
		}
	}
	return nil
}

// showChat prints the model's reply to each question and adds them to
// outDir's samples.jsonl, as showContinuations.
func showChat(ctx context.Context, out io.Writer, m *model.Model, tok *tokenizer.Tokenizer, outDir, stage string, step int) error {
	var prompts [][]int32
	for _, q := range quickstartQuestions {
		ids, err := generate.ChatPrompt(chat.ChatML(), tok, []chat.Message{{Role: "user", Content: q}}, chat.Options{AddGenerationPrompt: true})
		if err != nil {
			fmt.Fprintf(out, "  %s -> error: %v\n", q, err)
			return nil
		}
		prompts = append(prompts, ids)
	}
	for i, r := range sampleReplies(ctx, m, tok, prompts, 60) {
		fmt.Fprintf(out, "  user: %s\n  assistant: %s\n", quickstartQuestions[i], oneLine(r))
		if err := dashboard.AppendSample(outDir, dashboard.Sample{Stage: stage, Step: step, Prompt: quickstartQuestions[i], Text: r}); err != nil {
			return err
		}
	}
	return nil
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "⏎") }
