package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"runtime"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/minimind-go/minimind/jsonl"
	"github.com/minimind-go/minimind/tokenizer"
)

func newTokenizerCommand(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tokenizer",
		Short: "Train, inspect and run byte-level BPE tokenizers",
		Long: `Work with byte-level BPE tokenizers in HuggingFace tokenizer.json format.

Every command that needs a tokenizer takes --tokenizer PATH (a tokenizer.json
file or a folder holding one, plus tokenizer_config.json if present). Without
it, the project's own default tokenizer (vocab 6400, MiniMind's special tokens
and chat template, built into the binary) is used.`,
	}
	cmd.AddCommand(newTokenizerTrainCommand(g), newTokenizerEncodeCommand(g),
		newTokenizerDecodeCommand(g), newTokenizerStatsCommand(g))
	return cmd
}

// loadTokenizer resolves --tokenizer: a path, or the built-in default.
func loadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	if path == "" {
		return tokenizer.Default()
	}
	return tokenizer.Load(path)
}

// TokenizerTrainOptions are the flags of `tokenizer train`.
type TokenizerTrainOptions struct {
	Data         []string
	VocabSize    int
	Out          string
	MinFrequency int64
}

// AddFlags registers the flags, named as in MiniMind's train_tokenizer.py.
func (o *TokenizerTrainOptions) AddFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.Data, "data", nil, "JSONL training files (.jsonl or .jsonl.gz; repeat or comma-separate)")
	f.IntVar(&o.VocabSize, "vocab_size", 6400, "vocabulary size including the 3 special tokens and 256 byte tokens")
	f.StringVar(&o.Out, "out", "", "output folder for tokenizer.json and tokenizer_config.json")
	f.Int64Var(&o.MinFrequency, "min_frequency", 0, "never merge a pair seen fewer times (0 = no limit)")
}

func newTokenizerTrainCommand(g *globalOptions) *cobra.Command {
	var opts TokenizerTrainOptions
	cmd := &cobra.Command{
		Use:   "train --data FILE... --out DIR",
		Short: "Train a byte-level BPE tokenizer from JSONL text",
		Long: `Train a byte-level BPE tokenizer with HuggingFace BpeTrainer semantics.

Input lines are {"text": ...} or {"conversations": [{"role", "content"}...]}
(each message content counts as a document), in .jsonl or .jsonl.gz files.
The output folder gets a tokenizer.json that HF tokenizers can load (special
tokens <|endoftext|>=0, <|im_start|>=1, <|im_end|>=2, ByteLevel pre-tokenizer
with the GPT-2 pattern, ByteLevel decoder) and a tokenizer_config.json with
MiniMind's settings and chat template. The same input always gives the same
files.

Examples:
  minimind tokenizer train --data pretrain.jsonl --out ./my_tokenizer
  minimind tokenizer train --data a.jsonl.gz,b.jsonl.gz --vocab_size 8000 --out out/tok

Training stops early when the corpus has no more pairs to merge; a
vocabulary smaller than --vocab_size is then an error and nothing is written.

Exit status: 0 on success, 1 on a read or write error or a corpus too small
for --vocab_size, 2 on bad flags, 130 if interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokenizerTrain(c.Context(), opts, g, c.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runTokenizerTrain(ctx context.Context, opts TokenizerTrainOptions, g *globalOptions, stderr io.Writer) error {
	if len(opts.Data) == 0 || opts.Out == "" {
		return fmt.Errorf("%w: --data and --out are required", errUsage)
	}
	var bar *progressbar.ProgressBar
	progress := func(p tokenizer.Progress) {
		if g.quiet {
			return
		}
		switch {
		case p.Stage == "count":
			if bar == nil {
				bar = progressbar.NewOptions(-1, progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetDescription("counting words (documents)"),
					progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond))
			}
			_ = bar.Set(p.Done)
		case p.Stage == "merge":
			if bar == nil || bar.GetMax() != p.Total {
				if bar != nil {
					_ = bar.Finish()
					fmt.Fprintln(stderr)
				}
				bar = progressbar.NewOptions(p.Total, progressbar.OptionSetWriter(stderr),
					progressbar.OptionSetDescription("learning merges"),
					progressbar.OptionShowCount(), progressbar.OptionThrottle(200*time.Millisecond))
			}
			_ = bar.Set(p.Done)
		}
	}
	start := time.Now()
	tr := tokenizer.NewTrainer(tokenizer.TrainOptions{
		VocabSize:    opts.VocabSize,
		MinFrequency: opts.MinFrequency,
		Workers:      g.threads,
		OnProgress:   progress,
	})
	for _, path := range opts.Data {
		if err := tr.AddFile(ctx, path); err != nil {
			return err
		}
	}
	counted := time.Since(start)
	tok, err := tr.Train(ctx)
	if err != nil {
		return err
	}
	if bar != nil {
		_ = bar.Finish()
		fmt.Fprintln(stderr)
	}
	// HF's trainer silently returns a smaller vocabulary when the corpus
	// runs out of pairs; a model built for the asked size would then have
	// embedding rows no token ever uses, so refuse instead.
	if got := tok.VocabSize(); got < opts.VocabSize {
		return fmt.Errorf("tokenizer train: trained vocab %d but --vocab_size %d was asked: %d documents hold too few distinct pairs%s; give more text or a smaller --vocab_size (nothing written to %s)",
			got, opts.VocabSize, tr.Docs(), minFreqHint(opts.MinFrequency), opts.Out)
	}
	if err := tok.Save(opts.Out); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "trained vocab %d on %d documents in %s (counting %s); wrote %s\n",
		tok.VocabSize(), tr.Docs(), time.Since(start).Round(time.Millisecond), counted.Round(time.Millisecond), opts.Out)
	return nil
}

// minFreqHint names --min_frequency when it may be what stopped training.
func minFreqHint(minFreq int64) string {
	if minFreq > 1 {
		return fmt.Sprintf(" seen at least --min_frequency %d times", minFreq)
	}
	return ""
}

// TokenizerEncodeOptions are the flags of `tokenizer encode`.
type TokenizerEncodeOptions struct {
	Tokenizer string
	Bench     bool
}

// AddFlags registers the flags.
func (o *TokenizerEncodeOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder holding one (default: the built-in tokenizer)")
	f.BoolVar(&o.Bench, "bench", false, "print no ids; report encoding throughput (MB/s of text) on stderr")
}

func newTokenizerEncodeCommand(g *globalOptions) *cobra.Command {
	var opts TokenizerEncodeOptions
	cmd := &cobra.Command{
		Use:   "encode [--tokenizer PATH] < docs.jsonl",
		Short: "Encode JSONL {\"text\"} lines from stdin into JSON arrays of ids",
		Long: `Read {"text": ...} JSONL lines on stdin and print one JSON array of token ids
per line, in order. Special-token strings in the text (<|im_start|> ...) become
their ids, as in HF's encode(text, add_special_tokens=False). Documents are
encoded in parallel (--threads).

With --bench, all input is read first, then encoded once and the throughput
in MB/s of UTF-8 text is reported; no ids are printed.

Examples:
  echo '{"text": "你好，世界！"}' | minimind tokenizer encode
  zcat pretrain.jsonl.gz | minimind tokenizer encode --tokenizer ./tok > ids.jsonl
  zcat pretrain.jsonl.gz | minimind tokenizer encode --bench --threads 2

Exit status: 0 on success, 1 on bad input or a missing tokenizer, 2 on bad
flags.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokenizerEncode(c.Context(), opts, g, c.InOrStdin(), c.OutOrStdout(), c.ErrOrStderr())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// readTexts reads up to max {"text"} lines of r (max <= 0: all), returning
// the texts and whether r is exhausted.
func readTexts(r *jsonl.Reader, max int) ([]string, bool, error) {
	var texts []string
	for max <= 0 || len(texts) < max {
		b, err := r.Next()
		if err == io.EOF {
			return texts, true, nil
		}
		if err != nil {
			return nil, false, err
		}
		var v struct {
			Text *string `json:"text"`
		}
		if err := json.Unmarshal(b, &v); err != nil {
			return nil, false, r.Errorf("%w", err)
		}
		if v.Text == nil {
			return nil, false, r.Errorf(`no "text" field`)
		}
		texts = append(texts, *v.Text)
	}
	return texts, false, nil
}

func runTokenizerEncode(ctx context.Context, opts TokenizerEncodeOptions, g *globalOptions, in io.Reader, out, stderr io.Writer) error {
	tok, err := loadTokenizer(opts.Tokenizer)
	if err != nil {
		return err
	}
	r, err := jsonl.NewReader(in, "stdin")
	if err != nil {
		return err
	}
	defer r.Close()
	if opts.Bench {
		texts, _, err := readTexts(r, 0)
		if err != nil {
			return err
		}
		var size, tokens int
		for _, t := range texts {
			size += len(t)
		}
		workers := g.threads
		if workers <= 0 {
			workers = runtime.GOMAXPROCS(0)
		}
		start := time.Now()
		ids := tok.EncodeBatchWorkers(texts, workers)
		sec := time.Since(start).Seconds()
		for _, x := range ids {
			tokens += len(x)
		}
		fmt.Fprintf(stderr, "encoded %d documents, %.1f MB, %d tokens in %.2fs with %d threads: %.1f MB/s, %.0f tokens/s\n",
			len(texts), float64(size)/1e6, tokens, sec, workers, float64(size)/1e6/sec, float64(tokens)/sec)
		return nil
	}
	w := bufio.NewWriterSize(out, 1<<20)
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		texts, done, err := readTexts(r, 4096)
		if err != nil {
			return err
		}
		for _, ids := range tok.EncodeBatchWorkers(texts, g.threads) {
			writeIDs(w, ids)
		}
		if done {
			break
		}
	}
	return w.Flush()
}

// writeIDs prints ids as a compact JSON array line; by hand because
// encoding/json would box every element.
func writeIDs(w *bufio.Writer, ids []int32) {
	var buf [12]byte
	w.WriteByte('[')
	for i, id := range ids {
		if i > 0 {
			w.WriteString(", ")
		}
		w.Write(fmt.Appendf(buf[:0], "%d", id))
	}
	w.WriteString("]\n")
}

// TokenizerDecodeOptions are the flags of `tokenizer decode`.
type TokenizerDecodeOptions struct {
	Tokenizer   string
	SkipSpecial bool
}

// AddFlags registers the flags.
func (o *TokenizerDecodeOptions) AddFlags(f *pflag.FlagSet) {
	f.StringVar(&o.Tokenizer, "tokenizer", "", "tokenizer.json or a folder holding one (default: the built-in tokenizer)")
	f.BoolVar(&o.SkipSpecial, "skip_special_tokens", false, "drop special tokens such as <|im_end|>")
}

func newTokenizerDecodeCommand(g *globalOptions) *cobra.Command {
	var opts TokenizerDecodeOptions
	cmd := &cobra.Command{
		Use:   "decode [--tokenizer PATH] < ids.jsonl",
		Short: "Decode JSON arrays of ids from stdin into JSONL {\"text\"} lines",
		Long: `Read one JSON array of token ids per line on stdin and print {"text": ...}
per line: the reverse of 'minimind tokenizer encode'. Unknown ids are skipped
and invalid UTF-8 becomes U+FFFD, as in HF's decode.

Examples:
  echo '[5134, 270, 2219, 286]' | minimind tokenizer decode --tokenizer ../shared/minimind
  minimind tokenizer encode < docs.jsonl | minimind tokenizer decode

Exit status: 0 on success, 1 on bad input or a missing tokenizer, 2 on bad
flags.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokenizerDecode(c.Context(), opts, g, c.InOrStdin(), c.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runTokenizerDecode(ctx context.Context, opts TokenizerDecodeOptions, _ *globalOptions, in io.Reader, out io.Writer) error {
	tok, err := loadTokenizer(opts.Tokenizer)
	if err != nil {
		return err
	}
	r, err := jsonl.NewReader(in, "stdin")
	if err != nil {
		return err
	}
	defer r.Close()
	w := bufio.NewWriter(out)
	var js bytes.Buffer
	enc := json.NewEncoder(&js)
	enc.SetEscapeHTML(false)
	for n := 1; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		var ids []int32
		if err := json.Unmarshal(b, &ids); err != nil {
			return r.Errorf("%w", err)
		}
		text := tok.Decode(ids)
		if opts.SkipSpecial {
			text = tok.DecodeSkipSpecial(ids)
		}
		// Written as Python's json.dumps would, like MiniMind's JSONL.
		js.Reset()
		if err := enc.Encode(text); err != nil {
			return err
		}
		w.WriteString(`{"text": `)
		w.Write(bytes.TrimSuffix(js.Bytes(), []byte("\n")))
		w.WriteString("}\n")
	}
	return w.Flush()
}

// TokenizerStatsOptions are the flags of `tokenizer stats`.
type TokenizerStatsOptions struct {
	Tokenizer []string
	Data      []string
}

// AddFlags registers the flags.
func (o *TokenizerStatsOptions) AddFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.Tokenizer, "tokenizer", nil, "tokenizers to compare (repeatable; \"default\" = the built-in one; none = the built-in one)")
	f.StringSliceVar(&o.Data, "data", nil, "JSONL {\"text\"} files (.jsonl or .jsonl.gz)")
}

func newTokenizerStatsCommand(g *globalOptions) *cobra.Command {
	var opts TokenizerStatsOptions
	cmd := &cobra.Command{
		Use:   "stats --data FILE... [--tokenizer PATH...]",
		Short: "Report compression (characters and bytes per token) on JSONL text",
		Long: `Encode every {"text"} document of each --data file with each --tokenizer and
print characters per token and bytes per token: higher means better
compression, so more text fits in a context window.

Examples:
  minimind tokenizer stats --data ../shared/corpus/eval_zh_poetry.jsonl.gz
  minimind tokenizer stats --tokenizer default,../shared/minimind --data eval.jsonl.gz

Exit status: 0 on success, 1 on bad input or a missing tokenizer, 2 on bad
flags.`,
		Args: cobra.NoArgs,
		RunE: func(c *cobra.Command, _ []string) error {
			return runTokenizerStats(c.Context(), opts, g, c.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

func runTokenizerStats(ctx context.Context, opts TokenizerStatsOptions, g *globalOptions, out io.Writer) error {
	if len(opts.Data) == 0 {
		return fmt.Errorf("%w: --data is required", errUsage)
	}
	names := opts.Tokenizer
	if len(names) == 0 {
		names = []string{"default"}
	}
	toks := make([]*tokenizer.Tokenizer, len(names))
	for i, n := range names {
		path := n
		if n == "default" {
			path = ""
		}
		t, err := loadTokenizer(path)
		if err != nil {
			return err
		}
		toks[i] = t
	}
	fmt.Fprintf(out, "%-40s %-30s %10s %12s %12s %10s %10s\n", "data", "tokenizer", "docs", "chars", "tokens", "chars/tok", "bytes/tok")
	for _, path := range opts.Data {
		texts, err := readTextFile(path)
		if err != nil {
			return err
		}
		var chars, size int
		for _, t := range texts {
			chars += len([]rune(t))
			size += len(t)
		}
		for i, tok := range toks {
			if err := ctx.Err(); err != nil {
				return err
			}
			tokens := 0
			for _, ids := range tok.EncodeBatchWorkers(texts, g.threads) {
				tokens += len(ids)
			}
			fmt.Fprintf(out, "%-40s %-30s %10d %12d %12d %10.3f %10.3f\n", shorten(path, 40), shorten(names[i], 30),
				len(texts), chars, tokens, float64(chars)/float64(max(tokens, 1)), float64(size)/float64(max(tokens, 1)))
		}
	}
	return nil
}

// readTextFile reads the "text" of every line of a JSONL file, plain or
// gzip-compressed.
func readTextFile(path string) ([]string, error) {
	r, err := jsonl.Open(path)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	texts, _, err := readTexts(r, 0)
	return texts, err
}

func shorten(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n+1:]
}
