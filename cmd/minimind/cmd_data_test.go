package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/minimind-go/minimind/internal/fixture"
)

func TestRunDataPrepare(t *testing.T) {
	tokDir := filepath.Dir(fixture.Shared(t, "minimind/tokenizer.json"))
	dir := t.TempDir()
	in := filepath.Join(dir, "sft.jsonl")
	lines := `{"conversations": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]}
not json
{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}
`
	if err := os.WriteFile(in, []byte(lines), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sft.mmdata")
	g := &globalOptions{quiet: true}
	opts := DataPrepareOptions{DataPath: []string{in}, Out: out, Mode: "sft", MaxSeqLen: 64, Tokenizer: tokDir,
		Seed: 42, SystemPromptProb: 0.2, DropEmptyThinkProb: 0.95}

	var stderr bytes.Buffer
	err := runDataPrepare(context.Background(), opts, g, &stderr)
	if err == nil || !strings.Contains(err.Error(), "read "+in+" line 2: ") {
		t.Fatalf("bad line: err = %v, want it named", err)
	}

	opts.SkipBadLines = true
	stderr.Reset()
	if err := runDataPrepare(context.Background(), opts, g, &stderr); err != nil {
		t.Fatal(err)
	}
	if s := stderr.String(); !strings.Contains(s, "skipped 1 malformed lines") || !strings.Contains(s, "prepared 2 sft examples") || !strings.Contains(s, "MB/s") {
		t.Errorf("stderr = %q", s)
	}
	var info bytes.Buffer
	if err := runDataInfo(context.Background(), out, g, &info); err != nil {
		t.Fatal(err)
	}
	if s := info.String(); !strings.Contains(s, "sft, 2 examples") || !strings.Contains(s, "max_seq_len 64") {
		t.Errorf("info = %q", s)
	}

	for _, bad := range []DataPrepareOptions{
		{Out: out, Mode: "sft", MaxSeqLen: 64},
		{DataPath: []string{in}, Out: out, Mode: "rlaif", MaxSeqLen: 64},
		{DataPath: []string{in}, Out: out, Mode: "sft", MaxSeqLen: 1},
	} {
		if err := runDataPrepare(context.Background(), bad, g, &stderr); !errors.Is(err, errUsage) {
			t.Errorf("%+v: err = %v, want a usage error", bad, err)
		}
	}
}

// An empty (or all-blank) input is an error, and no prepared file appears:
// an empty one would only fail later, in training.
func TestRunDataPrepareEmpty(t *testing.T) {
	tokDir := filepath.Dir(fixture.Shared(t, "minimind/tokenizer.json"))
	dir := t.TempDir()
	g := &globalOptions{quiet: true}
	for name, content := range map[string]string{"empty.jsonl": "", "blank.jsonl": "\n  \n\n", "bad.jsonl": "oops\n"} {
		in := filepath.Join(dir, name)
		if err := os.WriteFile(in, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(dir, name+".mmdata")
		opts := DataPrepareOptions{DataPath: []string{in}, Out: out, Mode: "pretrain", MaxSeqLen: 64, Tokenizer: tokDir,
			SkipBadLines: true, DropEmptyThinkProb: -1}
		var stderr bytes.Buffer
		err := runDataPrepare(context.Background(), opts, g, &stderr)
		if err == nil || !strings.Contains(err.Error(), "no examples in "+in) || !strings.Contains(err.Error(), out+" not written") {
			t.Errorf("%s: err = %v, want one naming the input and the unwritten output", name, err)
		}
		if name == "bad.jsonl" && (err == nil || !strings.Contains(err.Error(), "all 1 lines malformed")) {
			t.Errorf("%s: err = %v, want it to say every line was skipped", name, err)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Errorf("%s: %s was written", name, out)
		}
	}
}

// data prepare with minimind-3's tokenizer: its tool-use SFT lines go
// through, and the default empty-think probability is minimind-3's 0.8.
func TestRunDataPrepareMiniMind3(t *testing.T) {
	tokDir := fixture.Dir(t, "minimind3-tokenizer")
	dir := t.TempDir()
	in := filepath.Join(dir, "sft.jsonl")
	line := `{"conversations": [{"role": "system", "content": "S", "tools": "[{\"type\": \"function\", \"function\": {\"name\": \"f\", \"parameters\": {}}}]"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "", "reasoning_content": "R", "tool_calls": "[{\"name\": \"f\", \"arguments\": {}}]"}, {"role": "tool", "content": "1"}, {"role": "assistant", "content": "A"}]}` + "\n"
	if err := os.WriteFile(in, []byte(line), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "sft.mmdata")
	g := &globalOptions{quiet: true}
	var flags DataPrepareOptions
	flags.AddFlags(pflag.NewFlagSet("prepare", pflag.ContinueOnError)) // the flags' defaults
	flags.DataPath, flags.Out, flags.Mode, flags.Tokenizer = []string{in}, out, "sft", tokDir
	var stderr bytes.Buffer
	if err := runDataPrepare(context.Background(), flags, g, &stderr); err != nil {
		t.Fatal(err)
	}
	var info bytes.Buffer
	if err := runDataInfo(context.Background(), out, g, &info); err != nil {
		t.Fatal(err)
	}
	if s := info.String(); !strings.Contains(s, "sft, 1 examples") || !strings.Contains(s, "drop_empty_think_prob 0.8") {
		t.Errorf("info = %q", s)
	}
}

// TestProgressText: no rate before a second has passed (the first reports
// come from read-ahead buffers: 208 GB/s was shown), then MB/s.
func TestProgressText(t *testing.T) {
	for _, c := range []struct {
		bytes   int64
		elapsed time.Duration
		want    string
	}{
		{208_000_000, time.Millisecond, "208.0 MB"},
		{0, 0, "0.0 MB"},
		{50_000_000, 2 * time.Second, "50.0 MB, 25.0 MB/s"},
	} {
		if got := progressText(c.bytes, c.elapsed); got != c.want {
			t.Errorf("progressText(%d, %v) = %q, want %q", c.bytes, c.elapsed, got, c.want)
		}
	}
}
