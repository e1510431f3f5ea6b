package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// listDir returns the names in dir, so tests can assert no temp file is left.
func listDir(tb testing.TB, dir string) []string {
	tb.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		tb.Fatal(err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	return names
}

func writeString(s string) func(io.Writer) error {
	return func(w io.Writer) error {
		_, err := io.WriteString(w, s)
		return err
	}
}

func TestWrite(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("0123456789abcdef", 1<<17) // 2 MiB: more than the buffer
	tests := []struct {
		name    string
		old     *string // nil: no file before
		content string
		perm    os.FileMode
	}{
		{"new file", nil, "hello", 0o644},
		{"replace", ptr("old content that is longer"), "new", 0o600},
		{"empty", ptr("x"), "", 0o644},
		{"larger than buffer", nil, big, 0o640},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			p := filepath.Join(dir, "f.bin")
			if tt.old != nil {
				if err := os.WriteFile(p, []byte(*tt.old), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if err := Write(p, tt.perm, writeString(tt.content)); err != nil {
				t.Fatalf("Write: %v", err)
			}
			got, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.content {
				t.Errorf("content: got %d bytes, want %d", len(got), len(tt.content))
			}
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != tt.perm {
				t.Errorf("perm = %v, want %v", fi.Mode().Perm(), tt.perm)
			}
			if names := listDir(t, dir); len(names) != 1 {
				t.Errorf("directory holds %v, want only f.bin", names)
			}
		})
	}
}

func TestWriteFnErrorKeepsOld(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	if err := os.WriteFile(p, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := Write(p, 0o644, func(w io.Writer) error {
		// Write more than the buffer so some bytes reach the temp file.
		if _, err := w.Write(make([]byte, 3<<20)); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Write error = %v, want wrapping boom", err)
	}
	if !strings.Contains(err.Error(), p) {
		t.Errorf("error %q does not name the path", err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != "old" {
		t.Errorf("old file changed to %d bytes", len(got))
	}
	if names := listDir(t, dir); len(names) != 1 || names[0] != "f.bin" {
		t.Errorf("directory holds %v, want only f.bin", names)
	}
}

func TestWriteFnErrorNoFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := filepath.Join(dir, "f.bin")
	if err := Write(p, 0o644, func(io.Writer) error { return errors.New("fail") }); err == nil {
		t.Fatal("Write returned nil for a failing fn")
	}
	if names := listDir(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v, want nothing", names)
	}
}

func TestWriteMissingDir(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "no", "such", "dir", "f.bin")
	if err := Write(p, 0o644, writeString("x")); err == nil {
		t.Fatal("Write into a missing directory succeeded")
	}
}

func TestWriteRelativePath(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := Write("rel.txt", 0o644, writeString("rel")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, "rel.txt"))
	if err != nil || string(got) != "rel" {
		t.Fatalf("got %q, %v", got, err)
	}
}

func ptr(s string) *string { return &s }
