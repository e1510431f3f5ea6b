package train_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
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
