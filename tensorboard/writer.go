package tensorboard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/minimind-go/minimind/train"
)

// autoFlush is how many buffered bytes make an Add flush on its own, so a
// caller that forgets Flush still writes bounded memory (about 7000 steps).
const autoFlush = 1 << 20

// Writer appends events to one new event file. Add* only buffer; Flush
// writes what is buffered (call it at each log step) and Close flushes and
// closes.
type Writer struct {
	mu     sync.Mutex
	f      *os.File // nil once closed
	path   string
	buf    []byte
	err    error // the first write or sync error, returned from then on
	closed bool
}

// Scalar is one named value of AddScalars.
type Scalar struct {
	Tag   string
	Value float64
}

// Open creates dir (and its parents) and a new event file in it named
// events.out.tfevents.{unix seconds}.{host}.{pid}.{n}, the first free n,
// then writes and syncs its file_version record: an unwritable directory is
// an error here, before any training. An existing file is never opened, so
// a resumed run that opens its old run directory adds a file beside the
// old ones.
func Open(dir string) (*Writer, error) {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "localhost"
	}
	return open(dir, time.Now(), host, os.Getpid())
}

func open(dir string, now time.Time, host string, pid int) (*Writer, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("tensorboard: create run directory: %w", err)
	}
	// A host name is one path element and one dot-separated field of the
	// name; TensorBoard only needs the "events.out.tfevents." prefix.
	host = strings.Map(func(r rune) rune {
		if r == '/' || r == '\\' || r == os.PathSeparator {
			return '_'
		}
		return r
	}, host)
	for n := 0; ; n++ {
		path := filepath.Join(dir, fmt.Sprintf("events.out.tfevents.%d.%s.%d.%d", now.Unix(), host, pid, n))
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
		if errors.Is(err, fs.ErrExist) && n < 1000 {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("tensorboard: create event file: %w", err)
		}
		w := &Writer{f: f, path: path}
		w.add(&Event{WallTime: seconds(now), FileVersion: FileVersion})
		if err := w.Flush(); err != nil {
			_ = f.Close()
			_ = os.Remove(path)
			return nil, err
		}
		return w, nil
	}
}

// Path is the event file's path.
func (w *Writer) Path() string { return w.path }

// StepScalars are the scalars AddStep writes for s, with the names of its
// metrics.jsonl keys: loss, ce, aux, lr, grad_norm, tokens_per_s.
func StepScalars(s train.Step) []Scalar {
	return []Scalar{
		{"loss", s.Loss},
		{"ce", s.CE},
		{"aux", s.Aux},
		{"lr", s.LR},
		{"grad_norm", s.GradNorm},
		{"tokens_per_s", s.TokensPerS},
	}
}

// AddStep buffers the scalars of one optimizer step (StepScalars) at
// s.Step, stamped wallTime.
func (w *Writer) AddStep(s train.Step, wallTime time.Time) {
	w.AddScalars(s.Step, wallTime, StepScalars(s)...)
}

// AddEvalLoss buffers an evaluation loss at step, tagged "eval_loss".
func (w *Writer) AddEvalLoss(step int, wallTime time.Time, loss float64) {
	w.AddScalars(step, wallTime, Scalar{"eval_loss", loss})
}

// AddScalars buffers one event holding the scalars at step. TensorBoard
// stores scalars as float32; values are rounded to it.
func (w *Writer) AddScalars(step int, wallTime time.Time, scalars ...Scalar) {
	e := Event{WallTime: seconds(wallTime), Step: int64(step), Values: make([]Value, len(scalars))}
	for i, s := range scalars {
		e.Values[i] = Value{Tag: s.Tag, Kind: KindScalar, Scalar: float32(s.Value)}
	}
	w.add(&e)
}

// AddText buffers markdown text under tag at step, for TensorBoard's text
// plugin (the run's flags: AddText(step, now, "flags", FlagsMarkdown(m))).
func (w *Writer) AddText(step int, wallTime time.Time, tag, markdown string) {
	w.add(&Event{WallTime: seconds(wallTime), Step: int64(step), Values: []Value{
		{Tag: tag, Kind: KindText, Text: markdown, Plugin: "text"},
	}})
}

// AddSessionStart buffers a SessionLog START at step: the mark of a run
// resumed from a save point, whose steps from step on repeat those of the
// interrupted process. Readers that purge orphaned data (TensorBoard's
// event accumulator) then drop the interrupted process's events at or
// after step.
func (w *Writer) AddSessionStart(step int, wallTime time.Time) {
	w.add(&Event{WallTime: seconds(wallTime), Step: int64(step), SessionStart: true})
}

func (w *Writer) add(e *Event) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.buf = appendRecord(w.buf, appendEvent(nil, e))
	if len(w.buf) >= autoFlush {
		_ = w.flushLocked() // a failure is sticky: the next Flush returns it
	}
}

// Flush appends the buffered records to the file with one write and syncs
// it. After a failed write nothing more is written (a partial record must
// stay the last thing in the file) and every later call returns the error.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.flushLocked()
}

func (w *Writer) flushLocked() error {
	if w.err != nil {
		return w.err
	}
	if w.closed {
		return fmt.Errorf("tensorboard: flush %s: %w", w.path, os.ErrClosed)
	}
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.f.Write(w.buf); err != nil {
		w.err = fmt.Errorf("tensorboard: %w", err)
		return w.err
	}
	w.buf = w.buf[:0]
	if err := w.f.Sync(); err != nil {
		w.err = fmt.Errorf("tensorboard: %w", err)
		return w.err
	}
	return nil
}

// Close flushes and closes the file. Later Adds are ignored and a second
// Close returns nil.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	err := w.flushLocked()
	w.closed = true
	if cerr := w.f.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("tensorboard: %w", cerr)
	}
	w.f, w.buf = nil, nil
	return err
}

// seconds is t as TensorBoard's wall_time: seconds since the Unix epoch.
func seconds(t time.Time) float64 {
	return float64(t.Unix()) + float64(t.Nanosecond())/1e9
}

// FlagsMarkdown renders flags (name → value as typed) as a markdown table
// sorted by name, the text AddText shows for a run's flags.
func FlagsMarkdown(flags map[string]string) string {
	names := make([]string, 0, len(flags))
	for n := range flags {
		names = append(names, n)
	}
	sort.Strings(names)
	cell := strings.NewReplacer("\\", "\\\\", "|", "\\|", "\r\n", " ", "\n", " ", "`", "\\`")
	var b strings.Builder
	b.WriteString("| flag | value |\n|---|---|\n")
	for _, n := range names {
		fmt.Fprintf(&b, "| --%s | %s |\n", cell.Replace(n), cell.Replace(flags[n]))
	}
	return b.String()
}
