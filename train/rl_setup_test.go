package train_test

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// TestGRPOResumeSetup: a GRPO run resumed with another reference, reward,
// loss setting, group size, rollout setting or thinking ratio is refused with
// ErrChangedSetup naming the change, one with another schedule (epochs,
// batch size, learning rate, clipping, seed, number of prompts) with
// ErrChangedSchedule; the same setup and schedule (also with the
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
		c.RewardName, c.RefPath, c.ThinkingRatio = "rules+gt", "/models/full_sft_32.pth", 0.5
		return c
	}
	resumePath := func(dir string) string { return filepath.Join(dir, train.GRPOWeightName(&mc)+"_resume.safetensors") }
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, c *train.GRPOConfig)
		want   string // in the error; "" means the resume works
		err    error  // the error wanted; nil: ErrChangedSetup
	}{
		{"same setup", func(*testing.T, *train.GRPOConfig) {}, "", nil},
		{"reference moved", func(_ *testing.T, c *train.GRPOConfig) { c.RefPath = "/elsewhere/sft.pth" }, "", nil},
		{"reward not named", func(_ *testing.T, c *train.GRPOConfig) { c.RewardName = "" }, "", nil},
		{"older resume state", func(t *testing.T, c *train.GRPOConfig) {
			stripSetup(t, resumePath(c.OutDir))
			c.Loss.Beta = 0.5 // not recorded: not checked
		}, "", nil},
		{"other reference", func(t *testing.T, c *train.GRPOConfig) {
			c.Ref, c.RefPath = modeltest.Model(t, mc, 4, be), "/models/other.pth"
		}, "the reference model (--init) has other weights (full_sft_32.pth crc32c:", nil},
		{"other reward", func(_ *testing.T, c *train.GRPOConfig) { c.RewardName = "rules" }, "--reward rules+gt → rules", nil},
		{"other loss", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.LossType = train.LossGRPO }, "--loss_type cispo → grpo", nil},
		{"other beta", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.Beta = 0.04 }, "--beta 0.1 → 0.04", nil},
		{"other epsilon", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.Epsilon = 0.3 }, "--epsilon 0.2 → 0.3", nil},
		{"other epsilon_high", func(_ *testing.T, c *train.GRPOConfig) { c.Loss.EpsilonHigh = 4 }, "--epsilon_high 5 → 4", nil},
		{"other group size", func(_ *testing.T, c *train.GRPOConfig) { c.NumGenerations = 3 }, "--num_generations 2 → 3", nil},
		{"other temperature", func(_ *testing.T, c *train.GRPOConfig) { c.Temperature = 1 }, "--temperature 0.8 → 1", nil},
		{"other max_gen_len", func(_ *testing.T, c *train.GRPOConfig) { c.MaxGenLen = 4 }, "--max_gen_len 3 → 4", nil},
		{"other thinking_ratio", func(_ *testing.T, c *train.GRPOConfig) { c.ThinkingRatio = 0 }, "--thinking_ratio 0.5 → 0", nil},
		{"other epochs", func(_ *testing.T, c *train.GRPOConfig) { c.Epochs = 2 }, "--epochs 1 → 2", train.ErrChangedSchedule},
		{"other batch_size", func(_ *testing.T, c *train.GRPOConfig) { c.BatchSize = 1 }, "--batch_size 2 → 1", train.ErrChangedSchedule},
		{"other learning_rate", func(_ *testing.T, c *train.GRPOConfig) { c.LearningRate = 2e-3 }, "--learning_rate 0.001 → 0.002", train.ErrChangedSchedule},
		{"other grad_clip", func(_ *testing.T, c *train.GRPOConfig) { c.GradClip = 0.5 }, "--grad_clip 1 → 0.5", train.ErrChangedSchedule},
		{"other seed", func(_ *testing.T, c *train.GRPOConfig) { c.Seed = 7 }, "--seed 42 → 7", train.ErrChangedSchedule},
		{"other prompts", func(_ *testing.T, c *train.GRPOConfig) { c.Prompts = c.Prompts[:3] }, "--data_path 4 → 3 prompts", train.ErrChangedSchedule},
		{"several", func(_ *testing.T, c *train.GRPOConfig) { c.Epochs, c.Seed = 3, 1 }, "--epochs 1 → 3, --seed 42 → 1 (saved → now)", train.ErrChangedSchedule},
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
			if want := cmp.Or(tc.err, train.ErrChangedSetup); !errors.Is(err, want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("resume: %v, want %q naming %q", err, want, tc.want)
			}
		})
	}
}

// TestPPOResumeSetup: a PPO run resumed with other starting (reference)
// weights, another reward, PPO setting or rollout setting is refused with
// ErrChangedSetup naming the change, one with another schedule (epochs,
// batch size, accumulation, prompt length, either learning rate,
// clipping, seed, shuffling, number of prompts) with ErrChangedSchedule;
// the same setup and schedule (also with the init file moved, an unnamed
// reward, or older resume files without a setup, a prompt count or a
// critic learning rate) continues.
func TestPPOResumeSetup(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, c *train.PPOConfig)
		want   string // in the error; "" means the resume works
		err    error  // the error wanted; nil: ErrChangedSetup
	}{
		{"same setup", func(*testing.T, *train.PPOConfig) {}, "", nil},
		{"init moved", func(_ *testing.T, c *train.PPOConfig) { c.InitPath = "/elsewhere/sft.pth" }, "", nil},
		{"reward not named", func(_ *testing.T, c *train.PPOConfig) { c.RewardName = "" }, "", nil},
		{"older resume state", func(t *testing.T, c *train.PPOConfig) {
			p := c.Paths(&c.Init.Config)
			for _, path := range []string{p.Resume, p.CriticResume} {
				stripSetup(t, path)
			}
			c.PPO.KLCoef = 0.1 // not recorded: not checked
		}, "", nil},
		{"other reference", func(t *testing.T, c *train.PPOConfig) {
			c.Init, c.InitPath = modeltest.Params(t, c.Init.Config, 4), "/models/other.pth"
		}, "the reference model (--init) has other weights (full_sft_32.pth crc32c:", nil},
		{"other reward", func(_ *testing.T, c *train.PPOConfig) { c.RewardName = "rules+gt" }, "--reward length → rules+gt", nil},
		{"other clip_epsilon", func(_ *testing.T, c *train.PPOConfig) { c.PPO.ClipEpsilon = 0.1 }, "--clip_epsilon 0.2 → 0.1", nil},
		{"other vf_coef", func(_ *testing.T, c *train.PPOConfig) { c.PPO.VFCoef = 1 }, "--vf_coef 0.5 → 1", nil},
		{"other kl_coef", func(_ *testing.T, c *train.PPOConfig) { c.PPO.KLCoef = 0.1 }, "--kl_coef 0.02 → 0.1", nil},
		{"other gamma", func(_ *testing.T, c *train.PPOConfig) { c.PPO.Gamma = 0.9 }, "--gamma 1 → 0.9", nil},
		{"other lam", func(_ *testing.T, c *train.PPOConfig) { c.PPO.Lam = 0.9 }, "--lam 0.95 → 0.9", nil},
		{"other cliprange_value", func(_ *testing.T, c *train.PPOConfig) { c.PPO.ClipRangeValue = 0.5 }, "--cliprange_value 0.2 → 0.5", nil},
		{"other early_stop_kl", func(_ *testing.T, c *train.PPOConfig) { c.PPO.EarlyStopKL = 1 }, "--early_stop_kl 0.25 → 1", nil},
		{"other ppo_update_iters", func(_ *testing.T, c *train.PPOConfig) { c.PPO.UpdateIters = 1 }, "--ppo_update_iters 2 → 1", nil},
		{"other mini_batch_size", func(_ *testing.T, c *train.PPOConfig) { c.PPO.MiniBatch = 1 }, "--mini_batch_size 2 → 1", nil},
		{"other temperature", func(_ *testing.T, c *train.PPOConfig) { c.Temperature = 1 }, "--temperature 0.8 → 1", nil},
		{"other max_gen_len", func(_ *testing.T, c *train.PPOConfig) { c.MaxGenLen = 4 }, "--max_gen_len 8 → 4", nil},
		{"older schedule", func(t *testing.T, c *train.PPOConfig) {
			p := c.Paths(&c.Init.Config)
			for _, path := range []string{p.Resume, p.CriticResume} {
				stripKeys(t, path, "prompts", "critic_learning_rate")
			}
			c.CriticLR = 2e-3 // not recorded: not checked
		}, "", nil},
		{"other epochs", func(_ *testing.T, c *train.PPOConfig) { c.Options.Epochs = 2 }, "--epochs 1 → 2", train.ErrChangedSchedule},
		{"other batch_size", func(_ *testing.T, c *train.PPOConfig) { c.Options.BatchSize = 3 }, "--batch_size 2 → 3", train.ErrChangedSchedule},
		{"other accumulation_steps", func(_ *testing.T, c *train.PPOConfig) { c.Options.Accumulation = 2 }, "--accumulation_steps 1 → 2", train.ErrChangedSchedule},
		{"other max_seq_len", func(_ *testing.T, c *train.PPOConfig) { c.Options.MaxSeqLen = 32 }, "--max_seq_len 64 → 32", train.ErrChangedSchedule},
		{"other learning_rate", func(_ *testing.T, c *train.PPOConfig) { c.Options.LearningRate = 2e-3 }, "--learning_rate 0.001 → 0.002", train.ErrChangedSchedule},
		{"other critic_learning_rate", func(_ *testing.T, c *train.PPOConfig) { c.CriticLR = 2e-3 }, "--critic_learning_rate 0.001 → 0.002", train.ErrChangedSchedule},
		{"other grad_clip", func(_ *testing.T, c *train.PPOConfig) { c.Options.GradClip = 0.5 }, "--grad_clip 1 → 0.5", train.ErrChangedSchedule},
		{"other seed", func(_ *testing.T, c *train.PPOConfig) { c.Options.Seed = 7 }, "--seed 42 → 7", train.ErrChangedSchedule},
		{"other shuffle", func(_ *testing.T, c *train.PPOConfig) { c.Options.Shuffle = false }, "--shuffle true → false", train.ErrChangedSchedule},
		{"other prompts", func(t *testing.T, c *train.PPOConfig) { c.Data = firstRecords(t, c, 4) }, "--data_path 6 → 4 prompts", train.ErrChangedSchedule},
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
			if want := cmp.Or(tc.err, train.ErrChangedSetup); !errors.Is(err, want) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("resume: %v, want %q naming %q", err, want, tc.want)
			}
		})
	}
}

// stripSetup rewrites a resume file without its "setup" key, as files
// written before it was recorded.
func stripSetup(t *testing.T, path string) {
	t.Helper()
	stripKeys(t, path, "setup")
}

// stripKeys rewrites a resume file without the given metadata keys, as
// files written before they were recorded.
func stripKeys(t *testing.T, path string, keys ...string) {
	t.Helper()
	f, err := checkpoint.LoadResume(path)
	if err != nil {
		t.Fatal(err)
	}
	var meta map[string]json.RawMessage
	if err := json.Unmarshal(f.Meta, &meta); err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if _, ok := meta[k]; !ok {
			t.Fatalf("%s has no %q to strip", path, k)
		}
		delete(meta, k)
	}
	if f.Meta, err = json.Marshal(meta); err != nil {
		t.Fatal(err)
	}
	if err := checkpoint.SaveResume(path, f); err != nil {
		t.Fatal(err)
	}
}

// firstRecords is c's prompts cut to the first n records of the file
// ppoRunConfig writes.
func firstRecords(t *testing.T, c *train.PPOConfig, n int) *data.JSONLDataset {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(c.OutDir, "rlaif.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(c.OutDir, "rlaif_first.jsonl")
	lines := bytes.SplitAfter(raw, []byte("\n"))
	if err := os.WriteFile(path, bytes.Join(lines[:n], nil), 0o644); err != nil {
		t.Fatal(err)
	}
	enc, err := data.NewEncoder(c.Tokenizer, data.EncodeOptions{MaxSeqLen: 64})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := data.LoadJSONL(context.Background(), []string{path}, data.KindRLAIF, enc, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return ds
}
