package checkpoint_test

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/pth"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestLoadAbsurdConfig: config.json sizes are checked against the weight
// file before anything is allocated. Each case once panicked in makeslice,
// asked for terabytes or built a layout of 2^40 layers.
func TestLoadAbsurdConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		set  map[string]any
		want error
	}{
		{"hidden 2^40", map[string]any{"hidden_size": 1 << 40}, model.ErrTooLarge},
		{"hidden 2^20", map[string]any{"hidden_size": 1 << 20}, model.ErrTooLarge},
		{"hidden 64 (2x)", map[string]any{"hidden_size": 64}, checkpoint.ErrShape},
		{"vocab 2^40", map[string]any{"vocab_size": 1 << 40}, model.ErrTooLarge},
		{"vocab 2^20", map[string]any{"vocab_size": 1 << 20}, checkpoint.ErrShape},
		{"intermediate 2^40", map[string]any{"intermediate_size": 1 << 40}, model.ErrTooLarge},
		{"intermediate 2^19", map[string]any{"intermediate_size": 1 << 19}, checkpoint.ErrShape},
		{"layers 2^40", map[string]any{"num_hidden_layers": 1 << 40}, model.ErrTooLarge},
		{"layers 4000", map[string]any{"num_hidden_layers": 4000}, checkpoint.ErrShape},
		{"layers 3", map[string]any{"num_hidden_layers": 3}, checkpoint.ErrMissingTensor},
		{"positions 2^40", map[string]any{"max_position_embeddings": 1 << 40}, model.ErrTooLarge},
		{"positions 2^30", map[string]any{"max_position_embeddings": 1 << 30}, model.ErrTooLarge},
		{"experts 1000", map[string]any{"use_moe": true, "n_routed_experts": 1000}, checkpoint.ErrShape},
		{"experts 2^40", map[string]any{"use_moe": true, "n_routed_experts": 1 << 40}, model.ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := checkpoint.SaveHF(dir, modeltest.Params(t, modeltest.TinyConfig(false), 1), safetensors.F16); err != nil {
				t.Fatal(err)
			}
			editConfig(t, filepath.Join(dir, checkpoint.ConfigFile), tt.set)
			_, err := checkpoint.LoadHF(dir)
			if !errors.Is(err, tt.want) {
				t.Fatalf("LoadHF = %v, want an error wrapping %v", err, tt.want)
			}
		})
	}
}

// editConfig sets fields of a config.json file.
func editConfig(tb testing.TB, path string, set map[string]any) {
	tb.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		tb.Fatal(err)
	}
	for k, v := range set {
		m[k] = v
	}
	if b, err = json.Marshal(m); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		tb.Fatal(err)
	}
}

// TestLoadPthAbsurdSizes: a .pth takes its sizes from the tensors (and the
// rest from the caller's base config); a layer index or a base that would
// size a huge model is an error before allocation.
func TestLoadPthAbsurdSizes(t *testing.T) {
	t.Parallel()
	c := modeltest.TinyConfig(false)
	p := modeltest.Params(t, c, 1)
	var ts []pth.Tensor
	for _, s := range p.Specs {
		ts = append(ts, pth.Tensor{Name: s.Name, Shape: s.Shape, Data: p.View(p.Data, s.Name)})
	}
	tests := []struct {
		name  string
		extra string // an extra tensor's name
		base  func(*model.Config)
		want  error
		msg   string
	}{
		{"layer index 10^6", "model.layers.1000000.input_layernorm.weight", nil, checkpoint.ErrShape, "index"},
		{"layer index overflows", "model.layers.99999999999999999999999.input_layernorm.weight", nil, checkpoint.ErrShape, "index"},
		{"layer index 30 of 20 tensors", "model.layers.30.input_layernorm.weight", nil, checkpoint.ErrShape, "index"},
		{"positions 2^40 in base", "", func(c *model.Config) { c.MaxPositionEmbeddings = 1 << 40 }, model.ErrTooLarge, "max_position_embeddings"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			all := ts
			if tt.extra != "" {
				all = append(all[:len(all):len(all)], pth.Tensor{Name: tt.extra, Shape: []int{c.HiddenSize}, Data: make([]float32, c.HiddenSize)})
			}
			path := filepath.Join(t.TempDir(), "m.pth")
			if err := pth.WriteStateDict(path, all, "F32"); err != nil {
				t.Fatal(err)
			}
			base := c
			if tt.base != nil {
				tt.base(&base)
			}
			_, err := checkpoint.LoadPth(path, base)
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("LoadPth = %v, want an error wrapping %v naming %q", err, tt.want, tt.msg)
			}
		})
	}
}
