// Package e2e drives the server with real clients: the official openai npm
// package under Node.js, and the embedded chat page in headless Chromium.
// Each test skips, saying what to install, when its tool is missing; CI
// installs both (see the package README).
package e2e

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/server"
	"github.com/minimind-go/minimind/server/servertest"
)

const apiKey = "e2e-key"

// startServer runs a server over a random tiny model.
func startServer(tb testing.TB, key string, window int) *httptest.Server {
	tb.Helper()
	eng := generatetest.Engine(tb, 21, generate.EngineOptions{Slots: 4, Window: window})
	s, err := server.New(eng, server.Options{APIKey: key})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	go eng.Run(ctx)
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(func() {
		ts.Close()
		cancel()
		<-eng.Done()
	})
	return ts
}

// startToolServer runs a server with minimind-3's chat template whose
// replies are scripted like a tool-using model's (a random model never
// calls a tool): a thought and a get_weather call, then, once the prompt
// holds the tool's response, an answer built from it. The parsing of those
// replies is the server's own, on the real text.
func startToolServer(tb testing.TB, key string) *httptest.Server {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fixture.Dir(tb, "minimind3-tokenizer"), "tokenizer_config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		tb.Fatal(err)
	}
	tmpl, err := chat.NewTemplate(cfg.ChatTemplate)
	if err != nil {
		tb.Fatal(err)
	}
	reply := func(prompt string) string {
		if _, resp, ok := strings.Cut(prompt, "<tool_response>\n"); ok {
			resp, _, _ = strings.Cut(resp, "\n</tool_response>")
			return "<think>\nThe tool answered.\n</think>\n\nThe weather tool says: " + resp
		}
		return "The user asks about the weather; I should call get_weather.\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
	}
	eng := generatetest.Engine(tb, 21, generate.EngineOptions{Slots: 2, Window: 256})
	s, err := server.New(eng, server.Options{APIKey: key, Template: tmpl, Submit: servertest.Script(eng.Tokenizer(), reply)})
	if err != nil {
		tb.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	tb.Cleanup(ts.Close)
	return ts
}

// TestOpenAIClient runs openai.test.mjs (node --test) against the server,
// and its tool round trip against startToolServer's.
func TestOpenAIClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: install Node.js (CI does) to run the openai client test")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "openai", "package.json")); err != nil {
		t.Skip("the openai npm package is not installed: run `npm ci --prefix server/e2e` (CI does)")
	}
	ts := startServer(t, apiKey, 128)
	tools := startToolServer(t, apiKey)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard: node starts slowly on a busy host
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "openai.test.mjs")
	cmd.Env = append(os.Environ(), "MINIMIND_BASE_URL="+ts.URL+"/v1", "MINIMIND_API_KEY="+apiKey, "MINIMIND_TOOLS_BASE_URL="+tools.URL+"/v1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("node --test openai.test.mjs: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "# fail 0") {
		t.Fatalf("unexpected node test output:\n%s", out)
	}
	t.Logf("%s", out)
}

// chromium returns the path of a Chromium or Chrome binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserChat loads the chat page in headless Chromium, sends a
// message and watches the reply stream in, then stops a second reply.
func TestBrowserChat(t *testing.T) {
	// A long window, so the reply to be stopped is still streaming
	// when Stop is clicked.
	ts := startServer(t, "", 4096)
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("input")),
		chromedp.SetValue(chromedp.ID("system"), "You are a test."),
		chromedp.SetValue(chromedp.ID("max-tokens"), "24"),
		chromedp.SendKeys(chromedp.ID("input"), "Hello, model!"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(`.message.assistant[data-done="true"]`)),
	)
	if err != nil {
		t.Fatalf("chat page: %v", err)
	}
	reply := run(t, ctx, chromedp.Text(chromedp.CSS(".message.assistant")))
	chunks := run(t, ctx, chromedp.AttributeValue(chromedp.CSS(".message.assistant"), "data-chunks")).Value
	status := run(t, ctx, chromedp.Text(chromedp.ID("status")))
	n, _ := strconv.Atoi(chunks)
	if strings.TrimSpace(reply) == "" || n < 2 {
		t.Fatalf("reply %q arrived in %s chunks; want a streamed reply", reply, chunks)
	}
	if !strings.Contains(status, "tokens/s") {
		t.Errorf("status line %q has no tokens/s", status)
	}
	t.Logf("streamed reply in %d chunks: %q (%s)", n, reply, status)

	// A long second reply, stopped midway with the Stop button. chromedp's
	// DOM queries stall while the page streams (its DOM bookkeeping lags
	// the mutations), so the click is armed in the page before sending:
	// it fires once the reply has streamed a few chunks.
	err = chromedp.Do(ctx,
		chromedp.SetValue(chromedp.ID("max-tokens"), "4000"),
		chromedp.SendKeys(chromedp.ID("input"), "Another one"),
		chromedp.Evaluate[chromedp.Void](`(() => {
			const timer = setInterval(() => {
				const m = document.querySelectorAll(".message.assistant")[1];
				if (m && Number(m.dataset.chunks) > 3) { clearInterval(timer); document.getElementById("stop").click(); }
			}, 10);
		})()`),
		chromedp.Click(chromedp.ID("send")),
	)
	if err != nil {
		t.Fatalf("second message: %v", err)
	}
	waitJS(t, ctx, `document.getElementById("conversation").dataset.state === "idle" && document.querySelectorAll(".message.assistant").length === 2`)
	stopped := run(t, ctx, chromedp.Text(chromedp.ID("status")))
	n2, _ := strconv.Atoi(run(t, ctx, chromedp.AttributeValue(chromedp.CSS(".message.assistant:nth-of-type(4)"), "data-chunks")).Value)
	if n2 >= 4000 {
		t.Errorf("the stopped reply ran to the end (%d chunks)", n2)
	}
	if stopped != "stopped" {
		t.Errorf("after Stop the status reads %q, want \"stopped\"", stopped)
	}
}

// browser starts headless Chromium for one test (skipping the test when
// there is none) and returns its context, which times out after a minute.
func browser(t *testing.T) context.Context {
	t.Helper()
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not found: `apt-get install -y chromium` (CI does) to run the browser test")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute) // a hang guard: chromium starts slowly on a busy host
	t.Cleanup(func() {
		cancelT()
		cancel()
		cancelAlloc()
	})
	return ctx
}

// recordFetches makes the page keep the body of every request it sends, in
// window.sent.
const recordFetches = `(() => {
	window.sent = [];
	const f = window.fetch;
	window.fetch = (url, opts) => { window.sent.push(JSON.parse(opts.body)); return f(url, opts); };
})()`

// TestBrowserFailedTurn sends a message without the API key: the page
// shows the 401, leaves no empty reply and takes the failed turn out of
// the conversation, so the next request holds one user turn, not two.
func TestBrowserFailedTurn(t *testing.T) {
	ts := startServer(t, apiKey, 256)
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("input")),
		chromedp.Evaluate[chromedp.Void](recordFetches),
		chromedp.SetValue(chromedp.ID("max-tokens"), "8"),
		chromedp.SendKeys(chromedp.ID("input"), "first try"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(".message.error")),
	)
	if err != nil {
		t.Fatalf("chat page: %v", err)
	}
	waitJS(t, ctx, `document.getElementById("conversation").dataset.state === "idle"`)
	msg := run(t, ctx, chromedp.Text(chromedp.CSS(".message.error")))
	if !strings.Contains(msg, "401") || !strings.Contains(msg, "API key") {
		t.Errorf("error bubble %q does not show the 401", msg)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".message.assistant").length`)); n != 0 {
		t.Errorf("%d assistant bubbles after the 401, want none", n)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".message.user.failed").length`)); n != 1 {
		t.Errorf("%d user bubbles marked failed, want 1", n)
	}
	if v := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("input").value`)); v != "first try" {
		t.Errorf("the input box holds %q, want the failed message back", v)
	}

	err = chromedp.Do(ctx,
		chromedp.Evaluate[chromedp.Void](`document.getElementById("api-key").value = "`+apiKey+`"; document.getElementById("input").value = "second try"`),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(`.message.assistant[data-done="true"]`)),
	)
	if err != nil {
		t.Fatalf("second message: %v", err)
	}
	got := run(t, ctx, chromedp.Evaluate[string](`JSON.stringify(window.sent[1].messages)`))
	if want := `[{"role":"user","content":"second try"}]`; got != want {
		t.Errorf("the request after the failed turn sent %s, want %s", got, want)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".message.error").length`)); n != 1 {
		t.Errorf("%d error bubbles, want the one", n)
	}
}

// TestBrowserThinkingAndTools checks how the page shows a reply with
// thinking and a tool call (scripted, see startToolServer): the thinking
// in a collapsed <details>, the call as its name and pretty-printed
// arguments.
func TestBrowserThinkingAndTools(t *testing.T) {
	ts := startToolServer(t, "")
	ctx := browser(t)
	err := chromedp.Do(ctx,
		chromedp.Navigate(ts.URL+"/"),
		chromedp.WaitVisible(chromedp.ID("input")),
		chromedp.Evaluate[chromedp.Void](recordFetches),
		chromedp.Click(chromedp.ID("open-thinking")),
		chromedp.Evaluate[chromedp.Void](`document.getElementById("tools").value = '[{"type": "function", "function": {"name": "get_weather"}}]'`),
		chromedp.SendKeys(chromedp.ID("input"), "Weather in Paris?"),
		chromedp.Click(chromedp.ID("send")),
		chromedp.WaitVisible(chromedp.CSS(`.message.assistant[data-done="true"]`)),
	)
	if err != nil {
		t.Fatalf("chat page: %v", err)
	}
	var view struct {
		Hidden, Open     bool
		Summary, Thought string
		Name, Args       string
		OpenThinking     bool
	}
	run(t, ctx, chromedp.Evaluate[chromedp.Void](`(() => {
		const d = document.querySelector(".message.assistant details.thinking");
		window.view = { Hidden: d.hidden, Open: d.open, Summary: d.querySelector("summary").textContent,
			Thought: d.querySelector("div").textContent,
			Name: document.querySelector(".tool-call .tool-name").textContent,
			Args: document.querySelector(".tool-call pre").textContent,
			OpenThinking: window.sent[0].open_thinking === true };
	})()`))
	b := run(t, ctx, chromedp.Evaluate[string](`JSON.stringify(window.view)`))
	if err := json.Unmarshal([]byte(b), &view); err != nil {
		t.Fatal(err)
	}
	if view.Hidden || view.Open || view.Summary != "Thinking" || view.Thought != "The user asks about the weather; I should call get_weather." {
		t.Errorf("thinking shown as %+v; want a collapsed <details> with the reasoning", view)
	}
	if view.Name != "get_weather" || view.Args != "{\n  \"city\": \"Paris\"\n}" || !view.OpenThinking {
		t.Errorf("tool call shown as %+v", view)
	}
}

func run[T any](tb testing.TB, ctx context.Context, a chromedp.Action[T]) T {
	tb.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// waitJS polls a JavaScript condition until it holds.
func waitJS(tb testing.TB, ctx context.Context, cond string) {
	tb.Helper()
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](cond))
		if err != nil {
			tb.Fatalf("waiting for %s: %v", cond, err)
		}
		if ok {
			return
		}
		select {
		case <-ctx.Done():
			tb.Fatalf("waiting for %s: %v", cond, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}
