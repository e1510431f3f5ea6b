// Package e2e drives the server with real clients: the official openai npm
// package under Node.js, and the embedded chat page in headless Chromium.
// Each test skips, saying what to install, when its tool is missing; CI
// installs both (see the package README).
package e2e

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/server"
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

// TestOpenAIClient runs openai.test.mjs (node --test) against the server.
func TestOpenAIClient(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not found: install Node.js (CI does) to run the openai client test")
	}
	if _, err := os.Stat(filepath.Join("node_modules", "openai", "package.json")); err != nil {
		t.Skip("the openai npm package is not installed: run `npm ci --prefix server/e2e` (CI does)")
	}
	ts := startServer(t, apiKey, 128)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute) // a hang guard: node starts slowly on a busy host
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "--test", "openai.test.mjs")
	cmd.Env = append(os.Environ(), "MINIMIND_BASE_URL="+ts.URL+"/v1", "MINIMIND_API_KEY="+apiKey)
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
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not found: `apt-get install -y chromium` (CI does) to run the browser test")
	}
	// A long window, so the reply to be stopped is still streaming
	// when Stop is clicked.
	ts := startServer(t, "", 4096)
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
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute) // a hang guard: chromium starts slowly on a busy host
	defer cancelT()

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
