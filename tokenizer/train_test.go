package tokenizer

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/jsonl"
)

// TestTrainerJSONLInput checks what AddFile and AddJSONL accept: gzip by
// content whatever the name, blank and CRLF lines, errors naming file and
// line, and cancellation.
func TestTrainerJSONLInput(t *testing.T) {
	t.Parallel()
	text := "{\"text\": \"ab\"}\r\n\n  \n{\"conversations\": [{\"role\": \"user\", \"content\": \"cd\"}]}\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(text))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name string
		path string
	}{
		{"plain", write("a.jsonl", []byte(text))},
		{"gzip", write("b.jsonl.gz", gz.Bytes())},
		{"gzip without .gz", write("c.jsonl", gz.Bytes())},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tr := NewTrainer(TrainOptions{Workers: 1})
			if err := tr.AddFile(context.Background(), tc.path); err != nil {
				t.Fatal(err)
			}
			if tr.Docs() != 2 {
				t.Errorf("Docs = %d, want 2", tr.Docs())
			}
		})
	}
	t.Run("stream", func(t *testing.T) {
		t.Parallel()
		tr := NewTrainer(TrainOptions{Workers: 1})
		if err := tr.AddJSONL(context.Background(), bytes.NewReader(gz.Bytes()), "stdin"); err != nil || tr.Docs() != 2 {
			t.Errorf("AddJSONL = %v with %d docs, want 2 docs", err, tr.Docs())
		}
	})
	t.Run("bad line", func(t *testing.T) {
		t.Parallel()
		p := write("bad.jsonl", []byte(text+"\n[1]\n"))
		err := NewTrainer(TrainOptions{Workers: 1}).AddFile(context.Background(), p)
		var lerr *jsonl.LineError
		if !errors.As(err, &lerr) || lerr.Path != p || lerr.Line != 6 {
			t.Errorf("err = %v, want a *jsonl.LineError at %s line 6", err, p)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		p := filepath.Join(dir, "none.jsonl")
		err := NewTrainer(TrainOptions{Workers: 1}).AddFile(context.Background(), p)
		if !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), p) {
			t.Errorf("err = %v, want os.ErrNotExist naming %s", err, p)
		}
	})
	t.Run("cancelled", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		err := NewTrainer(TrainOptions{Workers: 1}).AddFile(ctx, tests[0].path)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	})
}
