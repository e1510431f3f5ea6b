package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minimind-go/minimind/train"
)

// The files the page reads from a run's out_dir.
const (
	MetricsFile = "metrics.jsonl" // one train.Step per line, written by train.Recorder
	SamplesFile = "samples.jsonl" // one Sample per line, written by AppendSample
)

// Sample is one generation a run made along the way (quickstart generates
// after each stage); the page shows the latest ones.
type Sample struct {
	Stage  string `json:"stage"`
	Step   int    `json:"step"`
	Prompt string `json:"prompt"`
	Text   string `json:"text"`
}

// ParseStep decodes one line of metrics.jsonl. A line that is not a JSON
// object with a step ≥ 1 (a torn write, garbage) is an error.
func ParseStep(line []byte) (train.Step, error) {
	var s train.Step
	if err := decodeObject(line, &s); err != nil {
		return train.Step{}, err
	}
	if s.Step < 1 {
		return train.Step{}, errors.New("no step ≥ 1")
	}
	return s, nil
}

// ParseSample decodes one line of samples.jsonl.
func ParseSample(line []byte) (Sample, error) {
	var s Sample
	if err := decodeObject(line, &s); err != nil {
		return Sample{}, err
	}
	return s, nil
}

// decodeObject unmarshals a line that must hold exactly one JSON object
// (json.Unmarshal alone would take "null" for an empty object).
func decodeObject(line []byte, v any) error {
	line = bytes.TrimSpace(line)
	if len(line) == 0 || line[0] != '{' {
		return errors.New("not a JSON object")
	}
	return json.Unmarshal(line, v)
}

// AppendSample adds s as one line to outDir/samples.jsonl, creating the
// file. The line goes out in a single write on an O_APPEND file, so a
// reader polling the file sees the whole line or a torn tail it skips; this
// is an append log, like metrics.jsonl, not a file replaced atomically.
func AppendSample(outDir string, s Sample) error {
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	path := filepath.Join(outDir, SamplesFile)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("dashboard: %w", err)
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return fmt.Errorf("dashboard: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dashboard: write %s: %w", path, err)
	}
	return nil
}

// stageName labels a stage's curves; lines written without one belong to
// "train".
func stageName(s string) string {
	if s = strings.TrimSpace(s); s == "" {
		return "train"
	}
	return s
}
