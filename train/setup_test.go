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
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// interrupted runs c until its second step, then cancels it: OutDir then
// holds a resume state at step 2.
func interrupted(t *testing.T, c train.Config) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c.OnStep = func(s train.Step) {
		if s.Step == 2 {
			cancel()
		}
	}
	if _, err := train.Run(ctx, c); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
}

// saveModel writes a tiny model (MoE when moe, with vocab entries)
// initialised from seed to path.
func saveModel(t *testing.T, path string, moe bool, vocab int, seed uint64) {
	t.Helper()
	c := tinyConfig(moe)
	c.VocabSize = vocab
	p, err := model.NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	p.Init(seed)
	if err := checkpoint.SavePth(path, p, "F32"); err != nil {
		t.Fatal(err)
	}
}

// TestResumeSetup: a DPO or distillation run resumed with another loss
// setting or other frozen weights than it was saved with is refused with
// ErrChangedSetup naming the change; the same setup resumes, even when the
// teacher file has moved (its weights are compared, not its path).
func TestResumeSetup(t *testing.T) {
	teachers := t.TempDir()
	teacher := filepath.Join(teachers, "teacher.pth")
	saveModel(t, teacher, true, 64, 77)
	otherTeacher := filepath.Join(teachers, "other.pth")
	saveModel(t, otherTeacher, true, 64, 78)
	movedTeacher := filepath.Join(t.TempDir(), "moved.pth")
	b, err := os.ReadFile(teacher)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(movedTeacher, b, 0o644); err != nil {
		t.Fatal(err)
	}
	distill := func(dir string) train.Config {
		var logs []string
		savePth(t, filepath.Join(dir, "full_sft_32.pth"), 5)
		return distillConfig(dir, teacher, &logs)
	}
	for _, tc := range []struct {
		name   string
		config func(t *testing.T, dir string) train.Config
		change func(t *testing.T, c *train.Config)
		want   string // in the error; "" means the resume works
	}{
		{"dpo, same setup", dpoConfig, func(*testing.T, *train.Config) {}, ""},
		{"dpo, other beta", dpoConfig, func(_ *testing.T, c *train.Config) { c.DPO.Beta = 0.3 }, "--beta 0.15 → 0.3"},
		{"dpo, other loss", dpoConfig, func(_ *testing.T, c *train.Config) { c.DPO.Loss = train.DPOMean }, "--dpo_loss sum → mean, --beta 0.15 → 0.1"},
		{"dpo, reference overwritten", dpoConfig, func(t *testing.T, c *train.Config) {
			savePth(t, filepath.Join(c.OutDir, "full_sft_32.pth"), 6)
		}, "the reference model has other weights (full_sft_32.pth crc32c:"},
		{"distill, same setup", func(_ *testing.T, dir string) train.Config { return distill(dir) }, func(*testing.T, *train.Config) {}, ""},
		{"distill, teacher moved", func(_ *testing.T, dir string) train.Config { return distill(dir) }, func(_ *testing.T, c *train.Config) {
			c.Distill.Teacher = movedTeacher
		}, ""},
		{"distill, other teacher", func(_ *testing.T, dir string) train.Config { return distill(dir) }, func(_ *testing.T, c *train.Config) {
			c.Distill.Teacher = otherTeacher
		}, "the teacher (--teacher) has other weights (teacher.pth crc32c:"},
		{"distill, other temperature", func(_ *testing.T, dir string) train.Config { return distill(dir) }, func(_ *testing.T, c *train.Config) {
			c.Distill.Loss.Temperature = 2
		}, "--temperature 1.5 → 2"},
		{"distill, other alpha", func(_ *testing.T, dir string) train.Config { return distill(dir) }, func(_ *testing.T, c *train.Config) {
			c.Distill.Loss.Alpha = 0
		}, "--alpha 0.5 → 0"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			interrupted(t, tc.config(t, dir))
			c := tc.config(t, dir) // rewrites the same SFT checkpoint
			tc.change(t, &c)
			c.Resume = true
			res, err := train.Run(context.Background(), c)
			if tc.want == "" {
				if err != nil || res.Start.Step != 2 {
					t.Fatalf("resume: %v (start %+v), want it to continue from step 2", err, res)
				}
				return
			}
			if !errors.Is(err, train.ErrChangedSetup) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("resume: %v, want ErrChangedSetup naming %q", err, tc.want)
			}
		})
	}
}

// TestLoRAResumeBase: a LoRA run resumed on a base with other weights
// (same architecture) is refused, naming the base files.
func TestLoRAResumeBase(t *testing.T) {
	base := modeltest.Params(t, tinyConfig(false), 11)
	dir := t.TempDir()
	cfg := loraConfig(t, dir, base)
	cfg.BasePath = "/models/base.pth"
	ctx := &cancelAfter{Context: context.Background()}
	ctx.n.Store(7)
	if _, err := train.RunLoRA(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	cfg.Resume = true
	cfg.Base = modeltest.Params(t, tinyConfig(false), 12)
	cfg.BasePath = "/models/other.pth"
	_, err := train.RunLoRA(context.Background(), cfg)
	if !errors.Is(err, train.ErrChangedSetup) || !strings.Contains(err.Error(), "the base model (--init) has other weights (base.pth crc32c:") ||
		!strings.Contains(err.Error(), "→ other.pth crc32c:") {
		t.Fatalf("resume on another base: %v, want ErrChangedSetup naming both files", err)
	}
}

// TestLoRAResumeSpec: a LoRA run resumed with other adapters (rank, alpha
// or targets) is refused with ErrChangedSetup naming the flag; the same
// adapters resume.
func TestLoRAResumeSpec(t *testing.T) {
	base := modeltest.Params(t, tinyConfig(false), 11)
	all := strings.Join(model.LoRATargets, ",")
	for _, tc := range []struct {
		name   string
		change func(s *model.LoRASpec)
		want   string // in the error; "" means the resume works
	}{
		{"same adapters", func(*model.LoRASpec) {}, ""},
		{"other rank", func(s *model.LoRASpec) { s.Rank = 3 }, "--lora_rank 2 → 3"},
		{"other alpha", func(s *model.LoRASpec) { s.Alpha = 8 }, "--lora_alpha 4 → 8"},
		{"other targets", func(s *model.LoRASpec) { s.Targets = []string{"q_proj"} }, "--lora_targets " + all + " → q_proj"},
		{"default targets", func(s *model.LoRASpec) { s.Targets = nil }, "--lora_targets " + all + " → (default)"},
		{"rank and alpha", func(s *model.LoRASpec) { s.Rank, s.Alpha = 4, 1 }, "--lora_rank 2 → 4, --lora_alpha 4 → 1 (saved → now)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := loraConfig(t, t.TempDir(), base)
			ctx := &cancelAfter{Context: context.Background()}
			ctx.n.Store(7)
			if _, err := train.RunLoRA(ctx, cfg); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v", err)
			}
			cfg.Resume = true
			tc.change(&cfg.Spec)
			res, err := train.RunLoRA(context.Background(), cfg)
			if tc.want == "" {
				if err != nil || res.Step == 0 {
					t.Fatalf("resume: %v, want it to continue", err)
				}
				return
			}
			if !errors.Is(err, train.ErrChangedSetup) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("resume: %v, want ErrChangedSetup naming %q", err, tc.want)
			}
		})
	}
}
