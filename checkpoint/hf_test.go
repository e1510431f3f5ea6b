package checkpoint_test

import (
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

func TestHFRoundTrip(t *testing.T) {
	for _, dt := range []safetensors.DType{safetensors.F32, safetensors.F16, safetensors.BF16} {
		t.Run(string(dt), func(t *testing.T) {
			p := modeltest.Params(t, modeltest.TinyConfig(false), 7)
			dir := t.TempDir()
			if err := checkpoint.SaveHF(dir, p, dt); err != nil {
				t.Fatal(err)
			}
			q, err := checkpoint.LoadHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			if q.Config.HiddenSize != p.Config.HiddenSize || q.Config.VocabSize != p.Config.VocabSize {
				t.Fatalf("config not kept: %+v", q.Config)
			}
			for i, v := range p.Data {
				want := v
				switch dt {
				case safetensors.F16:
					want = half.F16ToFloat32(half.Float32ToF16(v))
				case safetensors.BF16:
					want = half.BF16ToFloat32(half.Float32ToBF16(v))
				}
				if q.Data[i] != want {
					t.Fatalf("element %d: %g, want %g", i, q.Data[i], want)
				}
			}
		})
	}
}

// TestLoadFixture reads the tiny-dense fixture, whose safetensors lacks
// lm_head.weight (tied).
func TestLoadFixture(t *testing.T) {
	p, err := checkpoint.LoadHF(fixture.Dir(t, "tiny-dense"))
	if err != nil {
		t.Fatal(err)
	}
	if n := len(p.Data); n != 119104 {
		t.Errorf("%d parameters, want 119104", n)
	}
}

func writeTensors(t *testing.T, dir string, p *model.Params, edit func([]safetensors.Tensor) []safetensors.Tensor) {
	t.Helper()
	if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, checkpoint.SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	ts := edit(append([]safetensors.Tensor(nil), f.Tensors...))
	out, err := os.Create(filepath.Join(dir, checkpoint.SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := safetensors.Write(out, ts, nil); err != nil {
		t.Fatal(err)
	}
}

func TestLoadErrors(t *testing.T) {
	cases := []struct {
		name    string
		edit    func([]safetensors.Tensor) []safetensors.Tensor
		want    string
		wantErr error
	}{
		{"missing tensor", func(ts []safetensors.Tensor) []safetensors.Tensor { return ts[1:] }, "model.embed_tokens.weight", checkpoint.ErrMissingTensor},
		{"lm_head only", func(ts []safetensors.Tensor) []safetensors.Tensor {
			ts[0].Name = model.LMHeadName
			return ts
		}, "", nil},
		{"shape mismatch", func(ts []safetensors.Tensor) []safetensors.Tensor {
			for i := range ts {
				if ts[i].Name == "model.norm.weight" {
					ts[i].Shape = []int{2, ts[i].Shape[0] / 2} // same size, wrong shape
				}
			}
			return ts
		}, "model.norm.weight", checkpoint.ErrShape},
		{"unknown tensor", func(ts []safetensors.Tensor) []safetensors.Tensor {
			x := ts[len(ts)-1]
			x.Name = "model.layers.9.mlp.gate_proj.weight"
			return append(ts, x)
		}, "model.layers.9.mlp.gate_proj.weight", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			writeTensors(t, dir, modeltest.Params(t, modeltest.TinyConfig(false), 7), tc.edit)
			_, err := checkpoint.LoadHF(dir)
			if tc.want == "" {
				if err != nil {
					t.Fatalf("unexpected error %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v does not name %s", err, tc.want)
			}
			if tc.wantErr != nil && !errors.Is(err, tc.wantErr) {
				t.Fatalf("error %v is not %v", err, tc.wantErr)
			}
		})
	}
	t.Run("truncated", func(t *testing.T) {
		dir := t.TempDir()
		p := modeltest.Params(t, modeltest.TinyConfig(false), 7)
		if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, checkpoint.SafetensorsFile)
		b, _ := os.ReadFile(path)
		for _, n := range []int{0, 5, 100, len(b) / 2, len(b) - 1} {
			if err := os.WriteFile(path, b[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			if _, err := checkpoint.LoadHF(dir); err == nil {
				t.Errorf("truncated to %d bytes: no error", n)
			}
		}
	})
	t.Run("bad config", func(t *testing.T) {
		dir := t.TempDir()
		_ = os.WriteFile(filepath.Join(dir, checkpoint.ConfigFile), []byte(`{"hidden_size": 100, "num_attention_heads": 8}`), 0o644)
		if _, err := checkpoint.LoadHF(dir); err == nil || !strings.Contains(err.Error(), "hidden_size") {
			t.Errorf("err = %v, want one naming hidden_size", err)
		}
	})
}

// TestLoadHFDecodesInPlace: loading an F32 checkpoint allocates the file
// and the parameters, not a third copy of the weights in transit (each
// tensor decoded into a buffer of its own, then copied).
func TestLoadHFDecodesInPlace(t *testing.T) {
	c := modeltest.TinyConfig(false)
	c.HiddenSize, c.IntermediateSize, c.NumHiddenLayers, c.VocabSize = 128, 384, 4, 1024
	p := modeltest.Params(t, c, 3)
	dir := t.TempDir()
	if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	q, err := checkpoint.LoadHF(dir)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	weights := uint64(4 * len(p.Data))
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > weights*5/2 {
		t.Errorf("LoadHF allocated %d bytes for %d bytes of weights (want the file and the parameters, about 2×)", alloc, weights)
	}
	if !slices.Equal(q.Data, p.Data) {
		t.Error("weights differ")
	}
}
