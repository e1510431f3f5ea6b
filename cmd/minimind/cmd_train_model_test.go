package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/tokenizer"
)

// trainCmd runs `minimind train` with args, quietly, on one thread.
func trainCmd(t *testing.T, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{threads: 1, quiet: true}
	cmd := newTrainCommand(g)
	return runCommand(t, cmd, args...)
}

// TestTrainNamesFromInit: `train --mode sft --init run1/pretrain_32.pth`
// without architecture flags trains the file's model and names it
// full_sft_32.pth (not full_sft_512.pth); an explicit --hidden_size that
// contradicts the file is a usage error naming both.
func TestTrainNamesFromInit(t *testing.T) {
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	run1 := filepath.Join(dir, "run1")
	// 64 positions: the SFT reply below must start within --max_seq_len
	// (data with no target token is refused).
	if out, err := pretrain(t, pre, run1, "--max_position_embeddings", "64"); err != nil {
		t.Fatalf("pretrain: %v\n%s", err, out)
	}
	sft := filepath.Join(dir, "sft.jsonl")
	if err := os.WriteFile(sft, []byte(`{"conversations":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	init := filepath.Join(run1, "pretrain_32.pth")
	run2 := filepath.Join(dir, "run2")
	common := []string{"--mode", "sft", "--sft_data_path", sft, "--init", init, "--out_dir", run2,
		"--num_attention_heads", "4", "--max_seq_len", "48", "--epochs", "1", "--save_dtype", "f32"}
	if out, err := trainCmd(t, common...); err != nil {
		t.Fatalf("sft: %v\n%s", err, out)
	}
	if _, err := os.Stat(filepath.Join(run2, "full_sft_32.pth")); err != nil {
		t.Errorf("full_sft_32.pth: %v", err)
	}
	if _, err := os.Stat(filepath.Join(run2, "full_sft_512.pth")); err == nil {
		t.Error("full_sft_512.pth written: named from the flags' defaults")
	}
	out, err := trainCmd(t, append(common, "--hidden_size", "512")...)
	if !isUsage(err) || !strings.Contains(err.Error(), "--hidden_size 512 but "+init+" has hidden_size 32") {
		t.Errorf("contradicting --hidden_size: err = %v, want a usage error naming both\n%s", err, out)
	}
}

// TestTokenizerTravelsWithModel: training with a non-default tokenizer
// writes it next to the checkpoint, and eval of that .pth without
// --tokenizer uses it (with the default one it would refuse: 6400 tokens
// for a 300-row embedding). A tokenizer of another size is refused with
// both sizes.
func TestTokenizerTravelsWithModel(t *testing.T) {
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	tokPath := filepath.Join("..", "..", "tokenizer", "testdata", "tiny_tokenizer.json")
	out := filepath.Join(dir, "out")
	if o, err := pretrain(t, pre, out, "--tokenizer", tokPath, "--num_attention_heads", "8"); err != nil {
		t.Fatalf("pretrain: %v\n%s", err, o)
	}
	saved, err := tokenizer.Load(out)
	if err != nil {
		t.Fatalf("no tokenizer next to the checkpoint: %v", err)
	}
	if saved.VocabSize() != 300 {
		t.Fatalf("saved tokenizer: %d tokens, want 300", saved.VocabSize())
	}
	g := &globalOptions{threads: 1, quiet: true}
	pth := filepath.Join(out, "pretrain_32.pth")
	eval := func(tok string) (string, error) {
		var b bytes.Buffer
		opts := EvalOptions{Data: []string{pre}, MaxSeqLen: 12, Mode: "auto", BatchTokens: 256}
		opts.Inference.Model, opts.Inference.Tokenizer = pth, tok
		// A .pth's head count defaults to MiniMind's 8, as trained above.
		err := runEval(context.Background(), opts, g, &b)
		return b.String(), err
	}
	if o, err := eval(""); err != nil || !strings.Contains(o, "loss=") {
		t.Errorf("eval without --tokenizer: %v\n%s", err, o)
	}
	// The default tokenizer (6400 tokens) for this 300-token model.
	if err := os.Remove(filepath.Join(out, "tokenizer.json")); err != nil {
		t.Fatal(err)
	}
	_, err = eval("")
	if err == nil || !strings.Contains(err.Error(), "has 6400 tokens but the model "+pth+" has vocab_size 300") {
		t.Errorf("mismatched tokenizer: err = %v, want both sizes named", err)
	}
}

// TestTrainMemoryCheck: a batch that cannot fit in memory is a usage error
// with the bytes needed and available, not a runtime out-of-memory crash.
func TestTrainMemoryCheck(t *testing.T) {
	if _, err := os.Stat("/proc/meminfo"); err != nil {
		t.Skip("no /proc/meminfo: the check is skipped there")
	}
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 4)
	out, err := pretrain(t, pre, filepath.Join(dir, "out"), "--batch_size", "1000000000")
	if !isUsage(err) || !strings.Contains(err.Error(), "--batch_size 1000000000 × 11 positions (--max_seq_len 12) needs about") ||
		!strings.Contains(err.Error(), "is available") {
		t.Errorf("err = %v, want the memory needed and available\n%s", err, out)
	}
}
