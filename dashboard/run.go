package dashboard

import (
	"encoding/json"
	"fmt"
	"math"
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
	name    string
	steps   []train.Step
	missing []uint8 // per step: the lineValues.missing bits
	extra   map[string]*extraSeries
}

// extraSeries is one extra key's values, at the steps whose line has it.
type extraSeries struct {
	step  []int
	value []float64
}

// add appends one metrics line's step and values.
func (st *stageSteps) add(s train.Step, v lineValues) {
	st.steps = append(st.steps, s)
	st.missing = append(st.missing, v.missing)
	for k, f := range v.extra {
		if st.extra == nil {
			st.extra = map[string]*extraSeries{}
		}
		e := st.extra[k]
		if e == nil {
			e = &extraSeries{}
			st.extra[k] = e
		}
		e.step = append(e.step, s.Step)
		e.value = append(e.value, f)
	}
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
		st.add(s, parseValues(line))
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
// maxPoints points (the last step always among them). A value the line
// lacked, or one that is not finite, is null: a gap in the curve.
type stageJSON struct {
	Stage       string     `json:"stage"`
	Count       int        `json:"count"` // steps read, before thinning
	Last        train.Step `json:"last"`
	LastMissing []string   `json:"last_missing,omitempty"` // keys of Last its line did not have
	Step        []int      `json:"step"`
	Epoch       []int      `json:"epoch"`
	Loss        []num      `json:"loss"`
	CE          []num      `json:"ce"`
	Aux         []num      `json:"aux"`
	LR          []num      `json:"lr"`
	GradNorm    []num      `json:"grad_norm"`
	TokensPerS  []num      `json:"tokens_per_s"`
	ElapsedS    []num      `json:"elapsed_s"`
	// Extra holds the lines' other numeric keys by name (DPO's
	// reward_margin, eval_loss, GRPO's reward and kl, PPO's clipfrac ...),
	// each at the steps that have it, thinned alike; absent when none.
	Extra map[string]extraJSON `json:"extra,omitempty"`
}

// extraJSON is one extra series.
type extraJSON struct {
	Step  []int `json:"step"`
	Value []num `json:"value"`
}

// num is a value on a curve: NaN and infinities travel as null, which
// JSON can carry (encoding/json refuses them) and the page skips.
type num float64

func (n num) MarshalJSON() ([]byte, error) {
	if f := float64(n); !math.IsNaN(f) && !math.IsInf(f, 0) {
		return json.Marshal(f)
	}
	return []byte("null"), nil
}

func (n *num) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		*n = num(math.NaN())
		return nil
	}
	return json.Unmarshal(b, (*float64)(n))
}

// col is a fixed chart's value: NaN where the line lacked it.
func col(v float64, missing, bit uint8) num {
	if missing&bit != 0 {
		return num(math.NaN())
	}
	return num(v)
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
// the run is. Extra series are thinned the same way over their own points.
func thin(st *stageSteps, maxPoints int) stageJSON {
	n := len(st.steps)
	j := stageJSON{Stage: st.name, Count: n}
	if n == 0 {
		return j
	}
	j.Last = st.steps[n-1]
	for _, m := range []struct {
		bit uint8
		key string
	}{{missLoss, "loss"}, {missCE, "ce"}, {missAux, "aux"}, {missLR, "lr"}, {missGradNorm, "grad_norm"}, {missTokensPerS, "tokens_per_s"}, {missElapsedS, "elapsed_s"}} {
		if st.missing[n-1]&m.bit != 0 {
			j.LastMissing = append(j.LastMissing, m.key)
		}
	}
	for _, i := range thinned(n, maxPoints) {
		s, m := st.steps[i], st.missing[i]
		j.Step = append(j.Step, s.Step)
		j.Epoch = append(j.Epoch, s.Epoch)
		j.Loss = append(j.Loss, col(s.Loss, m, missLoss))
		j.CE = append(j.CE, col(s.CE, m, missCE))
		j.Aux = append(j.Aux, col(s.Aux, m, missAux))
		j.LR = append(j.LR, col(s.LR, m, missLR))
		j.GradNorm = append(j.GradNorm, col(s.GradNorm, m, missGradNorm))
		j.TokensPerS = append(j.TokensPerS, col(s.TokensPerS, m, missTokensPerS))
		j.ElapsedS = append(j.ElapsedS, col(s.ElapsedS, m, missElapsedS))
	}
	for k, e := range st.extra {
		if j.Extra == nil {
			j.Extra = map[string]extraJSON{}
		}
		var x extraJSON
		for _, i := range thinned(len(e.step), maxPoints) {
			x.Step = append(x.Step, e.step[i])
			x.Value = append(x.Value, num(e.value[i]))
		}
		j.Extra[k] = x
	}
	return j
}

// thinned returns the indices of n points to draw: every k-th, so that at
// most maxPoints remain, and the last.
func thinned(n, maxPoints int) []int {
	stride := 1
	if maxPoints = max(maxPoints, 2); n > maxPoints {
		stride = (n - 1 + maxPoints - 2) / (maxPoints - 1) // ⌈(n-1)/(maxPoints-1)⌉ leaves room for the last point
	}
	var idx []int
	for i := 0; i < n-1; i += stride {
		idx = append(idx, i)
	}
	return append(idx, n-1)
}
