package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// EvalOptions are the flags of `minimind eval`.
type EvalOptions struct {
	Inference   InferenceFlags
	Data        []string
	MaxSeqLen   int
	Mode        string
	BatchTokens int
	JSON        bool

	// progress receives eval's progress (a bar on a terminal, else a line
	// every few seconds); nil shows none. Set by the command unless -q.
	progress io.Writer
}

// AddFlags registers eval's flags.
func (o *EvalOptions) AddFlags(f *pflag.FlagSet) {
	o.Inference.AddFlags(f)
	f.StringSliceVar(&o.Data, "data", nil, "JSONL files (.jsonl or .jsonl.gz): pretrain {\"text\"} or SFT {\"conversations\"}")
	f.IntVar(&o.MaxSeqLen, "max_seq_len", train.DefaultOptions().MaxSeqLen, "max_length of the dataset builder: text is cut to max_seq_len-2 tokens before bos/eos")
	f.StringVar(&o.Mode, "mode", "auto", "dataset format: auto (from the first line), pretrain or sft")
	f.IntVar(&o.BatchTokens, "batch_tokens", 8192, "tokens per forward pass (samples of similar length are batched)")
	f.BoolVar(&o.JSON, "json", false, `print one JSON object {"loss", "ppl", "tokens"}`)
}

func newEvalCommand(g *globalOptions) *cobra.Command {
	var opts EvalOptions
	cmd := &cobra.Command{
		Use:   "eval --model PATH --data FILE.jsonl[.gz] [--max_seq_len N]",
		Short: "Cross-entropy and perplexity of a model on a dataset",
		Long: `Compute the token-weighted mean cross-entropy over every target position of
every sample, and perplexity = exp(loss). Samples are built exactly as the
training datasets build them, without padding: pretrain text is tokenized,
cut to max_seq_len-2 tokens, wrapped in bos and eos, and each position
predicts the next (X = all but the last, Y = all but the first); SFT
conversations are rendered with the chat template (no random system prompt,
no think-block removal) and only assistant spans are targets. MoE models
report the cross-entropy without the balance loss. tokens is the number of
target positions.

Examples:
  minimind eval --model ./out/pretrain_512.pth --data pretrain_hq.jsonl
  minimind eval --model ./MiniMind2 --data sft_mini_512.jsonl.gz --max_seq_len 340 --json
  minimind eval --model ./out/pretrain_512.pth --data pretrain_hq.jsonl --dtype q8_0   # the 8-bit model's loss

A NaN or infinite loss or perplexity (broken weights) is an error, not a
number: exit status 3.

Exit status: 0 success, 1 error, 2 bad flags, 3 non-finite result, 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if !g.quiet {
				opts.progress = cmd.ErrOrStderr()
			}
			return runEval(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runEval(ctx context.Context, opts EvalOptions, g *globalOptions, out io.Writer) error {
	if len(opts.Data) == 0 {
		return fmt.Errorf("%w: --data is required", errUsage)
	}
	if err := firstError(intAtLeast("max_seq_len", opts.MaxSeqLen, 2), positiveInt("batch_tokens", opts.BatchTokens)); err != nil {
		return err
	}
	kind, err := evalKind(opts.Mode, opts.Data[0])
	if err != nil {
		return err
	}
	m, tok, closeFn, err := opts.Inference.load(g)
	if err != nil {
		return err
	}
	defer closeFn()
	if opts.MaxSeqLen > m.Config.MaxPositionEmbeddings+1 {
		return fmt.Errorf("%w: --max_seq_len %d exceeds the model's %d positions", errUsage, opts.MaxSeqLen, m.Config.MaxPositionEmbeddings)
	}
	// No augmentation: evaluation is deterministic.
	enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: opts.MaxSeqLen})
	if err != nil {
		return err
	}
	start := time.Now()
	ds, err := data.LoadJSONL(ctx, opts.Data, kind, enc, data.ReadOptions{})
	if err != nil {
		return err
	}
	res, err := train.EvaluateProgress(ctx, m, ds, enc, opts.BatchTokens, evalProgress(opts.progress, time.Now))
	if opts.progress != nil && isTerminal(opts.progress) {
		fmt.Fprint(opts.progress, "\r\033[K") // clear the bar's line
	}
	if errors.Is(err, train.ErrNoTargets) {
		return fmt.Errorf("eval: %s has no target positions (no records, or none with a token to predict)", strings.Join(opts.Data, ", "))
	}
	if err != nil {
		return err
	}
	if opts.JSON {
		b, err := json.Marshal(res)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "%s\n", b)
		return nil
	}
	fmt.Fprintf(out, "loss=%.6f ppl=%.4f tokens=%d\n", res.Loss, res.PPL, res.Tokens)
	if !g.quiet {
		secs := time.Since(start).Seconds()
		fmt.Fprintf(out, "(%d samples, %s, %.1f s, %.0f tokens/s)\n", res.Samples, kind, secs, float64(res.Tokens)/secs)
	}
	return nil
}

// evalKind resolves --mode; auto looks at the first record's keys.
func evalKind(mode, path string) (data.Kind, error) {
	if mode == "auto" {
		k, err := data.DetectKind(path)
		if errors.Is(err, data.ErrNoRecords) {
			return 0, err
		}
		if err != nil {
			return 0, fmt.Errorf("%w; pass --mode", err)
		}
		if k != data.KindPretrain && k != data.KindSFT {
			return 0, fmt.Errorf("%w: %s holds %v data; eval reads pretrain or sft", errUsage, path, k)
		}
		return k, nil
	}
	k, err := data.ParseKind(mode)
	if err != nil || (k != data.KindPretrain && k != data.KindSFT) {
		return 0, fmt.Errorf("%w: --mode %q: want auto, pretrain or sft", errUsage, mode)
	}
	return k, nil
}

// evalProgress returns Evaluate's progress hook writing to w: a bar
// redrawn in place on a terminal, else a line at most every 10 seconds;
// nil for a nil w.
func evalProgress(w io.Writer, now func() time.Time) func(done, total int) {
	if w == nil {
		return nil
	}
	if isTerminal(w) {
		return func(done, total int) {
			const width = 24
			n := width * done / max(1, total)
			fmt.Fprintf(w, "\reval [%s%s] %d/%d samples", strings.Repeat("=", n), strings.Repeat(" ", width-n), done, total)
		}
	}
	last := now()
	return func(done, total int) {
		if t := now(); t.Sub(last) >= 10*time.Second && done < total {
			fmt.Fprintf(w, "eval: %d/%d samples scored\n", done, total)
			last = t
		}
	}
}
