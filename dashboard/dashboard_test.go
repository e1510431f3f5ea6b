package dashboard

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// stepLine is one metrics.jsonl line, as train.Recorder writes it.
func stepLine(tb testing.TB, s train.Step) string {
	tb.Helper()
	b, err := json.Marshal(s)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b) + "\n"
}

func step(stage string, n int) train.Step {
	return train.Step{Stage: stage, Step: n, Total: 100, Epoch: n / 50, Loss: 9 - float64(n)/10, CE: 8.5 - float64(n)/10,
		Aux: 0.5, LR: 5e-4 * float64(n) / 100, GradNorm: 1 + float64(n)/7, TokensPerS: 1000 + float64(n), ElapsedS: float64(n) / 4}
}

func appendFile(tb testing.TB, path, text string) {
	tb.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := f.WriteString(text); err != nil {
		tb.Fatal(err)
	}
	if err := f.Close(); err != nil {
		tb.Fatal(err)
	}
}

// getRuns asks h for /api/runs.
func getRuns(tb testing.TB, h http.Handler) runsJSON {
	tb.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/runs", nil))
	if rec.Code != http.StatusOK {
		tb.Fatalf("GET /api/runs: %d %s", rec.Code, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
		tb.Errorf("Content-Type %q", ct)
	}
	var body runsJSON
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		tb.Fatalf("decode %s: %v", rec.Body, err)
	}
	return body
}

func newHandler(tb testing.TB, opts Options, dirs ...string) http.Handler {
	tb.Helper()
	s, err := New(dirs, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return s.Handler()
}

// diff compares want and got through their indented JSON: "" when equal,
// otherwise the differing lines marked - (want) and + (got).
func diff(tb testing.TB, want, got any) string {
	tb.Helper()
	w, err1 := json.MarshalIndent(want, "", "  ")
	g, err2 := json.MarshalIndent(got, "", "  ")
	if err := errors.Join(err1, err2); err != nil {
		tb.Fatal(err)
	}
	if string(w) == string(g) {
		return ""
	}
	wl, gl := strings.Split(string(w), "\n"), strings.Split(string(g), "\n")
	var sb strings.Builder
	for i := 0; i < max(len(wl), len(gl)); i++ {
		a, b := "", ""
		if i < len(wl) {
			a = wl[i]
		}
		if i < len(gl) {
			b = gl[i]
		}
		if a != b {
			fmt.Fprintf(&sb, "-%s\n+%s\n", a, b)
		}
	}
	return sb.String()
}

// wantStage is the curves a stage's steps should produce, unthinned.
func wantStage(steps ...train.Step) stageJSON {
	j := stageJSON{Stage: stageName(steps[0].Stage), Count: len(steps), Last: steps[len(steps)-1]}
	for _, s := range steps {
		j.Step = append(j.Step, s.Step)
		j.Epoch = append(j.Epoch, s.Epoch)
		j.Loss = append(j.Loss, num(s.Loss))
		j.CE = append(j.CE, num(s.CE))
		j.Aux = append(j.Aux, num(s.Aux))
		j.LR = append(j.LR, num(s.LR))
		j.GradNorm = append(j.GradNorm, num(s.GradNorm))
		j.TokensPerS = append(j.TokensPerS, num(s.TokensPerS))
		j.ElapsedS = append(j.ElapsedS, num(s.ElapsedS))
	}
	return j
}

// TestCurvesPerStage: a pretrain and an SFT stage in one metrics.jsonl
// come back as two stages' curves, every field in place.
func TestCurvesPerStage(t *testing.T) {
	dir := t.TempDir()
	var text string
	for i := 1; i <= 3; i++ {
		text += stepLine(t, step("pretrain", i))
	}
	for i := 1; i <= 2; i++ {
		text += stepLine(t, step("sft", i))
	}
	appendFile(t, filepath.Join(dir, MetricsFile), text)
	body := getRuns(t, newHandler(t, Options{}, dir))
	if len(body.Runs) != 1 {
		t.Fatalf("%d runs, want 1", len(body.Runs))
	}
	r := body.Runs[0]
	if r.Name != filepath.Base(dir) || r.Waiting || r.TornBytes != 0 || r.BadLines != 0 || r.Error != "" {
		t.Errorf("run header %+v", r)
	}
	want := []stageJSON{
		wantStage(step("pretrain", 1), step("pretrain", 2), step("pretrain", 3)),
		wantStage(step("sft", 1), step("sft", 2)),
	}
	if diff := diff(t, want, r.Stages); diff != "" {
		t.Errorf("stages (-want +got):\n%s", diff)
	}
}

// TestTornLastLine: a line still being written is not read, not an error,
// and is read once it is finished; a garbage line in the middle is skipped
// and counted with its line number.
func TestTornLastLine(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	full := stepLine(t, step("sft", 3))
	appendFile(t, path, stepLine(t, step("sft", 1))+"garbage {\n"+stepLine(t, step("sft", 2))+full[:17])
	h := newHandler(t, Options{}, dir)

	r := getRuns(t, h).Runs[0]
	if r.TornBytes != 17 || r.BadLines != 1 || !strings.Contains(r.FirstBad, "metrics.jsonl line 2") || r.Error != "" {
		t.Errorf("torn %d, bad %d %q, error %q; want 17 torn bytes and line 2 skipped", r.TornBytes, r.BadLines, r.FirstBad, r.Error)
	}
	if diff := diff(t, []stageJSON{wantStage(step("sft", 1), step("sft", 2))}, r.Stages); diff != "" {
		t.Errorf("with a torn last line (-want +got):\n%s", diff)
	}

	appendFile(t, path, full[17:])
	r = getRuns(t, h).Runs[0]
	if r.TornBytes != 0 {
		t.Errorf("torn %d after the line was finished", r.TornBytes)
	}
	if diff := diff(t, []stageJSON{wantStage(step("sft", 1), step("sft", 2), step("sft", 3))}, r.Stages); diff != "" {
		t.Errorf("after finishing the line (-want +got):\n%s", diff)
	}

	// A finished file whose last line lacks its newline: the line is whole,
	// so it is read; the newline written later adds nothing.
	appendFile(t, path, strings.TrimSuffix(stepLine(t, step("sft", 4)), "\n"))
	if r = getRuns(t, h).Runs[0]; r.Stages[0].Last.Step != 4 || r.TornBytes != 0 {
		t.Errorf("last step %d, torn %d; want the newline-less line 4 read", r.Stages[0].Last.Step, r.TornBytes)
	}
	appendFile(t, path, "\n"+stepLine(t, step("sft", 5)))
	if r = getRuns(t, h).Runs[0]; r.Stages[0].Count != 5 || r.BadLines != 1 {
		t.Errorf("%d steps, %d bad lines; want 5 and 1", r.Stages[0].Count, r.BadLines)
	}
}

// TestRewrittenFile: a resumed run replaces metrics.jsonl with a shorter one
// (through a rename); the page drops what it had and reads it again.
func TestRewrittenFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	appendFile(t, path, stepLine(t, step("pretrain", 1))+stepLine(t, step("pretrain", 2))+stepLine(t, step("pretrain", 3)))
	h := newHandler(t, Options{}, dir)
	if n := getRuns(t, h).Runs[0].Stages[0].Count; n != 3 {
		t.Fatalf("%d steps, want 3", n)
	}
	tmp := filepath.Join(dir, "tmp")
	resumed := step("pretrain", 2)
	resumed.Loss = 1.25
	appendFile(t, tmp, stepLine(t, step("pretrain", 1))+stepLine(t, resumed)+stepLine(t, step("pretrain", 3))+stepLine(t, step("pretrain", 4)))
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	st := getRuns(t, h).Runs[0].Stages[0]
	if st.Count != 4 || st.Loss[1] != 1.25 {
		t.Errorf("after the rewrite: %d steps, loss[1] %v; want 4 steps and the new loss 1.25", st.Count, st.Loss[1])
	}

	// Truncated in place: read again from the top.
	if err := os.WriteFile(path, []byte(stepLine(t, step("pretrain", 1))), 0o644); err != nil {
		t.Fatal(err)
	}
	if st := getRuns(t, h).Runs[0].Stages[0]; st.Count != 1 {
		t.Errorf("after truncation: %d steps, want 1", st.Count)
	}
	os.Remove(path)
	if r := getRuns(t, h).Runs[0]; !r.Waiting || len(r.Stages) != 0 {
		t.Errorf("after removal: waiting %v, %d stages; want waiting and none", r.Waiting, len(r.Stages))
	}
}

// TestSeveralRuns: two out_dirs are two runs, labelled by directory name,
// or by path when the names clash; a directory without metrics waits.
func TestSeveralRuns(t *testing.T) {
	root := t.TempDir()
	a, b, c := filepath.Join(root, "a", "out"), filepath.Join(root, "b", "out"), filepath.Join(root, "empty")
	for _, d := range []string{a, b, c} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	appendFile(t, filepath.Join(a, MetricsFile), stepLine(t, step("pretrain", 1)))
	appendFile(t, filepath.Join(b, MetricsFile), stepLine(t, step("pretrain", 1))+stepLine(t, step("pretrain", 2)))
	body := getRuns(t, newHandler(t, Options{}, a, b, c))
	var got []string
	for _, r := range body.Runs {
		n := 0
		if len(r.Stages) > 0 {
			n = r.Stages[0].Count
		}
		got = append(got, fmt.Sprintf("%s %d %v", r.Name, n, r.Waiting))
	}
	want := []string{filepath.Clean(a) + " 1 false", filepath.Clean(b) + " 2 false", "empty 0 true"}
	if diff := diff(t, want, got); diff != "" {
		t.Errorf("runs (-want +got):\n%s", diff)
	}
	if _, err := New([]string{a, a + "/"}, Options{}); err == nil || !strings.Contains(err.Error(), "given twice") {
		t.Errorf("the same dir twice: %v", err)
	}
	if _, err := New(nil, Options{}); err == nil {
		t.Error("no dirs: no error")
	}
}

// TestThinning: long runs are thinned to MaxPoints, first and last step
// kept.
func TestThinning(t *testing.T) {
	for _, tc := range []struct {
		name         string
		n, max, want int
	}{
		{"under", 5, 10, 5},
		{"exact", 10, 10, 10},
		{"over", 1000, 10, 10},
		{"odd", 1001, 7, 7},
		{"one more", 11, 10, 6},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := &stageSteps{name: "pretrain"}
			for i := 1; i <= tc.n; i++ {
				st.add(step("pretrain", i), lineValues{})
			}
			j := thin(st, tc.max)
			if len(j.Step) != tc.want || j.Step[0] != 1 || j.Step[len(j.Step)-1] != tc.n || j.Count != tc.n || len(j.Loss) != len(j.Step) {
				t.Errorf("steps %v (count %d); want %d points from 1 to %d", j.Step, j.Count, tc.want, tc.n)
			}
		})
	}
}

// TestSamples: the latest Options.Samples samples, newest first.
func TestSamples(t *testing.T) {
	dir := t.TempDir()
	for i := 1; i <= 5; i++ {
		if err := AppendSample(dir, Sample{Stage: "sft", Step: i * 10, Prompt: "你好", Text: fmt.Sprintf("reply %d\nline two", i)}); err != nil {
			t.Fatal(err)
		}
	}
	appendFile(t, filepath.Join(dir, SamplesFile), `{"stage":"sft","ste`)
	r := getRuns(t, newHandler(t, Options{Samples: 3}, dir)).Runs[0]
	want := []Sample{
		{Stage: "sft", Step: 50, Prompt: "你好", Text: "reply 5\nline two"},
		{Stage: "sft", Step: 40, Prompt: "你好", Text: "reply 4\nline two"},
		{Stage: "sft", Step: 30, Prompt: "你好", Text: "reply 3\nline two"},
	}
	if diff := diff(t, want, r.Samples); diff != "" {
		t.Errorf("samples (-want +got):\n%s", diff)
	}
	if !r.Waiting || r.Error != "" {
		t.Errorf("waiting %v error %q; want waiting for metrics, no error", r.Waiting, r.Error)
	}
	if err := AppendSample(filepath.Join(dir, "missing"), Sample{}); err == nil {
		t.Error("AppendSample into a missing directory: no error")
	}
}

// TestNotModified: an unchanged run answers a conditional poll with 304,
// and a new line changes the ETag.
func TestNotModified(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, MetricsFile)
	appendFile(t, path, stepLine(t, step("pretrain", 1)))
	h := newHandler(t, Options{}, dir)
	get := func(etag string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "/api/runs", nil)
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec
	}
	etag := get("").Header().Get("ETag")
	if rec := get(etag); rec.Code != http.StatusNotModified || rec.Body.Len() != 0 {
		t.Errorf("unchanged: %d with %d bytes, want 304 and no body", rec.Code, rec.Body.Len())
	}
	appendFile(t, path, stepLine(t, step("pretrain", 2)))
	if rec := get(etag); rec.Code != http.StatusOK || rec.Header().Get("ETag") == etag {
		t.Errorf("after a new line: %d, ETag %s (was %s); want 200 and a new ETag", rec.Code, rec.Header().Get("ETag"), etag)
	}
}

// TestPage: the page and its files are embedded and served.
func TestPage(t *testing.T) {
	h := newHandler(t, Options{}, t.TempDir())
	for _, tc := range []struct{ path, want string }{
		{"/", `<script src="app.js">`},
		{"/app.js", "window.plotted"},
		{"/style.css", "#charts"},
	} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", tc.path, nil))
		if rec.Code != http.StatusOK || !strings.Contains(rec.Body.String(), tc.want) {
			t.Errorf("GET %s: %d, body has %q: %v", tc.path, rec.Code, tc.want, strings.Contains(rec.Body.String(), tc.want))
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/nope", nil))
	if rec.Code != http.StatusNotFound {
		t.Errorf("GET /nope: %d, want 404", rec.Code)
	}
}

// TestListen: a port in use is a clear error naming the flag; a bad
// address is ErrBadAddr; a non-loopback address comes with a note.
func TestListen(t *testing.T) {
	taken, note, err := Listen("127.0.0.1:0", "--dashboard")
	if err != nil || note != "" {
		t.Fatalf("Listen on loopback: %v, note %q", err, note)
	}
	defer taken.Close()
	addr := taken.Addr().String()
	_, _, err = Listen(addr, "--dashboard")
	want := "dashboard: " + addr + " is in use (pick another with --dashboard HOST:PORT)"
	if err == nil || err.Error() != want || !errors.Is(err, ErrAddrInUse) {
		t.Errorf("port in use: %v; want %q matching ErrAddrInUse", err, want)
	}
	for _, bad := range []string{"", "localhost", "127.0.0.1:99999", "127.0.0.1:http2", "[::1"} {
		if _, _, err := Listen(bad, "--addr"); !errors.Is(err, ErrBadAddr) {
			t.Errorf("Listen(%q): %v, want ErrBadAddr", bad, err)
		}
	}
	ln, note, err := Listen("0.0.0.0:0", "--addr")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	if !strings.Contains(note, "not a loopback address") {
		t.Errorf("0.0.0.0: note %q, want a warning", note)
	}
	if got := URL(ln); !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("URL for a wildcard listener: %s", got)
	}
	ln, note, err = Listen("localhost:0", "--addr")
	if err != nil || note != "" {
		t.Errorf("localhost: %v, note %q; want no note", err, note)
	} else {
		ln.Close()
	}
}

// TestStart: the one call for --dashboard serves the run until Stop, and a
// second dashboard on the same port fails at once with the clear error.
func TestStart(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, MetricsFile), stepLine(t, step("pretrain", 7)))
	d, err := Start(context.Background(), "127.0.0.1:0", dir)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.Get(d.URL + "api/runs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var body runsJSON
	if err := json.Unmarshal(b, &body); err != nil || body.Runs[0].Stages[0].Last.Step != 7 {
		t.Errorf("GET %sapi/runs: %v %s", d.URL, err, b)
	}
	addr := strings.TrimSuffix(strings.TrimPrefix(d.URL, "http://"), "/")
	if _, err := Start(context.Background(), addr, dir); !errors.Is(err, ErrAddrInUse) || !strings.Contains(err.Error(), "--dashboard HOST:PORT") {
		t.Errorf("second Start on %s: %v", addr, err)
	}
	if err := d.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if err := d.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	if c, err := net.Dial("tcp", addr); err == nil {
		c.Close()
		t.Errorf("%s still answers after Stop", addr)
	}
}

// TestServeHostCheck: the page answers requests naming the address it
// listens on, localhost or a loopback IP, and refuses others with 421, so
// a page whose name is pointed at 127.0.0.1 (DNS rebinding) reads nothing;
// a name given to Listen is accepted too.
func TestServeHostCheck(t *testing.T) {
	dir := t.TempDir()
	appendFile(t, filepath.Join(dir, MetricsFile), stepLine(t, step("pretrain", 7)))
	s, err := New([]string{dir}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	listened, _, err := Listen("127.0.0.1:0", "--addr")
	if err != nil {
		t.Fatal(err)
	}
	plain := mustListen(t)
	named := &boundListener{Listener: mustListen(t), host: "mybox.lan"}
	for _, l := range []struct {
		name  string
		ln    net.Listener
		hosts map[string]int // Host -> status
	}{
		{"Listen", listened, map[string]int{"127.0.0.1": 200, "localhost": 200, "[::1]": 200, "evil.example": http.StatusMisdirectedRequest}},
		{"plain listener", plain, map[string]int{"127.0.0.1": 200, "evil.example": http.StatusMisdirectedRequest}},
		{"name given to Listen", named, map[string]int{"MyBox.lan": 200, "evil.example": http.StatusMisdirectedRequest}},
	} {
		t.Run(l.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			addr := l.ln.Addr().String()
			go func() { done <- Serve(ctx, l.ln, s.Handler()) }()
			defer func() {
				cancel()
				<-done
			}()
			_, port, _ := net.SplitHostPort(addr)
			for host, want := range l.hosts {
				req, err := http.NewRequest("GET", "http://"+addr+"/api/runs", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Host = net.JoinHostPort(strings.Trim(host, "[]"), port)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				b, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != want {
					t.Errorf("Host %s: %d %s, want %d", req.Host, res.StatusCode, b, want)
				}
				if want != 200 && (strings.Contains(string(b), `"runs"`) || !strings.Contains(string(b), "DNS rebinding")) {
					t.Errorf("Host %s: refusal body %q", req.Host, b)
				}
			}
		})
	}
}

func mustListen(tb testing.TB) net.Listener {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	return ln
}
