package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/dashboard"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/tensorboard"
	"github.com/minimind-go/minimind/train"
)

// readMetrics returns the steps of metrics.jsonl in out.
func readMetrics(t *testing.T, out string) []train.Step {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(out, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var steps []train.Step
	for _, line := range bytes.Split(bytes.TrimSpace(b), []byte("\n")) {
		var s train.Step
		if err := json.Unmarshal(line, &s); err != nil {
			t.Fatalf("metrics.jsonl: %v", err)
		}
		steps = append(steps, s)
	}
	return steps
}

// eventFiles returns the event files in dir, oldest first.
func eventFiles(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*"))
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkEvents reads an event file and checks it against metrics.jsonl's
// steps: one loss scalar per step, equal (as float32) to the metrics line
// of that step, plus the flags as text. resumedAt > 0 also wants the
// session start of a run resumed after step resumedAt.
func checkEvents(t *testing.T, path string, steps []train.Step, resumedAt int) {
	t.Helper()
	f, err := tensorboard.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Torn != 0 {
		t.Errorf("%s: %d torn bytes after Close", path, f.Torn)
	}
	losses := map[int64]float32{}
	var flags string
	sessionAt := int64(-1)
	for _, e := range f.Events {
		if e.SessionStart {
			sessionAt = e.Step
		}
		for _, v := range e.Values {
			switch {
			case v.Tag == "loss" && v.Kind == tensorboard.KindScalar:
				if _, dup := losses[e.Step]; dup {
					t.Errorf("step %d: two loss scalars", e.Step)
				}
				losses[e.Step] = v.Scalar
			case v.Tag == "flags" && v.Kind == tensorboard.KindText:
				flags = v.Text
			}
		}
	}
	if len(losses) != len(steps) {
		t.Errorf("%d loss scalars, want %d (one per step): %v", len(losses), len(steps), losses)
	}
	for _, s := range steps {
		if got, ok := losses[int64(s.Step)]; !ok || got != float32(s.Loss) {
			t.Errorf("step %d: event loss %v (present %v), metrics.jsonl %v", s.Step, got, ok, s.Loss)
		}
	}
	if !strings.Contains(flags, "| --batch_size | 2 |") || !strings.Contains(flags, "| --hidden_size | 32 |") {
		t.Errorf("flags text lacks the run's flags:\n%s", flags)
	}
	if resumedAt > 0 && sessionAt != int64(resumedAt+1) {
		t.Errorf("session start at step %d, want %d", sessionAt, resumedAt+1)
	}
	if resumedAt == 0 && sessionAt != -1 {
		t.Errorf("a fresh run has a session start at step %d", sessionAt)
	}
}

// TestTrainTensorBoard: --tensorboard DIR writes one event file whose loss
// scalars are metrics.jsonl's, with the flags as text; --resume adds a
// second file to DIR holding the resumed steps after a session start.
func TestTrainTensorBoard(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, data, 6)
	out, tb := filepath.Join(dir, "out"), filepath.Join(dir, "tb")
	log, err := pretrain(t, data, out, "--tensorboard", tb)
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	files := eventFiles(t, tb)
	if len(files) != 1 {
		t.Fatalf("event files %v, want 1\n%s", files, log)
	}
	first := files[0]
	steps := readMetrics(t, out)
	if len(steps) != 3 {
		t.Fatalf("%d steps in metrics.jsonl, want 3", len(steps))
	}
	checkEvents(t, files[0], steps, 0)
	if !strings.Contains(log, "events  "+files[0]) {
		t.Errorf("output does not name the event file %s:\n%s", files[0], log)
	}

	log, err = pretrain(t, data, out, "--tensorboard", tb, "--resume", "--epochs", "2", "--allow_changed_schedule")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	files = eventFiles(t, tb)
	if len(files) != 2 {
		t.Fatalf("event files after resume %v, want 2", files)
	}
	resumed := readMetrics(t, out)[3:]
	if len(resumed) != 3 || resumed[0].Step != 4 {
		t.Fatalf("resumed steps %+v, want 4..6", resumed)
	}
	newest := files[0]
	if newest == first {
		newest = files[1]
	}
	if before, err := tensorboard.ReadFile(first); err != nil || len(before.Events) == 0 {
		t.Errorf("the first run's file after resume: %v", err)
	} else {
		checkEvents(t, first, steps, 0) // untouched
	}
	checkEvents(t, newest, resumed, 3)
}

// TestTrainUseWandb: --use_wandb writes event files under
// out_dir/runs/pretrain-{time} and prints the wandb sync command with the
// seed's project, and the not-built-in note when WANDB_API_KEY is set; a
// resumed run adds a file to that same directory.
func TestTrainUseWandb(t *testing.T) {
	t.Setenv("WANDB_API_KEY", "test-key")
	dir := t.TempDir()
	data := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, data, 6)
	out := filepath.Join(dir, "out")
	log, err := pretrain(t, data, out, "--use_wandb")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	runs, err := filepath.Glob(filepath.Join(out, "runs", "pretrain-*"))
	if err != nil || len(runs) != 1 {
		t.Fatalf("run directories %v (%v), want one out/runs/pretrain-*", runs, err)
	}
	if !regexp.MustCompile(`/runs/pretrain-\d{8}-\d{6}$`).MatchString(runs[0]) {
		t.Errorf("run directory %s is not runs/pretrain-yyyymmdd-hhmmss", runs[0])
	}
	for _, want := range []string{
		"wandb sync --sync-tensorboard --project MiniMind-Pretrain " + runs[0],
		"online logging to W&B is not built in",
	} {
		if !strings.Contains(log, want) {
			t.Errorf("output lacks %q:\n%s", want, log)
		}
	}
	files := eventFiles(t, runs[0])
	if len(files) != 1 {
		t.Fatalf("event files %v, want 1", files)
	}
	checkEvents(t, files[0], readMetrics(t, out), 0)

	log, err = pretrain(t, data, out, "--use_wandb", "--resume", "--epochs", "2", "--allow_changed_schedule")
	if err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	if again, _ := filepath.Glob(filepath.Join(out, "runs", "*")); len(again) != 1 {
		t.Fatalf("run directories after resume %v, want the same one", again)
	}
	if files = eventFiles(t, runs[0]); len(files) != 2 {
		t.Fatalf("event files after resume %v, want 2 in %s", files, runs[0])
	}
}

// TestTrainTrackingFailsAtStart: an unwritable --tensorboard directory, a
// --dashboard port in use and a bad --dashboard address fail before the
// data is read (the data file does not even exist) and before any step.
func TestTrainTrackingFailsAtStart(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().String()
	missing := filepath.Join(dir, "missing.jsonl")
	for _, c := range []struct {
		name    string
		args    []string
		wantErr error
		want    string
		code    int
	}{
		{"unwritable tensorboard dir", []string{"--tensorboard", filepath.Join(file, "tb")}, nil, "tensorboard: create run directory", exitError},
		{"dashboard port in use", []string{"--dashboard", taken}, dashboard.ErrAddrInUse, "dashboard: " + taken + " is in use (pick another with --dashboard HOST:PORT)", exitError},
		{"bad dashboard address", []string{"--dashboard", "nowhere"}, errUsage, "--dashboard: dashboard: bad address", exitUsage},
	} {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "-"))
			log, err := pretrain(t, missing, out, c.args...)
			if err == nil || !strings.Contains(err.Error(), c.want) || (c.wantErr != nil && !errors.Is(err, c.wantErr)) {
				t.Fatalf("error %v, want one with %q\n%s", err, c.want, log)
			}
			if code := exitCode(err); code != c.code {
				t.Errorf("exit status %d, want %d", code, c.code)
			}
			if _, err := os.Stat(filepath.Join(out, "metrics.jsonl")); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("metrics.jsonl exists (stat: %v): the run started", err)
			}
		})
	}
}

// lineHook is a writer that calls fn with each complete line written.
type lineHook struct {
	mu  sync.Mutex
	buf bytes.Buffer
	all bytes.Buffer
	fn  func(line string)
}

func (h *lineHook) Write(p []byte) (int, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.all.Write(p)
	h.buf.Write(p)
	for {
		line, err := h.buf.ReadString('\n')
		if err != nil {
			h.buf.WriteString(line)
			return len(p), nil
		}
		h.fn(strings.TrimSuffix(line, "\n"))
	}
}

// TestTrainDashboard: --dashboard 127.0.0.1:0 serves the page while the run
// trains (at the end, /api/runs holds every step, the last loss equal to
// metrics.jsonl's) and stops serving when the command returns.
func TestTrainDashboard(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, data, 6)
	out := filepath.Join(dir, "out")

	var url string
	var api struct {
		Runs []struct {
			Stages []struct {
				Stage string
				Count int
				Last  train.Step
			}
		}
	}
	var apiErr error
	errOut := &lineHook{fn: func(l string) {
		if m := regexp.MustCompile(`^dashboard: (http://127\.0\.0\.1:\d+/) `).FindStringSubmatch(l); m != nil {
			url = m[1]
		}
	}}
	stdout := &lineHook{fn: func(l string) {
		// "done:" is printed after the last step, while the page still runs.
		if !strings.HasPrefix(l, "done:") || url == "" {
			return
		}
		resp, err := http.Get(url + "api/runs")
		if err != nil {
			apiErr = err
			return
		}
		defer resp.Body.Close()
		apiErr = json.NewDecoder(bufio.NewReader(resp.Body)).Decode(&api)
	}}
	cmd := newPretrainCommand(&globalOptions{threads: 1, quiet: true})
	cmd.SetOut(stdout)
	cmd.SetErr(errOut)
	cmd.SetArgs([]string{"--data_path", data, "--out_dir", out,
		"--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "4", "--num_key_value_heads", "2",
		"--intermediate_size", "64", "--max_position_embeddings", "16", "--max_seq_len", "12",
		"--batch_size", "2", "--epochs", "1", "--save_dtype", "f32", "--dashboard", "127.0.0.1:0"})
	if err := cmd.ExecuteContext(context.Background()); err != nil {
		t.Fatalf("%v\n%s%s", err, stdout.all.String(), errOut.all.String())
	}
	if url == "" {
		t.Fatalf("no dashboard URL printed:\n%s", errOut.all.String())
	}
	if apiErr != nil {
		t.Fatalf("GET %sapi/runs during the run: %v", url, apiErr)
	}
	steps := readMetrics(t, out)
	if len(api.Runs) != 1 || len(api.Runs[0].Stages) != 1 {
		t.Fatalf("api/runs: %+v", api)
	}
	st := api.Runs[0].Stages[0]
	if st.Stage != "pretrain" || st.Count != len(steps) || st.Last.Loss != steps[len(steps)-1].Loss {
		t.Errorf("dashboard stage %s: %d steps, last loss %v; metrics.jsonl: %d steps, last loss %v",
			st.Stage, st.Count, st.Last.Loss, len(steps), steps[len(steps)-1].Loss)
	}
	if resp, err := http.Get(url); err == nil {
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		t.Errorf("the page still answers after the command returned (%s)", resp.Status)
	}
}

// TestQuickstartSamples: the quickstart's generations go to samples.jsonl,
// one dashboard.Sample per prompt, stamped with the stage and step, the
// text as generated (newlines and all).
func TestQuickstartSamples(t *testing.T) {
	out := t.TempDir()
	tok := generatetest.Tokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 1)
	var shown bytes.Buffer
	if err := showContinuations(context.Background(), &shown, m, tok, out, train.StagePretrain, 0); err != nil {
		t.Fatal(err)
	}
	if err := showChat(context.Background(), &shown, m, tok, out, train.StageSFT, 7); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(out, dashboard.SamplesFile))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	want := len(quickstartPrompts) + len(quickstartQuestions)
	if len(lines) != want {
		t.Fatalf("%d samples, want %d:\n%s", len(lines), want, b)
	}
	for i, l := range lines {
		s, err := dashboard.ParseSample([]byte(l))
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		wantStage, wantStep, wantPrompt := train.StagePretrain, 0, ""
		if i < len(quickstartPrompts) {
			wantPrompt = quickstartPrompts[i]
		} else {
			wantStage, wantStep, wantPrompt = train.StageSFT, 7, quickstartQuestions[i-len(quickstartPrompts)]
		}
		if s.Stage != wantStage || s.Step != wantStep || s.Prompt != wantPrompt || s.Text == "" {
			t.Errorf("sample %d = %+v, want stage %s step %d prompt %q and a text", i+1, s, wantStage, wantStep, wantPrompt)
		}
		if !strings.Contains(shown.String(), oneLine(s.Text)) {
			t.Errorf("sample %d's text %q is not what was printed:\n%s", i+1, s.Text, shown.String())
		}
	}
}

// TestQuickstartDashboardInUse: quickstart's --dashboard on a taken port
// fails before it extracts or trains anything.
func TestQuickstartDashboardInUse(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	out := filepath.Join(t.TempDir(), "qs")
	cmd := newQuickstartCommand(&globalOptions{threads: 1, quiet: true})
	var log bytes.Buffer
	cmd.SetOut(&log)
	cmd.SetErr(&log)
	cmd.SetArgs([]string{"--out_dir", out, "--dashboard", ln.Addr().String()})
	err = cmd.ExecuteContext(context.Background())
	if !errors.Is(err, dashboard.ErrAddrInUse) {
		t.Fatalf("quickstart = %v, want ErrAddrInUse\n%s", err, log.String())
	}
	if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("%s exists (stat: %v): the quickstart started", out, err)
	}
}
