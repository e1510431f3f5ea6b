package checkpoint_test

import (
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

func tinyBase() model.Config {
	c := model.DefaultConfig()
	c.NumAttentionHeads = 4 // the tiny fixtures: 4 heads, head size 16
	return c
}

// TestLoadPthFixtures loads every state dict of the pth fixture and checks
// it equals the safetensors weights rounded to the file's dtype.
func TestLoadPthFixtures(t *testing.T) {
	dir := fixture.Dir(t, "pth")
	cases := []struct {
		file, ref string
		round     func(float32) float32
	}{
		{"tiny-dense.fp32.pth", "tiny-dense", func(x float32) float32 { return x }},
		{"tiny-dense.fp16.pth", "tiny-dense", func(x float32) float32 { return half.F16ToFloat32(half.Float32ToF16(x)) }},
		{"tiny-dense.bf16.pth", "tiny-dense", func(x float32) float32 { return half.BF16ToFloat32(half.Float32ToBF16(x)) }},
		{"tiny-dense.ddp-prefix.fp16.pth", "tiny-dense", func(x float32) float32 { return half.F16ToFloat32(half.Float32ToF16(x)) }},
		{"tiny-moe.fp16.pth", "tiny-moe", func(x float32) float32 { return half.F16ToFloat32(half.Float32ToF16(x)) }},
	}
	for _, tc := range cases {
		t.Run(tc.file, func(t *testing.T) {
			p, err := checkpoint.Load(filepath.Join(dir, tc.file), tinyBase())
			if err != nil {
				t.Fatal(err)
			}
			want, err := checkpoint.LoadHF(fixture.Dir(t, tc.ref))
			if err != nil {
				t.Fatal(err)
			}
			c, w := p.Config, want.Config
			if c.HiddenSize != w.HiddenSize || c.NumHiddenLayers != w.NumHiddenLayers || c.NumKeyValueHeads != w.NumKeyValueHeads ||
				c.IntermediateSize != w.IntermediateSize || c.UseMoE != w.UseMoE || c.NRoutedExperts != w.NRoutedExperts || c.VocabSize != w.VocabSize {
				t.Fatalf("inferred config %+v\nwant %+v", c, w)
			}
			for i, v := range want.Data {
				if p.Data[i] != tc.round(v) {
					t.Fatalf("element %d: %g, want %g", i, p.Data[i], tc.round(v))
				}
			}
		})
	}
}

func TestPthRoundTrip(t *testing.T) {
	p := modeltest.Params(t, modeltest.TinyConfig(false), 7)
	path := filepath.Join(t.TempDir(), "pretrain_16.pth")
	if err := checkpoint.SavePth(path, p, "F32"); err != nil {
		t.Fatal(err)
	}
	q, err := checkpoint.Load(path, p.Config)
	if err != nil {
		t.Fatal(err)
	}
	for i := range p.Data {
		if p.Data[i] != q.Data[i] {
			t.Fatalf("element %d differs", i)
		}
	}
}
