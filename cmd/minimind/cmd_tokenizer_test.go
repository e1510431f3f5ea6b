package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestTokenizerEncodeDecodeCLI(t *testing.T) {
	g := &globalOptions{threads: 2, quiet: true}
	in := `{"text": "你好，世界！"}` + "\n" + `{"text": "<|im_start|>user\nhi<|im_end|>"}` + "\n" + `{"text": ""}` + "\n"
	var ids, stderr bytes.Buffer
	if err := runTokenizerEncode(context.Background(), TokenizerEncodeOptions{}, g, strings.NewReader(in), &ids, &stderr); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(ids.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("got %d lines of ids, want 3:\n%s", len(lines), ids.String())
	}
	if !strings.HasPrefix(lines[1], "[1, ") || !strings.HasSuffix(lines[1], ", 2]") || lines[2] != "[]" {
		t.Errorf("unexpected ids:\n%s", ids.String())
	}
	var out bytes.Buffer
	if err := runTokenizerDecode(context.Background(), TokenizerDecodeOptions{}, g, &ids, &out); err != nil {
		t.Fatal(err)
	}
	if out.String() != in {
		t.Errorf("decode(encode(x)):\n got %q\nwant %q", out.String(), in)
	}
}

func TestTokenizerCLIErrors(t *testing.T) {
	g := &globalOptions{quiet: true}
	var out, stderr bytes.Buffer
	err := runTokenizerEncode(context.Background(), TokenizerEncodeOptions{}, g, strings.NewReader("{\"text\": \"a\"}\n{oops\n"), &out, &stderr)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("bad JSON: got %v, want an error naming line 2", err)
	}
	err = runTokenizerEncode(context.Background(), TokenizerEncodeOptions{Tokenizer: filepath.Join(t.TempDir(), "none")}, g, strings.NewReader(""), &out, &stderr)
	if err == nil {
		t.Error("missing tokenizer: want an error")
	}
	if err := runTokenizerTrain(context.Background(), TokenizerTrainOptions{}, g, &stderr); !errors.Is(err, errUsage) {
		t.Errorf("train without --data: got %v, want errUsage", err)
	}
}

func TestTokenizerTrainCLI(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "d.jsonl")
	var sb strings.Builder
	for _, s := range []string{"the cat sat on the mat", "床前明月光，疑是地上霜。", "hello world, hello go"} {
		b, _ := json.Marshal(map[string]string{"text": s})
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(data, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "tok")
	var stderr bytes.Buffer
	g := &globalOptions{quiet: true}
	if err := runTokenizerTrain(context.Background(), TokenizerTrainOptions{Data: []string{data}, VocabSize: 280, Out: out}, g, &stderr); err != nil {
		t.Fatal(err)
	}
	tok, err := loadTokenizer(out)
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 280 {
		t.Errorf("VocabSize = %d, want 280", tok.VocabSize())
	}
	if s := "the cat 明月"; tok.Decode(tok.Encode(s)) != s {
		t.Errorf("trained tokenizer does not round-trip %q", s)
	}
}
