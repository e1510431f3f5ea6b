package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/train"
	"github.com/spf13/cobra"
)

// runCommand runs one subcommand with args and returns its output.
func runCommand(t *testing.T, cmd *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd.SetOut(&stdout)
	cmd.SetErr(&stderr)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return stdout.String() + stderr.String(), err
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestLoRACommand: `minimind lora` on a small domain slice lowers that
// slice's eval loss (eval --lora), leaves the base file unchanged, and
// the merged model (convert --merge_lora --dtype f32) scores what the
// LoRA-applied one does; --resume with another --lora_rank, a too long
// --max_seq_len, a resume on another architecture and a batch past the
// memory exit 2.
func TestLoRACommand(t *testing.T) {
	dir := t.TempDir()
	pre := filepath.Join(dir, "pre.jsonl")
	writeTexts(t, pre, 6)
	if out, err := pretrain(t, pre, dir, "--max_position_embeddings", "64", "--max_seq_len", "48"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	base := filepath.Join(dir, "pretrain_32.pth")
	h0 := fileHash(t, base)

	var b bytes.Buffer
	for i := range 4 {
		line, _ := json.Marshal(map[string]any{"conversations": []map[string]string{
			{"role": "user", "content": fmt.Sprintf("q%d", i)}, {"role": "assistant", "content": "ok"}}})
		b.Write(append(line, '\n'))
	}
	slice := filepath.Join(dir, "domain.jsonl")
	if err := os.WriteFile(slice, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	g := &globalOptions{threads: 1, quiet: true}
	args := []string{"--data_path", slice, "--init", base, "--num_attention_heads", "4",
		"--out_dir", dir, "--lora_name", "lora_dom", "--lora_rank", "4", "--epochs", "8", "--batch_size", "2",
		"--max_seq_len", "48", "--learning_rate", "0.02", "--log_interval", "100"}
	out, err := runCommand(t, newLoRACommand(g), args...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "in 2 linears") || !strings.Contains(out, "the base has no gradients") {
		t.Errorf("start lines:\n%s", out)
	}
	// --resume with other adapters: a usage error (exit status 2) naming
	// the flag, and nothing written.
	h1 := fileHash(t, filepath.Join(dir, "lora_dom_32.pth"))
	out, err = runCommand(t, newLoRACommand(g), append(args, "--resume", "--lora_rank", "8")...)
	if !errors.Is(err, train.ErrChangedSetup) || !strings.Contains(err.Error(), "--lora_rank 4 → 8") || exitCode(err) != exitUsage {
		t.Errorf("--resume --lora_rank 8: %v (exit status %d), want ErrChangedSetup naming the rank, exit status %d\n%s", err, exitCode(err), exitUsage, out)
	}
	// Another schedule: ErrChangedSchedule naming it, with the way out.
	out, err = runCommand(t, newLoRACommand(g), append(args, "--resume", "--epochs", "9")...)
	if !errors.Is(err, train.ErrChangedSchedule) || !strings.Contains(err.Error(), "--epochs 8 → 9 (saved → now)") ||
		!strings.Contains(err.Error(), "rerun with the saved values") || exitCode(err) != exitUsage {
		t.Errorf("--resume --epochs 9: %v (exit status %d), want ErrChangedSchedule naming the epochs and the rerun, exit status %d\n%s", err, exitCode(err), exitUsage, out)
	}
	if fileHash(t, filepath.Join(dir, "lora_dom_32.pth")) != h1 {
		t.Error("the refused resume rewrote the adapters")
	}
	// What `train` exits 2 for exits 2 here too: samples longer than the
	// model, a resume state from another architecture, a batch that does
	// not fit in memory.
	// A .pth holds no max_position_embeddings: the base with 64 is an HF
	// directory.
	p, err := loadModelParams(base, 4)
	if err != nil {
		t.Fatal(err)
	}
	p.Config.MaxPositionEmbeddings = 64
	hf := filepath.Join(dir, "hf")
	if err := checkpoint.SaveHF(hf, p, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	other := filepath.Join(dir, "other")
	if out, err := pretrain(t, pre, other, "--max_position_embeddings", "64", "--max_seq_len", "48", "--num_hidden_layers", "2"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, tc := range []struct {
		name string
		args []string
		err  error
		want string
	}{
		{"max_seq_len past the positions", []string{"--init", hf, "--max_seq_len", "80"}, train.ErrMaxSeqLen, "--max_seq_len 80 (79 positions per sample) exceeds max_position_embeddings 64"},
		{"resume on another architecture", []string{"--resume", "--init", filepath.Join(other, "pretrain_32.pth")}, train.ErrArchitecture, "this base has 32, 2, false"},
		{"not enough memory", []string{"--batch_size", "1000000000"}, train.ErrMemory, "--batch_size 1000000000 × 47 positions needs about"},
	} {
		if tc.err == train.ErrMemory {
			if _, err := os.Stat("/proc/meminfo"); err != nil {
				continue // no memory check there
			}
		}
		out, err := runCommand(t, newLoRACommand(g), append(args, tc.args...)...)
		if !errors.Is(err, tc.err) || !strings.Contains(err.Error(), tc.want) || exitCode(err) != exitUsage {
			t.Errorf("%s: %v (exit status %d), want %q naming %q, exit status %d\n%s", tc.name, err, exitCode(err), tc.err, tc.want, exitUsage, out)
		}
	}
	if fileHash(t, filepath.Join(dir, "lora_dom_32.pth")) != h1 {
		t.Error("a refused run rewrote the adapters")
	}
	adapter := filepath.Join(dir, "lora_dom_32.pth")
	if fileHash(t, base) != h0 {
		t.Fatal("the base file changed")
	}

	eval := func(args ...string) float64 {
		t.Helper()
		out, err := runCommand(t, newEvalCommand(g), append([]string{"--data", slice, "--max_seq_len", "48",
			"--num_attention_heads", "4", "--json"}, args...)...)
		if err != nil {
			t.Fatalf("%v\n%s", err, out)
		}
		var r struct{ Loss float64 }
		if err := json.Unmarshal([]byte(out[strings.Index(out, "{"):]), &r); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		return r.Loss
	}
	before, after := eval("--model", base), eval("--model", base, "--lora", adapter)
	t.Logf("domain eval loss: base %.4f, with LoRA %.4f", before, after)
	if !(after < before-0.1) {
		t.Errorf("eval loss %.4f with LoRA, %.4f without: LoRA did not learn the slice", after, before)
	}
	merged := filepath.Join(dir, "merged.pth")
	if out, err := runCommand(t, newConvertCommand(g), "--model", base, "--merge_lora", adapter, "--dtype", "f32",
		"--out", merged, "--num_attention_heads", "4"); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	m := eval("--model", merged)
	t.Logf("merged (f32) model's eval loss %.7f (|diff| %.2g)", m, math.Abs(m-after))
	if math.Abs(m-after) > 1e-4 {
		t.Errorf("merged model's eval loss %.6f, LoRA-applied %.6f", m, after)
	}
	// An adapter that does not fit: an error naming the tensor.
	if _, err := runCommand(t, newEvalCommand(g), "--data", slice, "--model", base, "--lora", base, "--num_attention_heads", "4"); err == nil ||
		!strings.Contains(err.Error(), `"model.embed_tokens.weight"`) {
		t.Errorf("a full model as --lora: %v", err)
	}
}
