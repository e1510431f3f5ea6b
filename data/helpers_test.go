package data_test

import (
	"compress/gzip"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/jsonl"
	"github.com/minimind-go/minimind/tokenizer"
)

var (
	tokOnce sync.Once
	tokVal  *tokenizer.Tokenizer
	tokErr  error
)

// minimindTokenizer loads ../shared/minimind (tokenizer.json and
// tokenizer_config.json) once per test binary.
func minimindTokenizer(tb testing.TB) *tokenizer.Tokenizer {
	tb.Helper()
	dir := fixture.Shared(tb, "minimind/tokenizer.json")
	tokOnce.Do(func() { tokVal, tokErr = tokenizer.Load(filepath.Dir(dir)) })
	if tokErr != nil {
		tb.Fatalf("load tokenizer: %v", tokErr)
	}
	return tokVal
}

// newEncoder returns an Encoder over the MiniMind tokenizer with
// augmentation switched off unless opts says otherwise.
func newEncoder(tb testing.TB, opts data.EncodeOptions) *data.Encoder {
	tb.Helper()
	enc, err := data.NewEncoder(minimindTokenizer(tb), opts)
	if err != nil {
		tb.Fatal(err)
	}
	return enc
}

// writeFile writes lines to dir/name, gzip-compressed if name ends in .gz.
func writeFile(tb testing.TB, dir, name string, lines ...string) string {
	tb.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	text := strings.Join(lines, "\n") + "\n"
	if strings.HasSuffix(name, ".gz") {
		zw := gzip.NewWriter(f)
		if _, err := zw.Write([]byte(text)); err != nil {
			tb.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			tb.Fatal(err)
		}
		return p
	}
	if _, err := f.WriteString(text); err != nil {
		tb.Fatal(err)
	}
	return p
}

// corpusLines returns the first n lines of a ../shared/corpus file.
func corpusLines(tb testing.TB, name string, n int) []string {
	tb.Helper()
	p := fixture.Shared(tb, "corpus/"+name)
	r, err := jsonl.Open(p)
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var out []string
	for len(out) < n {
		line, err := r.Next()
		if err != nil {
			break
		}
		out = append(out, string(line))
	}
	return out
}

// ones returns a mask of length n with 1 at the given positions.
func ones(n int, pos ...int) []float32 {
	m := make([]float32, n)
	for _, p := range pos {
		m[p] = 1
	}
	return m
}

// span returns lo, lo+1, ..., hi-1.
func span(lo, hi int) []int {
	var s []int
	for i := lo; i < hi; i++ {
		s = append(s, i)
	}
	return s
}

// padTo appends zeros up to n.
func padTo(ids []int32, n int) []int32 {
	out := append([]int32(nil), ids...)
	for len(out) < n {
		out = append(out, 0)
	}
	return out
}

// diff returns "" when want and got are deeply equal, else a "-want +got"
// report that names the first differing index of slices.
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	w, g := reflect.ValueOf(want), reflect.ValueOf(got)
	if w.Kind() == reflect.Slice && g.Kind() == reflect.Slice {
		for i := 0; i < max(w.Len(), g.Len()); i++ {
			if i >= w.Len() || i >= g.Len() || !reflect.DeepEqual(w.Index(i).Interface(), g.Index(i).Interface()) {
				return fmt.Sprintf("first difference at index %d (len want %d, got %d)\n-%v\n+%v", i, w.Len(), g.Len(), want, got)
			}
		}
	}
	return fmt.Sprintf("-%+v\n+%+v", want, got)
}

func readFileBytes(p string) ([]byte, error) { return os.ReadFile(p) }

func writeBytes(tb testing.TB, p string, b []byte) {
	tb.Helper()
	if err := os.WriteFile(p, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}
