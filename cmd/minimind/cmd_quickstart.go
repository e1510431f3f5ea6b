package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/quickstart"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/spf13/cobra"
)

// QuickstartOptions are the flags of `minimind quickstart`.
type QuickstartOptions struct {
	OutDir     string
	Hidden     int
	Layers     int
	SeqLen     int
	BatchSize  int
	Epochs     int
	PretrainLR float64
	SFTLR      float64
}

func newQuickstartCommand(g *globalOptions) *cobra.Command {
	var o QuickstartOptions
	cmd := &cobra.Command{
		Use:   "quickstart [--out_dir ./out/quickstart]",
		Short: "Pretrain and fine-tune a small MiniMind on the bundled sample, in a few minutes",
		Long: `The whole MiniMind path on the data this binary carries (a few MB of the
project's Chinese poetry, English prose and SFT conversations, licences kept):

  1. show what a randomly initialised model writes,
  2. pretrain a small MiniMind (hidden 256, 4 layers) on the text,
  3. show its continuations,
  4. fine-tune it on conversations (SFT) and show its chat replies,
  5. say where the checkpoints, metrics and loss plots are.

It takes a few minutes on 2 CPU cores. The same steps at full size are
'minimind pretrain' and 'minimind sft'.

Examples:
  minimind quickstart
  minimind quickstart --out_dir /tmp/qs --hidden_size 128 --num_hidden_layers 2`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runQuickstart(cmd.Context(), o, g, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.OutDir, "out_dir", "./out/quickstart", "where data, checkpoints, metrics and plots go")
	f.IntVar(&o.Hidden, "hidden_size", 256, "model width")
	f.IntVar(&o.Layers, "num_hidden_layers", 4, "decoder blocks")
	f.IntVar(&o.SeqLen, "max_seq_len", 256, "tokens per sample")
	f.IntVar(&o.BatchSize, "batch_size", 16, "sequences per step")
	f.IntVar(&o.Epochs, "epochs", 1, "passes over each data set")
	f.Float64Var(&o.PretrainLR, "pretrain_lr", 2e-3, "pretraining learning rate (higher than MiniMind's 5e-4: the run is short)")
	f.Float64Var(&o.SFTLR, "sft_lr", 5e-4, "SFT learning rate (MiniMind's 5e-7 is for long runs of a well-trained model)")
	return cmd
}

var quickstartPrompts = []string{"床前明月光，", "春眠不觉晓，", "The President said that"}
var quickstartQuestions = []string{"请背诵《静夜思》。", "What does the word \"river\" mean?"}

func runQuickstart(ctx context.Context, o QuickstartOptions, g *globalOptions, out, errOut io.Writer) error {
	start := time.Now()
	dataDir := filepath.Join(o.OutDir, "data")
	if err := quickstart.Extract(dataDir); err != nil {
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
	showContinuations(out, model.New(p, be), tok)

	base := TrainOptions{
		OutDir: o.OutDir, Epochs: o.Epochs, BatchSize: o.BatchSize, MaxSeqLen: o.SeqLen,
		Accumulation: 1, GradClip: 1, SaveInterval: 0, LogInterval: 20, Seed: 42, Shuffle: true,
		SaveDType: "f16", Model: mf,
	}
	pre := base
	pre.Mode, pre.DataPath, pre.LearningRate, pre.WarmupIters = "pretrain", []string{filepath.Join(dataDir, quickstart.Pretrain)}, o.PretrainLR, 10
	fmt.Fprintln(out, "\n== 2. pretraining")
	if err := runTrain(ctx, pre, g, out, errOut); err != nil {
		return err
	}
	preLoss, err := stageLosses(filepath.Join(o.OutDir, "metrics.jsonl"), "pretrain")
	if err != nil {
		return err
	}
	if err := copyFile(filepath.Join(o.OutDir, "loss.png"), filepath.Join(o.OutDir, "pretrain_loss.png")); err != nil {
		return err
	}
	prePath := filepath.Join(o.OutDir, weightName("pretrain", &cfg)+".pth")
	pm, err := checkpoint.Load(prePath, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 3. after pretraining, the model continues:")
	showContinuations(out, model.New(pm, be), tok)

	sft := base
	sft.Mode, sft.DataPath, sft.LearningRate, sft.WarmupIters = "sft", []string{filepath.Join(dataDir, quickstart.SFT)}, o.SFTLR, 5
	fmt.Fprintln(out, "\n== 4. supervised fine-tuning (starts from the pretrained weights)")
	if err := runTrain(ctx, sft, g, out, errOut); err != nil {
		return err
	}
	sftLoss, err := stageLosses(filepath.Join(o.OutDir, "metrics.jsonl"), "sft")
	if err != nil {
		return err
	}
	if err := copyFile(filepath.Join(o.OutDir, "loss.png"), filepath.Join(o.OutDir, "sft_loss.png")); err != nil {
		return err
	}
	sftPath := filepath.Join(o.OutDir, weightName("sft", &cfg)+".pth")
	sm, err := checkpoint.Load(sftPath, cfg)
	if err != nil {
		return err
	}
	fmt.Fprintln(out, "\n== 5. after SFT, it answers:")
	showChat(out, model.New(sm, be), tok)

	fmt.Fprintf(out, "\n== done in %s\n", time.Since(start).Round(time.Second))
	fmt.Fprintf(out, "pretrain loss %.3f → %.3f   (%s, plot %s)\n", preLoss[0], preLoss[1], prePath, filepath.Join(o.OutDir, "pretrain_loss.png"))
	fmt.Fprintf(out, "sft loss      %.3f → %.3f   (%s, plot %s)\n", sftLoss[0], sftLoss[1], sftPath, filepath.Join(o.OutDir, "sft_loss.png"))
	fmt.Fprintf(out, "metrics       %s\n", filepath.Join(o.OutDir, "metrics.jsonl"))
	fmt.Fprintf(out, "next: minimind chat --model %s   (or minimind serve --model %s)\n", sftPath, sftPath)
	return nil
}

// stageLosses returns the first and last loss of stage in metrics.jsonl.
func stageLosses(path, stage string) ([2]float64, error) {
	var r [2]float64
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	first := true
	for _, line := range strings.Split(string(b), "\n") {
		var s struct {
			Stage string  `json:"stage"`
			Loss  float64 `json:"loss"`
		}
		if line == "" || json.Unmarshal([]byte(line), &s) != nil || s.Stage != stage {
			continue
		}
		if first {
			r[0], first = s.Loss, false
		}
		r[1] = s.Loss
	}
	return r, nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// greedy continues ids for up to n tokens with the KV cache, penalising
// repeats as MiniMind's eval does (repetition_penalty), and stops at eos.
func greedy(m *model.Model, ids []int32, n int, eos int32) []int32 {
	kv, err := m.NewKVCache(1, len(ids)+n)
	if err != nil {
		return nil
	}
	logits, err := m.Forward(kv, ids, len(ids), nil, 1)
	seen := map[int32]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	var outIDs []int32
	for i := 0; i < n && err == nil; i++ {
		best := int32(0)
		bv := float32(-1e30)
		for j, v := range logits {
			if seen[int32(j)] {
				if v > 0 {
					v /= 1.3
				} else {
					v *= 1.3
				}
			}
			if v > bv {
				best, bv = int32(j), v
			}
		}
		if best == eos {
			break
		}
		outIDs = append(outIDs, best)
		seen[best] = true
		logits, err = m.Forward(kv, []int32{best}, 1, nil, 1)
	}
	return outIDs
}

func showContinuations(out io.Writer, m *model.Model, tok *tokenizer.Tokenizer) {
	for _, p := range quickstartPrompts {
		ids := append([]int32{int32(m.Config.BosTokenID)}, tok.Encode(p)...)
		gen := greedy(m, ids, 40, int32(m.Config.EosTokenID))
		fmt.Fprintf(out, "  %s|%s\n", p, oneLine(tok.DecodeSkipSpecial(gen)))
	}
}

func showChat(out io.Writer, m *model.Model, tok *tokenizer.Tokenizer) {
	for _, q := range quickstartQuestions {
		prompt, err := chat.ChatML().Render([]chat.Message{{Role: "user", Content: q}}, chat.Options{AddGenerationPrompt: true})
		if err != nil {
			fmt.Fprintf(out, "  %s -> error: %v\n", q, err)
			continue
		}
		gen := greedy(m, tok.Encode(prompt), 60, int32(m.Config.EosTokenID))
		fmt.Fprintf(out, "  user: %s\n  assistant: %s\n", q, oneLine(tok.DecodeSkipSpecial(gen)))
	}
}

func oneLine(s string) string { return strings.ReplaceAll(s, "\n", "⏎") }
