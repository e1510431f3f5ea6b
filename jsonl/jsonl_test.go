package jsonl

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// line is one line Next returned, with its number.
type line struct {
	No   int
	Text string
}

// readAll returns every line of r, or the first error.
func readAll(tb testing.TB, r *Reader) ([]line, error) {
	tb.Helper()
	var out []line
	for {
		b, err := r.Next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, line{r.Line(), string(b)})
	}
}

// gzipBytes compresses b.
func gzipBytes(tb testing.TB, b []byte) []byte {
	tb.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		tb.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func writeFile(tb testing.TB, path string, b []byte) string {
	tb.Helper()
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
	return path
}

func diffLines(want, got []line) string {
	if slices.Equal(want, got) {
		return ""
	}
	var sb strings.Builder
	sb.WriteString("(-want +got)\n")
	for i := range max(len(want), len(got)) {
		var w, g string
		if i < len(want) {
			w = fmt.Sprintf("%d %.40q", want[i].No, want[i].Text)
		}
		if i < len(got) {
			g = fmt.Sprintf("%d %.40q", got[i].No, got[i].Text)
		}
		if w != g {
			fmt.Fprintf(&sb, "-%s\n+%s\n", w, g)
		}
	}
	return sb.String()
}

func TestReader(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("长", 3<<20) // 9 MB line, beyond any buffer
	content := []byte(`{"text": "a"}` + "\n\n  \n" + `{"text": "` + long + `"}` + "\r\n" + "\t" + `{"text": "c"}` + " \n \n" + `{"text": "d"}`)
	want := []line{{1, `{"text": "a"}`}, {4, `{"text": "` + long + `"}`}, {5, `{"text": "c"}`}, {7, `{"text": "d"}`}}
	tests := []struct {
		name string
		file string
		gzip bool
	}{
		{"plain", "x.jsonl", false},
		{"gzip", "x.jsonl.gz", true},
		{"gzip without .gz", "x.jsonl", true},
		{"plain named .gz", "x.jsonl.gz", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			b := content
			if tc.gzip {
				b = gzipBytes(t, b)
			}
			r, err := Open(writeFile(t, filepath.Join(t.TempDir(), tc.file), b))
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close()
			got, err := readAll(t, r)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffLines(want, got); d != "" {
				t.Errorf("lines %s", d)
			}
			if _, err := r.Next(); err != io.EOF {
				t.Errorf("Next after the end = %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		input string
		want  []line
	}{
		{"empty", "", nil},
		{"blank only", "\n \r\n\t\n", nil},
		{"no final newline", "a\nb", []line{{1, "a"}, {2, "b"}}},
		{"crlf", "a\r\n\r\nb\r\n", []line{{1, "a"}, {3, "b"}}},
		{"trailing blank without newline", "a\n  ", []line{{1, "a"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, gz := range []bool{false, true} {
				in := []byte(tc.input)
				if gz {
					in = gzipBytes(t, in)
				}
				r, err := NewReader(bytes.NewReader(in), "stdin")
				if err != nil {
					t.Fatal(err)
				}
				got, err := readAll(t, r)
				if err != nil {
					t.Fatal(err)
				}
				if d := diffLines(tc.want, got); d != "" {
					t.Errorf("gzip %v: lines %s", gz, d)
				}
			}
		})
	}
}

func TestReaderErrors(t *testing.T) {
	t.Parallel()
	t.Run("missing file", func(t *testing.T) {
		t.Parallel()
		_, err := Open("/nonexistent/x.jsonl")
		if err == nil || !strings.Contains(err.Error(), "read /nonexistent/x.jsonl") || !errors.Is(err, os.ErrNotExist) {
			t.Errorf("err = %v, want os.ErrNotExist naming the path", err)
		}
	})
	t.Run("corrupt gzip", func(t *testing.T) {
		t.Parallel()
		b := gzipBytes(t, []byte(strings.Repeat(`{"text": "abc"}`+"\n", 1000)))
		p := writeFile(t, filepath.Join(t.TempDir(), "x.jsonl.gz"), b[:len(b)/2])
		r, err := Open(p)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		_, err = readAll(t, r)
		var lerr *LineError
		if !errors.As(err, &lerr) || lerr.Path != p || !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Errorf("err = %v, want a *LineError naming %s wrapping io.ErrUnexpectedEOF", err, p)
		}
	})
	t.Run("bad gzip header", func(t *testing.T) {
		t.Parallel()
		_, err := NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 0}), "stdin")
		if err == nil || !strings.HasPrefix(err.Error(), "read stdin: ") {
			t.Errorf("err = %v, want one naming stdin", err)
		}
	})
	t.Run("Errorf", func(t *testing.T) {
		t.Parallel()
		r, err := NewReader(strings.NewReader("a\n\nb\n"), "in.jsonl")
		if err != nil {
			t.Fatal(err)
		}
		r.Next()
		r.Next()
		sentinel := errors.New("bad")
		err = r.Errorf("field x: %w", sentinel)
		var lerr *LineError
		if !errors.As(err, &lerr) || lerr.Line != 3 || !errors.Is(err, sentinel) || err.Error() != "read in.jsonl line 3: field x: bad" {
			t.Errorf("Errorf = %v, want line 3 wrapping the sentinel", err)
		}
	})
}

// FuzzReader checks the reader against a plain split on "\n": the same
// non-blank lines, trimmed, with the same numbers, whether the input comes
// plain or gzipped and whether lines fit the buffer or not; and that writing
// the lines back out and reading them again gives them unchanged.
func FuzzReader(f *testing.F) {
	f.Add([]byte("{\"text\": \"a\"}\n\n  \r\n{\"text\": \"b\"}"))
	f.Add([]byte("a\r\nb\rc\n\t\n"))
	f.Add([]byte{0x1f, 0x8b, 8, 0})
	f.Add([]byte(strings.Repeat("x", 100) + "\n" + strings.Repeat("y", 33)))
	f.Fuzz(func(t *testing.T, in []byte) {
		var want []line
		for i, l := range bytes.Split(in, []byte("\n")) {
			if l = bytes.TrimSpace(l); len(l) > 0 {
				want = append(want, line{i + 1, string(l)})
			}
		}
		read := func(name string, b []byte, size int) ([]line, error) {
			r, err := newReader(bytes.NewReader(b), name, size)
			if err != nil {
				return nil, err
			}
			defer r.Close()
			return readAll(t, r)
		}
		isGzip := len(in) >= 2 && in[0] == 0x1f && in[1] == 0x8b
		for _, size := range []int{16, 4096} {
			got, err := read("plain", in, size)
			if isGzip {
				continue // read as gzip: anything but a panic will do
			}
			if err != nil {
				t.Fatalf("plain, buffer %d: %v", size, err)
			}
			if d := diffLines(want, got); d != "" {
				t.Fatalf("plain, buffer %d: lines %s", size, d)
			}
			got, err = read("gzip", gzipBytes(t, in), size)
			if err != nil {
				t.Fatalf("gzip, buffer %d: %v", size, err)
			}
			if d := diffLines(want, got); d != "" {
				t.Fatalf("gzip, buffer %d: lines %s", size, d)
			}
		}
		// Round trip: the lines written one per line read back as lines
		// 1..n (unless the first now starts like gzip).
		var out bytes.Buffer
		again := make([]line, len(want))
		for i, l := range want {
			out.WriteString(l.Text + "\n")
			again[i] = line{i + 1, l.Text}
		}
		if bytes.HasPrefix(out.Bytes(), []byte{0x1f, 0x8b}) {
			return
		}
		got, err := read("again", out.Bytes(), 4096)
		if err != nil {
			t.Fatal(err)
		}
		if d := diffLines(again, got); d != "" {
			t.Fatalf("round trip: lines %s", d)
		}
	})
}
