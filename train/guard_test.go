package train_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// TestRunMaxSeqLen: samples longer than the model's RoPE tables are an
// error naming both numbers and the flag, on every path to the weights,
// instead of a slice-bounds panic in the kernels. The tiny model has 64
// positions: max_seq_len 65 (64 positions per sample) fits.
func TestRunMaxSeqLen(t *testing.T) {
	for _, c := range []struct {
		name      string
		stage     string
		maxSeqLen int
		setup     func(t *testing.T, dir string, rc *train.Config)
		wantErr   string // "" for success
	}{
		{name: "pretrain fits", stage: "pretrain", maxSeqLen: 65},
		{name: "pretrain", stage: "pretrain", maxSeqLen: 66, wantErr: "--max_seq_len 66 (65 positions per sample) exceeds max_position_embeddings 64 of the model (from random init (seed 42)): use --max_seq_len 65 or less"},
		{name: "sft from the pretrain checkpoint", stage: "sft", maxSeqLen: 200,
			setup: func(t *testing.T, dir string, _ *train.Config) {
				savePth(t, filepath.Join(dir, "pretrain_32.pth"), 1)
			},
			wantErr: "--max_seq_len 200 (199 positions per sample) exceeds max_position_embeddings 64 of the model (from DIR/pretrain_32.pth)"},
		{name: "init with fewer positions", stage: "pretrain", maxSeqLen: 20,
			setup: func(t *testing.T, dir string, rc *train.Config) {
				c := tinyConfig(false)
				c.MaxPositionEmbeddings = 16
				p, err := model.NewParams(c)
				if err != nil {
					t.Fatal(err)
				}
				p.Init(3)
				rc.Init = filepath.Join(dir, "small")
				if err := checkpoint.SaveHF(rc.Init, p, safetensors.F32); err != nil {
					t.Fatal(err)
				}
			},
			wantErr: "--max_seq_len 20 (19 positions per sample) exceeds max_position_embeddings 16 of the model (from DIR/small)"},
		{name: "resume", stage: "pretrain", maxSeqLen: 70,
			setup: func(t *testing.T, dir string, rc *train.Config) {
				var logs []string
				mustRun(t, runConfig(dir, "pretrain", &logs))
				rc.Resume = true
			},
			wantErr: "--max_seq_len 70 (69 positions per sample) exceeds max_position_embeddings 64 of the model (from DIR/pretrain_32_resume.safetensors (step 3))"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs []string
			rc := runConfig(dir, c.stage, &logs)
			kind, _ := train.StageKind(c.stage)
			rc.Data = synthetic{n: 12, maxLen: c.maxSeqLen, vocab: 60, kind: kind}
			if c.setup != nil {
				c.setup(t, dir, &rc)
			}
			_, err := train.Run(context.Background(), rc)
			if c.wantErr == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			want := strings.ReplaceAll(c.wantErr, "DIR", dir)
			if !errors.Is(err, train.ErrMaxSeqLen) || !strings.Contains(err.Error(), want) {
				t.Fatalf("Run = %v\nwant ErrMaxSeqLen with %q", err, want)
			}
		})
	}
}

// TestTrainerMaxSeqLen: the loop itself refuses rows longer than the RoPE
// tables (a Trainer used without Run).
func TestTrainerMaxSeqLen(t *testing.T) {
	tr := newTrainer(t, false, 3, 1, 1)
	l, err := data.NewLoader(synthetic{n: 6, maxLen: 66, vocab: 60}, data.LoaderOptions{BatchSize: 3})
	if err != nil {
		t.Fatal(err)
	}
	tr.Loader = l
	if err := tr.Run(context.Background()); !errors.Is(err, train.ErrMaxSeqLen) || !strings.Contains(err.Error(), "step 1: 65 positions per row: exceeds max_position_embeddings 64") {
		t.Fatalf("Run = %v, want ErrMaxSeqLen", err)
	}
}

// TestRunResumeChangedSchedule: resuming with options that change the
// batches or the learning-rate schedule is refused, naming every changed
// option with its saved and new value, unless AllowChangedSchedule, which
// notes the change; options that change neither are free.
func TestRunResumeChangedSchedule(t *testing.T) {
	for _, c := range []struct {
		name    string
		change  func(rc *train.Config)
		allow   bool
		wantErr string // "" for success
		wantLog string // a note that must appear
	}{
		{name: "same options", change: func(*train.Config) {}},
		{name: "log and save intervals, skip_nonfinite", change: func(rc *train.Config) {
			rc.Options.LogInterval, rc.Options.SaveInterval, rc.Options.SkipNonfinite = 1, 1, 3
		}},
		{name: "batch size", change: func(rc *train.Config) { rc.Options.BatchSize = 3 }, wantErr: "--batch_size 4 → 3 (saved → now)"},
		{name: "epochs", change: func(rc *train.Config) { rc.Options.Epochs = 3 }, wantErr: "--epochs 2 → 3 (saved → now)"},
		{name: "accumulation", change: func(rc *train.Config) { rc.Options.Accumulation = 2 }, wantErr: "--accumulation_steps 1 → 2"},
		{name: "learning rate and warmup", change: func(rc *train.Config) { rc.Options.LearningRate, rc.Options.WarmupIters = 1e-3, 2 },
			wantErr: "--learning_rate 0.003 → 0.001, --warmup_iters 0 → 2 (saved → now)"},
		{name: "grad clip", change: func(rc *train.Config) { rc.Options.GradClip = 0.5 }, wantErr: "--grad_clip 1 → 0.5"},
		{name: "max_seq_len", change: func(rc *train.Config) { rc.Data = synthetic{n: 12, maxLen: 10, vocab: 60} }, wantErr: "--max_seq_len 9 → 10"},
		{name: "allowed", change: func(rc *train.Config) { rc.Options.BatchSize, rc.Options.Epochs = 3, 3 }, allow: true,
			wantLog: "resume: continuing with a changed schedule (--allow_changed_schedule): --epochs 2 → 3, --batch_size 4 → 3 (saved → now); at step 3 the run's length goes from 6 to 12 steps and the learning rate from 0.00232 to 0.00282"},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs []string
			first := runConfig(dir, "pretrain", &logs)
			first.Options.Epochs = 2
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			first.OnStep = func(s train.Step) {
				if s.Step == 2 {
					cancel()
				}
			}
			if _, err := train.Run(ctx, first); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted Run = %v", err)
			}
			second := runConfig(dir, "pretrain", &logs)
			second.Options.Epochs, second.Resume, second.AllowChangedSchedule = 2, true, c.allow
			c.change(&second)
			_, err := train.Run(context.Background(), second)
			if c.wantErr != "" {
				if !errors.Is(err, train.ErrChangedSchedule) || !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), "--allow_changed_schedule") {
					t.Fatalf("Run = %v\nwant ErrChangedSchedule with %q", err, c.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got := strings.Join(logs, "\n"); c.wantLog != "" && !strings.Contains(got, c.wantLog) {
				t.Errorf("notes %q\nwant %q", got, c.wantLog)
			} else if c.wantLog == "" && got != "" {
				t.Errorf("notes %q, want none", got)
			}
		})
	}
}
