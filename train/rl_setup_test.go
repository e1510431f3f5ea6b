package train_test

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// TestGRPOResumeSetup: a GRPO run resumed with another reference, reward,
// loss setting, group size or rollout setting is refused with
// ErrChangedSetup naming the change; the same setup (also with the
// reference file moved, an unnamed reward, or an older resume state
// without a setup) continues.
func TestGRPOResumeSetup(t *testing.T) {
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(cpu.Options{Threads: 1})
	defer be.Close()
	mc := modeltest.TinyConfig3(false)
	trainSet, _ := additionSplit()
	config := func(dir string) train.GRPOConfig {
		policy, ref := modeltest.Model(t, mc, 3, be), modeltest.Model(t, mc, 3, be)
		c := train.DefaultGRPOConfig()
		c.Policy, c.Ref, c.Tokenizer = policy, ref, tok
		c.Prompts, c.Score, c.Rollout = addPrompts(tok, trainSet[:4]), addScore(tok), sampleRollout(policy)
		c.NumGenerations, c.BatchSize, c.MaxGenLen = 2, 2, 3
		c.LearningRate, c.SaveInterval, c.OutDir, c.SaveDType = 1e-3, 1, dir, "f32"
		c.RewardName, c.RefPath = "rules+gt", "/models/full_sft_32.pth"
		return c
	}
	resumePath := func(dir string) string { return filepath.Join(dir, train.GRPOWeightName(&mc)+"_resume.safetensors") }
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, c *train.GRPOConfig)
		want   string // in the error; "" means the resume works
	}{
		{"same setup", func(*testing.T, *train.GRPOConfig) {}, ""},
		{"reference moved", func(_ *testing.T, c *train.GRPOConfig) { c.RefPath = "/elsewhere/sft.pth" }, ""},
		{"reward not named", func(_ *testing.T, c *train.GRPOConfig) { c.RewardName = "" }, ""},
		{"older resume state", func(t *testing.T, c *train.GRPOConfig) {
			stripSetup(t, resumePath(c.OutDir))
			c.Loss.Beta = 0.5 // not recorded: not checked
		}, ""},
		{"other reference", func(t *testing.T, c *train.GRPOConfig) {
			c.Ref, c.RefPath = modeltest.Model(t, mc, 4, be), "/models/other.pth"
		}, "the reference model (--init) has other weights (full_sft_32.pth crc32c:"},
		{"other reward", func(_ *testing.T, c *train.GRPOConfig) { c.RewardName = "rules" }, "--reward rules+gt → rules"},
		{"other loss", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.LossType = train.LossGRPO }, "--loss_type cispo → grpo"},
		{"other beta", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.Beta = 0.04 }, "--beta 0.1 → 0.04"},
		{"other epsilon", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.Epsilon = 0.3 }, "--epsilon 0.2 → 0.3"},
		{"other epsilon_high", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.EpsilonHigh = 4 }, "--epsilon_high 5 → 4"},
		{"other group size", func(_ *testing.T, c *train.GRPOConfig) { c.NumGenerations = 3 }, "--num_generations 2 → 3"},
		{"other temperature", func(_ *testing.T, c *train.GRPOConfig) { c.Temperature = 1 }, "--temperature 0.8 → 1"},
		{"other max_gen_len", func(_ *testing.T, c *train.GRPOConfig) { c.MaxGenLen = 4 }, "--max_gen_len 3 → 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			c := config(dir)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c.Logf = func(string, ...any) { cancel() } // after update 1 of 2
			if _, err := train.RunGRPO(ctx, c); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v", err)
			}
			c = config(dir)
			tc.change(t, &c)
			c.Resume = true
			res, err := train.RunGRPO(context.Background(), c)
			if tc.want == "" {
				if err != nil || len(res.Steps) != 1 || res.Steps[0].Step != 2 {
					t.Fatalf("resume: %v, want it to continue with update 2 of 2", err)
				}
				return
			}
			if !errors.Is(err, train.ErrChangedSetup) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("resume: %v, want ErrChangedSetup naming %q", err, tc.want)
			}
		})
	}
}

// TestPPOResumeSetup: a PPO run resumed with other starting (reference)
// weights, another reward, PPO setting or rollout setting is refused with
// ErrChangedSetup naming the change; the same setup (also with the init
// file moved, an unnamed reward, or older resume files without a setup)
// continues.
func TestPPOResumeSetup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, c *train.PPOConfig)
		want   string // in the error; "" means the resume works
	}{
		{"same setup", func(*testing.T, *train.PPOConfig) {}, ""},
		{"init moved", func(_ *testing.T, c *train.PPOConfig) { c.InitPath = "/elsewhere/sft.pth" }, ""},
		{"reward not named", func(_ *testing.T, c *train.PPOConfig) { c.RewardName = "" }, ""},
		{"older resume state", func(t *testing.T, c *train.PPOConfig) {
			p := c.Paths(&c.Init.Config)
			for _, path := range []string{p.Resume, p.CriticResume} {
				stripSetup(t, path)
			}
			c.PPO.KLCoef = 0.1 // not recorded: not checked
		}, ""},
		{"other reference", func(t *testing.T, c *train.PPOConfig) {
			c.Init, c.InitPath = modeltest.Params(t, c.Init.Config, 4), "/models/other.pth"
		}, "the reference model (--init) has other weights (full_sft_32.pth crc32c:"},
		{"other reward", func(_ *testing.T, c *train.PPOConfig) { c.RewardName = "rules+gt" }, "--reward length → rules+gt"},
		{"other clip_epsilon", func(_ *testing.T, c *train.PPOConfig) { c.PPO.ClipEpsilon = 0.1 }, "--clip_epsilon 0.2 → 0.1"},
		{"other vf_coef", func(_ *testing.T, c *train.PPOConfig) { c.PPO.VFCoef = 1 }, "--vf_coef 0.5 → 1"},
		{"other kl_coef", func(_ *testing.T, c *train.PPOConfig) { c.PPO.KLCoef = 0.1 }, "--kl_coef 0.02 → 0.1"},
		{"other gamma", func(_ *testing.T, c *train.PPOConfig) { c.PPO.Gamma = 0.9 }, "--gamma 1 → 0.9"},
		{"other lam", func(_ *testing.T, c *train.PPOConfig) { c.PPO.Lam = 0.9 }, "--lam 0.95 → 0.9"},
		{"other cliprange_value", func(_ *testing.T, c *train.PPOConfig) { c.PPO.ClipRangeValue = 0.5 }, "--cliprange_value 0.2 → 0.5"},
		{"other early_stop_kl", func(_ *testing.T, c *train.PPOConfig) { c.PPO.EarlyStopKL = 1 }, "--early_stop_kl 0.25 → 1"},
		{"other ppo_update_iters", func(_ *testing.T, c *train.PPOConfig) { c.PPO.UpdateIters = 1 }, "--ppo_update_iters 2 → 1"},
		{"other mini_batch_size", func(_ *testing.T, c *train.PPOConfig) { c.PPO.MiniBatch = 1 }, "--mini_batch_size 2 → 1"},
		{"other temperature", func(_ *testing.T, c *train.PPOConfig) { c.Temperature = 1 }, "--temperature 0.8 → 1"},
		{"other max_gen_len", func(_ *testing.T, c *train.PPOConfig) { c.MaxGenLen = 4 }, "--max_gen_len 8 → 4"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			config := func() train.PPOConfig {
				c := ppoRunConfig(t, dir)
				c.RewardName, c.InitPath = "length", "/models/full_sft_32.pth"
				return c
			}
			c := config()
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			c.OnStep = func(train.PPOStep) { cancel() } // after step 1 of 3
			if _, err := train.RunPPO(ctx, c); !errors.Is(err, context.Canceled) {
				t.Fatalf("interrupted run: %v", err)
			}
			c = config()
			tc.change(t, &c)
			c.Resume = true
			steps, err := train.RunPPO(context.Background(), c)
			if tc.want == "" {
				if err != nil || len(steps) != 3 {
					t.Fatalf("resume: %v (%d steps), want it to continue to step 3", err, len(steps))
				}
				return
			}
			if !errors.Is(err, train.ErrChangedSetup) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("resume: %v, want ErrChangedSetup naming %q", err, tc.want)
			}
		})
	}
}

// stripSetup rewrites a resume file without its "setup" key, as files
// written before it was recorded.
func stripSetup(t *testing.T, path string) {
	t.Helper()
	f, err := checkpoint.LoadResume(path)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(f.Meta, &meta); err != nil {
		t.Fatal(err)
	}
	if _, ok := meta["setup"]; !ok {
		t.Fatalf("%s has no setup to strip", path)
	}
	delete(meta, "setup")
	if f.Meta, err = json.Marshal(meta); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.SaveResume(path, f); err != nil {
		t.Fatal(err)
	}
}
