package main

import (
	"bytes"
	"compress/gzip"
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
	if err == nil || !strings.HasPrefix(err.Error(), "read stdin line 2: ") {
		t.Errorf("bad JSON: got %v, want an error naming stdin line 2", err)
	}
	err = runTokenizerDecode(context.Background(), TokenizerDecodeOptions{}, g, strings.NewReader("[1, 2]\n\n[oops\n"), &out)
	if err == nil || !strings.HasPrefix(err.Error(), "read stdin line 3: ") {
		t.Errorf("decode bad JSON: got %v, want an error naming stdin line 3", err)
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

// TestTokenizerStatsCLI checks that stats reads gzip by content, not by
// name, and names the file and line of a bad line.
func TestTokenizerStatsCLI(t *testing.T) {
	dir := t.TempDir()
	text := "{\"text\": \"你好\"}\r\n\n{\"text\": \"hello\"}\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	g := &globalOptions{quiet: true}
	paths := []string{write("plain.jsonl", []byte(text)), write("gz.jsonl", gz.Bytes()), write("x.jsonl.gz", gz.Bytes())}
	var out bytes.Buffer
	if err := runTokenizerStats(context.Background(), TokenizerStatsOptions{Data: paths}, g, &out); err != nil {
		t.Fatal(err)
	}
	rows := strings.Split(strings.TrimSpace(out.String()), "\n")[1:]
	if len(rows) != 3 {
		t.Fatalf("got %d rows, want 3:\n%s", len(rows), out.String())
	}
	for _, row := range rows {
		if f := strings.Fields(row); len(f) < 4 || f[2] != "2" || f[3] != "7" {
			t.Errorf("row %q: want 2 docs, 7 chars", row)
		}
	}
	bad := write("bad.jsonl", []byte(text+"{\"txt\": 1}\n"))
	err := runTokenizerStats(context.Background(), TokenizerStatsOptions{Data: []string{bad}}, g, &out)
	if err == nil || !strings.HasPrefix(err.Error(), "read "+bad+" line 4: ") {
		t.Errorf("bad line: got %v, want an error naming %s line 4", err, bad)
	}
}

// A corpus too small for --vocab_size is an error naming both sizes, and
// no tokenizer is written.
func TestTokenizerTrainTooSmall(t *testing.T) {
	dir := t.TempDir()
	g := &globalOptions{quiet: true}
	for name, content := range map[string]string{"empty.jsonl": "", "tiny.jsonl": `{"text": "abab"}` + "\n"} {
		data := filepath.Join(dir, name)
		if err := os.WriteFile(data, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".tok")
		var stderr bytes.Buffer
		err := runTokenizerTrain(context.Background(), TokenizerTrainOptions{Data: []string{data}, VocabSize: 6400, Out: out}, g, &stderr)
		want := "trained vocab 259 but --vocab_size 6400"
		if name == "tiny.jsonl" {
			want = "trained vocab 261 but --vocab_size 6400" // "ab", "abab"
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one containing %q", name, err, want)
		}
		if _, serr := os.Stat(filepath.Join(out, "tokenizer.json")); serr == nil {
			t.Errorf("%s: a tokenizer was written to %s", name, out)
		}
	}
}
