package checkpoint_test

import (
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/pth"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestLoRASaveLoad: SaveLoRA writes upstream's keys in fp16 with the
// alpha/rank scale folded into B, and LoadLoRA (with DDP's "module."
// prefix) gives a model with the same outputs.
func TestLoRASaveLoad(t *testing.T) {
	c := modeltest.TinyConfig(false)
	m := modeltest.Model(t, c, 3, ref.New())
	l, err := m.AttachLoRA(model.LoRASpec{Rank: 2, Alpha: 8, Targets: []string{"q_proj", "down_proj"}, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Params {
		l.Params[i] = float32(i%7-3) / 8 // fp16-exact, B non-zero
	}
	ids := []int32{1, 5, 9, 2}
	want, err := m.Logits(ids, 1, 4, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want = slices.Clone(want)
	path := filepath.Join(t.TempDir(), "lora.pth")
	if err := checkpoint.SaveLoRA(path, l, "F16"); err != nil {
		t.Fatal(err)
	}
	ts, err := pth.ReadStateDict(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range ts {
		ts[i].Name = "module." + ts[i].Name
	}
	if ts[0].Name != "module.model.layers.0.self_attn.q_proj.lora.A.weight" || len(ts) != 2*2*c.NumHiddenLayers {
		t.Fatalf("saved %d tensors, first %s", len(ts), ts[0].Name)
	}
	prefixed := filepath.Join(t.TempDir(), "ddp.pth")
	if err := pth.WriteStateDict(prefixed, ts, "F16"); err != nil {
		t.Fatal(err)
	}
	m2 := model.New(m.Params, ref.New())
	l2, err := checkpoint.LoadLoRA(prefixed, m2)
	if err != nil {
		t.Fatal(err)
	}
	if l2.Spec.Rank != 2 || l2.Spec.Scale() != 1 || !slices.Equal(l2.Modules(), l.Modules()) {
		t.Fatalf("loaded rank %d scale %g modules %v", l2.Spec.Rank, l2.Spec.Scale(), l2.Modules())
	}
	got, err := m2.Logits(ids, 1, 4, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		if d := got[i] - want[i]; d > 1e-5 || d < -1e-5 {
			t.Fatalf("logit %d: %g after save/load, %g before", i, got[i], want[i])
		}
	}
}

// TestLoRALoadBadInput: a file that does not fit the model is an error
// naming the tensor, and the model is left without adapters.
func TestLoRALoadBadInput(t *testing.T) {
	c := modeltest.TinyConfig(false) // 2 layers, hidden 32
	A := func(name string, r, in int) pth.Tensor {
		return pth.Tensor{Name: name + ".lora.A.weight", Shape: []int{r, in}, Data: make([]float32, r*in)}
	}
	B := func(name string, out, r int) pth.Tensor {
		return pth.Tensor{Name: name + ".lora.B.weight", Shape: []int{out, r}, Data: make([]float32, out*r)}
	}
	q0, q1 := "model.layers.0.self_attn.q_proj", "model.layers.1.self_attn.q_proj"
	H := c.HiddenSize
	for _, tc := range []struct {
		name    string
		tensors []pth.Tensor
		want    string
	}{
		{"shape", []pth.Tensor{A(q0, 4, H), B(q0, H, 4), A(q1, 4, H+1), B(q1, H, 4)}, q1 + ".lora.A.weight"},
		{"layer", []pth.Tensor{A(q0, 4, H), B(q0, H, 4), A("model.layers.7.self_attn.q_proj", 4, H), B("model.layers.7.self_attn.q_proj", H, 4)}, "model.layers.7.self_attn.q_proj.lora.A.weight"},
		{"missing", []pth.Tensor{A(q0, 4, H), B(q0, H, 4), A(q1, 4, H)}, q1 + ".lora.B.weight"},
		{"not lora", []pth.Tensor{A(q0, 4, H), {Name: "model.norm.weight", Shape: []int{H}, Data: make([]float32, H)}}, "model.norm.weight"},
		{"module", []pth.Tensor{A("model.layers.0.mlp.gate", 4, H)}, "model.layers.0.mlp.gate.lora.A.weight"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "bad.pth")
			if err := pth.WriteStateDict(path, tc.tensors, "F16"); err != nil {
				t.Fatal(err)
			}
			m := modeltest.Model(t, c, 3, ref.New())
			_, err := checkpoint.LoadLoRA(path, m)
			if err == nil || !strings.Contains(err.Error(), `"`+tc.want+`"`) || !errors.Is(err, checkpoint.ErrShape) {
				t.Fatalf("error %v, want one naming %q", err, tc.want)
			}
			if m.LoRA() != nil {
				t.Error("a failed load left adapters attached")
			}
		})
	}
}
