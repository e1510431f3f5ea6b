package train_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/train"
)

// TestResumeRoundTrip: a saved state reads back equal, typed, with the
// JSON keys resume files have always had.
func TestResumeRoundTrip(t *testing.T) {
	tr := newTrainer(t, false, 3, 1, 1)
	st := tr.State()
	st.Step, st.AdamStep, st.Epoch = 7, 7, 1
	st.Loader = data.LoaderState{Epoch: 1, Offset: 6, Seed: 3, Shfl: true, Len: 37}
	path := filepath.Join(t.TempDir(), "r.safetensors")
	if err := train.SaveResume(path, st); err != nil {
		t.Fatal(err)
	}
	got, err := train.LoadResume(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Step != 7 || got.AdamStep != 7 || got.Epoch != 1 || got.WorldSize != 1 || got.Loader != st.Loader || got.Options != st.Options {
		t.Errorf("read back %+v\nwant %+v", *got, *st)
	}
	if !slices.Equal(got.Params, st.Params) || !slices.Equal(got.M, st.M) || !slices.Equal(got.V, st.V) {
		t.Error("slabs differ after the round trip")
	}
	f, err := checkpoint.LoadResume(path)
	if err != nil {
		t.Fatal(err)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(f.Meta, &keys); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"config", "step", "adam_step", "epoch", "loader", "world_size", "options"} {
		if keys[k] == nil {
			t.Errorf("resume JSON lacks %q: %s", k, f.Meta)
		}
	}
}

// TestResumeOldLayout: a resume file written before the state was typed
// (its options without the batch fields) still loads and restores.
func TestResumeOldLayout(t *testing.T) {
	tr := newTrainer(t, false, 3, 1, 1)
	cfg, err := json.Marshal(tr.Model.Config)
	if err != nil {
		t.Fatal(err)
	}
	meta := `{"config":` + string(cfg) + `,"step":4,"adam_step":4,"epoch":0,` +
		`"loader":{"epoch":0,"offset":12,"seed":3,"shuffle":true,"len":37},"world_size":1,` +
		`"options":{"Epochs":1,"Accumulation":1,"LearningRate":0.003,"WarmupIters":2,"GradClip":1,"SaveInterval":0,"LogInterval":100,` +
		`"AdamW":{"Beta1":0.9,"Beta2":0.999,"Eps":1e-8,"WeightDecay":0.01}}}`
	n := len(tr.Model.Params.Data)
	path := filepath.Join(t.TempDir(), "old.safetensors")
	f := &checkpoint.ResumeFile{Meta: []byte(meta), Params: make([]float32, n), M: make([]float32, n), V: make([]float32, n)}
	if err := checkpoint.SaveResume(path, f); err != nil {
		t.Fatal(err)
	}
	st, err := train.LoadResume(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Options.LearningRate != 0.003 || st.Options.AdamW.Beta2 != 0.999 || st.Loader.Offset != 12 {
		t.Errorf("old layout read as %+v", *st)
	}
	if err := tr.Restore(st, 0); err != nil {
		t.Fatal(err)
	}
	if tr.Step != 4 || tr.Loader.State().Offset != 12 {
		t.Errorf("restored at step %d, loader %+v", tr.Step, tr.Loader.State())
	}
}

func TestResumeShape(t *testing.T) {
	tr := newTrainer(t, false, 3, 1, 1)
	st := tr.State()
	short := st.Params[:10]
	path := filepath.Join(t.TempDir(), "r.safetensors")
	if err := train.SaveResume(path, &train.ResumeState{Config: st.Config, Params: short, M: short, V: short}); err != nil {
		t.Fatal(err)
	}
	if _, err := train.LoadResume(path); !errors.Is(err, checkpoint.ErrShape) {
		t.Errorf("LoadResume of a short slab = %v, want ErrShape", err)
	}
}

// TestLoadResumeFields: a resume state with a field out of range is an
// error naming the field, not a run from a nonsense position.
func TestLoadResumeFields(t *testing.T) {
	for _, c := range []struct {
		name    string
		edit    func(st *train.ResumeState)
		wantErr error
		want    string
	}{
		{name: "valid", edit: func(*train.ResumeState) {}},
		{name: "negative step", edit: func(st *train.ResumeState) { st.Step = -1 }, wantErr: train.ErrResumeField, want: "resume field step is -1"},
		{name: "negative adam_step", edit: func(st *train.ResumeState) { st.AdamStep = -1 }, wantErr: train.ErrResumeField, want: "resume field adam_step is -1"},
		{name: "adam_step past step", edit: func(st *train.ResumeState) { st.AdamStep = 8 }, wantErr: train.ErrResumeField, want: "resume field adam_step is 8, want 0..step (7)"},
		{name: "negative skipped", edit: func(st *train.ResumeState) { st.Skipped = -2 }, wantErr: train.ErrResumeField, want: "resume field skipped_nonfinite is -2"},
		{name: "negative epoch", edit: func(st *train.ResumeState) { st.Epoch, st.Loader.Epoch = -1, -1 }, wantErr: train.ErrResumeField, want: "resume field epoch is -1"},
		{name: "epochs disagree", edit: func(st *train.ResumeState) { st.Loader.Epoch = 0 }, wantErr: train.ErrResumeField, want: "resume field loader.epoch is 0, want epoch (1)"},
		{name: "no ranks", edit: func(st *train.ResumeState) { st.WorldSize = 0 }, wantErr: train.ErrResumeField, want: "resume field world_size is 0"},
		{name: "empty dataset", edit: func(st *train.ResumeState) { st.Loader.Len, st.Loader.Offset = 0, 0 }, wantErr: train.ErrResumeField, want: "resume field loader.len is 0"},
		{name: "negative offset", edit: func(st *train.ResumeState) { st.Loader.Offset = -3 }, wantErr: train.ErrResumeField, want: "resume field loader.offset is -3"},
		{name: "offset past the data", edit: func(st *train.ResumeState) { st.Loader.Offset = 38 }, wantErr: train.ErrResumeField, want: "resume field loader.offset is 38, want 0..loader.len (37)"},
		{name: "no epochs", edit: func(st *train.ResumeState) { st.Options.Epochs = 0 }, wantErr: train.ErrResumeField, want: "resume field options.Epochs is 0"},
		{name: "negative lr", edit: func(st *train.ResumeState) { st.Options.LearningRate = -1 }, wantErr: train.ErrResumeField, want: "resume field options.LearningRate is -1"},
		{name: "nan weight", edit: func(st *train.ResumeState) { st.Params[5] = float32(math.NaN()) }, wantErr: train.ErrNonFinite, want: `tensor "params" holds NaN at index 5`},
		{name: "inf moment", edit: func(st *train.ResumeState) { st.M[2] = float32(math.Inf(-1)) }, wantErr: train.ErrNonFinite, want: `tensor "adam.m" holds -Inf at index 2`},
		{name: "negative second moment", edit: func(st *train.ResumeState) { st.V[1] = -1 }, wantErr: train.ErrResumeField, want: `tensor "adam.v" holds -1 at index 1`},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr := newTrainer(t, false, 3, 1, 3)
			st := tr.State()
			st.Params, st.M, st.V = slices.Clone(st.Params), slices.Clone(st.M), slices.Clone(st.V)
			st.Step, st.AdamStep, st.Epoch = 7, 7, 1
			st.Loader = data.LoaderState{Epoch: 1, Offset: 6, Seed: 3, Shfl: true, Len: 37}
			c.edit(st)
			path := filepath.Join(t.TempDir(), "r.safetensors")
			if err := train.SaveResume(path, st); err != nil {
				t.Fatal(err)
			}
			got, err := train.LoadResume(path)
			if c.wantErr == nil {
				if err != nil {
					t.Fatal(err)
				}
				if err := tr.Restore(got, 0); err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, c.wantErr) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("LoadResume = %v\nwant %v with %q", err, c.wantErr, c.want)
			}
			// Restore checks the same on a state that did not come from a file.
			if c.wantErr == train.ErrResumeField && !strings.Contains(c.want, "tensor") {
				if err := tr.Restore(st, 0); !errors.Is(err, train.ErrResumeField) {
					t.Errorf("Restore = %v, want ErrResumeField", err)
				}
			}
		})
	}
}

// TestRestoreRange: a state past the end of this run is refused.
func TestRestoreRange(t *testing.T) {
	tr := newTrainer(t, false, 3, 1, 1) // 13 steps
	for _, c := range []struct {
		name string
		edit func(st *train.ResumeState)
		want string
	}{
		{name: "step past the end", edit: func(st *train.ResumeState) { st.Step, st.AdamStep = 14, 14 }, want: "step 14 is past this run's 13 steps"},
		{name: "epoch past the end", edit: func(st *train.ResumeState) { st.Epoch, st.Loader.Epoch = 2, 2 }, want: "loader epoch 2 is past this run's 1 epochs"},
	} {
		t.Run(c.name, func(t *testing.T) {
			st := tr.State()
			c.edit(st)
			if err := tr.Restore(st, 0); !errors.Is(err, train.ErrResumeField) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("Restore = %v, want %q", err, c.want)
			}
		})
	}
}

// FuzzResumeMeta: whatever a resume file's JSON holds, LoadResume and
// Restore return an error or a state inside the run; they never panic.
func FuzzResumeMeta(f *testing.F) {
	tr := newTrainer(f, false, 3, 1, 2)
	good, err := json.Marshal(tr.State())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(good))
	for _, r := range [][2]string{{`"step":0`, `"step":-1`}, {`"world_size":1`, `"world_size":0`}, {`"offset":0`, `"offset":99`}, {`"epoch":0`, `"epoch":-5`}, {`"adam_step":0`, `"adam_step":1e9`}} {
		f.Add(strings.Replace(string(good), r[0], r[1], 1))
	}
	n := len(tr.Model.Params.Data)
	zero := make([]float32, n)
	ts := []safetensors.Tensor{
		safetensors.FromFloat32("params", []int{n}, zero, safetensors.F32),
		safetensors.FromFloat32("adam.m", []int{n}, zero, safetensors.F32),
		safetensors.FromFloat32("adam.v", []int{n}, zero, safetensors.F32),
	}
	path := filepath.Join(f.TempDir(), "r.safetensors")
	f.Fuzz(func(t *testing.T, meta string) {
		// SaveResume's layout, written without its fsyncs (they would
		// make this a disk benchmark).
		var buf bytes.Buffer
		if err := safetensors.Write(&buf, ts, map[string]string{"minimind_resume": meta}); err != nil {
			t.Skip(err)
		}
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		st, err := train.LoadResume(path)
		if err != nil {
			return
		}
		// One trainer for all inputs (a backend per input would pile up
		// worker pools): Restore overwrites everything it sets.
		if err := tr.Restore(st, 0); err != nil {
			return
		}
		if tr.Step < 0 || tr.Step > tr.TotalSteps() || tr.Opt.T < 0 || tr.Opt.T > tr.Step || tr.Loader.Epoch() > 2 {
			t.Fatalf("restored to step %d of %d, AdamW t %d, epoch %d from %s", tr.Step, tr.TotalSteps(), tr.Opt.T, tr.Loader.Epoch(), meta)
		}
	})
}
