package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/server"
)

// newTestServer starts an engine loop over a random tiny model and an
// httptest server in front of it.
func newTestServer(tb testing.TB, eo generate.EngineOptions, so server.Options) (*httptest.Server, *generate.Engine) {
	tb.Helper()
	eng := generatetest.Engine(tb, 11, eo)
	s, err := server.New(eng, so)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(func() {
		cancel()
		<-eng.Done()
		ts.Close()
	})
	return ts, eng
}

func post(tb testing.TB, ts *httptest.Server, path, body string, hdr ...string) (*http.Response, []byte) {
	tb.Helper()
	req, err := http.NewRequest("POST", ts.URL+path, strings.NewReader(body))
	if err != nil {
		tb.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	res, err := ts.Client().Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		tb.Fatal(err)
	}
	return res, b
}

type completionBody struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Model   string `json:"model"`
	Choices []struct {
		Index   int `json:"index"`
		Message struct {
			Role    string `json:"role"`
			Content string `json:"content"`
		} `json:"message"`
		Delta struct {
			Role    string  `json:"role"`
			Content *string `json:"content"`
		} `json:"delta"`
		Text         string  `json:"text"`
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
	Usage *struct {
		PromptTokens     int `json:"prompt_tokens"`
		CompletionTokens int `json:"completion_tokens"`
		TotalTokens      int `json:"total_tokens"`
	} `json:"usage"`
	Error *struct {
		Message string  `json:"message"`
		Type    string  `json:"type"`
		Param   *string `json:"param"`
		Code    *string `json:"code"`
	} `json:"error"`
}

func decode(tb testing.TB, b []byte) completionBody {
	tb.Helper()
	var c completionBody
	if err := json.Unmarshal(b, &c); err != nil {
		tb.Fatalf("response is not JSON: %v: %s", err, b)
	}
	return c
}

// readSSE parses a stream of "data: ..." events until [DONE].
func readSSE(tb testing.TB, r io.Reader) []completionBody {
	tb.Helper()
	var out []completionBody
	sc := bufio.NewScanner(r)
	sawDone := false
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			continue
		}
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok {
			tb.Fatalf("not an SSE data line: %q", line)
		}
		if data == "[DONE]" {
			sawDone = true
			continue
		}
		if sawDone {
			tb.Fatalf("event after [DONE]: %s", data)
		}
		out = append(out, decode(tb, []byte(data)))
	}
	if !sawDone {
		tb.Fatalf("stream ended without data: [DONE] after %d events", len(out))
	}
	return out
}

const chatBody = `{"model":"minimind","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"你好"}],
	"max_tokens":12,"seed":5,"temperature":0.9,"ignore_eos":true%s}`

func TestChatCompletion(t *testing.T) {
	ts, eng := newTestServer(t, generate.EngineOptions{Slots: 4, Window: 128}, server.Options{})
	res, b := post(t, ts, "/v1/chat/completions", fmt.Sprintf(chatBody, ""))
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	c := decode(t, b)
	if c.Object != "chat.completion" || !strings.HasPrefix(c.ID, "chatcmpl-") || c.Model != "minimind" || len(c.Choices) != 1 {
		t.Fatalf("unexpected response: %s", b)
	}
	ch := c.Choices[0]
	if ch.Message.Role != "assistant" || ch.FinishReason == nil || *ch.FinishReason != "length" {
		t.Fatalf("choice: %s", b)
	}
	// usage: the prompt is the rendered template's tokens.
	tok := eng.Tokenizer()
	want := len(tok.Encode("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"))
	if u := c.Usage; u == nil || u.PromptTokens != want || u.CompletionTokens != 12 || u.TotalTokens != want+12 {
		t.Fatalf("usage %+v, want prompt %d, completion 12", c.Usage, want)
	}

	// The same request streamed gives the same text (same seed), in chunks.
	res2, b2 := post(t, ts, "/v1/chat/completions", fmt.Sprintf(chatBody, `,"stream":true,"stream_options":{"include_usage":true}`))
	if res2.StatusCode != 200 || !strings.HasPrefix(res2.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("stream status %d, type %q", res2.StatusCode, res2.Header.Get("Content-Type"))
	}
	events := readSSE(t, bytes.NewReader(b2))
	if len(events) < 4 {
		t.Fatalf("only %d events", len(events))
	}
	if events[0].Choices[0].Delta.Role != "assistant" {
		t.Errorf("first chunk has no assistant role: %+v", events[0])
	}
	var text strings.Builder
	finish := ""
	for _, e := range events {
		if e.Object != "chat.completion.chunk" || e.ID != events[0].ID {
			t.Fatalf("chunk object %q id %q", e.Object, e.ID)
		}
		for _, c := range e.Choices {
			if c.Delta.Content != nil {
				text.WriteString(*c.Delta.Content)
			}
			if c.FinishReason != nil {
				finish = *c.FinishReason
			}
		}
	}
	last := events[len(events)-1]
	if last.Usage == nil || len(last.Choices) != 0 || last.Usage.CompletionTokens != 12 {
		t.Errorf("last chunk should carry usage only: %+v", last)
	}
	if text.String() != ch.Message.Content || finish != "length" {
		t.Errorf("streamed %q (%s), non-streamed %q (length)", text.String(), finish, ch.Message.Content)
	}
}

func TestCompletions(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 2, Window: 64}, server.Options{})
	body := `{"model":"minimind","prompt":"Once upon a time","max_tokens":6,"temperature":0,"ignore_eos":true%s}`
	res, b := post(t, ts, "/v1/completions", fmt.Sprintf(body, ""))
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	c := decode(t, b)
	if c.Object != "text_completion" || len(c.Choices) != 1 || c.Choices[0].Text == "" || c.Usage.CompletionTokens != 6 {
		t.Fatalf("unexpected completion: %s", b)
	}
	_, b2 := post(t, ts, "/v1/completions", fmt.Sprintf(body, `,"stream":true`))
	var text strings.Builder
	for _, e := range readSSE(t, bytes.NewReader(b2)) {
		if e.Object != "text_completion" {
			t.Fatalf("chunk object %q", e.Object)
		}
		text.WriteString(e.Choices[0].Text)
	}
	if text.String() != c.Choices[0].Text {
		t.Errorf("streamed %q, non-streamed %q", text.String(), c.Choices[0].Text)
	}
}

// TestPenalties: frequency_penalty and presence_penalty reach the sampler.
// A greedy completion with them is exactly what generate gives with the
// same options on the same weights, and differs from one without them.
func TestPenalties(t *testing.T) {
	eo := generate.EngineOptions{Slots: 2, Window: 64}
	ts, _ := newTestServer(t, eo, server.Options{})
	ref := generatetest.Engine(t, 11, eo) // the same weights, run directly
	prompt := generate.TextPrompt(ref.Tokenizer(), int32(ref.Config().BosTokenID), "Once upon a time")
	greedy := generate.Options{MaxNewTokens: 16, IgnoreEOS: true}
	penalised := greedy
	penalised.FrequencyPenalty, penalised.PresencePenalty = 1.5, 0.5
	want, err := ref.Generate(context.Background(), []generate.Request{{Prompt: prompt, Options: penalised}, {Prompt: prompt, Options: greedy}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if slices.Equal(want[0].Tokens, want[1].Tokens) {
		t.Fatalf("the penalties change nothing on this model; pick larger ones: %v", want[0].Tokens)
	}
	body := `{"prompt":"Once upon a time","max_tokens":16,"temperature":0,"ignore_eos":true,"frequency_penalty":1.5,"presence_penalty":0.5}`
	res, b := post(t, ts, "/v1/completions", body)
	if res.StatusCode != 200 {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	if got := decode(t, b).Choices[0].Text; got != want[0].Text {
		t.Errorf("completion with penalties %q, want %q (without: %q)", got, want[0].Text, want[1].Text)
	}
	// Chat requests share the fields: the penalties change the reply.
	chatBody := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":16,"temperature":0,"ignore_eos":true%s}`
	_, plain := post(t, ts, "/v1/chat/completions", fmt.Sprintf(chatBody, ""))
	_, pen := post(t, ts, "/v1/chat/completions", fmt.Sprintf(chatBody, `,"frequency_penalty":1.5,"presence_penalty":0.5`))
	if a, b := decode(t, plain).Choices, decode(t, pen).Choices; len(a) != 1 || len(b) != 1 || a[0].Message.Content == b[0].Message.Content {
		t.Errorf("chat: the penalties changed nothing:\n%s\n%s", plain, pen)
	}
}

func TestModelsHealthAndPage(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 1, Window: 32}, server.Options{ModelName: "tiny"})
	cases := []struct {
		name, path, want string
	}{
		{"models", "/v1/models", `"id":"tiny"`},
		{"health", "/health", `"status":"ok"`},
		{"page", "/", "<title>MiniMind chat</title>"},
		{"script", "/app.js", "chat/completions"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, err := ts.Client().Get(ts.URL + c.path)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != 200 || !strings.Contains(string(b), c.want) {
				t.Fatalf("GET %s: %d %s", c.path, res.StatusCode, b)
			}
		})
	}
}

// TestValidation sends what a client can get wrong and expects a 4xx with
// an OpenAI error body.
func TestValidation(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 2, Window: 48}, server.Options{MaxBodyBytes: 1 << 16})
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	cases := []struct {
		name, path, body string
		status           int
		param            string // expected error.param, "" = any
	}{
		{"malformed JSON", "/v1/chat/completions", `{"messages":`, 400, ""},
		{"empty body", "/v1/chat/completions", ``, 400, ""},
		{"not an object", "/v1/chat/completions", `[1,2]`, 400, ""},
		{"trailing data", "/v1/chat/completions", `{` + msgs + `} {}`, 400, ""},
		{"null body", "/v1/chat/completions", `null`, 400, "messages"},
		{"messages not a list", "/v1/chat/completions", `{"messages":"hi"}`, 400, "messages"},
		{"no messages", "/v1/chat/completions", `{"messages":[]}`, 400, "messages"},
		{"message not an object", "/v1/chat/completions", `{"messages":[3]}`, 400, ""},
		{"unknown role", "/v1/chat/completions", `{"messages":[{"role":"wizard","content":"hi"}]}`, 400, "messages[0].role"},
		{"missing role", "/v1/chat/completions", `{"messages":[{"content":"hi"}]}`, 400, "messages[0].role"},
		{"empty content", "/v1/chat/completions", `{"messages":[{"role":"user","content":""}]}`, 400, "messages[0].content"},
		{"content a number", "/v1/chat/completions", `{"messages":[{"role":"user","content":42}]}`, 400, ""},
		{"temperature a string", "/v1/chat/completions", `{` + msgs + `,"temperature":"hot"}`, 400, "temperature"},
		{"temperature too high", "/v1/chat/completions", `{` + msgs + `,"temperature":7}`, 400, "temperature"},
		{"top_p zero", "/v1/chat/completions", `{` + msgs + `,"top_p":0}`, 400, "top_p"},
		{"negative top_k", "/v1/chat/completions", `{` + msgs + `,"top_k":-3}`, 400, "top_k"},
		{"max_tokens zero", "/v1/chat/completions", `{` + msgs + `,"max_tokens":0}`, 400, "max_tokens"},
		{"max_tokens absurd", "/v1/chat/completions", `{` + msgs + `,"max_tokens":1000000000}`, 400, "max_tokens"},
		{"max_tokens fractional", "/v1/chat/completions", `{` + msgs + `,"max_tokens":1.5}`, 400, "max_tokens"},
		{"n 2", "/v1/chat/completions", `{` + msgs + `,"n":2}`, 400, "n"},
		{"stop a number", "/v1/chat/completions", `{` + msgs + `,"stop":5}`, 400, ""},
		{"too many stops", "/v1/chat/completions", `{` + msgs + `,"stop":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q"]}`, 400, "stop"},
		{"empty stop", "/v1/chat/completions", `{` + msgs + `,"stop":[""]}`, 400, "stop"},
		{"presence_penalty out of range", "/v1/chat/completions", `{` + msgs + `,"presence_penalty":9}`, 400, "presence_penalty"},
		{"frequency_penalty out of range", "/v1/chat/completions", `{` + msgs + `,"frequency_penalty":-2.5}`, 400, "frequency_penalty"},
		{"frequency_penalty a string", "/v1/chat/completions", `{` + msgs + `,"frequency_penalty":"x"}`, 400, "frequency_penalty"},
		{"seed fractional", "/v1/chat/completions", `{` + msgs + `,"seed":0.5}`, 400, "seed"},
		{"stream not a bool", "/v1/chat/completions", `{` + msgs + `,"stream":"yes"}`, 400, "stream"},
		{"tool not an object", "/v1/chat/completions", `{` + msgs + `,"tools":[1]}`, 400, ""},
		{"tools not a list", "/v1/chat/completions", `{` + msgs + `,"tools":{"type":"function"}}`, 400, ""},
		{"thinking not a bool", "/v1/chat/completions", `{` + msgs + `,"chat_template_kwargs":{"enable_thinking":"x"}}`, 400, ""},
		{"prompt too long", "/v1/chat/completions", `{"messages":[{"role":"user","content":"` + strings.Repeat("long words here ", 40) + `"}]}`, 400, "messages"},
		{"body too large", "/v1/chat/completions", `{"messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<17) + `"}]}`, 413, ""},
		{"unknown model", "/v1/chat/completions", `{"model":"gpt-4o",` + msgs + `}`, 404, "model"},
		{"completion unknown model", "/v1/completions", `{"model":"gpt-4o","prompt":"hi"}`, 404, "model"},
		{"model not a string", "/v1/chat/completions", `{"model":7,` + msgs + `}`, 400, "model"},
		{"completion without prompt", "/v1/completions", `{"max_tokens":3}`, 400, "prompt"},
		{"completion two prompts", "/v1/completions", `{"prompt":["a","b"]}`, 400, "prompt"},
		{"completion prompt a number", "/v1/completions", `{"prompt":7}`, 400, ""},
		{"completion temperature a string", "/v1/completions", `{"prompt":"hi","temperature":"hot"}`, 400, "temperature"},
		{"completion top_k fractional", "/v1/completions", `{"prompt":"hi","top_k":1.5}`, 400, "top_k"},
		{"completion top_p zero", "/v1/completions", `{"prompt":"hi","top_p":0}`, 400, "top_p"},
		{"completion presence_penalty out of range", "/v1/completions", `{"prompt":"hi","presence_penalty":3}`, 400, "presence_penalty"},
		{"completion n 2", "/v1/completions", `{"prompt":"hi","n":2}`, 400, "n"},
		{"unknown endpoint", "/v1/embeddings", `{}`, 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, b := post(t, ts, c.path, c.body)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, b)
			}
			e := decode(t, b).Error
			if e == nil || e.Message == "" || e.Type == "" {
				t.Fatalf("no OpenAI error object: %s", b)
			}
			if c.param != "" && (e.Param == nil || *e.Param != c.param) {
				t.Errorf("param %v, want %q: %s", e.Param, c.param, b)
			}
		})
	}
	// The long prompt, the large body and the unknown model are reported
	// with OpenAI's codes.
	codes := []struct{ name, path, body, code string }{
		{"long prompt", "/v1/chat/completions", `{"messages":[{"role":"user","content":"` + strings.Repeat("long words here ", 40) + `"}]}`, "context_length_exceeded"},
		{"body too large", "/v1/chat/completions", `{"messages":[{"role":"user","content":"` + strings.Repeat("x", 1<<17) + `"}]}`, "request_too_large"},
		{"unknown model", "/v1/chat/completions", `{"model":"gpt-4o",` + msgs + `}`, "model_not_found"},
		{"completion long prompt", "/v1/completions", `{"prompt":"` + strings.Repeat("long words here ", 40) + `"}`, "context_length_exceeded"},
	}
	for _, c := range codes {
		t.Run("code/"+c.name, func(t *testing.T) {
			_, b := post(t, ts, c.path, c.body)
			if e := decode(t, b).Error; e == nil || e.Code == nil || *e.Code != c.code {
				t.Errorf("want code %q: %s", c.code, b)
			}
		})
	}
}

func TestAPIKey(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 1, Window: 64}, server.Options{APIKey: "sekret"})
	body := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}`
	cases := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"no header", nil, 401},
		{"wrong key", []string{"Authorization", "Bearer nope"}, 401},
		{"not bearer", []string{"Authorization", "sekret"}, 401},
		{"right key", []string{"Authorization", "Bearer sekret"}, 200},
		{"scheme in lower case", []string{"Authorization", "bearer sekret"}, 200},
		{"scheme in upper case", []string{"Authorization", "BEARER sekret"}, 200},
		{"key with a longer prefix", []string{"Authorization", "Bearer sekretsekret"}, 401},
		{"key prefix", []string{"Authorization", "Bearer sekre"}, 401},
		{"empty key", []string{"Authorization", "Bearer "}, 401},
		{"other scheme", []string{"Authorization", "Basic sekret"}, 401},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, b := post(t, ts, "/v1/chat/completions", body, c.hdr...)
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, b)
			}
			if c.status == 401 {
				if e := decode(t, b).Error; e == nil || e.Code == nil || *e.Code != "invalid_api_key" {
					t.Fatalf("401 body: %s", b)
				}
			}
		})
	}
	if res, err := ts.Client().Get(ts.URL + "/health"); err != nil || res.StatusCode != 200 {
		t.Fatalf("/health needs no key: %v %v", res, err)
	}
}

// startStream opens a streaming chat request and returns its reader after
// the first content chunk arrived (so the request is decoding).
func startStream(tb testing.TB, ctx context.Context, url string, maxTokens int) (*bufio.Reader, *http.Response) {
	tb.Helper()
	body := fmt.Sprintf(`{"messages":[{"role":"user","content":"tell me a story"}],"stream":true,"ignore_eos":true,"max_tokens":%d}`, maxTokens)
	req, _ := http.NewRequestWithContext(ctx, "POST", url+"/v1/chat/completions", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	if res.StatusCode != 200 {
		b, _ := io.ReadAll(res.Body)
		tb.Fatalf("status %d: %s", res.StatusCode, b)
	}
	br := bufio.NewReader(res.Body)
	for range 2 { // the role chunk, then the first content chunk
		if _, err := br.ReadString('\n'); err != nil {
			tb.Fatal(err)
		}
		if _, err := br.ReadString('\n'); err != nil {
			tb.Fatal(err)
		}
	}
	return br, res
}

func waitActive(tb testing.TB, eng *generate.Engine, want int) {
	tb.Helper()
	for range 6000 { // a hang guard: up to 60 s on a busy host
		if eng.Stats().Active == want {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatalf("engine has %d active sequences, want %d", eng.Stats().Active, want)
}

// TestDisconnectCancels: a client that goes away mid-stream frees its slot.
func TestDisconnectCancels(t *testing.T) {
	ts, eng := newTestServer(t, generate.EngineOptions{Slots: 2, Window: 256}, server.Options{})
	ctx, cancel := context.WithCancel(context.Background())
	_, res := startStream(t, ctx, ts.URL, 200)
	waitActive(t, eng, 1)
	cancel()
	res.Body.Close()
	waitActive(t, eng, 0)
	if g := eng.Stats().Generated; g >= 200 {
		t.Errorf("the cancelled request ran to the end (%d tokens)", g)
	}
}

// TestQueueFull: one slot, a queue of one: the third concurrent request
// gets 429 with an OpenAI error.
func TestQueueFull(t *testing.T) {
	// Requests that hold their place until released, so the test does not
	// depend on how fast the engine is (a real reply of the tiny model can
	// end before the next request arrives on a busy host).
	entered := make(chan struct{}, 4)
	release := make(chan struct{})
	hold := func(ctx context.Context, _ generate.Request) (<-chan generate.Event, error) {
		entered <- struct{}{}
		ch := make(chan generate.Event)
		go func() {
			select {
			case <-ctx.Done():
			case <-release:
			}
			close(ch)
		}()
		return ch, nil
	}
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 1, Queue: 1, Window: 256}, server.Options{Submit: hold})
	defer close(release)
	// The first takes the slot, the second the queue place.
	for i := range 2 {
		go func() {
			req, _ := http.NewRequest("POST", ts.URL+"/v1/chat/completions",
				strings.NewReader(fmt.Sprintf(`{"messages":[{"role":"user","content":"wait %d"}],"max_tokens":2}`, i)))
			req.Header.Set("Content-Type", "application/json")
			if r, err := http.DefaultClient.Do(req); err == nil {
				r.Body.Close()
			}
		}()
	}
	for range 2 {
		select {
		case <-entered:
		case <-time.After(time.Minute): // a hang guard only
			t.Fatal("the first two requests never reached the engine")
		}
	}
	r3, b := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"third"}],"max_tokens":2}`)
	if r3.StatusCode != 429 {
		t.Fatalf("third request: status %d: %s", r3.StatusCode, b)
	}
	if e := decode(t, b).Error; e == nil || e.Type != "rate_limit_error" {
		t.Fatalf("429 body: %s", b)
	}
}

// TestConcurrentClients: 8 streaming clients at once each get the reply a
// lone greedy request gets.
func TestConcurrentClients(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 8, Window: 128}, server.Options{})
	body := func(i int) string {
		return fmt.Sprintf(`{"messages":[{"role":"user","content":"question %d"}],"temperature":0,"max_tokens":16,"ignore_eos":true}`, i)
	}
	alone := make([]string, 8)
	for i := range alone {
		_, b := post(t, ts, "/v1/chat/completions", body(i))
		alone[i] = decode(t, b).Choices[0].Message.Content
	}
	var wg sync.WaitGroup
	got := make([]string, 8)
	for i := range got {
		wg.Go(func() {
			_, b := post(t, ts, "/v1/chat/completions", strings.TrimSuffix(body(i), "}")+`,"stream":true}`)
			var sb strings.Builder
			for _, e := range readSSE(t, bytes.NewReader(b)) {
				for _, c := range e.Choices {
					if c.Delta.Content != nil {
						sb.WriteString(*c.Delta.Content)
					}
				}
			}
			got[i] = sb.String()
		})
	}
	wg.Wait()
	for i := range got {
		if got[i] != alone[i] {
			t.Errorf("client %d: together %q, alone %q", i, got[i], alone[i])
		}
	}
}

// TestGracefulShutdown: cancelling Serve lets an in-flight stream finish,
// then Serve returns nil and the port is closed.
func TestGracefulShutdown(t *testing.T) {
	eng := generatetest.Engine(t, 12, generate.EngineOptions{Slots: 2, Window: 128})
	s, err := server.New(eng, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- server.Serve(ctx, ln, s, 10*time.Second) }()
	url := "http://" + ln.Addr().String()
	var br *bufio.Reader
	for range 6000 { // wait for the listener's goroutine (up to 60 s on a busy host)
		if res, err := http.Get(url + "/health"); err == nil {
			res.Body.Close()
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	br, res := startStream(t, context.Background(), url, 40)
	defer res.Body.Close()
	cancel()
	rest, err := io.ReadAll(br)
	if err != nil {
		t.Fatalf("in-flight stream broken by shutdown: %v", err)
	}
	if !strings.Contains(string(rest), `"finish_reason":"length"`) || !strings.HasSuffix(string(rest), "data: [DONE]\n\n") {
		t.Fatalf("in-flight stream did not finish normally: %s", rest)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Serve did not return")
	}
	if _, err := http.Get(url + "/health"); err == nil {
		t.Fatal("server still accepts connections after shutdown")
	} else if !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "refused") {
		t.Logf("after shutdown: %v", err)
	}
}
