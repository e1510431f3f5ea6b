package train_test

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// runConfig is a one-epoch run of stage on 12 synthetic examples (3 steps)
// writing to dir; its notes go to logs.
func runConfig(dir, stage string, logs *[]string) train.Config {
	c := train.DefaultConfig(stage)
	c.Model = tinyConfig(false)
	c.Options.Epochs, c.Options.BatchSize, c.Options.LearningRate, c.Options.SaveInterval = 1, 4, 3e-3, 0
	kind, _ := train.StageKind(stage)
	c.Data = synthetic{n: 12, maxLen: 9, vocab: 60, kind: kind}
	c.Backend = cpu.New(cpu.Options{Threads: 1})
	c.OutDir, c.SaveDType = dir, "f32"
	c.OnLog = func(msg string) { *logs = append(*logs, msg) }
	return c
}

func mustRun(t *testing.T, c train.Config) *train.Result {
	t.Helper()
	res, err := train.Run(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// savePth writes a randomly initialised tiny model to path.
func savePth(t *testing.T, path string, seed uint64) {
	t.Helper()
	p, err := model.NewParams(tinyConfig(false))
	if err != nil {
		t.Fatal(err)
	}
	p.Init(seed)
	if err := checkpoint.SavePth(path, p, "F32"); err != nil {
		t.Fatal(err)
	}
}

// TestRunWeightSource: the starting weights are, in order, the resume
// state (when asked for and present), Init, for SFT the pretrain checkpoint
// in OutDir, random.
func TestRunWeightSource(t *testing.T) {
	for _, c := range []struct {
		name        string
		stage       string
		pretrainPth bool // OutDir holds pretrain_32.pth
		init        bool // Init names another .pth
		resumeState bool // OutDir holds this stage's resume state
		resume      bool // Resume is asked for
		want        string
		wantLog     string
	}{
		{name: "pretrain random", stage: "pretrain", want: "random init (seed 42)"},
		{name: "pretrain ignores the pretrain checkpoint", stage: "pretrain", pretrainPth: true, want: "random init (seed 42)"},
		{name: "sft without pretrain checkpoint", stage: "sft", want: "random init (seed 42)", wantLog: "warning: DIR/pretrain_32.pth not found; fine-tuning a randomly initialised model"},
		{name: "sft from the pretrain checkpoint", stage: "sft", pretrainPth: true, want: "DIR/pretrain_32.pth"},
		{name: "init over the pretrain checkpoint", stage: "sft", pretrainPth: true, init: true, want: "INIT"},
		{name: "resume over init", stage: "sft", pretrainPth: true, init: true, resumeState: true, resume: true, want: "DIR/full_sft_32_resume.safetensors (step 3)",
			wantLog: "resume: continuing with a changed schedule (--allow_changed_schedule): --epochs 1 → 2 (saved → now); at step 4 the run's length goes from 3 to 6 steps and the learning rate from 0.0003 to 0.00165"},
		{name: "resume state not asked for", stage: "pretrain", resumeState: true, want: "random init (seed 42)"},
		{name: "resume without a state", stage: "sft", init: true, resume: true, want: "INIT", wantLog: "no resume state at DIR/full_sft_32_resume.safetensors: starting fresh"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			initPath := filepath.Join(t.TempDir(), "init.pth")
			var logs []string
			if c.pretrainPth {
				savePth(t, filepath.Join(dir, "pretrain_32.pth"), 1)
			}
			if c.resumeState {
				mustRun(t, runConfig(dir, c.stage, &logs))
			}
			savePth(t, initPath, 2)
			logs = nil
			rc := runConfig(dir, c.stage, &logs)
			if c.init {
				rc.Init = initPath
			}
			rc.Resume = c.resume
			if c.resumeState {
				rc.Options.Epochs = 2 // something left to do
				rc.AllowChangedSchedule = true
			}
			var start train.Start
			rc.OnStart = func(s train.Start) { start = s }
			res := mustRun(t, rc)
			want := strings.NewReplacer("DIR", dir, "INIT", initPath).Replace(c.want)
			if res.Source != want || start.Source != want {
				t.Errorf("source %q (OnStart %q), want %q", res.Source, start.Source, want)
			}
			var wantLogs []string
			if c.wantLog != "" {
				wantLogs = []string{strings.ReplaceAll(c.wantLog, "DIR", dir)}
			}
			if !slices.Equal(logs, wantLogs) {
				t.Errorf("logs %q, want %q", logs, wantLogs)
			}
		})
	}
}

// TestRunResume: a run interrupted after step 2 saves its files, and the
// run resumed from them continues at step 3 with the losses (and metrics
// history) of an uninterrupted run.
func TestRunResume(t *testing.T) {
	var logs []string
	ref := runConfig(t.TempDir(), "pretrain", &logs)
	ref.Options.Epochs = 2
	want := mustRun(t, ref)

	dir := t.TempDir()
	first := runConfig(dir, "pretrain", &logs)
	first.Options.Epochs = 2
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first.OnStep = func(s train.Step) {
		if s.Step == 2 {
			cancel()
		}
	}
	var saves []train.Save
	first.OnSave = func(s train.Save) { saves = append(saves, s) }
	if _, err := train.Run(ctx, first); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Run = %v, want context.Canceled", err)
	}
	if !slices.Equal(saves, []train.Save{{Reason: "interrupt", Step: 2}}) {
		t.Fatalf("saves %+v, want one interrupt at step 2", saves)
	}

	second := runConfig(dir, "pretrain", &logs)
	second.Options.Epochs, second.Resume = 2, true
	var steps []int
	second.OnStep = func(s train.Step) { steps = append(steps, s.Step) }
	got := mustRun(t, second)
	if got.Start.Step != 2 || !slices.Equal(steps, []int{3, 4, 5, 6}) {
		t.Errorf("resumed at step %d, ran steps %v; want 2 and 3..6", got.Start.Step, steps)
	}
	if len(got.Steps) != len(want.Steps) {
		t.Fatalf("history of %d steps, want %d", len(got.Steps), len(want.Steps))
	}
	for i := range want.Steps {
		if got.Steps[i].Step != want.Steps[i].Step || got.Steps[i].Loss != want.Steps[i].Loss {
			t.Errorf("step %d: loss %.17g, uninterrupted %.17g", want.Steps[i].Step, got.Steps[i].Loss, want.Steps[i].Loss)
		}
	}
	if len(logs) != 0 {
		t.Errorf("notes %q, want none", logs)
	}
}

func TestRunDataKind(t *testing.T) {
	var logs []string
	c := runConfig(t.TempDir(), "sft", &logs)
	c.Data = synthetic{n: 12, maxLen: 9, vocab: 60, kind: data.KindPretrain}
	if _, err := train.Run(context.Background(), c); err == nil {
		t.Error("Run of sft on pretrain data succeeded")
	}
}

// TestRunCleansStaleTemps: a run killed during a save leaves
// ".name.tmp-N" files; the next run in that out_dir removes the stale ones
// (and nothing else, and no temp file a live writer may still own).
func TestRunCleansStaleTemps(t *testing.T) {
	dir := t.TempDir()
	stale := filepath.Join(dir, ".pretrain_32.pth.tmp-123456")
	fresh := filepath.Join(dir, ".metrics.jsonl.tmp-42")
	other := filepath.Join(dir, "notes.tmp-1")
	for _, p := range []string{stale, fresh, other} {
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	old := time.Now().Add(-time.Hour)
	if err := os.Chtimes(stale, old, old); err != nil {
		t.Fatal(err)
	}
	var logs []string
	mustRun(t, runConfig(dir, "pretrain", &logs))
	if _, err := os.Stat(stale); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("stale temp file still there (stat: %v)", err)
	}
	for _, p := range []string{fresh, other} {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", filepath.Base(p), err)
		}
	}
	if !slices.ContainsFunc(logs, func(l string) bool { return strings.Contains(l, "removed 1 stale temp files") }) {
		t.Errorf("no note about the removed file in %q", logs)
	}
}
