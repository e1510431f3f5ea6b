package generate_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

func defaultTokenizer(tb testing.TB) *tokenizer.Tokenizer { return generatetest.Tokenizer(tb) }

func newEngine(tb testing.TB, m *model.Model, tok *tokenizer.Tokenizer, opts generate.EngineOptions) *generate.Engine {
	tb.Helper()
	e, err := generate.NewEngine(m, tok, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}

func argmax(x []float32) (int32, float32) {
	best, second := 0, float32(-1e30)
	for i, v := range x {
		if v > x[best] {
			second = x[best]
			best = i
		} else if i != best && v > second {
			second = v
		}
	}
	return int32(best), x[best] - second
}

// TestGenerateKVCacheFixture decodes the kv-cache fixture's prompt greedily
// and gets PyTorch's 12 tokens.
func TestGenerateKVCacheFixture(t *testing.T) {
	dir := fixture.Dir(t, "kv-cache")
	p, err := checkpoint.LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(p, cpu.New(cpu.Options{}))
	var in struct {
		PromptIDs [][]int32 `json:"prompt_ids"`
	}
	var exp struct {
		GeneratedIDs []int32 `json:"generated_ids"`
	}
	for name, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := tokenizer.Load(filepath.Join("..", "tokenizer", "testdata", "tiny_tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 2, Window: 64})
	opts := generate.Options{MaxNewTokens: len(exp.GeneratedIDs), IgnoreEOS: true}
	// Twice in one batch: both rows must give the fixture's tokens.
	reqs := []generate.Request{{Prompt: in.PromptIDs[0], Options: opts}, {Prompt: in.PromptIDs[0], Options: opts}}
	res, err := e.Generate(context.Background(), reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !slices.Equal(r.Tokens, exp.GeneratedIDs) {
			t.Errorf("row %d generated %v, want %v", i, r.Tokens, exp.GeneratedIDs)
		}
		if r.Finish != generate.FinishLength {
			t.Errorf("row %d finish %q, want length", i, r.Finish)
		}
	}
}

// TestGreedyEqualsFullForward checks that batched, continuously admitted
// KV-cache decoding picks, at every step, the argmax of a cache-free
// forward pass over the whole sequence, and that a sequence decoded alone
// gives the same reply.
func TestGreedyEqualsFullForward(t *testing.T) {
	tok := defaultTokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 3)
	prompts := [][]int32{
		tok.Encode("hello world"),
		tok.Encode("<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"),
		tok.Encode("a"),
		tok.Encode("The quick brown fox jumps over the lazy dog, again and again."),
	}
	opts := generate.Options{MaxNewTokens: 24, IgnoreEOS: true}
	var reqs []generate.Request
	for _, p := range prompts {
		reqs = append(reqs, generate.Request{Prompt: p, Options: opts})
	}
	// 3 slots for 4 prompts and a small prefill chunk: the last prompt is
	// admitted while the others decode, and prefills over several steps.
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 3, Window: 128, PrefillChunk: 5})
	batched, err := e.Generate(context.Background(), reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	checked, ties := 0, 0
	for i, r := range batched {
		if len(r.Tokens) != opts.MaxNewTokens {
			t.Fatalf("prompt %d: %d tokens, want %d", i, len(r.Tokens), opts.MaxNewTokens)
		}
		full := append(slices.Clone(prompts[i]), r.Tokens...)
		logits, err := m.Logits(full, 1, len(full), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		P := len(prompts[i])
		for j, got := range r.Tokens {
			want, margin := argmax(logits[(P-1+j)*V : (P+j)*V])
			if margin < 1e-4 {
				ties++
				continue // a near tie: float rounding may pick either
			}
			checked++
			if got != want {
				t.Fatalf("prompt %d step %d: generated %d, full-forward argmax %d (margin %.3g)", i, j, got, want, margin)
			}
		}
		alone, err := e.Generate(context.Background(), reqs[i:i+1], nil)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(alone[0].Tokens, r.Tokens) {
			t.Errorf("prompt %d: alone %v, batched %v", i, alone[0].Tokens, r.Tokens)
		}
	}
	if checked < 80 {
		t.Fatalf("only %d steps had a clear argmax (%d near ties)", checked, ties)
	}
	t.Logf("%d steps equal the full forward's argmax, %d near ties skipped", checked, ties)
}

func TestFixedSeedFixedOutput(t *testing.T) {
	tok := defaultTokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 4)
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 2, Window: 96})
	run := func(seed uint64) []int32 {
		o := generate.Options{MaxNewTokens: 32, Temperature: 1, TopK: 50, TopP: 0.9, RepetitionPenalty: 1.1, Seed: seed, IgnoreEOS: true}
		res, err := e.Generate(context.Background(), []generate.Request{{Prompt: tok.Encode("once upon a time"), Options: o}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res[0].Tokens
	}
	a, b, c := run(1), run(1), run(2)
	if !slices.Equal(a, b) {
		t.Fatalf("seed 1 twice:\n%v\n%v", a, b)
	}
	if slices.Equal(a, c) {
		t.Fatalf("seeds 1 and 2 gave the same 32 tokens")
	}
}

// TestStreamingUTF8 samples hot from a random model (many byte-fragment
// tokens) and checks every streamed piece is whole UTF-8 and the pieces add
// up to the decoded reply.
func TestStreamingUTF8(t *testing.T) {
	tok := defaultTokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 5)
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 4, Window: 200})
	var reqs []generate.Request
	for s := range 4 {
		reqs = append(reqs, generate.Request{Prompt: tok.Encode("中文测试"), Options: generate.Options{MaxNewTokens: 150, Temperature: 3, Seed: uint64(s), IgnoreEOS: true}})
	}
	pieces := make([][]string, len(reqs))
	res, err := e.Generate(context.Background(), reqs, func(i int, ev generate.Event) {
		pieces[i] = append(pieces[i], ev.Text)
	})
	if err != nil {
		t.Fatal(err)
	}
	multi := 0
	for i, r := range res {
		for _, p := range pieces[i] {
			if !utf8.ValidString(p) {
				t.Fatalf("request %d streamed invalid UTF-8 %q", i, p)
			}
		}
		if got, want := strings.Join(pieces[i], ""), tok.DecodeSkipSpecial(r.Tokens); got != want {
			t.Errorf("request %d: streamed %q, decoded %q", i, got, want)
		}
		for _, id := range r.Tokens {
			if strings.ContainsRune(tok.Decode([]int32{id}), utf8.RuneError) {
				multi++
			}
		}
	}
	if multi == 0 {
		t.Fatal("no token held a partial character; the test proves nothing")
	}
	t.Logf("%d tokens were partial characters", multi)
}

func TestStopStringsAndLimits(t *testing.T) {
	tok := defaultTokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 6)
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 2, Window: 64})
	prompt := tok.Encode("stop here")
	gen := func(o generate.Options) generate.Result {
		t.Helper()
		res, err := e.Generate(context.Background(), []generate.Request{{Prompt: prompt, Options: o}}, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res[0]
	}
	base := gen(generate.Options{MaxNewTokens: 40, IgnoreEOS: true})
	runes := []rune(base.Text)
	if len(runes) < 12 {
		t.Fatalf("reply too short to test stop strings: %q", base.Text)
	}
	stop := string(runes[6:9])
	want := base.Text[:strings.Index(base.Text, stop)]
	if got := gen(generate.Options{MaxNewTokens: 40, IgnoreEOS: true, Stop: []string{stop}}); got.Text != want || got.Finish != generate.FinishStop {
		t.Errorf("stop %q: got %q (%s), want %q (stop)", stop, got.Text, got.Finish, want)
	}
	// The window caps the reply: 64 positions minus the prompt.
	if got := gen(generate.Options{MaxNewTokens: 1000, IgnoreEOS: true}); len(got.Tokens) != 64-len(prompt) || got.Finish != generate.FinishLength {
		t.Errorf("window cap: %d tokens (%s), want %d (length)", len(got.Tokens), got.Finish, 64-len(prompt))
	}
	// Stopping at a stop token: make the first greedy token one.
	first := base.Tokens[0]
	if got := gen(generate.Options{MaxNewTokens: 40, StopTokens: []int32{first}}); len(got.Tokens) != 0 || got.Finish != generate.FinishStop || got.Text != "" {
		t.Errorf("stop token: got %v %q (%s), want nothing (stop)", got.Tokens, got.Text, got.Finish)
	}
}

func TestRequestValidation(t *testing.T) {
	tok := defaultTokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 7)
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 1, Window: 16, Queue: 1})
	long := make([]int32, 16)
	cases := []struct {
		name string
		req  generate.Request
		want error
	}{
		{"empty prompt", generate.Request{}, generate.ErrInvalid},
		{"prompt fills the window", generate.Request{Prompt: long}, generate.ErrContextWindow},
		{"id outside vocab", generate.Request{Prompt: []int32{1, int32(tok.VocabSize())}}, generate.ErrInvalid},
		{"negative id", generate.Request{Prompt: []int32{-1}}, generate.ErrInvalid},
		{"bad options", generate.Request{Prompt: []int32{1}, Options: generate.Options{TopP: 2}}, generate.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if _, err := e.Generate(context.Background(), []generate.Request{c.req}, nil); !errors.Is(err, c.want) {
				t.Errorf("Generate: %v, want %v", err, c.want)
			}
			if _, err := e.Submit(context.Background(), c.req); !errors.Is(err, c.want) {
				t.Errorf("Submit: %v, want %v", err, c.want)
			}
		})
	}
	// Queue of one and no Run loop: the second request is refused.
	ok := generate.Request{Prompt: []int32{1, 2}}
	if _, err := e.Submit(context.Background(), ok); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Submit(context.Background(), ok); !errors.Is(err, generate.ErrQueueFull) {
		t.Fatalf("second Submit: %v, want ErrQueueFull", err)
	}
}

// TestRunCancelAndShutdown runs the serving loop: a cancelled request ends
// with FinishCancelled and frees its slot; stopping the loop ends the rest
// with ErrClosed.
func TestRunCancelAndShutdown(t *testing.T) {
	tok := defaultTokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 8)
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 2, Window: 256})
	ctx, stop := context.WithCancel(context.Background())
	go e.Run(ctx)
	long := generate.Options{IgnoreEOS: true, Temperature: 1}
	rctx, cancel := context.WithCancel(context.Background())
	ch, err := e.Submit(rctx, generate.Request{Prompt: tok.Encode("hi"), Options: long})
	if err != nil {
		t.Fatal(err)
	}
	<-ch // the first piece: it is decoding
	cancel()
	last := drain(t, ch)
	if last.Finish != generate.FinishCancelled || !errors.Is(last.Err, context.Canceled) {
		t.Fatalf("cancelled request ended with %q, %v", last.Finish, last.Err)
	}
	waitIdle(t, e)
	// A request in flight when the loop stops gets ErrClosed.
	ch, err = e.Submit(context.Background(), generate.Request{Prompt: tok.Encode("hi"), Options: long})
	if err != nil {
		t.Fatal(err)
	}
	<-ch
	stop()
	if last := drain(t, ch); !errors.Is(last.Err, generate.ErrClosed) {
		t.Fatalf("request at shutdown ended with %q, %v", last.Finish, last.Err)
	}
	<-e.Done()
	if _, err := e.Submit(context.Background(), generate.Request{Prompt: []int32{1}}); !errors.Is(err, generate.ErrClosed) {
		t.Fatalf("Submit after Run: %v, want ErrClosed", err)
	}
}

func drain(tb testing.TB, ch <-chan generate.Event) generate.Event {
	tb.Helper()
	timeout := time.After(time.Minute) // a hang guard only
	for {
		select {
		case ev := <-ch:
			if ev.Done {
				return ev
			}
		case <-timeout:
			tb.Fatal("no Done event within a minute")
		}
	}
}

func waitIdle(tb testing.TB, e *generate.Engine) {
	tb.Helper()
	// A hang guard only: a busy host may take long to retire a sequence.
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		if e.Stats().Active == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("engine still has %d active sequences", e.Stats().Active)
}

// TestEngineDecodeStats: the decode counters count batched steps, the
// sequences they advanced and the rows they computed. Three sequences are
// prefilled in the first step (each samples its first token there); A's
// two more tokens and B's and C's five take five decode steps over rows
// [0,3), slot 0 idle once A has ended.
func TestEngineDecodeStats(t *testing.T) {
	e := generatetest.Engine(t, 1, generate.EngineOptions{Slots: 4, Window: 64})
	tok := e.Tokenizer()
	req := func(n int) generate.Request {
		return generate.Request{Prompt: tok.Encode("hello"), Options: generate.Options{MaxNewTokens: n, IgnoreEOS: true}}
	}
	if _, err := e.Generate(context.Background(), []generate.Request{req(3), req(6), req(6)}, nil); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	got := [4]int64{st.Generated, st.DecodeSteps, st.DecodeRows, st.BatchRows}
	if want := [4]int64{15, 5, 12, 15}; got != want {
		t.Errorf("generated, decode steps, decode rows, batch rows = %v, want %v", got, want)
	}
	// The three prompts, admitted together into slots 0-2, are prefilled
	// in one pass.
	if st.PrefillPasses != 1 || st.PrefillRows != 3 {
		t.Errorf("prefill passes, rows = %d, %d, want 1, 3", st.PrefillPasses, st.PrefillRows)
	}
}

// TestBatchedPrefill: prompts of different lengths in adjacent slots are
// prefilled together, padded to the longest (one pass of 4 rows when the
// prefill budget holds them all; smaller runs and chunks of the longest
// prompt when it does not), and every reply, with its log-probabilities,
// is the one the prompt gets alone in the engine.
func TestBatchedPrefill(t *testing.T) {
	for _, chunk := range []int{256, 24, 7} {
		t.Run(fmt.Sprint("prefill chunk ", chunk), func(t *testing.T) { testBatchedPrefill(t, chunk) })
	}
}

func testBatchedPrefill(t *testing.T, chunk int) {
	e := generatetest.Engine(t, 2, generate.EngineOptions{Slots: 4, Window: 96, PrefillChunk: chunk})
	tok := e.Tokenizer()
	var reqs []generate.Request
	lens := map[int]bool{}
	for _, p := range []string{
		"a",
		"hello world",
		"<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
		"The quick brown fox jumps over the lazy dog, again and again.",
	} {
		ids := tok.Encode(p)
		lens[len(ids)] = true
		reqs = append(reqs, generate.Request{Prompt: ids, Options: generate.Options{MaxNewTokens: 12, IgnoreEOS: true, LogProbs: true}})
	}
	if len(lens) != 4 {
		t.Fatalf("prompt lengths %v are not all different", lens)
	}
	batched, err := e.Generate(context.Background(), reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	if st := e.Stats(); chunk == 256 && (st.PrefillPasses != 1 || st.PrefillRows != 4) {
		t.Errorf("prefill passes, rows = %d, %d, want 1, 4", st.PrefillPasses, st.PrefillRows)
	} else {
		t.Logf("prompt lengths %v: %d prefill passes of %d rows in all", lens, st.PrefillPasses, st.PrefillRows)
	}
	for i, r := range batched {
		alone, err := e.Generate(context.Background(), reqs[i:i+1], nil)
		if err != nil {
			t.Fatal(err)
		}
		a := alone[0]
		if !slices.Equal(a.Tokens, r.Tokens) || len(a.LogProbs) != len(r.LogProbs) {
			t.Fatalf("prompt %d: alone %v, batched %v", i, a.Tokens, r.Tokens)
		}
		for j := range a.LogProbs {
			if d := math.Abs(float64(a.LogProbs[j] - r.LogProbs[j])); d > 1e-4 {
				t.Errorf("prompt %d token %d: log-probability alone %g, batched %g", i, j, a.LogProbs[j], r.LogProbs[j])
			}
		}
	}
}
