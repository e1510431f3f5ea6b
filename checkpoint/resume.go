package checkpoint

import (
	"errors"
	"fmt"
	"io"

	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/atomicfile"
)

// resumeKey is the safetensors metadata key holding the resume JSON.
const resumeKey = "minimind_resume"

// ErrNotResume is wrapped when a file is not a MiniMind-Go resume state.
var ErrNotResume = errors.New("not a minimind resume file")

// ResumeFile is the storage of a training run's resume point: three fp32
// slabs of one layout (the weights and AdamW's two moments, which the
// original's fp16 .pth lacks, so its resumed runs drift) and the run's
// state as JSON. The JSON's meaning belongs to package train
// (train.ResumeState), which sits above this package.
type ResumeFile struct {
	Meta         []byte    // train.ResumeState as JSON
	Params, M, V []float32 // one parameter slab each
}

// SaveResume writes f atomically as a safetensors file: tensors "params",
// "adam.m" and "adam.v" (F32) and Meta under the metadata key
// "minimind_resume".
func SaveResume(path string, f *ResumeFile) error {
	n := len(f.Params)
	if len(f.M) != n || len(f.V) != n {
		return fmt.Errorf("resume %s: params %d, moments %d/%d elements", path, n, len(f.M), len(f.V))
	}
	ts := []safetensors.Tensor{
		safetensors.FromFloat32("params", []int{n}, f.Params, safetensors.F32),
		safetensors.FromFloat32("adam.m", []int{n}, f.M, safetensors.F32),
		safetensors.FromFloat32("adam.v", []int{n}, f.V, safetensors.F32),
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		return safetensors.Write(w, ts, map[string]string{resumeKey: string(f.Meta)})
	})
}

// LoadResume reads a file written by SaveResume and checks that its three
// slabs have one length; the caller checks that length against the model
// its Meta describes.
func LoadResume(path string) (*ResumeFile, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	meta, ok := f.Metadata[resumeKey]
	if !ok {
		return nil, fmt.Errorf("%s: %w", path, ErrNotResume)
	}
	r := &ResumeFile{Meta: []byte(meta)}
	for _, x := range []struct {
		name string
		dst  *[]float32
	}{{"params", &r.Params}, {"adam.m", &r.M}, {"adam.v", &r.V}} {
		t, ok := f.Get(x.name)
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q: %w", path, x.name, ErrMissingTensor)
		}
		v, err := t.Float32s()
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		if x.name != "params" && len(v) != len(r.Params) {
			return nil, fmt.Errorf("%s: tensor %q has %d elements, params %d: %w", path, x.name, len(v), len(r.Params), ErrShape)
		}
		*x.dst = v
	}
	return r, nil
}
