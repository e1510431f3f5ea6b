package main

import (
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/minimind-go/minimind/train"
	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal: progress bars and spinners
// only go there; elsewhere (a log file, a pipe) progress is plain lines.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// stepWatch shows the progress of a long optimizer step (a step of the
// default model takes minutes on two cores): on a terminal a spinner with
// the micro-batch and the seconds so far in the progress bar's
// description; elsewhere a line every logEvery. It also acknowledges
// Ctrl-C at once. Its methods are safe for concurrent use: the training
// loop reports micro-batches and steps, a ticker goroutine draws.
type stepWatch struct {
	mu       sync.Mutex
	w        io.Writer
	bar      *progressbar.ProgressBar // nil: log lines instead
	logEvery time.Duration

	m        train.Micro // the micro-batch running
	start    time.Time   // when the running step began
	lastLog  time.Time
	running  bool // a step is in progress
	started  bool // training has begun (OnStart)
	spin     int
	stopOnce sync.Once
	stop     chan struct{}
}

// quietFor is how long a step runs before the watch shows anything: short
// steps need no spinner.
const quietFor = 2 * time.Second

var spinner = []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")

func newStepWatch(w io.Writer, logEvery time.Duration) *stepWatch {
	return &stepWatch{w: w, logEvery: logEvery, stop: make(chan struct{})}
}

// setBar sets the progress bar the spinner draws into (nil: log lines).
func (s *stepWatch) setBar(bar *progressbar.ProgressBar) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bar, s.started = bar, true
}

// micro notes that a micro-batch begins; the first of a step starts its
// clock.
func (s *stepWatch) micro(m train.Micro, now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.running || m.Step != s.m.Step {
		s.start, s.lastLog, s.running = now, now, true
	}
	s.m = m
}

// stepDone notes that the running optimizer step completed.
func (s *stepWatch) stepDone() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.running = false
}

// tick draws the running step's progress as of now.
func (s *stepWatch) tick(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	el := now.Sub(s.start)
	if !s.running || el < quietFor {
		return
	}
	what := fmt.Sprintf("step %d/%d", s.m.Step, s.m.Total)
	if s.m.N > 1 {
		what += fmt.Sprintf(": micro-batch %d/%d", s.m.K, s.m.N)
	}
	if s.bar != nil {
		s.spin = (s.spin + 1) % len(spinner)
		s.bar.Describe(fmt.Sprintf("%s %c %s", what, spinner[s.spin], el.Truncate(time.Second)))
		return
	}
	if now.Sub(s.lastLog) >= s.logEvery {
		fmt.Fprintf(s.w, "%s: working, %s so far\n", what, el.Truncate(time.Second))
		s.lastLog = now
	}
}

// interrupted acknowledges Ctrl-C: the run stops after the running
// micro-batch and saves its last completed step, which can take a while.
func (s *stepWatch) interrupted() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return
	}
	if s.bar != nil {
		_ = s.bar.Clear()
	}
	// A step's remaining micro-batches are skipped (the partial step is
	// discarded), but one whose last micro-batch is running completes.
	fmt.Fprintf(s.w, "\ninterrupt: stopping after the current micro-batch, then saving the last completed step…\n")
}

// run draws every period until close.
func (s *stepWatch) run(period time.Duration) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case now := <-t.C:
			s.tick(now)
		}
	}
}

// close stops run.
func (s *stepWatch) close() { s.stopOnce.Do(func() { close(s.stop) }) }
