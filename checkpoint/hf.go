package checkpoint

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	"github.com/minimind-go/minimind/checkpoint/pickle"
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

// LoadHF reads an HF-layout directory: config.json (MiniMind's own, or
// transformers' Llama / Qwen3 / Qwen3-MoE: see ReadHFConfig) and the
// weights, found as transformers finds them: model.safetensors (F32, F16
// or BF16 tensors), model.safetensors.index.json with its shards, or
// pytorch_model.bin (a torch zip) or its index. The tied matrix may be
// stored as model.embed_tokens.weight, lm_head.weight or both (then both
// must agree in shape). Tensors the model does not use are an error
// naming them (a mismatched architecture should not load silently).
func LoadHF(dir string) (*model.Params, error) {
	cfg, err := ReadHFConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	src, err := openWeights(dir)
	if err != nil {
		return nil, err
	}
	p, err := build(cfg, src)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", dir, err)
	}
	return p, nil
}

// FillFromSafetensors copies every parameter of p from f, converting to
// float32.
func FillFromSafetensors(p *model.Params, f *safetensors.File) error {
	return fill(p, safetensorsSource(f))
}

func safetensorsSource(f *safetensors.File) tensorSource {
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
		into: func(name string, dst []float32) error {
			t, _ := f.Get(name)
			return t.DecodeFloat32(dst)
		},
	}
	for _, t := range f.Tensors {
		src.names = append(src.names, t.Name)
	}
	return src
}

// tensorSource is a checkpoint's tensors by name, whatever its format.
type tensorSource struct {
	names []string                             // every tensor, in file order
	shape func(name string) ([]int, bool)      // false: no such tensor
	data  func(name string) ([]float32, error) // called for present names only
	// into, when set, decodes a present tensor straight into dst (exactly
	// its size), sparing data's copy: loading then holds the file and the
	// parameters, not a third copy in transit.
	into func(name string, dst []float32) error
}

// fill copies every parameter of p from src, after checkFits.
func fill(p *model.Params, src tensorSource) error {
	if err := checkFits(&p.Config, src); err != nil {
		return err
	}
	return copyParams(p, src)
}

// build checks src against cfg, and only then allocates the parameters and
// copies them from src.
func build(cfg model.Config, src tensorSource) (*model.Params, error) {
	if err := checkFits(&cfg, src); err != nil {
		return nil, err
	}
	p, err := model.NewParams(cfg)
	if err != nil {
		return nil, err
	}
	if err := copyParams(p, src); err != nil {
		return nil, err
	}
	return p, nil
}

// checkFits checks cfg against the tensors of a weight file before anything
// is sized by cfg: sizes within model.CheckSizes' limits (which covers the
// RoPE tables), no more tensors than the file holds, every parameter
// present with its shape (the tied matrix may be stored as
// model.embed_tokens.weight, lm_head.weight or both, then each must have its
// shape), and no tensor the model does not use. Each tensor's size is
// bounded by the file's own bytes, so once this passes, the parameter
// count equals what the file holds and allocating it is safe: a corrupt
// config.json (hidden_size 2^40) is an error, not a makeslice panic or a
// request for terabytes.
func checkFits(cfg *model.Config, src tensorSource) error {
	if err := cfg.CheckSizes(); err != nil {
		return err
	}
	if err := checkFamily(cfg, src); err != nil {
		return err
	}
	have := len(src.names)
	if _, ok := src.shape(model.EmbedName); ok && cfg.Tied() {
		if _, ok := src.shape(model.LMHeadName); ok {
			have-- // the tied matrix stored twice
		}
	}
	// Building the layout costs memory in proportion to its tensor count,
	// so refuse one far beyond the file first. A few missing tensors pass,
	// for the loop below to name them.
	if want := cfg.NumTensors(); want > have+16 {
		n, _ := cfg.ParamCount()
		return fmt.Errorf("config describes a %s model of %d tensors (%d parameters) but the file holds %d tensors: %w",
			describe(cfg), want, n, have, ErrShape)
	}
	used := map[string]bool{}
	specs := model.Layout(cfg)
	for _, s := range specs {
		name := s.Name
		shape, ok := src.shape(name)
		if !ok && name == model.EmbedName && cfg.Tied() {
			name = model.LMHeadName
			shape, ok = src.shape(name)
		}
		if !ok {
			return fmt.Errorf("tensor %q: %w", s.Name, ErrMissingTensor)
		}
		if err := checkShape(name, shape, s.Shape); err != nil {
			return err
		}
		used[name] = true
	}
	if shape, ok := src.shape(model.LMHeadName); ok && !used[model.LMHeadName] && cfg.Tied() {
		if err := checkShape(model.LMHeadName, shape, specs[0].Shape); err != nil {
			return err
		}
		used[model.LMHeadName] = true
	}
	for _, n := range src.names {
		if !used[n] {
			return fmt.Errorf("tensor %s is not part of a %s model with this config", quoteName(n), describe(cfg))
		}
	}
	return nil
}

// copyParams copies every parameter of p from src, which checkFits
// accepted for p's config.
func copyParams(p *model.Params, src tensorSource) error {
	for _, s := range p.Specs {
		name := s.Name
		if _, ok := src.shape(name); !ok && name == model.EmbedName && p.Config.Tied() {
			name = model.LMHeadName
		}
		dst := p.View(p.Data, s.Name)
		if src.into != nil {
			if err := src.into(name, dst); err != nil {
				return err
			}
			continue
		}
		x, err := src.data(name)
		if err != nil {
			return err
		}
		if len(x) != s.Size() {
			return fmt.Errorf("tensor %q: %d values, its shape needs %d: %w", name, len(x), s.Size(), ErrShape)
		}
		copy(dst, x)
	}
	return nil
}

// quoteName quotes a tensor name from a file, cut when a hostile file makes
// it long.
func quoteName(name string) string { return pickle.Quote(name) }

// describe names a config's architecture for error messages.
func describe(c *model.Config) string {
	if c.UseMoE {
		return fmt.Sprintf("%s MoE (%d experts, %d shared) %d-layer", c.Family(), c.Experts(), c.SharedExperts(), c.NumHiddenLayers)
	}
	return fmt.Sprintf("%s dense %d-layer", c.Family(), c.NumHiddenLayers)
}

// qNormName is minimind-3's q/k RMSNorm weight of layer 0: its presence
// tells the weights' generation.
const qNormName = "model.layers.0.self_attn.q_norm.weight"

// checkFamily refuses weights of one generation with a config of the
// other, naming the field that decides it (config.json's head_dim).
func checkFamily(cfg *model.Config, src tensorSource) error {
	_, hasQNorm := src.shape(qNormName)
	switch {
	case hasQNorm && !cfg.IsMiniMind3():
		return fmt.Errorf("the weights are minimind-3 (they have %s) but the config is MiniMind2 (no head_dim): %w", qNormName, ErrShape)
	case !hasQNorm && cfg.IsMiniMind3():
		if _, ok := src.shape("model.layers.0.self_attn.q_proj.weight"); ok {
			return fmt.Errorf("the config is minimind-3 (head_dim %d) but the weights lack %s (MiniMind2 weights?): %w", cfg.HeadDim, qNormName, ErrMissingTensor)
		}
	}
	return nil
}

func checkShape(name string, got, want []int) error {
	if !slices.Equal(got, want) {
		return fmt.Errorf("tensor %q: shape %s, config expects %v: %w", name, safetensors.FormatShape(got), want, ErrShape)
	}
	return nil
}

// SaveHF writes config.json and model.safetensors into dir (created if
// needed), tensors in dtype F32, F16 or BF16, the tied matrix once under
// model.embed_tokens.weight (as HF save_pretrained does; an untied
// lm_head.weight is a tensor of its own).
func SaveHF(dir string, p *model.Params, dtype safetensors.DType) error {
	cfgJSON, err := json.MarshalIndent(p.Config, "", "  ")
	if err != nil {
		return err
	}
	if err := saveSafetensors(dir, p, dtype); err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, ConfigFile), 0o644, func(w io.Writer) error {
		_, err := w.Write(append(cfgJSON, '\n'))
		return err
	})
}

// saveSafetensors writes dir/model.safetensors (dir created if needed):
// every parameter in layout order in dtype, the tied matrix once.
func saveSafetensors(dir string, p *model.Params, dtype safetensors.DType) error {
	switch dtype {
	case safetensors.F32, safetensors.F16, safetensors.BF16:
	default:
		return fmt.Errorf("checkpoint: cannot save weights as %s (want F32, F16 or BF16)", dtype)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	tensors := make([]safetensors.Tensor, 0, len(p.Specs))
	for _, s := range p.Specs {
		tensors = append(tensors, safetensors.FromFloat32(s.Name, s.Shape, p.View(p.Data, s.Name), dtype))
	}
	return atomicfile.Write(filepath.Join(dir, SafetensorsFile), 0o644, func(w io.Writer) error {
		return safetensors.Write(w, tensors, map[string]string{"format": "pt"})
	})
}
