package dashboard

import (
	"fmt"
	"path/filepath"
	"sync"

	"github.com/minimind-go/minimind/train"
)

// run is one out_dir: its metrics per stage and its latest samples, kept
// up to date by refresh (called on every request; there is no background
// goroutine).
type run struct {
	name, dir string
	keep      int // samples kept

	mu       sync.Mutex
	metrics  tail
	samples  tail
	gen      int // bumped on every reset, so the page's version changes
	stages   []*stageSteps
	byStage  map[string]*stageSteps
	recent   []Sample // oldest first, at most keep
	badLines int      // complete metrics lines that did not parse
	firstBad string   // what the first of them was
	err      string   // the last read error, "" when reading works
}

type stageSteps struct {
	name  string
	steps []train.Step
}

func newRun(name, dir string, keep int) *run {
	return &run{name: name, dir: dir, keep: keep,
		metrics: tail{path: filepath.Join(dir, MetricsFile)},
		samples: tail{path: filepath.Join(dir, SamplesFile)},
		byStage: map[string]*stageSteps{}}
}

func acceptStep(b []byte) bool   { _, err := ParseStep(b); return err == nil }
func acceptSample(b []byte) bool { _, err := ParseSample(b); return err == nil }

// refresh reads what the run wrote since the last call.
func (r *run) refresh() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.err = ""
	lines, first, reset, err := r.metrics.poll(acceptStep)
	if reset {
		r.gen++
		r.stages, r.byStage, r.badLines, r.firstBad = nil, map[string]*stageSteps{}, 0, ""
	}
	if err != nil {
		r.err = err.Error()
	}
	for i, line := range lines {
		if len(line) == 0 || (len(line) == 1 && line[0] == '\r') {
			continue
		}
		s, err := ParseStep(line)
		if err != nil {
			if r.badLines == 0 {
				r.firstBad = fmt.Sprintf("%s line %d: %v", MetricsFile, first+i, err)
			}
			r.badLines++
			continue
		}
		name := stageName(s.Stage)
		st := r.byStage[name]
		if st == nil {
			st = &stageSteps{name: name}
			r.byStage[name] = st
			r.stages = append(r.stages, st)
		}
		st.steps = append(st.steps, s)
	}
	lines, _, reset, err = r.samples.poll(acceptSample)
	if reset {
		r.gen++
		r.recent = nil
	}
	if err != nil && r.err == "" {
		r.err = err.Error()
	}
	for _, line := range lines {
		if s, err := ParseSample(line); err == nil {
			r.recent = append(r.recent, s)
		}
	}
	if len(r.recent) > r.keep {
		r.recent = append(r.recent[:0], r.recent[len(r.recent)-r.keep:]...)
	}
}

// runJSON is one run in GET /api/runs.
type runJSON struct {
	Name      string      `json:"name"`
	Dir       string      `json:"dir"`
	Waiting   bool        `json:"waiting,omitempty"`    // no metrics.jsonl yet
	TornBytes int         `json:"torn_bytes,omitempty"` // an unfinished last line, not read yet
	BadLines  int         `json:"bad_lines,omitempty"`  // complete lines skipped
	FirstBad  string      `json:"first_bad,omitempty"`
	Error     string      `json:"error,omitempty"`
	Stages    []stageJSON `json:"stages"`
	Samples   []Sample    `json:"samples"` // newest first
}

// stageJSON is one stage's curves, column by column, thinned to at most
// maxPoints points (the last step always among them).
type stageJSON struct {
	Stage      string     `json:"stage"`
	Count      int        `json:"count"` // steps read, before thinning
	Last       train.Step `json:"last"`
	Step       []int      `json:"step"`
	Epoch      []int      `json:"epoch"`
	Loss       []float64  `json:"loss"`
	CE         []float64  `json:"ce"`
	Aux        []float64  `json:"aux"`
	LR         []float64  `json:"lr"`
	GradNorm   []float64  `json:"grad_norm"`
	TokensPerS []float64  `json:"tokens_per_s"`
	ElapsedS   []float64  `json:"elapsed_s"`
}

// snapshot returns the run as the page sees it, and a version that changes
// whenever the data does.
func (r *run) snapshot(maxPoints int) (runJSON, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := runJSON{Name: r.name, Dir: r.dir, Waiting: r.metrics.info == nil, TornBytes: r.metrics.torn,
		BadLines: r.badLines, FirstBad: r.firstBad, Error: r.err, Stages: []stageJSON{}, Samples: []Sample{}}
	for _, st := range r.stages {
		out.Stages = append(out.Stages, thin(st, maxPoints))
	}
	for i := len(r.recent) - 1; i >= 0; i-- {
		out.Samples = append(out.Samples, r.recent[i])
	}
	version := fmt.Sprintf("%d.%d.%d.%d.%d", r.gen, r.metrics.offset, r.metrics.torn, r.samples.offset, len(r.err))
	return out, version
}

// thin keeps every k-th step so that at most maxPoints remain, plus the
// last one: the page's curves stay cheap on long runs and always end where
// the run is.
func thin(st *stageSteps, maxPoints int) stageJSON {
	n := len(st.steps)
	j := stageJSON{Stage: st.name, Count: n}
	if n == 0 {
		return j
	}
	j.Last = st.steps[n-1]
	stride := 1
	if maxPoints = max(maxPoints, 2); n > maxPoints {
		stride = (n - 1 + maxPoints - 2) / (maxPoints - 1) // ⌈(n-1)/(maxPoints-1)⌉ leaves room for the last point
	}
	add := func(s train.Step) {
		j.Step = append(j.Step, s.Step)
		j.Epoch = append(j.Epoch, s.Epoch)
		j.Loss = append(j.Loss, s.Loss)
		j.CE = append(j.CE, s.CE)
		j.Aux = append(j.Aux, s.Aux)
		j.LR = append(j.LR, s.LR)
		j.GradNorm = append(j.GradNorm, s.GradNorm)
		j.TokensPerS = append(j.TokensPerS, s.TokensPerS)
		j.ElapsedS = append(j.ElapsedS, s.ElapsedS)
	}
	for i := 0; i < n-1; i += stride {
		add(st.steps[i])
	}
	add(st.steps[n-1])
	return j
}
