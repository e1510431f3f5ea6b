package train_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// saveTeacher writes a tiny MoE model with vocab entries to path.
func saveTeacher(t *testing.T, path string, vocab int) {
	t.Helper()
	c := tinyConfig(true)
	c.VocabSize = vocab
	p, err := model.NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	p.Init(77)
	if err := checkpoint.SavePth(path, p, "F32"); err != nil {
		t.Fatal(err)
	}
}

// distillConfig is runConfig's distillation from OutDir's SFT checkpoint,
// taught by teacher, over 2 epochs (6 steps).
func distillConfig(dir, teacher string, logs *[]string) train.Config {
	c := runConfig(dir, train.StageDistill, logs)
	c.Options.Epochs = 2
	c.Distill.Teacher = teacher
	return c
}

// TestRunDistill: `distill` starts from OutDir's full_sft checkpoint,
// writes full_dist_{hidden}.pth, and a run killed after step 2 and resumed
// repeats the uninterrupted run's losses exactly.
func TestRunDistill(t *testing.T) {
	teacher := filepath.Join(t.TempDir(), "teacher.pth")
	saveTeacher(t, teacher, 64)
	sft := func(dir string) string {
		p := filepath.Join(dir, train.WeightName(train.StageSFT, new(tinyConfig(false)))+".pth")
		savePth(t, p, 5)
		return p
	}
	var logs []string
	refDir := t.TempDir()
	sftPath := sft(refDir)
	want := mustRun(t, distillConfig(refDir, teacher, &logs))
	if want.Source != sftPath {
		t.Errorf("student from %s, want %s", want.Source, sftPath)
	}
	if filepath.Base(want.Weights) != "full_dist_32.pth" {
		t.Errorf("weights %s, want full_dist_32.pth", want.Weights)
	}
	if _, err := os.Stat(want.Weights); err != nil {
		t.Error(err)
	}
	if len(want.Steps) != 6 || want.Steps[0].Stage != train.StageDistill {
		t.Fatalf("steps %+v", want.Steps)
	}
	if len(logs) == 0 || !strings.Contains(logs[0], "distill: alpha 0.5, temperature 1.5, teacher "+teacher) {
		t.Errorf("notes %q", logs)
	}

	dir := t.TempDir()
	sft(dir)
	first := distillConfig(dir, teacher, &logs)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	first.OnStep = func(s train.Step) {
		if s.Step == 2 {
			cancel()
		}
	}
	if _, err := train.Run(ctx, first); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted Run = %v, want context.Canceled", err)
	}
	second := distillConfig(dir, teacher, &logs)
	second.Resume = true
	got := mustRun(t, second)
	if got.Start.Step != 2 || len(got.Steps) != len(want.Steps) {
		t.Fatalf("resumed at step %d with %d steps of history, want 2 and %d", got.Start.Step, len(got.Steps), len(want.Steps))
	}
	for i := range want.Steps {
		if got.Steps[i].Loss != want.Steps[i].Loss || got.Steps[i].CE != want.Steps[i].CE {
			t.Errorf("step %d: loss %.17g ce %.17g, uninterrupted %.17g %.17g", i+1, got.Steps[i].Loss, got.Steps[i].CE, want.Steps[i].Loss, want.Steps[i].CE)
		}
	}
}

// TestRunDistillErrors: a teacher whose vocabulary is smaller than the
// student's, a missing teacher and a missing student are errors naming
// them.
func TestRunDistillErrors(t *testing.T) {
	var logs []string
	dir := t.TempDir()
	small := filepath.Join(dir, "small.pth")
	saveTeacher(t, small, 50)
	c := distillConfig(dir, small, &logs)
	c.Init = filepath.Join(dir, "student.pth")
	savePth(t, c.Init, 5)
	_, err := train.Run(context.Background(), c)
	if !errors.Is(err, train.ErrArchitecture) || !strings.Contains(err.Error(), small) || !strings.Contains(err.Error(), "vocab_size 50") || !strings.Contains(err.Error(), "student's 60") {
		t.Errorf("small teacher: %v", err)
	}
	c.Distill.Teacher = filepath.Join(dir, "missing")
	if _, err := train.Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "teacher "+c.Distill.Teacher) {
		t.Errorf("missing teacher: %v", err)
	}
	c = distillConfig(t.TempDir(), small, &logs)
	if _, err := train.Run(context.Background(), c); err == nil || !strings.Contains(err.Error(), "full_sft_32.pth is not there") {
		t.Errorf("no student: %v", err)
	}
}
