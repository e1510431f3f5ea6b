package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// writeConversations writes n short SFT lines to path.
func writeConversations(t *testing.T, path string, n int) {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		line, err := json.Marshal(map[string]any{"conversations": []map[string]string{
			{"role": "user", "content": fmt.Sprintf("question %d", i)}, {"role": "assistant", "content": fmt.Sprintf("answer %d is fine", i)}}})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// runDistillCmd runs `minimind distill` with args.
func runDistillCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{threads: 1, quiet: true}
	cmd := newDistillCommand(g)
	return runCommand(t, cmd, args...)
}

// TestDistillCommand: `minimind distill` starts the student from
// --out_dir's full_sft checkpoint, is taught by a wider MoE teacher, logs
// the CE and distill parts (the distill part read back from metrics.jsonl
// agrees) and writes full_dist_32.pth; bad flags and a teacher with a
// smaller vocabulary are usage errors naming them.
func TestDistillCommand(t *testing.T) {
	dir, tdir := t.TempDir(), t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	if out, err := pretrain(t, pre, dir, "--max_position_embeddings", "48"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	// The pretrained tiny model stands in for the SFT one.
	if err := os.Rename(filepath.Join(dir, "pretrain_32.pth"), filepath.Join(dir, "full_sft_32.pth")); err != nil {
		t.Fatal(err)
	}
	if out, err := pretrain(t, pre, tdir, "--max_position_embeddings", "48", "--hidden_size", "48", "--use_moe"); err != nil {
		t.Fatalf("teacher: %v\n%s", err, out)
	}
	teacher := filepath.Join(tdir, "pretrain_48_moe.pth")
	sft := filepath.Join(dir, "sft.jsonl")
	writeConversations(t, sft, 6)
	base := []string{"--data_path", sft, "--out_dir", dir, "--max_seq_len", "40", "--save_dtype", "f32", "--batch_size", "2", "--epochs", "1", "--log_interval", "1"}
	out, err := runDistillCmd(t, append(base, "--teacher", teacher, "--learning_rate", "1e-3")...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"from " + filepath.Join(dir, "full_sft_32.pth"), "distill: alpha 0.5, temperature 1.5, teacher " + teacher, "(ce ", " distill ", "1 epochs × 3 steps"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	t.Logf("%s", out)
	if _, err := os.Stat(filepath.Join(dir, "full_dist_32.pth")); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "metrics.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(raw)), "\n")
	var last train.Step
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &last); err != nil {
		t.Fatal(err)
	}
	kl := train.DefaultDistill().StepKL(last)
	if last.Stage != train.StageDistill || !(kl > 0) || !strings.Contains(out, fmt.Sprintf("(ce %.4f distill %.4f)", last.CE, kl)) {
		t.Errorf("last metrics line %s (distill %.4f) is not the last log line's", lines[len(lines)-1], kl)
	}

	// Bad input.
	// A teacher of 300 tokens, saved without a tokenizer: the vocabulary
	// sizes decide.
	c := model.DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads = 32, 1, 4, 2
	c.IntermediateSize, c.MaxPositionEmbeddings, c.VocabSize = 64, 48, 300
	p, err := model.NewParams(c)
	if err != nil {
		t.Fatal(err)
	}
	p.Init(1)
	smallPth := filepath.Join(t.TempDir(), "small.pth")
	if err := checkpoint.SavePth(smallPth, p, "F32"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args  []string
		wants []string
	}{
		{[]string{"--teacher", smallPth}, []string{smallPth, "vocab_size 300", "student's 6400"}},
		{[]string{"--teacher", teacher, "--alpha", "1.5"}, []string{"--alpha 1.5"}},
		{[]string{"--teacher", teacher, "--temperature", "0"}, []string{"--temperature 0"}},
		{[]string{"--teacher", filepath.Join(tdir, "nope.pth")}, []string{"--teacher", "nope.pth"}},
		{nil, []string{"full_sft_768_moe.pth", "--teacher MODEL"}},
	} {
		out, err := runDistillCmd(t, append(base, c.args...)...)
		if !isUsage(err) {
			t.Errorf("%v: error %v, want a usage error\n%s", c.args, err, out)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%v: error %q lacks %q", c.args, err, w)
			}
		}
	}
}

// TestDistillOtherTokenizer: a teacher saved with another tokenizer is
// refused, naming both tokenizers and the first id where they differ.
func TestDistillOtherTokenizer(t *testing.T) {
	other := fixture.Dir(t, "minimind3-tokenizer")
	student, err := loadTokenizer("")
	if err != nil {
		t.Fatal(err)
	}
	if err := sameTokenizer(student, "the project's default", other); err == nil ||
		!strings.Contains(err.Error(), filepath.Join(other, "tokenizer.json")) || !strings.Contains(err.Error(), "the project's default") || !strings.Contains(err.Error(), " at id ") {
		t.Errorf("another tokenizer: %v", err)
	}
	if err := sameTokenizer(student, "x", t.TempDir()); err != nil {
		t.Errorf("no saved tokenizer: %v", err)
	}
}
