package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/server"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// BenchServeOptions are the flags of `minimind bench serve`.
type BenchServeOptions struct {
	Bench       BenchOptions // model, device and --json (the model's weights are random unless --model)
	URL         string
	Clients     []int
	Rounds      int
	MaxTokens   int
	Slots       int
	ContextLen  int
	Temperature float64
	TopP        float64
	Prompt      string
	Timeout     time.Duration
}

// AddFlags registers bench serve's flags.
func (o *BenchServeOptions) AddFlags(f *pflag.FlagSet) {
	o.Bench.Model.AddFlags(f)
	o.Bench.Device.AddFlags(f)
	f.StringVar(&o.Bench.Path, "model", "", "serve this model (HF directory or .pth; with the tokenizer saved beside it, as serve finds it) instead of random weights")
	f.StringVar(&o.Bench.DType, "dtype", "f32", "inference weight precision of the in-process server: f32, f16, bf16 or q8_0")
	f.BoolVar(&o.Bench.JSON, "json", false, "print one JSON object as the last line")
	f.StringVar(&o.URL, "url", "", "drive the OpenAI server at this base URL (http://HOST:PORT) instead of starting one in-process")
	f.IntSliceVar(&o.Clients, "clients", []int{1, 8, 32, 64}, "concurrent streaming clients, one load level each")
	f.IntVar(&o.Rounds, "rounds", 2, "requests each client sends, one after another")
	f.IntVar(&o.MaxTokens, "max_tokens", 64, "tokens per reply (ignore_eos: every reply is this long)")
	f.IntVar(&o.Slots, "slots", 8, "in-process server: requests decoded together (continuous batching)")
	f.IntVar(&o.ContextLen, "context_len", 512, "in-process server: context window (prompt + reply)")
	f.Float64Var(&o.Temperature, "temperature", 0.85, "sampling temperature of every request (MiniMind's default)")
	f.Float64Var(&o.TopP, "top_p", 0.85, "nucleus sampling of every request (MiniMind's default)")
	f.StringVar(&o.Prompt, "prompt", "请介绍一下你自己，并讲一个关于大语言模型的小故事。", "user message of every request (each request also names its client and round)")
	f.DurationVar(&o.Timeout, "timeout", 10*time.Minute, "give up on a request after this long")
}

func newBenchServeCommand(g *globalOptions) *cobra.Command {
	var opts BenchServeOptions
	cmd := &cobra.Command{
		Use:   "serve [--clients 1,8,32,64] [--slots 8] [--max_tokens 64] [--url URL] [--json]",
		Short: "Time-to-first-token and aggregate tokens/s of the OpenAI server under concurrent streaming clients",
		Long: `Start the OpenAI-compatible server in-process (random weights of the default
size, or --model), or drive the one at --url, with N concurrent clients for
each N in --clients. Every client sends --rounds streaming chat completions,
one after another, of --max_tokens tokens each (ignore_eos, so every reply
has the same length), and the report gives per load level:

  tokens/s   completion tokens of all replies ÷ wall time of the level
  TTFT       time from sending a request to its first generated text
             (p50 and p99 over the level's requests; p99 is the nearest
             rank, the maximum for fewer than 100 requests)
  per reply  a reply's tokens ÷ its time after the first token

With continuous batching, aggregate tokens/s grows with N up to --slots,
where every decode step is full; beyond it requests wait for a slot, so
TTFT grows and tokens/s stays level. The in-process server's queue holds
every client; one at --url with fewer slot and queue places than clients
answers the rest 429, which count as failed requests (exit 1). The clients
run in this process too, on the same cores as the server: compare levels
of one run. "mean batch" is the sequences per decode step, from the
server's /health counters: load cannot distort it.

Examples:
  minimind bench serve
  minimind bench serve --clients 1,2,4,8,16 --slots 16 --json
  minimind bench serve --url http://127.0.0.1:8998 --clients 1,8`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runBenchServe(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// serveLevel is one load level's figures.
type serveLevel struct {
	Clients          int     `json:"clients"`
	Requests         int     `json:"requests"`
	Errors           int     `json:"errors"`
	CompletionTokens int     `json:"completion_tokens"`
	WallS            float64 `json:"wall_s"`
	TokensPerS       float64 `json:"tokens_per_s"`
	TTFTP50Ms        float64 `json:"ttft_p50_ms"`
	TTFTP99Ms        float64 `json:"ttft_p99_ms"`
	// ReplyTokensPerS is the median of a reply's tokens after its first ÷
	// the time from its first text to its end: the speed one client sees.
	ReplyTokensPerS float64 `json:"reply_tokens_per_s"`
	// MeanBatch is the sequences a batched decode step advanced, on
	// average, and PaddedRows the share of computed rows that were idle
	// slots: both from the server's /health counters (absent when it has
	// none). Unlike the timings they do not depend on machine load.
	MeanBatch  *float64 `json:"mean_batch,omitempty"`
	PaddedRows *float64 `json:"padded_rows,omitempty"`
	// PrefillBatch is the prompts a prefill pass took, on average: the
	// engine prefills the prompts of adjacent slots together.
	PrefillBatch *float64 `json:"prefill_batch,omitempty"`
	// FirstError is one error's message, when there were any.
	FirstError string `json:"first_error,omitempty"`
}

func runBenchServe(ctx context.Context, opts BenchServeOptions, g *globalOptions, out io.Writer) error {
	if len(opts.Clients) == 0 {
		return fmt.Errorf("%w: --clients needs at least one value", errUsage)
	}
	checks := []error{positiveInt("rounds", opts.Rounds), positiveInt("max_tokens", opts.MaxTokens),
		positiveInt("slots", opts.Slots), intAtLeast("context_len", opts.ContextLen, 2),
		nonNegativeFloat("temperature", opts.Temperature), nonNegativeFloat("top_p", opts.TopP)}
	for _, n := range opts.Clients {
		checks = append(checks, positiveInt("clients", n))
	}
	if err := firstError(checks...); err != nil {
		return err
	}
	if opts.Timeout <= 0 {
		return fmt.Errorf("%w: --timeout %v must be positive", errUsage, opts.Timeout)
	}
	if opts.Bench.GEMM == "" {
		opts.Bench.GEMM = "auto"
	}
	base, desc := strings.TrimRight(opts.URL, "/"), ""
	if base == "" {
		url, stop, d, err := startBenchServer(ctx, opts, g)
		if err != nil {
			return err
		}
		defer stop()
		base, desc = url, d
	} else {
		if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			return fmt.Errorf("%w: --url %q must start with http:// or https://", errUsage, opts.URL)
		}
		desc = "the server at " + base
	}
	fmt.Fprintf(out, "bench serve: %s; %d-token streaming replies, %d request(s) per client\n", desc, opts.MaxTokens, opts.Rounds)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: slices.Max(opts.Clients), DisableCompression: true}}
	defer client.CloseIdleConnections()
	var levels []serveLevel
	fmt.Fprintf(out, "%8s %9s %8s %8s %10s %12s %12s %14s %11s %14s\n", "clients", "requests", "tokens", "wall s", "tokens/s", "TTFT p50 ms", "TTFT p99 ms", "per reply t/s", "mean batch", "prefill batch")
	for _, n := range opts.Clients {
		h0, ok0 := engineCounters(ctx, client, base)
		lv, err := serveLoad(ctx, client, base, opts, n)
		if err != nil {
			return err
		}
		batch, pbatch := "-", "-"
		if h1, ok1 := engineCounters(ctx, client, base); ok0 && ok1 && h1.DecodeSteps > h0.DecodeSteps {
			mb := float64(h1.DecodeRows-h0.DecodeRows) / float64(h1.DecodeSteps-h0.DecodeSteps)
			pad := 1 - float64(h1.DecodeRows-h0.DecodeRows)/float64(h1.BatchRows-h0.BatchRows)
			lv.MeanBatch, lv.PaddedRows = &mb, &pad
			batch = fmt.Sprintf("%.1f", mb)
			if h1.PrefillPasses > h0.PrefillPasses {
				pb := float64(h1.PrefillRows-h0.PrefillRows) / float64(h1.PrefillPasses-h0.PrefillPasses)
				lv.PrefillBatch = &pb
				pbatch = fmt.Sprintf("%.1f", pb)
			}
		}
		levels = append(levels, lv)
		fmt.Fprintf(out, "%8d %9d %8d %8.2f %10.1f %12.1f %12.1f %14.1f %11s %14s\n", lv.Clients, lv.Requests, lv.CompletionTokens,
			lv.WallS, lv.TokensPerS, lv.TTFTP50Ms, lv.TTFTP99Ms, lv.ReplyTokensPerS, batch, pbatch)
		if lv.Errors > 0 {
			fmt.Fprintf(out, "  %d of %d requests failed, e.g.: %s\n", lv.Errors, lv.Requests, lv.FirstError)
		}
	}
	if opts.Bench.JSON {
		b, err := json.Marshal(map[string]any{"url": opts.URL, "slots": opts.Slots, "max_tokens": opts.MaxTokens,
			"rounds": opts.Rounds, "levels": levels})
		if err != nil {
			return fmt.Errorf("bench serve --json: %w", err)
		}
		fmt.Fprintf(out, "%s\n", b)
	}
	for _, lv := range levels {
		if lv.Errors > 0 {
			return fmt.Errorf("bench serve: %d of %d requests failed with %d clients: %s", lv.Errors, lv.Requests, lv.Clients, lv.FirstError)
		}
	}
	return nil
}

// startBenchServer serves the bench model on a free loopback port. Its
// queue holds every client of the largest level, so no request gets a 429.
func startBenchServer(ctx context.Context, opts BenchServeOptions, g *globalOptions) (url string, stop func(), desc string, err error) {
	m, closeFn, err := benchModel(opts.Bench, g)
	if err != nil {
		return "", nil, "", err
	}
	fail := func(err error) (string, func(), string, error) {
		closeFn()
		return "", nil, "", err
	}
	if err := m.SetInferenceDType(opts.Bench.DType); err != nil {
		return fail(fmt.Errorf("%w: --dtype: %v", errUsage, err))
	}
	tok, tokSource, err := modelTokenizer("", opts.Bench.Path)
	if err != nil {
		return fail(err)
	}
	if err := checkVocab(tok, tokSource, false, m.Config.VocabSize, opts.Bench.Path); err != nil {
		return fail(err)
	}
	avail, known := memAvailable()
	if err := checkEngineSize(m.Config, opts.ContextLen, opts.Slots, avail, known); err != nil {
		return fail(err)
	}
	eng, err := generate.NewEngine(m, tok, generate.EngineOptions{Slots: opts.Slots, Window: opts.ContextLen, Queue: slices.Max(opts.Clients)})
	if err != nil {
		return fail(err)
	}
	s, err := server.New(eng, server.Options{})
	if err != nil {
		return fail(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return fail(fmt.Errorf("bench serve: %w", err))
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		server.Serve(sctx, ln, s, time.Second)
	}()
	stop = func() {
		cancel()
		<-done
		closeFn()
	}
	c := m.Config
	desc = fmt.Sprintf("in-process server, %s, %s weights, %s, %d slots, %d-token context", describeModel(&c), m.InferenceDType(), m.Backend().Name(), eng.Slots(), eng.Window())
	return "http://" + ln.Addr().String(), stop, desc, nil
}

// counters are the engine counters MiniMind-Go's /health reports.
// PrefillPasses and PrefillRows are absent on servers from before batched
// prefill; they read as zero then.
type counters struct {
	DecodeSteps   int64 `json:"decode_steps"`
	DecodeRows    int64 `json:"decode_rows"`
	BatchRows     int64 `json:"batch_rows"`
	PrefillPasses int64 `json:"prefill_passes"`
	PrefillRows   int64 `json:"prefill_rows"`
}

// engineCounters reads base's /health; ok is false for a server without
// the counters (another implementation, or an error).
func engineCounters(ctx context.Context, client *http.Client, base string) (counters, bool) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/health", nil)
	if err != nil {
		return counters{}, false
	}
	res, err := client.Do(req)
	if err != nil {
		return counters{}, false
	}
	defer res.Body.Close()
	// The outer decode_steps shadows the embedded one: a nil pointer tells a
	// server without the counters from one whose count is zero.
	var h struct {
		counters
		DecodeSteps *int64 `json:"decode_steps"`
	}
	if res.StatusCode != http.StatusOK || json.NewDecoder(io.LimitReader(res.Body, 1<<16)).Decode(&h) != nil || h.DecodeSteps == nil {
		return counters{}, false
	}
	h.counters.DecodeSteps = *h.DecodeSteps
	return h.counters, true
}

// serveResult is one request's outcome.
type serveResult struct {
	err    error
	tokens int
	ttft   time.Duration // to the first generated text (the whole reply when it has none)
	total  time.Duration
}

// serveLoad runs one load level: n clients, each sending opts.Rounds
// requests back to back.
func serveLoad(ctx context.Context, client *http.Client, base string, opts BenchServeOptions, n int) (serveLevel, error) {
	results := make([]serveResult, n*opts.Rounds)
	var wg sync.WaitGroup
	t0 := time.Now()
	for c := range n {
		wg.Go(func() {
			for r := range opts.Rounds {
				results[c*opts.Rounds+r] = streamOnce(ctx, client, base, opts, c, r)
			}
		})
	}
	wg.Wait()
	wall := time.Since(t0)
	if err := ctx.Err(); err != nil {
		return serveLevel{}, err
	}
	lv := serveLevel{Clients: n, Requests: len(results), WallS: wall.Seconds()}
	var ttft, perReply []float64
	for _, r := range results {
		if r.err != nil {
			if lv.Errors == 0 {
				lv.FirstError = r.err.Error()
			}
			lv.Errors++
			continue
		}
		lv.CompletionTokens += r.tokens
		ttft = append(ttft, float64(r.ttft)/float64(time.Millisecond))
		if d := r.total - r.ttft; r.tokens > 1 && d > 0 {
			perReply = append(perReply, float64(r.tokens-1)/d.Seconds())
		}
	}
	lv.TokensPerS = float64(lv.CompletionTokens) / wall.Seconds()
	if len(ttft) > 0 {
		lv.TTFTP50Ms, lv.TTFTP99Ms = percentile(ttft, 50), percentile(ttft, 99)
	}
	if len(perReply) > 0 {
		lv.ReplyTokensPerS = median(perReply)
	}
	return lv, nil
}

// percentile is the nearest-rank p-th percentile of xs (not empty).
func percentile(xs []float64, p float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

// streamChunk is the part of a streamed chat.completion.chunk bench reads.
type streamChunk struct {
	Choices []struct {
		Delta struct {
			Content          string            `json:"content"`
			ReasoningContent string            `json:"reasoning_content"`
			ToolCalls        []json.RawMessage `json:"tool_calls"`
		} `json:"delta"`
	} `json:"choices"`
	Usage *struct {
		CompletionTokens int `json:"completion_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string `json:"message"`
	} `json:"error"`
}

// streamOnce sends one streaming chat completion and times it.
func streamOnce(ctx context.Context, client *http.Client, base string, opts BenchServeOptions, c, r int) serveResult {
	ctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	body, err := json.Marshal(map[string]any{
		"messages":       []map[string]string{{"role": "user", "content": fmt.Sprintf("(client %d, request %d) %s", c, r, opts.Prompt)}},
		"stream":         true,
		"stream_options": map[string]bool{"include_usage": true},
		"max_tokens":     opts.MaxTokens,
		"ignore_eos":     true,
		"temperature":    opts.Temperature,
		"top_p":          opts.TopP,
	})
	if err != nil {
		return serveResult{err: err}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/v1/chat/completions", bytes.NewReader(body))
	if err != nil {
		return serveResult{err: err}
	}
	req.Header.Set("Content-Type", "application/json")
	t0 := time.Now()
	res, err := client.Do(req)
	if err != nil {
		return serveResult{err: err}
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return serveResult{err: fmt.Errorf("HTTP %s: %s", res.Status, strings.TrimSpace(string(msg)))}
	}
	var out serveResult
	chunks, done := 0, false
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		data, ok := strings.CutPrefix(sc.Text(), "data: ")
		if !ok {
			continue
		}
		if data == "[DONE]" {
			done = true
			break
		}
		var ch streamChunk
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			return serveResult{err: fmt.Errorf("bad event %q: %w", data, err)}
		}
		if ch.Error != nil {
			return serveResult{err: errors.New(ch.Error.Message)}
		}
		if ch.Usage != nil {
			out.tokens = ch.Usage.CompletionTokens
		}
		for _, c := range ch.Choices {
			if c.Delta.Content != "" || c.Delta.ReasoningContent != "" || len(c.Delta.ToolCalls) > 0 {
				if chunks == 0 {
					out.ttft = time.Since(t0)
				}
				chunks++
			}
		}
	}
	out.total = time.Since(t0)
	if err := sc.Err(); err != nil {
		return serveResult{err: err}
	}
	if !done {
		return serveResult{err: errors.New("the stream ended without data: [DONE]")}
	}
	if chunks == 0 {
		out.ttft = out.total
	}
	if out.tokens == 0 { // a server that sends no usage: one token per text chunk
		out.tokens = chunks
	}
	return out
}
