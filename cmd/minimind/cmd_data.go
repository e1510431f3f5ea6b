package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/minimind-go/minimind/data"
)

func newDataCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "data",
		Short: "Prepare and inspect training data",
		Long: `Work with MiniMind's JSONL datasets ({"text"} for pretraining,
{"conversations"} for SFT, {"chosen","rejected"} for DPO), plain or gzipped.

Training reads raw JSONL directly (tokenizing every epoch) or a file written
by 'minimind data prepare' (tokenized once).`,
	}
	cmd.AddCommand(newDataPrepareCommand(g), newDataInfoCommand(g))
	return cmd
}

// DataPrepareOptions are the flags of `data prepare`.
type DataPrepareOptions struct {
	DataPath           []string
	Out                string
	Mode               string
	MaxSeqLen          int
	Tokenizer          string
	SkipBadLines       bool
	Seed               uint64
	SystemPromptProb   float64
	DropEmptyThinkProb float64
}

// AddFlags registers the flags, named as in MiniMind's trainers.
func (o *DataPrepareOptions) AddFlags(f *pflag.FlagSet) {
	def := data.DefaultEncodeOptions(512)
	f.StringSliceVar(&o.DataPath, "data_path", nil, "JSONL input files (.jsonl or .jsonl.gz; repeat or comma-separate)")
	f.StringVar(&o.Out, "out", "", "prepared file to write")
	f.StringVar(&o.Mode, "mode", "pretrain", "dataset kind: pretrain, sft or dpo")
	f.IntVar(&o.MaxSeqLen, "max_seq_len", def.MaxSeqLen, "truncate every sequence to this many tokens (training must use the same)")
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder holding one (default: the built-in tokenizer)")
	f.BoolVar(&o.SkipBadLines, "skip_bad_lines", false, "skip and count malformed lines instead of failing on the first")
	f.Uint64Var(&o.Seed, "seed", def.Seed, "seed of the SFT/DPO augmentation (random system prompt, empty-think removal)")
	f.Float64Var(&o.SystemPromptProb, "system_prompt_prob", def.SystemPromptProb, "SFT: probability of adding a random system prompt (0 = off)")
	f.Float64Var(&o.DropEmptyThinkProb, "drop_empty_think_prob", def.DropEmptyThinkProb, "SFT/DPO: probability of removing empty <think> blocks (0 = off; -1 = upstream's for the tokenizer: 0.95 MiniMind2, 0.8 minimind-3)")
}

func newDataPrepareCommand(g *globalOptions) *cobra.Command {
	var opts DataPrepareOptions
	cmd := &cobra.Command{
		Use:   "prepare --data_path FILE... --out FILE --mode pretrain|sft|dpo",
		Short: "Tokenize JSONL once into a compact prepared file",
		Long: `Tokenize JSONL files once, in parallel (--threads), into a prepared file:
token ids (uint16 when the vocabulary has at most 65536 ids) with an index,
a checksum and the settings used. Training reads it without tokenizing, so
epochs 2+ and resumes start at once, and its samples are identical to those
of training on the JSONL with the same flags.

Sequences are processed as MiniMind does: pretrain = bos + text + eos;
sft and dpo = the tokenizer's chat template with loss on the assistant turns,
including the random system prompt and empty-think removal, drawn from --seed
(a prepared file fixes these draws for all epochs). minimind-3 data may carry
"reasoning_content", "tool_calls" and a system message's "tools" (lists or
JSON strings); a tool-use conversation gets no random system prompt.

A malformed line stops with an error naming the file and line, unless
--skip_bad_lines is given; then the number skipped is printed.

Examples:
  minimind data prepare --data_path pretrain_hq.jsonl --out pretrain.mmdata --max_seq_len 340
  minimind data prepare --mode sft --data_path a.jsonl.gz,b.jsonl.gz --out sft.mmdata --skip_bad_lines

Exit status: 0 on success, 1 on bad input or a read/write error, 2 on bad
flags, 130 if interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runDataPrepare(c.Context(), opts, g, c.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runDataPrepare(ctx context.Context, opts DataPrepareOptions, g *globalOptions, stderr io.Writer) error {
	if len(opts.DataPath) == 0 || opts.Out == "" {
		return fmt.Errorf("%w: --data_path and --out are required", errUsage)
	}
	kind, err := data.ParseKind(opts.Mode)
	if err != nil || kind == data.KindRLAIF {
		return fmt.Errorf("%w: --mode %q: want pretrain, sft or dpo", errUsage, opts.Mode)
	}
	if opts.MaxSeqLen < 2 {
		return fmt.Errorf("%w: --max_seq_len %d: need at least 2", errUsage, opts.MaxSeqLen)
	}
	tok, err := loadTokenizer(opts.Tokenizer)
	if err != nil {
		return err
	}
	enc, err := data.NewEncoder(tok, data.EncodeOptions{
		MaxSeqLen: opts.MaxSeqLen, Seed: opts.Seed,
		SystemPromptProb: opts.SystemPromptProb, DropEmptyThinkProb: opts.DropEmptyThinkProb,
	})
	if err != nil {
		return err
	}
	var bar *progressbar.ProgressBar
	if !g.quiet {
		bar = progressbar.NewOptions64(-1, progressbar.OptionSetWriter(stderr),
			progressbar.OptionSetDescription("tokenizing"),
			progressbar.OptionThrottle(200*time.Millisecond))
	}
	start := time.Now()
	firstBad := ""
	st, err := data.Prepare(ctx, enc, data.PrepareOptions{
		Paths: opts.DataPath, Out: opts.Out, Kind: kind,
		ReadOptions: data.ReadOptions{
			SkipBadLines: opts.SkipBadLines,
			Workers:      g.threads,
			OnBadLine: func(err error) {
				if firstBad == "" {
					firstBad = err.Error()
				}
			},
		},
		OnProgress: func(p data.PrepareProgress) {
			if bar != nil {
				bar.Describe("tokenizing " + progressText(p.Bytes, time.Since(start)))
				_ = bar.Set64(p.Bytes)
			}
		},
	})
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	if err != nil {
		return err
	}
	if st.Skipped > 0 {
		fmt.Fprintf(stderr, "skipped %d malformed lines (first: %s)\n", st.Skipped, firstBad)
	}
	fmt.Fprintf(stderr, "prepared %d %s examples, %d tokens (%d at max_seq_len %d) from %.1f MB of JSONL in %s: %.1f MB/s; wrote %s (%.1f MB)\n",
		st.Examples, kind, st.Tokens, st.Truncated, opts.MaxSeqLen, float64(st.Bytes)/1e6,
		st.Elapsed.Round(time.Millisecond), st.MBPerSec(), opts.Out, float64(st.FileSize)/1e6)
	return nil
}

func newDataInfoCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "info FILE",
		Short: "Check a prepared file and print its settings",
		Long: `Read a prepared file, verify its checksum and index, and print its kind,
vocabulary size, max_seq_len, example and token counts and augmentation
settings.

Examples:
  minimind data info sft.mmdata

Exit status: 0 if the file is valid, 1 if it is corrupt or unreadable.`,
		Args: cobra.ExactArgs(1),
		RunE: func(c *cobra.Command, args []string) error {
			return runDataInfo(c.Context(), args[0], g, c.OutOrStdout())
		},
	}
	return cmd
}

func runDataInfo(_ context.Context, path string, _ *globalOptions, out io.Writer) error {
	d, err := data.OpenPrepared(path)
	if err != nil {
		return err
	}
	h := d.Header()
	fmt.Fprintf(out, "%s: %s, %d examples, %d tokens, vocab %d (%d-byte ids), max_seq_len %d, seed %d, system_prompt_prob %g, drop_empty_think_prob %g\n",
		path, h.Kind, h.Examples, h.Tokens, h.VocabSize, h.IDWidth, h.MaxSeqLen, h.Seed, h.SystemPromptProb, h.DropEmptyThinkProb)
	return nil
}

// progressText is data prepare's progress: MB read, and the rate once a
// second has passed. The first reports come from read-ahead buffers filled
// in microseconds, so a rate over them reads hundreds of GB/s.
func progressText(bytes int64, elapsed time.Duration) string {
	mb := float64(bytes) / 1e6
	if elapsed < time.Second {
		return fmt.Sprintf("%.1f MB", mb)
	}
	return fmt.Sprintf("%.1f MB, %.1f MB/s", mb, mb/elapsed.Seconds())
}
