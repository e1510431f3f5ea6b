package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/atomicfile"
	"github.com/minimind-go/minimind/model"
)

// resumeKey is the safetensors metadata key holding ResumeState's JSON.
const resumeKey = "minimind_resume"

// ErrNotResume is wrapped when a file is not a MiniMind-Go resume state.
var ErrNotResume = errors.New("not a minimind resume file")

// ResumeState is everything a training run needs to continue exactly where
// it stopped: full-precision weights and AdamW moments (the original keeps
// only fp16 weights, so its resumed runs drift; ours do not), the step
// counters, the data loader's position and the options it ran with.
type ResumeState struct {
	Config    model.Config    `json:"config"`
	Step      int             `json:"step"`       // optimizer steps done
	AdamStep  int             `json:"adam_step"`  // AdamW's t
	Epoch     int             `json:"epoch"`      // epoch of the next step
	Loader    json.RawMessage `json:"loader"`     // data.LoaderState
	WorldSize int             `json:"world_size"` // ranks that trained it
	Options   json.RawMessage `json:"options"`    // train.Options, for the log and checks
	// Params, M and V have the layout of Config's parameter slab.
	Params, M, V []float32 `json:"-"`
}

// SaveResume writes st atomically as a safetensors file: tensors "params",
// "adam.m" and "adam.v" (F32) and the rest as JSON metadata.
func SaveResume(path string, st *ResumeState) error {
	meta, err := json.Marshal(st)
	if err != nil {
		return err
	}
	n := len(st.Params)
	if len(st.M) != n || len(st.V) != n {
		return fmt.Errorf("resume %s: params %d, moments %d/%d elements", path, n, len(st.M), len(st.V))
	}
	ts := []safetensors.Tensor{
		safetensors.FromFloat32("params", []int{n}, st.Params, safetensors.F32),
		safetensors.FromFloat32("adam.m", []int{n}, st.M, safetensors.F32),
		safetensors.FromFloat32("adam.v", []int{n}, st.V, safetensors.F32),
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return safetensors.Write(w, ts, map[string]string{resumeKey: string(meta)})
	})
}

// LoadResume reads a file written by SaveResume and checks that its slabs
// fit its config.
func LoadResume(path string) (*ResumeState, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta, ok := f.Metadata[resumeKey]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrNotResume)
	}
	var st ResumeState
	if err := json.Unmarshal([]byte(meta), &st); err != nil {
		return nil, fmt.Errorf("%s: resume metadata: %w", path, err)
	}
	if err := st.Config.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	want := st.Config.NumParams()
	for _, x := range []struct {
		name string
		dst  *[]float32
	}{{"params", &st.Params}, {"adam.m", &st.M}, {"adam.v", &st.V}} {
		t, ok := f.Get(x.name)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, x.name, ErrMissingTensor)
		}
		v, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if len(v) != want {
			return nil, fmt.Errorf("%s: tensor %q has %d elements, the config needs %d: %w", path, x.name, len(v), want, ErrShape)
		}
		*x.dst = v
	}
	return &st, nil
}
