package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// writePairs writes n short DPO lines to path.
func writePairs(t *testing.T, path string, n int) {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		msgs := func(answer string) []map[string]string {
			return []map[string]string{{"role": "user", "content": "hi"}, {"role": "assistant", "content": answer}}
		}
		rejected := "no"
		if i%2 == 1 {
			rejected = "bad"
		}
		line, err := json.Marshal(map[string]any{"chosen": msgs("yes"), "rejected": msgs(rejected)})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runDPO runs `minimind dpo` (or `train --mode dpo` when viaTrain) with
// args.
func runDPO(t *testing.T, viaTrain bool, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{threads: 1, quiet: true}
	cmd := newDPOCommand(g)
	if viaTrain {
		cmd = newTrainCommand(g)
		args = append([]string{"--mode", "dpo"}, args...)
	}
	return runCommand(t, cmd, args...)
}

// TestDPOCommand: `minimind dpo` and `train --mode dpo` start from
// --out_dir's full_sft checkpoint with upstream's defaults, log the
// rewards and write dpo_32.pth; a line without "rejected" is an error
// naming the file and line.
func TestDPOCommand(t *testing.T) {
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	if out, err := pretrain(t, pre, dir, "--max_position_embeddings", "48"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The pretrained tiny model stands in for the SFT one.
	if err := os.Rename(filepath.Join(dir, "pretrain_32.pth"), filepath.Join(dir, "full_sft_32.pth")); err != nil {
		t.Fatal(err)
	}
	pairs := filepath.Join(dir, "dpo.jsonl")
	writePairs(t, pairs, 4)
	for _, viaTrain := range []bool{false, true} {
		out, err := runDPO(t, viaTrain, "--data_path", pairs, "--out_dir", dir, "--max_seq_len", "40", "--save_dtype", "f32", "--dpo_loss", "mean", "--log_interval", "1")
		if err != nil {
			t.Fatalf("train=%v: %v\n%s", viaTrain, err, out)
		}
		for _, want := range []string{"from " + filepath.Join(dir, "full_sft_32.pth"), "dpo: mean loss, beta 0.1,", "= 4 pairs (chosen + rejected) per step", "lr 4e-08", "reward acc", "1 epochs × 1 steps"} {
			if !strings.Contains(out, want) {
				t.Errorf("train=%v: output lacks %q:\n%s", viaTrain, want, out)
			}
		}
		t.Logf("train=%v:\n%s", viaTrain, out)
		if _, err := os.Stat(filepath.Join(dir, "dpo_32.pth")); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	var last train.Step
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	if last.Stage != train.StageDPO {
		t.Errorf("last metrics line %s: stage %q", lines[len(lines)-1], last.Stage)
	}

	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte(`{"chosen":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"rejected":[{"role":"user","content":"a"},{"role":"assistant","content":"c"}]}`+"\n"+
		`{"chosen":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := runDPO(t, false, "--data_path", bad, "--out_dir", dir, "--max_seq_len", "40")
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl line 2") || !strings.Contains(err.Error(), "rejected") {
		t.Errorf("a line without rejected: %v\n%s", err, out)
	}
	// A rejected side with no assistant reply: nothing to score.
	if err := os.WriteFile(bad, []byte(`{"chosen":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"rejected":[{"role":"user","content":"a"},{"role":"assistant","content":"c"}]}`+"\n\n"+
		`{"chosen":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],"rejected":[{"role":"user","content":"a"}]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = runDPO(t, false, "--data_path", bad, "--out_dir", dir, "--max_seq_len", "40", "--batch_size", "1", "--shuffle=false")
	if err == nil || !strings.Contains(err.Error(), "bad.jsonl line 3") || !strings.Contains(err.Error(), "rejected conversation has no assistant reply") {
		t.Errorf("a side without a reply: %v\n%s", err, out)
	}
}

// TestDPOResumeOtherBeta: --resume with another --beta than the saved run
// is a usage error (exit status 2) naming the change, not a silent switch
// of objective.
func TestDPOResumeOtherBeta(t *testing.T) {
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	if out, err := pretrain(t, pre, dir, "--max_position_embeddings", "48"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if err := os.Rename(filepath.Join(dir, "pretrain_32.pth"), filepath.Join(dir, "full_sft_32.pth")); err != nil {
		t.Fatal(err)
	}
	pairs := filepath.Join(dir, "dpo.jsonl")
	writePairs(t, pairs, 4)
	args := []string{"--data_path", pairs, "--out_dir", dir, "--max_seq_len", "40", "--save_dtype", "f32"}
	if out, err := runDPO(t, false, args...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	out, err := runDPO(t, false, append(args, "--resume", "--beta", "0.3")...)
	if !errors.Is(err, train.ErrChangedSetup) || !isUsage(err) || !strings.Contains(err.Error(), "--beta 0.15 → 0.3") {
		t.Fatalf("resume with --beta 0.3: %v, want a usage error naming the change\n%s", err, out)
	}
}
