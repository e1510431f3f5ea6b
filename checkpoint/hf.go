package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/atomicfile"
	"github.com/minimind-go/minimind/model"
)

// File names of the HF layout.
const (
	ConfigFile      = "config.json"
	SafetensorsFile = "model.safetensors"
)

// ErrMissingTensor is wrapped by errors for a tensor the model needs but
// the file lacks.
var ErrMissingTensor = errors.New("missing tensor")

// ErrShape is wrapped by errors for a tensor whose shape differs from the
// config's.
var ErrShape = errors.New("shape mismatch")

// LoadHF reads an HF-layout directory: config.json and model.safetensors
// (F32, F16 or BF16 tensors). The tied matrix may be stored as
// model.embed_tokens.weight, lm_head.weight or both (then both must agree in
// shape). Tensors the model does not use are an error naming them (a
// mismatched architecture should not load silently).
func LoadHF(dir string) (*model.Params, error) {
	cfg, err := model.ReadConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, SafetensorsFile)
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return nil, err
	}
	p, err := model.NewParams(cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	if err := FillFromSafetensors(p, f); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// FillFromSafetensors copies every parameter of p from f, converting to
// float32.
func FillFromSafetensors(p *model.Params, f *safetensors.File) error {
	src := tensorSource{
		shape: func(name string) ([]int, bool) {
			t, ok := f.Get(name)
			if !ok {
				return nil, false
			}
			return t.Shape, true
		},
		data: func(name string) ([]float32, error) {
			t, _ := f.Get(name)
			return t.Float32s()
		},
	}
	for _, t := range f.Tensors {
		src.names = append(src.names, t.Name)
	}
	return fill(p, src)
}

// tensorSource is a checkpoint's tensors by name, whatever its format.
type tensorSource struct {
	names []string                             // every tensor, in file order
	shape func(name string) ([]int, bool)      // false: no such tensor
	data  func(name string) ([]float32, error) // called for present names only
}

// fill copies every parameter of p from src. The tied matrix may be stored
// as model.embed_tokens.weight, lm_head.weight or both (then each must have
// its shape). A missing tensor, a shape mismatch or a tensor the model does
// not use is an error naming the tensor.
func fill(p *model.Params, src tensorSource) error {
	used := map[string]bool{}
	for _, s := range p.Specs {
		name := s.Name
		shape, ok := src.shape(name)
		if !ok && name == model.EmbedName {
			name = model.LMHeadName
			shape, ok = src.shape(name)
		}
		if !ok {
			return fmt.Errorf("tensor %q: %w", s.Name, ErrMissingTensor)
		}
		if err := checkShape(name, shape, s.Shape); err != nil {
			return err
		}
		x, err := src.data(name)
		if err != nil {
			return err
		}
		copy(p.View(p.Data, s.Name), x)
		used[name] = true
	}
	if shape, ok := src.shape(model.LMHeadName); ok && !used[model.LMHeadName] {
		s, _ := p.Spec(model.EmbedName)
		if err := checkShape(model.LMHeadName, shape, s.Shape); err != nil {
			return err
		}
		used[model.LMHeadName] = true
	}
	for _, n := range src.names {
		if !used[n] {
			return fmt.Errorf("tensor %q is not part of a %s model with this config", n, describe(&p.Config))
		}
	}
	return nil
}

func describe(c *model.Config) string {
	if c.UseMoE {
		return fmt.Sprintf("MoE (%d experts, %d shared) %d-layer", c.NRoutedExperts, c.NSharedExperts, c.NumHiddenLayers)
	}
	return fmt.Sprintf("dense %d-layer", c.NumHiddenLayers)
}

func checkShape(name string, got, want []int) error {
	if len(got) != len(want) {
		return fmt.Errorf("tensor %q: shape %v, config expects %v: %w", name, got, want, ErrShape)
	}
	for i := range got {
		if got[i] != want[i] {
			return fmt.Errorf("tensor %q: shape %v, config expects %v: %w", name, got, want, ErrShape)
		}
	}
	return nil
}

// SaveHF writes config.json and model.safetensors into dir (created if
// needed), tensors in dtype F32, F16 or BF16, the tied matrix once under
// model.embed_tokens.weight (as HF save_pretrained does).
func SaveHF(dir string, p *model.Params, dtype safetensors.DType) error {
	switch dtype {
	case safetensors.F32, safetensors.F16, safetensors.BF16:
	default:
		return fmt.Errorf("checkpoint: cannot save weights as %s (want F32, F16 or BF16)", dtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	cfgJSON, err := json.MarshalIndent(p.Config, "", "  ")
	if err != nil {
		return err
	}
	tensors := make([]safetensors.Tensor, 0, len(p.Specs))
	for _, s := range p.Specs {
		tensors = append(tensors, safetensors.FromFloat32(s.Name, s.Shape, p.View(p.Data, s.Name), dtype))
	}
	err = atomicfile.Write(filepath.Join(dir, SafetensorsFile), 0o644, func(w io.Writer) error {
		return safetensors.Write(w, tensors, map[string]string{"format": "pt"})
	})
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ConfigFile), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(cfgJSON, '\n'))
		return err
	})
}
