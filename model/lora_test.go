package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// loraFixture is posttrain/lora: upstream's apply_lora(rank 4) on
// minimind3-dense with fixed A, B.
type loraFixture struct {
	dir     string
	base    *model.Params
	ids     []int32
	targets []int32
	mask    []float32
	B, T    int
}

func loadLoRAFixture(t *testing.T) *loraFixture {
	t.Helper()
	dir := fixture.Dir(t, "posttrain/lora")
	base, err := checkpoint.LoadHF(fixture.Dir(t, "minimind3-dense"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	var in struct {
		IDs    [][]int32 `json:"input_ids"`
		Labels [][]int32 `json:"labels"`
	}
	if err := json.Unmarshal(b, &in); err != nil {
		t.Fatal(err)
	}
	f := &loraFixture{dir: dir, base: base, B: len(in.IDs), T: len(in.IDs[0])}
	for r := range in.IDs {
		f.ids = append(f.ids, in.IDs[r]...)
		// HF labels are shifted inside the loss: position i predicts labels[i+1].
		for i := 0; i < f.T; i++ {
			y := int32(-100)
			if i+1 < f.T {
				y = in.Labels[r][i+1]
			}
			m := float32(0)
			if y >= 0 {
				m = 1
			} else {
				y = -1
			}
			f.targets, f.mask = append(f.targets, y), append(f.mask, m)
		}
	}
	return f
}

func readST(t *testing.T, path string) map[string][]float32 {
	t.Helper()
	sf, err := safetensors.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]float32{}
	for i := range sf.Tensors {
		v, err := sf.Tensors[i].Float32s()
		if err != nil {
			t.Fatal(err)
		}
		out[sf.Tensors[i].Name] = v
	}
	return out
}

func maxAbsDiff(a, b []float32) (float64, int) {
	worst, at := 0.0, -1
	for i := range a {
		if d := math.Abs(float64(a[i]) - float64(b[i])); d > worst || math.IsNaN(d) {
			worst, at = d, i
		}
	}
	return worst, at
}

// TestLoRAParity checks the LoRA model against upstream: the keys of
// upstream's lora.pth, the logits, the loss, the LoRA-only gradients and
// the merged weights in fp32 and as upstream's fp16 merge_lora writes them.
func TestLoRAParity(t *testing.T) {
	f := loadLoRAFixture(t)
	m := model.New(f.base, ref.New())
	l, err := checkpoint.LoadLoRA(filepath.Join(f.dir, "lora.pth"), m)
	if err != nil {
		t.Fatal(err)
	}
	var exp struct {
		Rank    int      `json:"rank"`
		Wrapped []string `json:"wrapped_linears"`
		Loss    float64  `json:"loss"`
	}
	b, err := os.ReadFile(filepath.Join(f.dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	got := slices.Sorted(slices.Values(l.Modules()))
	if !slices.Equal(got, exp.Wrapped) || l.Spec.Rank != exp.Rank {
		t.Fatalf("wrapped %v rank %d, upstream %v rank %d", got, l.Spec.Rank, exp.Wrapped, exp.Rank)
	}
	// The same square rule on a fresh model wraps the same modules.
	fresh, err := model.New(f.base, ref.New()).AttachLoRA(model.LoRASpec{Rank: 4})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(fresh.Modules(), l.Modules()) {
		t.Errorf("square rule wraps %v, upstream's lora.pth %v", fresh.Modules(), l.Modules())
	}
	// Key names and order as upstream's save_lora wrote them.
	names, _, _, err := checkpoint.ReadLoRATensors(filepath.Join(f.dir, "lora.pth"))
	if err != nil {
		t.Fatal(err)
	}
	var ours []string
	for _, s := range l.Specs {
		ours = append(ours, s.Name)
	}
	if !slices.Equal(names, ours) {
		t.Errorf("keys %v, upstream %v", ours, names)
	}
	for name, want := range readST(t, filepath.Join(f.dir, "lora.safetensors")) {
		v, ok := l.View(l.Params, name)
		if !ok || !slices.Equal(v, want) {
			t.Errorf("%s: loaded values differ from lora.safetensors", name)
		}
	}

	logits, err := m.Logits(f.ids, f.B, f.T, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	want := readST(t, filepath.Join(f.dir, "expected.safetensors"))["logits"]
	if d, i := maxAbsDiff(logits, want); d > 1e-4 {
		t.Errorf("logits: max |diff| %g at %d (%g vs %g)", d, i, logits[i], want[i])
	}

	m.ZeroGrad()
	st, err := m.ForwardBackward(f.ids, f.targets, f.mask, f.B, f.T, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(st.Loss - exp.Loss); d > 2e-6 {
		t.Errorf("loss %.8f, upstream %.8f", st.Loss, exp.Loss)
	}
	if m.Grads != nil {
		t.Errorf("the base has a gradient slab (%d values) while a LoRA is attached", len(m.Grads))
	}
	for name, want := range readST(t, filepath.Join(f.dir, "grads.safetensors")) {
		t.Run("grad/"+name, func(t *testing.T) {
			g, ok := l.View(l.Grads, name)
			if !ok {
				t.Fatal("no such LoRA tensor")
			}
			if d, i := maxAbsDiff(g, want); d > 5e-5 {
				t.Errorf("max |diff| %g at %d (%g vs %g)", d, i, g[i], want[i])
			}
		})
	}

	merged32, err := checkpoint.MergeLoRA(f.base, l, "F32")
	if err != nil {
		t.Fatal(err)
	}
	merged16, err := checkpoint.MergeLoRA(f.base, l, "F16")
	if err != nil {
		t.Fatal(err)
	}
	up16 := readST(t, filepath.Join(f.dir, "merged_upstream_fp16.safetensors"))
	for name, want := range readST(t, filepath.Join(f.dir, "merged.safetensors")) {
		t.Run("merged/"+name, func(t *testing.T) {
			if d, i := maxAbsDiff(merged32.View(merged32.Data, name), want); d > 1e-6 {
				t.Errorf("fp32: max |diff| %g at %d", d, i)
			}
			if d, i := maxAbsDiff(merged16.View(merged16.Data, name), up16[name]); d > 0 {
				t.Errorf("fp16: max |diff| %g at %d from upstream's merge_lora", d, i)
			}
		})
	}
	// The merged fp32 model computes the LoRA model's logits (upstream:
	// max diff 1.76e-5).
	plain, err := model.New(merged32, ref.New()).Logits(f.ids, f.B, f.T, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := maxAbsDiff(plain, want); d > 1e-4 {
		t.Errorf("merged model's logits: max |diff| %g", d)
	}
	if d, _ := maxAbsDiff(f.base.Data, mustBase(t).Data); d != 0 {
		t.Errorf("merging changed the base weights")
	}
}

func mustBase(t *testing.T) *model.Params {
	p, err := checkpoint.LoadHF(fixture.Dir(t, "minimind3-dense"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestLoRAFiniteDifference checks the LoRA gradients, with a scale and
// every projection wrapped (MiniMind2 and minimind-3, dense and MoE),
// against central differences of the loss in float64-free form: a few
// coordinates of A and B per tensor.
func TestLoRAFiniteDifference(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    model.Config
	}{
		{"minimind2", modeltest.TinyConfig(false)},
		{"minimind2-moe", modeltest.TinyConfig(true)},
		{"minimind3", modeltest.TinyConfig3(false)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := modeltest.Model(t, tc.c, 5, ref.New())
			l, err := m.AttachLoRA(model.LoRASpec{Rank: 3, Alpha: 6, Targets: model.LoRATargets, Seed: 1})
			if err != nil {
				t.Fatal(err)
			}
			// B = 0 would make dA vanish: give B values.
			for _, s := range l.Specs {
				if v, _ := l.View(l.Params, s.Name); s.Shape[1] == 3 {
					for i := range v {
						v[i] = float32(math.Sin(float64(i+s.Offset))) * 0.1
					}
				}
			}
			B, T := 2, 5
			ids := make([]int32, B*T)
			targets := make([]int32, B*T)
			mask := make([]float32, B*T)
			for i := range ids {
				ids[i] = int32((i*7 + 3) % tc.c.VocabSize)
				targets[i] = int32((i*5 + 1) % tc.c.VocabSize)
				mask[i] = 1
			}
			m.ZeroGrad()
			if _, err := m.ForwardBackward(ids, targets, mask, B, T, 1); err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				st, err := m.Loss(ids, targets, mask, B, T, true)
				if err != nil {
					t.Fatal(err)
				}
				return st.Loss
			}
			const h = 1e-2
			checked := 0
			for _, s := range l.Specs {
				p, _ := l.View(l.Params, s.Name)
				g, _ := l.View(l.Grads, s.Name)
				for _, i := range []int{0, len(p) / 2, len(p) - 1} {
					x := p[i]
					p[i] = x + h
					up := loss()
					p[i] = x - h
					down := loss()
					p[i] = x
					fd := (up - down) / (2 * h)
					if d := math.Abs(fd - float64(g[i])); d > 2e-3+0.02*math.Abs(fd) {
						t.Errorf("%s[%d]: analytic %g, finite difference %g", s.Name, i, g[i], fd)
					}
					checked++
				}
			}
			if checked == 0 {
				t.Fatal("nothing checked")
			}
		})
	}
}

// TestLoRAModulesRule: upstream's square rule wraps q_proj and o_proj when
// heads·head_dim = hidden, nothing otherwise (an error that says what to
// do); --lora_targets wraps the named projections of every block, experts
// included; unknown names are errors naming them.
func TestLoRAModulesRule(t *testing.T) {
	c := modeltest.TinyConfig(true) // 4 experts, MoE
	names, _, err := model.LoRAModules(&c, model.LoRASpec{Rank: 2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.o_proj", "model.layers.1.self_attn.q_proj", "model.layers.1.self_attn.o_proj"}
	if !slices.Equal(names, want) {
		t.Errorf("square rule: %v, want %v", names, want)
	}
	names, _, err = model.LoRAModules(&c, model.LoRASpec{Rank: 2, Targets: []string{"up_proj", "v_proj"}})
	if err != nil {
		t.Fatal(err)
	}
	if n := c.NumHiddenLayers * (1 + c.Experts() + c.SharedExperts()); len(names) != n || names[1] != "model.layers.0.mlp.experts.0.up_proj" {
		t.Errorf("targets up_proj,v_proj: %d modules %v, want %d", len(names), names, n)
	}
	c3 := modeltest.TinyConfig3(false) // head_dim 12: q_proj is [48,32]
	_, err = model.New(modeltest.Params(t, c3, 1), ref.New()).AttachLoRA(model.LoRASpec{Rank: 2})
	if err == nil || !strings.Contains(err.Error(), "--lora_targets") {
		t.Errorf("square rule on a non-square model: %v", err)
	}
	if _, _, err := model.LoRAModules(&c, model.LoRASpec{Rank: 2, Targets: []string{"qproj"}}); err == nil || !strings.Contains(err.Error(), `"qproj"`) {
		t.Errorf("unknown target: %v", err)
	}
}
