package dashboard

import (
	"context"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/minimind-go/minimind/train"
)

// chromium returns the path of a Chromium or Chrome binary, or "".
func chromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// TestBrowserPage loads the page in headless Chromium over a run with a
// pretrain and an SFT stage, checks that every chart's last plotted point
// is the last metrics line of each stage and that the loss curve is drawn,
// then appends a line and watches it arrive. The screenshot is saved in the
// test's artifact directory (kept with go test -artifacts).
func TestBrowserPage(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not found: `apt-get install -y chromium` (CI does) to run the browser test")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	var text string
	for i := 1; i <= 40; i++ {
		text += stepLine(t, step("pretrain", i))
	}
	for i := 1; i <= 12; i++ {
		text += stepLine(t, step("sft", i))
	}
	line13 := stepLine(t, step("sft", 13))
	appendFile(t, path, text+line13[:30]) // torn: being written
	if err := AppendSample(dir, Sample{Stage: "sft", Step: 12, Prompt: "你好", Text: "我是 MiniMind"}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(newHandler(t, Options{}, dir))
	t.Cleanup(ts.Close) // after the browser's cleanups: it stops polling first

	ctx := openPage(t, bin, ts.URL+"/")
	waitJS(t, ctx, `!!window.plotted.loss && Object.keys(window.plotted.loss).length === 2`)
	checkLast(t, ctx, map[string]train.Step{"pretrain": step("pretrain", 40), "sft": step("sft", 12)})

	// The loss curves are drawn: count the pixels of the first series'
	// colour (#1f77b4) on the loss canvas.
	blue := do(t, ctx, chromedp.Evaluate[int](`(() => {
		const c = document.getElementById("chart-loss");
		const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
		let n = 0;
		for (let i = 0; i < d.length; i += 4) if (d[i+3] > 200 && d[i+2] > 150 && d[i] < 80) n++;
		return n;
	})()`))
	if blue < 200 {
		t.Errorf("the loss canvas has %d pixels of the pretrain curve's colour; want a drawn curve", blue)
	}
	notes := do(t, ctx, chromedp.Evaluate[string](`document.querySelector("#runs tbody").textContent`))
	if !strings.Contains(notes, "last line unfinished") {
		t.Errorf("runs table %q does not mention the torn line", notes)
	}
	sample := do(t, ctx, chromedp.Evaluate[string](`document.getElementById("samples").textContent`))
	if !strings.Contains(sample, "我是 MiniMind") || !strings.Contains(sample, "step 12") {
		t.Errorf("samples %q, want the sample of step 12", sample)
	}

	// Live: the torn line is finished and another step follows; both
	// reach the page without a reload.
	appendFile(t, path, line13[30:]+stepLine(t, step("sft", 14)))
	waitJS(t, ctx, `window.plotted.loss.sft[0] === 14`)
	checkLast(t, ctx, map[string]train.Step{"pretrain": step("pretrain", 40), "sft": step("sft", 14)})
	if n := do(t, ctx, chromedp.Evaluate[string](`document.getElementById("chart-loss").dataset.points`)); n != "54" {
		t.Errorf("the loss chart plots %s points, want 54 (40 pretrain + 14 sft)", n)
	}

	png := do(t, ctx, chromedp.FullScreenshot(100))
	shot := filepath.Join(t.ArtifactDir(), "dashboard.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}

// openPage loads url in a headless Chromium that lives as long as the test.
func openPage(t *testing.T, bin, url string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(bin),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc)
	ctx, cancel := chromedp.NewContext(actx)
	t.Cleanup(cancel)
	ctx, cancelT := context.WithTimeout(ctx, 3*time.Minute) // a hang guard: chromium starts slowly on a busy host
	t.Cleanup(cancelT)

	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 1000), chromedp.Navigate(url)); err != nil {
		t.Fatalf("load the page: %v", err)
	}
	return ctx
}

// checkLast compares each chart's last plotted point per stage with the
// last metrics line of that stage.
func checkLast(tb testing.TB, ctx context.Context, last map[string]train.Step) {
	tb.Helper()
	plotted := do(tb, ctx, chromedp.Evaluate[map[string]map[string][2]float64](`window.plotted`))
	for stage, s := range last {
		for chart, want := range map[string]float64{"loss": s.Loss, "lr": s.LR, "grad_norm": s.GradNorm, "tokens_per_s": s.TokensPerS} {
			got, ok := plotted[chart][stage]
			if !ok || got != [2]float64{float64(s.Step), want} {
				tb.Errorf("chart %s, stage %s: last point %v, want [%d %v]", chart, stage, got, s.Step, want)
			}
		}
	}
}

func do[T any](tb testing.TB, ctx context.Context, a chromedp.Action[T]) T {
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
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// TestBrowserRL loads the page over a GRPO and a PPO run's metrics: their
// reward, KL and clip-fraction charts appear, each ending at the last
// line's value, and the runs table leaves GRPO's missing tokens/s blank
// rather than showing 0.
func TestBrowserRL(t *testing.T) {
	bin := chromium()
	if bin == "" {
		t.Skip("chromium not found: `apt-get install -y chromium` (CI does) to run the browser test")
	}
	grpo, ppo := t.TempDir(), t.TempDir()
	var text string
	for i := 1; i <= 3; i++ {
		text += jsonLine(t, grpoStep(i))
	}
	appendFile(t, filepath.Join(grpo, MetricsFile), text)
	text = ""
	for i := 1; i <= 4; i++ {
		text += jsonLine(t, ppoStep(i))
	}
	appendFile(t, filepath.Join(ppo, MetricsFile), text)
	ts := httptest.NewServer(newHandler(t, Options{}, grpo, ppo))
	t.Cleanup(ts.Close)

	ctx := openPage(t, bin, ts.URL+"/")
	g, p := filepath.Base(grpo)+" · grpo", filepath.Base(ppo)+" · ppo"
	waitJS(t, ctx, `!!window.plotted["extra-reward"] && Object.keys(window.plotted["extra-reward"]).length === 2`)
	plotted := do(t, ctx, chromedp.Evaluate[map[string]map[string][2]float64](`window.plotted`))
	for _, c := range []struct {
		chart, series string
		want          [2]float64
	}{
		{"extra-reward", g, [2]float64{3, grpoStep(3).Reward}},
		{"extra-reward", p, [2]float64{4, ppoStep(4).Reward}},
		{"extra-kl", g, [2]float64{3, grpoStep(3).KL}},
		{"extra-kl_ref", p, [2]float64{4, ppoStep(4).KLRef}},
		{"extra-clipped", g, [2]float64{3, grpoStep(3).Clipped}},
		{"extra-clipfrac", p, [2]float64{4, ppoStep(4).ClipFrac}},
		{"loss", g, [2]float64{3, grpoStep(3).Loss}},
	} {
		if got, ok := plotted[c.chart][c.series]; !ok || got != c.want {
			t.Errorf("chart %s, %s: last point %v (present %v), want %v", c.chart, c.series, got, ok, c.want)
		}
	}
	titles := do(t, ctx, chromedp.Evaluate[string](`document.getElementById("charts").textContent`))
	for _, want := range []string{"Reward (mean over the step's rollouts)", "KL to the reference", "Clipped fraction (clipfrac)"} {
		if !strings.Contains(titles, want) {
			t.Errorf("chart titles %q lack %q", titles, want)
		}
	}
	row := do(t, ctx, chromedp.Evaluate[[]string](`[...document.querySelector("#runs tbody tr").cells].map((c) => c.textContent)`))
	if len(row) < 8 || row[1] != "grpo" || row[4] != "0.47" || row[7] != "" {
		t.Errorf("grpo's row %q: want loss 0.47 and an empty tokens/s", row)
	}
	png := do(t, ctx, chromedp.FullScreenshot(100))
	shot := filepath.Join(t.ArtifactDir(), "dashboard-rl.png")
	if err := os.WriteFile(shot, png, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", shot, len(png))
}
