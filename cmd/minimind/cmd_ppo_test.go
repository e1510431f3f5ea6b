package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// runPPOCmd runs `minimind ppo` with args.
func runPPOCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := newPPOCommand(&globalOptions{threads: 1, quiet: true})
	return runCommand(t, cmd, args...)
}

// TestPPOCommand: `minimind ppo` starts from --out_dir's full_sft
// checkpoint, logs reward/KL/value loss per step, writes ppo_actor_32.pth,
// ppo_critic_32.pth and PPO lines in metrics.jsonl; --resume after the
// last step trains nothing more; bad PPO flags name the flag.
func TestPPOCommand(t *testing.T) {
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	if out, err := pretrain(t, pre, dir, "--max_position_embeddings", "64"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(dir, "pretrain_32.pth"), filepath.Join(dir, "full_sft_32.pth")); err != nil {
		t.Fatal(err)
	}
	prompts := filepath.Join(dir, "rlaif.jsonl")
	if err := os.WriteFile(prompts, []byte(strings.Repeat(`{"conversations":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`+"\n", 4)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data_path", prompts, "--out_dir", dir, "--max_seq_len", "32", "--max_gen_len", "6", "--learning_rate", "1e-3"}
	out, err := runPPOCmd(t, args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"from " + filepath.Join(dir, "full_sft_32.pth"), "step 2/2 reward", "approx_kl", "value", "ppo_actor_32.pth", "ppo_critic_32.pth"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	for _, f := range []string{"ppo_actor_32.pth", "ppo_critic_32.pth", "reward_ppo.png"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var last train.PPOStep
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Stage != train.StagePPO || last.Step.Step != 2 || last.ValueLoss <= 0 {
		t.Errorf("last metrics line %s", lines[len(lines)-1])
	}
	t.Logf("%s", out)
	out, err = runPPOCmd(t, append(args, "--resume")...)
	if err != nil || !strings.Contains(out, "resuming") || !strings.Contains(out, "done: 2 steps") {
		t.Errorf("--resume after the end: %v\n%s", err, out)
	}
	// --resume with another objective or schedule: a usage error (exit
	// status 2) naming the change.
	for _, tc := range []struct {
		args []string
		want string
		err  error
	}{
		{[]string{"--kl_coef", "0.1"}, "--kl_coef 0.02 → 0.1", train.ErrChangedSetup},
		{[]string{"--reward", "gt"}, "--reward rules → rules+gt", train.ErrChangedSetup},
		{[]string{"--temperature", "1"}, "--temperature 0.8 → 1", train.ErrChangedSetup},
		{[]string{"--learning_rate", "2e-3"}, "--learning_rate 0.001 → 0.002", train.ErrChangedSchedule},
		{[]string{"--critic_learning_rate", "1e-6"}, "--critic_learning_rate 5e-07 → 1e-06", train.ErrChangedSchedule},
		{[]string{"--epochs", "2"}, "--epochs 1 → 2", train.ErrChangedSchedule},
		{[]string{"--seed", "7"}, "--seed 42 → 7", train.ErrChangedSchedule},
	} {
		out, err := runPPOCmd(t, append(append(args, "--resume"), tc.args...)...)
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitUsage {
			t.Errorf("%v: %v (exit status %d), want %q naming %q, exit status %d\n%s", tc.args, err, exitCode(err), tc.err, tc.want, exitUsage, out)
		}
	}
	for _, bad := range [][]string{{"--clip_epsilon", "0"}, {"--ppo_update_iters", "0"}, {"--max_gen_len", "0"}, {"--reward", "nope"}} {
		out, err := runPPOCmd(t, append(args, bad...)...)
		if err == nil || !strings.Contains(err.Error(), strings.TrimPrefix(bad[0], "--")) && bad[0] != "--reward" {
			t.Errorf("%v: %v\n%s", bad, err, out)
		}
	}
}
