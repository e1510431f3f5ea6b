package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// sftRun runs `minimind sft` with a tiny model (64 positions) on data,
// writing to out, plus args.
func sftRun(t *testing.T, data, out string, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{threads: 1, quiet: true}
	cmd := newSFTCommand(g)
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(append([]string{"--data_path", data, "--out_dir", out,
		"--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "4", "--num_key_value_heads", "2",
		"--intermediate_size", "64", "--max_position_embeddings", "64", "--max_seq_len", "64",
		"--batch_size", "2", "--epochs", "1", "--save_dtype", "f32", "--learning_rate", "1e-3"}, args...))
	err := cmd.ExecuteContext(context.Background())
	return stdout.String() + stderr.String(), err
}

// TestSFTThinkWeight: `sft --think_weight 10` trains, records the weight
// in the resume state, and a resume with another weight is refused as a
// schedule change; a non-positive weight is a usage error.
func TestSFTThinkWeight(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "r1.jsonl")
	line := `{"conversations": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "<think>\n1+1=2\n</think>\n<answer>2</answer>"}]}` + "\n"
	if err := os.WriteFile(data, []byte(strings.Repeat(line, 4)), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "out")
	if log, err := sftRun(t, data, out, "--think_weight", "10"); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	// The same run unweighted: the same model and data, so the weighted
	// first-step CE is the unweighted one times about Σw/count (18 of the
	// 29 targets of each reply are tag pieces weighing 10).
	plain := filepath.Join(dir, "plain")
	if log, err := sftRun(t, data, plain); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	w10, w1 := readMetrics(t, out)[0].CE, readMetrics(t, plain)[0].CE
	t.Logf("first-step CE: %g weighted, %g unweighted", w10, w1)
	if !(w10 > 5*w1 && w10 < 9.5*w1) {
		t.Errorf("first-step CE %g with --think_weight 10, %g without: want a ratio near (18·10+11)/29 = 6.6", w10, w1)
	}
	matches, err := filepath.Glob(filepath.Join(out, "*_resume.safetensors"))
	if err != nil || len(matches) != 1 {
		t.Fatalf("resume states %v (%v), want 1", matches, err)
	}
	st, err := train.LoadResume(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	if st.Options.ThinkWeight != 10 {
		t.Errorf("resume state think_weight %g, want 10", st.Options.ThinkWeight)
	}
	_, err = sftRun(t, data, out, "--resume")
	if !errors.Is(err, train.ErrChangedSchedule) || !isUsage(err) || !strings.Contains(err.Error(), "--think_weight 10 → 1") {
		t.Errorf("resume without --think_weight: %v\nwant a schedule change naming --think_weight 10 → 1", err)
	}
	_, err = sftRun(t, data, out, "--think_weight", "0")
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "--think_weight 0: must be a finite number > 0") {
		t.Errorf("--think_weight 0: %v, want a usage error", err)
	}
}
