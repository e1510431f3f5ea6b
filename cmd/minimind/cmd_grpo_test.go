package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// runGRPOCmd runs `minimind grpo` (or `train --mode grpo` when viaTrain).
func runGRPOCmd(t *testing.T, viaTrain bool, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{threads: 1, quiet: true}
	cmd := newGRPOCommand(g)
	if viaTrain {
		cmd = newTrainCommand(g)
		args = append([]string{"--mode", "grpo"}, args...)
	}
	return runCommand(t, cmd, args...)
}

// TestGRPOCommand: `minimind grpo` and `train --mode grpo` sample with the
// engine from --out_dir's full_sft model, score with --reward gt, log the
// reward and the rollout speed (on-policy: the engine's log-probs give
// ratio 1), and write grpo_32.pth and metrics.jsonl; a
// bad line and a prompt longer than the context are errors naming them.
func TestGRPOCommand(t *testing.T) {
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	if out, err := pretrain(t, pre, dir, "--max_position_embeddings", "48"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(dir, "pretrain_32.pth"), filepath.Join(dir, "full_sft_32.pth")); err != nil {
		t.Fatal(err)
	}
	rl := filepath.Join(dir, "rlaif.jsonl")
	var b bytes.Buffer
	for _, q := range []string{"1+2=", "3+4="} {
		line, _ := json.Marshal(map[string]any{"conversations": []map[string]string{{"role": "user", "content": q}, {"role": "assistant", "content": ""}}, "gt": "3"})
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(rl, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--data_path", rl, "--out_dir", dir, "--hidden_size", "32", "--num_hidden_layers", "1",
		"--num_attention_heads", "4", "--num_key_value_heads", "2", "--intermediate_size", "64", "--max_position_embeddings", "48",
		"--num_generations", "3", "--max_gen_len", "6", "--reward", "gt", "--save_dtype", "f32", "--loss_type", "grpo"}
	for _, viaTrain := range []bool{false, true} {
		out, err := runGRPOCmd(t, viaTrain, args...)
		if err != nil {
			t.Fatalf("via train %v: %v\n%s", viaTrain, err, out)
		}
		for _, want := range []string{"grpo update 1/1: reward ", "tok/s", "% rollout / ", "grpo_32.pth"} {
			if !strings.Contains(out, want) {
				t.Errorf("via train %v: no %q in the log:\n%s", viaTrain, want, out)
			}
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Stage       string   `json:"stage"`
		Reward      *float64 `json:"reward"`
		RolloutTokS float64  `json:"rollout_tokens_per_s"`
		KL          *float64 `json:"kl"`
		Ratio       float64  `json:"ratio"`
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &s); err != nil || s.Stage != "grpo" || s.Reward == nil || s.KL == nil || s.RolloutTokS <= 0 || math.Abs(s.Ratio-1) > 1e-3 {
		t.Errorf("last metrics line %s: %+v, %v", lines[len(lines)-1], s, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "grpo_32.pth")); err != nil {
		t.Error(err)
	}
	// --resume with the same setup continues (here: nothing left to do);
	// with another objective or schedule it is a usage error (exit status
	// 2) naming the change.
	for _, tc := range []struct {
		name string
		args []string
		want string
		err  error
	}{
		{"same setup", []string{"--reward", "rules+gt"}, "", nil},
		{"other beta", []string{"--beta", "0.3"}, "--beta 0.1 → 0.3", train.ErrChangedSetup},
		{"other reward", []string{"--reward", "rules"}, "--reward rules+gt → rules", train.ErrChangedSetup},
		{"other group size", []string{"--num_generations", "2"}, "--num_generations 3 → 2", train.ErrChangedSetup},
		{"other thinking ratio", []string{"--thinking_ratio", "0"}, "--thinking_ratio 0.5 → 0", train.ErrChangedSetup},
		{"other learning rate", []string{"--learning_rate", "1e-6"}, "--learning_rate 3e-07 → 1e-06", train.ErrChangedSchedule},
		{"other batch size", []string{"--batch_size", "1"}, "--batch_size 2 → 1", train.ErrChangedSchedule},
		{"other seed", []string{"--seed", "7"}, "--seed 42 → 7", train.ErrChangedSchedule},
	} {
		out, err := runGRPOCmd(t, false, append(append(args, "--resume"), tc.args...)...)
		if tc.want == "" {
			if err != nil {
				t.Errorf("%s: %v\n%s", tc.name, err, out)
			}
			continue
		}
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitUsage {
			t.Errorf("%s: %v (exit status %d), want %q naming %q, exit status %d", tc.name, err, exitCode(err), tc.err, tc.want, exitUsage)
		}
	}
	bad := filepath.Join(dir, "bad.jsonl")
	long := strings.Repeat("word ", 60)
	for _, tc := range []struct{ text, want string }{
		{`{"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}` + "\n{\"text\": 1}\n", "bad.jsonl line 2"},
		{`{"conversations": [{"role": "user", "content": "` + long + `"}, {"role": "assistant", "content": ""}]}` + "\n", "bad.jsonl line 1: the prompt has"},
	} {
		if err := os.WriteFile(bad, []byte(tc.text), 0o644); err != nil {
			t.Fatal(err)
		}
		out, err := runGRPOCmd(t, false, "--data_path", bad, "--out_dir", dir, "--hidden_size", "32", "--num_hidden_layers", "1",
			"--num_attention_heads", "4", "--num_key_value_heads", "2", "--intermediate_size", "64", "--max_position_embeddings", "48")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("err %v, want one with %q\n%s", err, tc.want, out)
		}
	}
}
