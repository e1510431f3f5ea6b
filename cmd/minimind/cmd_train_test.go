package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/train"
)

// writeTexts writes n short pretrain lines to path.
func writeTexts(t *testing.T, path string, n int) {
	t.Helper()
	var b bytes.Buffer
	for i := range n {
		line, err := json.Marshal(map[string]string{"text": fmt.Sprintf("sample %d: the quick brown fox jumps over the lazy dog", i)})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(append(line, '\n'))
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// pretrain runs `minimind pretrain` with a tiny model (16 positions) on
// data, writing to out, plus args.
func pretrain(t *testing.T, data, out string, args ...string) (string, error) {
	t.Helper()
	g := &globalOptions{threads: 1, quiet: true}
	return runCommand(t, newPretrainCommand(g), append([]string{"--data_path", data, "--out_dir", out,
		"--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "4", "--num_key_value_heads", "2",
		"--intermediate_size", "64", "--max_position_embeddings", "16", "--max_seq_len", "12",
		"--batch_size", "2", "--epochs", "1", "--save_dtype", "f32"}, args...)...)
}

// TestTrainFlagErrors: a --max_seq_len past the model's positions and a
// resume with a changed schedule are usage errors (exit status 2) that name
// the values; --allow_changed_schedule continues and says what changed.
func TestTrainFlagErrors(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, data, 6)
	out := filepath.Join(dir, "out")
	if log, err := pretrain(t, data, out); err != nil {
		t.Fatalf("%v\n%s", err, log)
	}
	for _, c := range []struct {
		name    string
		args    []string
		wantErr error  // nil: success
		want    string // in the error, or in the output on success
	}{
		{name: "max_seq_len past the positions", args: []string{"--max_seq_len", "18"}, wantErr: train.ErrMaxSeqLen,
			want: "--max_seq_len 18 (17 positions per sample) exceeds max_position_embeddings 16"},
		{name: "resume with another batch size", args: []string{"--resume", "--batch_size", "3"}, wantErr: train.ErrChangedSchedule,
			want: "--batch_size 2 → 3 (saved → now)"},
		{name: "negative learning rate", args: []string{"--learning_rate", "-1"}, wantErr: errUsage, want: "--learning_rate -1: must be a finite number >= 0"},
		{name: "zero batch size", args: []string{"--batch_size", "0"}, wantErr: errUsage, want: "--batch_size 0: must be positive"},
		{name: "negative warmup", args: []string{"--warmup_iters", "-5"}, wantErr: errUsage, want: "--warmup_iters -5"},
		{name: "resume with more epochs, allowed", args: []string{"--resume", "--epochs", "2", "--allow_changed_schedule"},
			want: "resume: continuing with a changed schedule (--allow_changed_schedule): --epochs 1 → 2 (saved → now); at step 4 the run's length goes from 3 to 6 steps"},
	} {
		t.Run(c.name, func(t *testing.T) {
			log, err := pretrain(t, data, out, c.args...)
			if c.wantErr == nil {
				if err != nil {
					t.Fatalf("%v\n%s", err, log)
				}
				if !strings.Contains(log, c.want) {
					t.Errorf("output lacks %q:\n%s", c.want, log)
				}
				return
			}
			if !errors.Is(err, c.wantErr) || !isUsage(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v\nwant a usage error with %q", err, c.want)
			}
			if code := exitCode(err); code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
		})
	}
}

// TestEvalNonfinite: eval of a model with NaN weights is an error with
// exit status 3, not a silent empty --json line.
func TestEvalNonfinite(t *testing.T) {
	dir := t.TempDir()
	p := generatetest.Params(t, generatetest.Config(6400, 64), 1)
	for i := range p.Data {
		p.Data[i] = float32(math.NaN())
	}
	mdir := filepath.Join(dir, "nan")
	if err := checkpoint.SaveHF(mdir, p, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, data, 3)
	var out bytes.Buffer
	opts := EvalOptions{Data: []string{data}, MaxSeqLen: 32, Mode: "auto", BatchTokens: 64, JSON: true}
	opts.Inference.Model = mdir
	err := runEval(context.Background(), opts, &globalOptions{threads: 1, quiet: true}, &out)
	if !errors.Is(err, train.ErrNonFinite) || !strings.Contains(err.Error(), "non-finite loss,ppl (loss NaN, ppl NaN") {
		t.Fatalf("eval = %v, want ErrNonFinite", err)
	}
	if out.Len() != 0 {
		t.Errorf("eval printed %q", out.String())
	}
	if code := exitCode(err); code != exitNonFinite {
		t.Errorf("exit status %d, want %d", code, exitNonFinite)
	}
}

// TestETAClock: no estimate from the first step of a process; then the
// steps since it, so a slow first step or a resumed run's hours do not
// skew it.
func TestETAClock(t *testing.T) {
	var e etaClock
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := e.observe(1001, 2000, t0); got != "…" { // resumed at 1000; the first step of this process
		t.Errorf("first step: %q", got)
	}
	if got := e.observe(1011, 2000, t0.Add(20*time.Second)); got != "32m58s" { // 2 s a step, 989 left
		t.Errorf("after 10 steps: %q, want 32m58s", got)
	}
	if got := e.observe(2000, 2000, t0.Add(time.Hour)); got != "0s" {
		t.Errorf("last step: %q", got)
	}
}

// TestSFTWithoutTargets: SFT data whose conversations have no assistant
// reply is refused before training (it used to train at loss 0); some
// such examples among good ones only get a note.
func TestSFTWithoutTargets(t *testing.T) {
	dir := t.TempDir()
	none := filepath.Join(dir, "none.jsonl")
	mixed := filepath.Join(dir, "mixed.jsonl")
	user := `{"conversations":[{"role":"user","content":"hello there"}]}` + "\n"
	both := `{"conversations":[{"role":"user","content":"hi"},{"role":"assistant","content":"hello"}]}` + "\n"
	if err := os.WriteFile(none, []byte(user+user), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(mixed, []byte(both+user), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"--hidden_size", "32", "--num_hidden_layers", "1", "--num_attention_heads", "4", "--num_key_value_heads", "2",
		"--intermediate_size", "64", "--max_seq_len", "64", "--batch_size", "2", "--epochs", "1", "--save_dtype", "f32"}
	out, err := runRoot(t, append([]string{"sft", "--data_path", none, "--out_dir", filepath.Join(dir, "a")}, args...)...)
	if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), "none of the 2 examples checked has a target token") {
		t.Fatalf("no assistant replies: err %v, want a usage error saying so\n%s", err, out)
	}
	out, err = runRoot(t, append([]string{"sft", "--data_path", mixed, "--out_dir", filepath.Join(dir, "b")}, args...)...)
	if err != nil {
		t.Fatalf("mixed data: %v\n%s", err, out)
	}
	if !strings.Contains(out, "1 of 2 examples checked have no target token") {
		t.Errorf("mixed data: no note about the example without targets:\n%s", out)
	}
}
