package checkpoint

import (
	"fmt"
	"slices"
	"strings"

	"github.com/minimind-go/minimind/checkpoint/pth"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/model"
)

// SaveLoRA writes l's tensors as upstream's save_lora does: a torch state
// dict of {module}.lora.A.weight and {module}.lora.B.weight in fp16 (dtype
// "F16"; "F32" and "BF16" also work). Upstream's forward has no scale, so
// an alpha/rank scale is folded into the saved B (B·s): the file means the
// same to upstream's load_lora and to LoadLoRA.
func SaveLoRA(path string, l *model.LoRA, dtype string) error {
	s := l.Spec.Scale()
	ts := make([]pth.Tensor, 0, len(l.Specs))
	for _, sp := range l.Specs {
		v, _ := l.View(l.Params, sp.Name)
		if s != 1 && strings.HasSuffix(sp.Name, ".lora.B.weight") {
			v = slices.Clone(v)
			for i := range v {
				v[i] *= s
			}
		}
		ts = append(ts, pth.Tensor{Name: sp.Name, Shape: sp.Shape, Data: v})
	}
	return pth.WriteStateDict(path, ts, dtype)
}

// ReadLoRATensors reads a LoRA file (a torch state dict, or .safetensors)
// as name → (shape, values), the "module." prefix removed.
func ReadLoRATensors(path string) (names []string, shapes map[string][]int, data map[string][]float32, err error) {
	shapes, data = map[string][]int{}, map[string][]float32{}
	add := func(name string, shape []int, v []float32) error {
		n := stripPrefix(name)
		if _, dup := data[n]; dup {
			return fmt.Errorf("%s: tensor %q appears twice", path, n)
		}
		names = append(names, n)
		shapes[n], data[n] = shape, v
		return nil
	}
	if strings.HasSuffix(path, ".safetensors") {
		f, err := safetensors.ReadFile(path)
		if err != nil {
			return nil, nil, nil, err
		}
		for i := range f.Tensors {
			t := &f.Tensors[i]
			v, err := t.Float32s()
			if err != nil {
				return nil, nil, nil, fmt.Errorf("%s: tensor %q: %w", path, t.Name, err)
			}
			if err := add(t.Name, t.Shape, v); err != nil {
				return nil, nil, nil, err
			}
		}
		return names, shapes, data, nil
	}
	ts, err := pth.ReadStateDict(path)
	if err != nil {
		return nil, nil, nil, err
	}
	for _, t := range ts {
		if err := add(t.Name, t.Shape, t.Data); err != nil {
			return nil, nil, nil, err
		}
	}
	return names, shapes, data, nil
}

// LoadLoRA reads a LoRA file written by upstream's save_lora or SaveLoRA
// and attaches it to m (scale 1, as upstream). The rank comes from the
// tensors; the wrapped projections are those the file names, in every
// layer. A key that is not a LoRA tensor, a module the model lacks, a
// missing tensor or a shape that does not fit is an error naming the
// tensor.
func LoadLoRA(path string, m *model.Model) (*model.LoRA, error) {
	names, shapes, data, err := ReadLoRATensors(path)
	if err != nil {
		return nil, err
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("%s: no tensors: not a LoRA file", path)
	}
	rank := 0
	var targets []string
	for _, n := range names {
		module, ok := strings.CutSuffix(n, ".lora.A.weight")
		if !ok {
			module, ok = strings.CutSuffix(n, ".lora.B.weight")
		}
		if !ok {
			return nil, fmt.Errorf("%s: tensor %q is not a LoRA tensor (want {module}.lora.A.weight or .lora.B.weight): %w", path, n, ErrShape)
		}
		proj := module[strings.LastIndexByte(module, '.')+1:]
		if !slices.Contains(model.LoRATargets, proj) {
			return nil, fmt.Errorf("%s: tensor %q: module %s is not a projection this model can wrap (%s): %w", path, n, module, strings.Join(model.LoRATargets, ","), ErrShape)
		}
		if !slices.Contains(targets, proj) {
			targets = append(targets, proj)
		}
		if strings.HasSuffix(n, ".A.weight") && rank == 0 && len(shapes[n]) == 2 {
			rank = shapes[n][0]
		}
	}
	if rank < 1 {
		return nil, fmt.Errorf("%s: no 2-D lora.A tensor gives the rank: %w", path, ErrShape)
	}
	want, _, err := model.LoRAModules(&m.Config, model.LoRASpec{Rank: rank, Targets: targets})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, n := range names {
		module := strings.TrimSuffix(strings.TrimSuffix(n, ".lora.A.weight"), ".lora.B.weight")
		if !slices.Contains(want, module) {
			return nil, fmt.Errorf("%s: tensor %q: the model has no module %s (%d layers): %w", path, n, module, m.Config.NumHiddenLayers, ErrShape)
		}
	}
	l, err := m.AttachLoRA(model.LoRASpec{Rank: rank, Targets: targets})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	for _, sp := range l.Specs {
		shape, ok := shapes[sp.Name]
		if !ok {
			m.DetachLoRA()
			return nil, fmt.Errorf("%s: tensor %q is missing (the file wraps %s in some layers only): %w", path, sp.Name, strings.Join(targets, ","), ErrShape)
		}
		if !slices.Equal(shape, sp.Shape) {
			m.DetachLoRA()
			return nil, fmt.Errorf("%s: tensor %q: shape %s, the model needs %v (rank %d): %w", path, sp.Name, safetensors.FormatShape(shape), sp.Shape, rank, ErrShape)
		}
		v, _ := l.View(l.Params, sp.Name)
		copy(v, data[sp.Name])
	}
	return l, nil
}

// MergeLoRA returns a copy of base with l merged into each wrapped weight,
// as the state dict SavePth would write in dtype: for "F16" upstream's
// merge_lora rule, fp16(W) + fp16(B·A) added in fp16 (so the file equals
// upstream's bit for bit); otherwise W + s·B·A in float32.
func MergeLoRA(base *model.Params, l *model.LoRA, dtype string) (*model.Params, error) {
	p, err := model.NewParams(base.Config)
	if err != nil {
		return nil, err
	}
	copy(p.Data, base.Data)
	if !strings.EqualFold(dtype, "F16") {
		l.Merge(p)
		return p, nil
	}
	for _, module := range l.Modules() {
		w := p.View(p.Data, module+".weight")
		d, _ := l.Delta(module)
		for i := range w {
			sum := half.F16ToFloat32(half.Float32ToF16(w[i])) + half.F16ToFloat32(half.Float32ToF16(d[i]))
			w[i] = half.F16ToFloat32(half.Float32ToF16(sum))
		}
	}
	return p, nil
}
