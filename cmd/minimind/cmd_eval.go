package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/minimind-go/minimind/data"
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
}

// AddFlags registers eval's flags.
func (o *EvalOptions) AddFlags(f *pflag.FlagSet) {
	o.Inference.AddFlags(f)
	f.StringSliceVar(&o.Data, "data", nil, "JSONL files (.jsonl or .jsonl.gz): pretrain {\"text\"} or SFT {\"conversations\"}")
	f.IntVar(&o.MaxSeqLen, "max_seq_len", 512, "max_length of the dataset builder: text is cut to max_seq_len-2 tokens before bos/eos")
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

Exit status: 0 success, 1 error, 2 bad flags, 130 interrupted.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runEval(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// evalSample is one unpadded sample.
type evalSample struct {
	x, y []int32
	mask []float32
}

func runEval(ctx context.Context, opts EvalOptions, g *globalOptions, out io.Writer) error {
	if len(opts.Data) == 0 {
		return fmt.Errorf("%w: --data is required", errUsage)
	}
	if opts.MaxSeqLen < 2 || opts.BatchTokens < 1 {
		return fmt.Errorf("%w: --max_seq_len must be at least 2 and --batch_tokens positive", errUsage)
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
	samples, err := evalSamples(ctx, ds, enc, kind)
	if err != nil {
		return err
	}
	// Longest first, in batches of similar length: little padding, and
	// the padded positions carry mask 0.
	slices.SortStableFunc(samples, func(a, b evalSample) int { return len(b.x) - len(a.x) })
	var sum, tokens float64
	for i := 0; i < len(samples); {
		if err := ctx.Err(); err != nil {
			return err
		}
		T := len(samples[i].x)
		B := min(max(1, opts.BatchTokens/T), len(samples)-i)
		x, y, mask := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
		for b, s := range samples[i : i+B] {
			copy(x[b*T:], s.x)
			copy(y[b*T:], s.y)
			copy(mask[b*T:], s.mask)
		}
		st, err := m.Loss(x, y, mask, B, T, false)
		if err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		sum += st.CE * st.Tokens
		tokens += st.Tokens
		i += B
	}
	if tokens == 0 {
		return fmt.Errorf("eval: %v has no target positions", opts.Data)
	}
	loss := sum / tokens
	res := struct {
		Loss   float64 `json:"loss"`
		PPL    float64 `json:"ppl"`
		Tokens int64   `json:"tokens"`
	}{loss, math.Exp(loss), int64(tokens)}
	if opts.JSON {
		b, _ := json.Marshal(res)
		fmt.Fprintf(out, "%s\n", b)
		return nil
	}
	fmt.Fprintf(out, "loss=%.6f ppl=%.4f tokens=%d\n", res.Loss, res.PPL, res.Tokens)
	if !g.quiet {
		secs := time.Since(start).Seconds()
		fmt.Fprintf(out, "(%d samples, %s, %.1f s, %.0f tokens/s)\n", len(samples), kind, secs, tokens/secs)
	}
	return nil
}

// evalKind resolves --mode; auto looks at the first record's keys.
func evalKind(mode, path string) (data.Kind, error) {
	if mode != "auto" {
		k, err := data.ParseKind(mode)
		if err != nil || (k != data.KindPretrain && k != data.KindSFT) {
			return 0, fmt.Errorf("%w: --mode %q: want auto, pretrain or sft", errUsage, mode)
		}
		return k, nil
	}
	r, err := data.OpenJSONL(path)
	if err != nil {
		return 0, err
	}
	defer r.Close()
	line, err := r.Next()
	if err != nil {
		return 0, fmt.Errorf("read %s: %w", path, err)
	}
	var keys map[string]json.RawMessage
	if err := json.NewDecoder(bytes.NewReader(line)).Decode(&keys); err != nil {
		return 0, fmt.Errorf("read %s line 1: %w", path, err)
	}
	switch {
	case keys["text"] != nil:
		return data.KindPretrain, nil
	case keys["conversations"] != nil:
		return data.KindSFT, nil
	}
	return 0, fmt.Errorf("read %s line 1: neither \"text\" nor \"conversations\"; pass --mode", path)
}

// evalSamples tokenizes every record in parallel into unpadded samples:
// the dataset builder's padded sample cut to the sequence's real length.
func evalSamples(ctx context.Context, ds *data.JSONLDataset, enc *data.Encoder, kind data.Kind) ([]evalSample, error) {
	n := ds.Len()
	out := make([]evalSample, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Go(func() {
			var s data.Sample
			for i := w; i < n; i += workers {
				if ctx.Err() != nil {
					return
				}
				seqs, err := enc.Encode(kind, i, ds.Record(i))
				if err == nil {
					err = ds.Sample(i, &s)
				}
				if err != nil {
					errs[i] = fmt.Errorf("sample %d: %w", i, err)
					continue
				}
				L := len(seqs[0]) - 1 // positions with a real next token
				if L < 1 {
					continue
				}
				out[i] = evalSample{x: slices.Clone(s.X[:L]), y: slices.Clone(s.Y[:L]), mask: slices.Clone(s.LossMask[:L])}
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return slices.DeleteFunc(out, func(s evalSample) bool { return len(s.x) == 0 }), nil
}
