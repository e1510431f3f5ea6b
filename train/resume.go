package train

import (
	"encoding/json"
	"fmt"

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
	Step      int              `json:"step"`       // optimizer steps done
	AdamStep  int              `json:"adam_step"`  // AdamW's t
	Epoch     int              `json:"epoch"`      // epoch of the next step
	Loader    data.LoaderState `json:"loader"`     // position at the last step boundary
	WorldSize int              `json:"world_size"` // ranks that trained it
	Options   Options          `json:"options"`    // for the record; Restore does not apply them
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

// LoadResume reads a file written by SaveResume and checks that its slabs
// fit its config.
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
	if want := st.Config.NumParams(); len(f.Params) != want {
		return nil, fmt.Errorf("%s: the slabs have %d elements, the config needs %d: %w", path, len(f.Params), want, checkpoint.ErrShape)
	}
	st.Params, st.M, st.V = f.Params, f.M, f.V
	return &st, nil
}
