package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

func TestTempTarget(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, target string
		ok           bool
	}{
		{".model.pth.tmp-123", "model.pth", true},
		{".a.tmp-1.tmp-2", "a.tmp-1", true},
		{".x.tmp-", "", false},
		{".x.tmp-12a", "", false},
		{"x.tmp-12", "", false},
		{"..tmp-12", "", false},
		{".tmp-12", "", false},
		{".model.pth", "", false},
	}
	for _, tt := range tests {
		got, ok := tempTarget(tt.name)
		if got != tt.target || ok != tt.ok {
			t.Errorf("tempTarget(%q) = %q, %v; want %q, %v", tt.name, got, ok, tt.target, tt.ok)
		}
	}
}

// mkfile creates dir/name, last modified age ago.
func mkfile(tb testing.TB, dir, name string, age time.Duration) {
	tb.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
		tb.Fatal(err)
	}
	old := time.Now().Add(-age)
	if err := os.Chtimes(p, old, old); err != nil {
		tb.Fatal(err)
	}
}

func TestCleanStale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	hour := time.Hour
	mkfile(t, dir, ".model.pth.tmp-123", hour)        // stale: removed
	mkfile(t, dir, ".resume.safetensors.tmp-9", hour) // stale, another target: removed
	mkfile(t, dir, ".model.pth.tmp-456", 0)           // recent: maybe a live writer
	mkfile(t, dir, "model.pth", hour)                 // a target itself
	mkfile(t, dir, ".model.pth.tmp-x1", hour)         // not our pattern
	mkfile(t, dir, ".hidden", hour)
	mkfile(t, dir, "notes.tmp-1", hour)
	if err := os.Mkdir(filepath.Join(dir, ".d.tmp-5"), 0o755); err != nil { // a directory
		t.Fatal(err)
	}
	if err := os.Symlink("model.pth", filepath.Join(dir, ".l.tmp-6")); err != nil { // a symlink
		t.Fatal(err)
	}
	removed, err := CleanStale(dir, "", StaleAge)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(dir, ".model.pth.tmp-123"), filepath.Join(dir, ".resume.safetensors.tmp-9")}
	slices.Sort(removed)
	if !slices.Equal(removed, want) {
		t.Errorf("removed %v, want %v", removed, want)
	}
	left := listDir(t, dir)
	wantLeft := []string{".d.tmp-5", ".hidden", ".l.tmp-6", ".model.pth.tmp-456", ".model.pth.tmp-x1", "model.pth", "notes.tmp-1"}
	if !slices.Equal(left, wantLeft) {
		t.Errorf("left %v, want %v", left, wantLeft)
	}
	if _, err := CleanStale(filepath.Join(dir, "missing"), "", StaleAge); err == nil {
		t.Error("CleanStale of a missing directory: no error")
	}
}

// TestWriteCleansOwnStale: a kill mid-write left temp files; the next Write
// of the same target removes the stale ones, and only those.
func TestWriteCleansOwnStale(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	mkfile(t, dir, ".f.bin.tmp-111", 2*time.Minute) // killed writer of f.bin
	mkfile(t, dir, ".f.bin.tmp-222", 0)             // possibly a live writer
	mkfile(t, dir, ".g.bin.tmp-333", time.Hour)     // another target: CleanStale's job
	if err := Write(filepath.Join(dir, "f.bin"), 0o644, writeString("new")); err != nil {
		t.Fatal(err)
	}
	want := []string{".f.bin.tmp-222", ".g.bin.tmp-333", "f.bin"}
	if got := listDir(t, dir); !slices.Equal(got, want) {
		t.Errorf("directory holds %v, want %v", got, want)
	}
}
