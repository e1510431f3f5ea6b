package tensorboard

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestDefaultDir(t *testing.T) {
	t.Parallel()
	got := DefaultDir("out", "sft", time.Date(2026, 12, 3, 14, 30, 5, 0, time.UTC))
	if want := filepath.Join("out", "runs", "sft-20261203-143005"); got != want {
		t.Errorf("DefaultDir = %q, want %q", got, want)
	}
}

func TestLatestDir(t *testing.T) {
	out := t.TempDir()
	if dir, ok, err := LatestDir(out, "sft"); err != nil || ok {
		t.Fatalf("LatestDir without runs/ = %q, %v, %v; want none, no error", dir, ok, err)
	}
	for _, name := range []string{
		"sft-20261203-143000",
		"sft-20261204-090000", // the latest sft run
		"sft-20261130-235959",
		"sft-lora-20261231-000000", // another stage whose name starts with sft-
		"pretrain-20270101-000000",
		"sft-notatime",
	} {
		if err := os.MkdirAll(filepath.Join(out, "runs", name), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(out, "runs", "sft-20271231-000000"), nil, 0o644); err != nil { // a file, not a run
		t.Fatal(err)
	}
	dir, ok, err := LatestDir(out, "sft")
	if want := filepath.Join(out, "runs", "sft-20261204-090000"); err != nil || !ok || dir != want {
		t.Errorf("LatestDir = %q, %v, %v; want %q", dir, ok, err, want)
	}
	now := time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name   string
		stage  string
		resume bool
		want   string
	}{
		{"fresh run", "sft", false, filepath.Join(out, "runs", "sft-20261205-080000")},
		{"resume appends to the latest", "sft", true, filepath.Join(out, "runs", "sft-20261204-090000")},
		{"resume without an earlier run", "dpo", true, filepath.Join(out, "runs", "dpo-20261205-080000")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RunDir(out, tc.stage, tc.resume, now)
			if err != nil || got != tc.want {
				t.Errorf("RunDir = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}
