package train

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// ResumeState is everything a training run needs to continue exactly where
// it stopped: full-precision weights and AdamW moments, the step counters,
// the data loader's position and the options it ran with. SaveResume
// stores the slabs as fp32 tensors and the rest as one JSON object (the
// keys below; Options keeps its Go field names).
type ResumeState struct {
	Config    model.Config     `json:"config"`
	Step      int              `json:"step"`                        // optimizer steps done
	AdamStep  int              `json:"adam_step"`                   // AdamW's t
	Epoch     int              `json:"epoch"`                       // epoch of the next step
	Loader    data.LoaderState `json:"loader"`                      // position at the last step boundary
	WorldSize int              `json:"world_size"`                  // ranks that trained it
	Options   Options          `json:"options"`                     // the run's; Run compares them with the resumed run's
	Skipped   int              `json:"skipped_nonfinite,omitempty"` // steps of Step skipped for a non-finite loss (not in AdamStep)
	// Setup is the stage's objective beyond Options (DPO's loss and
	// reference, the teacher, LoRA's base); nil in older files.
	Setup *Setup `json:"setup,omitempty"`
	// Params, M and V have the layout of Config's parameter slab.
	Params, M, V []float32 `json:"-"`
}

// SaveResume writes st atomically to path (a safetensors file, see
// checkpoint.SaveResume).
func SaveResume(path string, st *ResumeState) error {
	meta, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("resume %s: %w", path, err)
	}
	return checkpoint.SaveResume(path, &checkpoint.ResumeFile{Meta: meta, Params: st.Params, M: st.M, V: st.V})
}

// LoadResume reads a file written by SaveResume and checks it: the slabs
// fit the config and are finite (v non-negative), and every field is in
// range (Validate).
func LoadResume(path string) (*ResumeState, error) {
	f, err := checkpoint.LoadResume(path)
	if err != nil {
		return nil, err
	}
	var st ResumeState
	if err := json.Unmarshal(f.Meta, &st); err != nil {
		return nil, fmt.Errorf("%s: resume metadata: %w", path, err)
	}
	if err := st.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	// model's NumParams walks the layout, one entry per tensor: a damaged
	// layer or expert count would keep it busy for minutes, so the closed
	// form screens the config first.
	if want := layoutSize(&st.Config); want != float64(len(f.Params)) {
		return nil, fmt.Errorf("%s: the slabs have %d elements, the config needs %.0f: %w", path, len(f.Params), want, checkpoint.ErrShape)
	}
	if want := st.Config.NumParams(); len(f.Params) != want {
		return nil, fmt.Errorf("%s: the slabs have %d elements, the config needs %d: %w", path, len(f.Params), want, checkpoint.ErrShape)
	}
	st.Params, st.M, st.V = f.Params, f.M, f.V
	if err := st.check(path); err != nil {
		return nil, err
	}
	return &st, nil
}

// check validates a loaded state (Validate) and its slabs: finite weights
// and moments, and no negative second moment.
func (st *ResumeState) check(path string) error {
	if err := st.Validate(); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	for _, x := range []struct {
		name string
		s    []float32
	}{{"params", st.Params}, {"adam.m", st.M}, {"adam.v", st.V}} {
		if i := firstNonfinite(x.s); i >= 0 {
			return fmt.Errorf("%s: tensor %q holds %v at index %d: %w", path, x.name, x.s[i], i, ErrNonFinite)
		}
	}
	for i, v := range st.V {
		if v < 0 { // a mean of squares
			return fmt.Errorf("%s: tensor \"adam.v\" holds %v at index %d: %w", path, v, i, ErrResumeField)
		}
	}
	return nil
}

// Validate checks that the counters, the loader position and the options
// are in range and agree with each other; the error names the first field
// that is not. A damaged file fails here instead of training from a
// nonsense position.
func (st *ResumeState) Validate() error {
	l, o := &st.Loader, &st.Options
	for _, c := range []struct {
		bad   bool
		field string
		value any
		want  string
	}{
		{st.Step < 0, "step", st.Step, "at least 0"},
		{st.AdamStep < 0 || st.AdamStep > st.Step, "adam_step", st.AdamStep, fmt.Sprintf("0..step (%d)", st.Step)},
		{st.Skipped < 0 || st.Skipped > st.Step, "skipped_nonfinite", st.Skipped, fmt.Sprintf("0..step (%d)", st.Step)},
		{st.Epoch < 0, "epoch", st.Epoch, "at least 0"},
		{st.WorldSize < 1, "world_size", st.WorldSize, "at least 1"},
		{l.Len < 1, "loader.len", l.Len, "at least 1"},
		{l.Epoch < 0 || l.Epoch != st.Epoch, "loader.epoch", l.Epoch, fmt.Sprintf("epoch (%d)", st.Epoch)},
		{l.Offset < 0 || l.Offset > l.Len, "loader.offset", l.Offset, fmt.Sprintf("0..loader.len (%d)", l.Len)},
		{o.Epochs < 1, "options.Epochs", o.Epochs, "at least 1"},
		{o.Accumulation < 0, "options.Accumulation", o.Accumulation, "at least 0"},
		// Files from before the batch fields were stored hold 0 here.
		{o.BatchSize < 0, "options.BatchSize", o.BatchSize, "at least 0"},
		{o.MaxSeqLen < 0, "options.MaxSeqLen", o.MaxSeqLen, "at least 0"},
		{!(o.LearningRate >= 0) || math.IsInf(o.LearningRate, 0), "options.LearningRate", o.LearningRate, "finite, at least 0"},
		{o.WarmupIters < 0, "options.WarmupIters", o.WarmupIters, "at least 0"},
		{!(o.GradClip >= 0) || math.IsInf(o.GradClip, 0), "options.GradClip", o.GradClip, "finite, at least 0"},
	} {
		if c.bad {
			return fmt.Errorf("resume field %s is %v, want %s: %w", c.field, c.value, c.want, ErrResumeField)
		}
	}
	return nil
}

// layoutSize is model.Config.NumParams in closed form (model's
// ParamCount, which covers both generations), +Inf when the count
// overflows. c must be valid.
func layoutSize(c *model.Config) float64 {
	n, err := c.ParamCount()
	if err != nil {
		return math.Inf(1)
	}
	return float64(n)
}
