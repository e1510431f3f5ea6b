package kerneltest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/model"
)

// Fixtures runs the tiny-dense and tiny-moe models on b and compares the
// loss and every gradient with PyTorch's.
func Fixtures(t *testing.T, b kernels.Backend) {
	for _, name := range []string{"tiny-dense", "tiny-moe"} {
		t.Run(name, func(t *testing.T) {
			dir := fixture.Dir(t, name)
			p, err := checkpoint.LoadHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			m := model.New(p, b)
			var in struct {
				X        [][]int32   `json:"X"`
				Y        [][]int32   `json:"Y"`
				LossMask [][]float32 `json:"loss_mask"`
			}
			var exp struct {
				Loss float64 `json:"loss"`
			}
			for file, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
				raw, err := os.ReadFile(filepath.Join(dir, file))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(raw, v); err != nil {
					t.Fatal(err)
				}
			}
			var ids, tg []int32
			var mask []float32
			for i := range in.X {
				ids, tg, mask = append(ids, in.X[i]...), append(tg, in.Y[i]...), append(mask, in.LossMask[i]...)
			}
			m.ZeroGrad()
			st, err := m.ForwardBackward(ids, tg, mask, len(in.X), len(in.X[0]), 1)
			if err != nil {
				t.Fatal(err)
			}
			if d := st.Loss - exp.Loss; d > 1e-5 || d < -1e-5 {
				t.Errorf("loss %.8f, want %.8f", st.Loss, exp.Loss)
			}
			grads, err := safetensors.ReadFile(filepath.Join(dir, "grads.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range p.Specs {
				gt, ok := grads.Get(s.Name)
				if !ok {
					t.Fatalf("fixture lacks grad %s", s.Name)
				}
				want, err := gt.Float32s()
				if err != nil {
					t.Fatal(err)
				}
				AllClose(t, "grad/"+s.Name, p.View(m.Grads, s.Name), want, 1e-5, 0)
			}
		})
	}
}
