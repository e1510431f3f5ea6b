package dashboard

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
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

// The values of a metrics line drawn in the fixed charts, as bits of
// lineValues.missing: a line without one (a GRPO step has no ce or
// tokens_per_s) leaves a gap there instead of a false 0.
const (
	missLoss uint8 = 1 << iota
	missCE
	missAux
	missLR
	missGradNorm
	missTokensPerS
	missElapsedS
)

// lineValues is what a metrics line holds beyond its train.Step: which of
// the fixed values it lacks, and its other numeric keys (DPO's rewards,
// eval_loss, GRPO's reward and kl, PPO's clipfrac, ...), each drawn as a
// series of its own.
type lineValues struct {
	missing uint8
	extra   map[string]float64
}

// parseValues reads lineValues from a line ParseStep accepted. A key is an
// extra series when its value is a number, or "NaN", "+Inf" or "-Inf" as
// train.Step writes non-finite values; strings and booleans are not.
func parseValues(line []byte) lineValues {
	var keys map[string]json.RawMessage
	if err := decodeObject(line, &keys); err != nil {
		return lineValues{}
	}
	v := lineValues{missing: missLoss | missCE | missAux | missLR | missGradNorm | missTokensPerS | missElapsedS}
	for k, raw := range keys {
		switch k {
		case "stage", "step", "total", "epoch", "nonfinite", "stopped":
		case "loss":
			v.missing &^= missLoss
		case "ce":
			v.missing &^= missCE
		case "aux":
			v.missing &^= missAux
		case "lr":
			v.missing &^= missLR
		case "grad_norm":
			v.missing &^= missGradNorm
		case "tokens_per_s":
			v.missing &^= missTokensPerS
		case "elapsed_s":
			v.missing &^= missElapsedS
		default:
			if f, ok := parseNumber(raw); ok {
				if v.extra == nil {
					v.extra = map[string]float64{}
				}
				v.extra[k] = f
			}
		}
	}
	return v
}

// parseNumber reads a JSON number or one of train.Step's non-finite
// strings.
func parseNumber(raw json.RawMessage) (float64, bool) {
	if len(raw) == 0 || raw[0] == 'n' { // null would decode as 0
		return 0, false
	}
	var f float64
	if err := json.Unmarshal(raw, &f); err == nil {
		return f, true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, false
	}
	switch s {
	case "NaN":
		return math.NaN(), true
	case "+Inf", "Inf", "Infinity":
		return math.Inf(1), true
	case "-Inf", "-Infinity":
		return math.Inf(-1), true
	}
	return 0, false
}
