package train

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"github.com/minimind-go/minimind/internal/atomicfile"
)

// Recorder appends one JSON object per optimizer step to metrics.jsonl and
// keeps the current stage's history for the loss plot. Lines of other
// stages (pretrain, then sft in the same out_dir) are kept as they are.
type Recorder struct {
	path    string
	stage   string
	f       *os.File
	w       *bufio.Writer
	history []Step
}

// OpenRecorder opens path for stage. Existing lines of this stage with a
// step after keepUpTo (a resumed run repeats them) are dropped, as are all
// of this stage's lines when keepUpTo is 0 (a fresh run). A last line that
// does not parse (a run killed while writing it) is dropped; a bad line
// before it is an error naming the file and the line.
func OpenRecorder(path, stage string, keepUpTo int) (*Recorder, error) {
	r := &Recorder{path: path, stage: stage}
	old, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var kept bytes.Buffer
	lines := bytes.Split(old, []byte("\n"))
	last := len(lines) - 1 // the last line that is not blank
	for last >= 0 && len(bytes.TrimSpace(lines[last])) == 0 {
		last--
	}
	for i, line := range lines {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		var s Step
		if err := json.Unmarshal(line, &s); err != nil {
			if i == last {
				break // torn by a kill mid-write: the lines before it stand
			}
			return nil, fmt.Errorf("%s line %d: %w", path, i+1, err)
		}
		if s.Stage == stage {
			if s.Step > keepUpTo {
				continue
			}
			r.history = append(r.history, s)
		}
		kept.Write(line)
		kept.WriteByte('\n')
	}
	if err := atomicfile.Write(path, 0o644, func(w io.Writer) error { _, err := w.Write(kept.Bytes()); return err }); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	r.f, r.w = f, bufio.NewWriter(f)
	return r, nil
}

// Add records one step (and flushes, so a killed run keeps its metrics).
func (r *Recorder) Add(s Step) error {
	s.Stage = r.stage
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	r.history = append(r.history, s)
	r.w.Write(b)
	r.w.WriteByte('\n')
	return r.w.Flush()
}

// History returns this stage's steps so far (including resumed ones).
func (r *Recorder) History() []Step { return r.history }

// Plot writes the loss curve PNG.
func (r *Recorder) Plot(path, title string) error {
	if len(r.history) == 0 {
		return nil
	}
	return PlotLoss(path, title, r.history)
}

// Close flushes and closes the file.
func (r *Recorder) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.w.Flush()
	return errors.Join(err, r.f.Close())
}
