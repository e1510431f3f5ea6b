package checkpoint_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/pth"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestLoadMiniMind3Fixtures reads the upstream minimind-3 HF directories:
// the family, head_dim, MoE fields and the parameter count upstream reports.
func TestLoadMiniMind3Fixtures(t *testing.T) {
	for _, tc := range []struct {
		dir      string
		headDim  int
		moe      bool
		expertsF int
	}{
		{"minimind3-dense", 16, false, 0},
		{"minimind3-head_dim24", 24, false, 0},
		{"minimind3-moe", 16, true, 64},
		{"minimind3-yarn", 24, false, 0},
	} {
		t.Run(tc.dir, func(t *testing.T) {
			dir := fixture.Dir(t, tc.dir)
			p, err := checkpoint.LoadHF(dir)
			if err != nil {
				t.Fatal(err)
			}
			c := p.Config
			if c.Family() != "minimind3" || c.HeadDim != tc.headDim || c.UseMoE != tc.moe || c.RMSNormEps != 1e-6 || !c.Tied() {
				t.Fatalf("config %+v", c)
			}
			if tc.moe && (c.Experts() != 4 || c.ExpertSize() != tc.expertsF || c.NumExpertsPerTok != 1 || c.AuxCoef() != 5e-4 || c.SharedExperts() != 0) {
				t.Fatalf("MoE fields %+v", c)
			}
			var exp struct {
				N int `json:"num_parameters_unique"`
			}
			if b, err := os.ReadFile(filepath.Join(dir, "expected.json")); err == nil {
				if err := json.Unmarshal(b, &exp); err != nil {
					t.Fatal(err)
				}
			}
			if exp.N != 0 && c.NumParams() != exp.N {
				t.Errorf("%d parameters, upstream counts %d", c.NumParams(), exp.N)
			}
		})
	}
}

// TestMiniMind3PthRoundTrip writes minimind-3 state dicts as upstream's
// trainers do (fp16, both tied keys) and reads them back with a MiniMind2
// base config: the family, head_dim, heads, experts and tying come from
// the tensors alone.
func TestMiniMind3PthRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		name      string
		moe, tied bool
	}{{"dense", false, true}, {"moe", true, true}, {"untied", false, false}} {
		t.Run(tc.name, func(t *testing.T) {
			c := modeltest.TinyConfig3(tc.moe)
			c.TieWordEmbeddings = tc.tied
			p := modeltest.Params(t, c, 11)
			path := filepath.Join(t.TempDir(), "full_sft_32.pth")
			if err := checkpoint.SavePth(path, p, "F16"); err != nil {
				t.Fatal(err)
			}
			ts, err := pth.ReadStateDict(path)
			if err != nil {
				t.Fatal(err)
			}
			heads := 0
			for _, x := range ts {
				if x.Name == model.LMHeadName || x.Name == model.EmbedName {
					heads++
				}
			}
			if heads != 2 {
				t.Fatalf("%d of embed/lm_head keys in the state dict, want both", heads)
			}
			q, err := checkpoint.Load(path, model.DefaultConfig())
			if err != nil {
				t.Fatal(err)
			}
			g := q.Config
			if g.Family() != "minimind3" || g.HeadDim != 12 || g.NumAttentionHeads != 4 || g.NumKeyValueHeads != 2 || g.Tied() != tc.tied ||
				g.UseMoE != tc.moe || g.RMSNormEps != 1e-6 || (tc.moe && (g.Experts() != 4 || g.ExpertSize() != 40)) || (!tc.moe && g.IntermediateSize != 48) {
				t.Fatalf("inferred config %+v", g)
			}
			for i, v := range p.Data {
				if w := half.F16ToFloat32(half.Float32ToF16(v)); q.Data[i] != w {
					t.Fatalf("element %d: %g, want %g", i, q.Data[i], w)
				}
			}
		})
	}
}

// TestPthFamilyFromTensors: MiniMind2 weights read with a minimind-3 base
// config (e.g. --preset minimind3) are MiniMind2: the tensors choose.
func TestPthFamilyFromTensors(t *testing.T) {
	p := modeltest.Params(t, modeltest.TinyConfig(true), 3)
	path := filepath.Join(t.TempDir(), "pretrain_32_moe.pth")
	if err := checkpoint.SavePth(path, p, "F32"); err != nil {
		t.Fatal(err)
	}
	base := model.DefaultConfig3()
	base.NumAttentionHeads = 4
	q, err := checkpoint.Load(path, base)
	if err != nil {
		t.Fatal(err)
	}
	if q.Config.Family() != "minimind2" || q.Config.Experts() != 4 || q.Config.SharedExperts() != 1 || q.Config.HeadSize() != 8 {
		t.Fatalf("config %+v", q.Config)
	}
	for i := range p.Data {
		if p.Data[i] != q.Data[i] {
			t.Fatalf("element %d differs", i)
		}
	}
}

// TestMiniMind3HFRoundTrip saves an untied minimind-3 MoE model as an HF
// directory: config.json keeps only minimind-3's fields, lm_head.weight is
// its own tensor, and everything reads back equal.
func TestMiniMind3HFRoundTrip(t *testing.T) {
	c := modeltest.TinyConfig3(true)
	c.TieWordEmbeddings = false
	p := modeltest.Params(t, c, 5)
	dir := t.TempDir()
	if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(dir, checkpoint.ConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{`"n_routed_experts"`, `"aux_loss_alpha"`, `"seq_aux"`} {
		if strings.Contains(string(raw), k) {
			t.Errorf("config.json has MiniMind2 field %s:\n%s", k, raw)
		}
	}
	f, err := safetensors.ReadFile(filepath.Join(dir, checkpoint.SafetensorsFile))
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := f.Get(model.LMHeadName); !ok {
		t.Fatal("untied lm_head.weight not saved")
	}
	q, err := checkpoint.LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	if q.Config.Family() != "minimind3" || q.Config.Tied() || q.Config.HeadDim != 12 || q.Config.ExpertSize() != 40 {
		t.Fatalf("config %+v", q.Config)
	}
	for i := range p.Data {
		if p.Data[i] != q.Data[i] {
			t.Fatalf("element %d differs", i)
		}
	}
}

// TestMiniMind3BadConfigs: configs that mix the generations, or do not fit
// the weights' generation, are errors naming the field.
func TestMiniMind3BadConfigs(t *testing.T) {
	src := fixture.Dir(t, "minimind3-moe")
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
		want string
	}{
		{"q_norm weights, no head_dim", func(m map[string]any) {
			for _, k := range []string{"head_dim", "num_experts", "moe_intermediate_size", "router_aux_loss_coef"} {
				delete(m, k)
			}
			m["n_routed_experts"], m["n_shared_experts"] = 4, 0
		}, "no head_dim"},
		{"mixed fields", func(m map[string]any) { m["n_shared_experts"] = 1 }, "mixes MiniMind2 fields (n_shared_experts)"},
		{"top-k > experts", func(m map[string]any) { m["num_experts_per_tok"] = 5 }, "num_experts_per_tok 5 exceeds num_experts 4"},
		{"odd head_dim", func(m map[string]any) { m["head_dim"] = 15 }, "head_dim 15 must be even"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, f := range []string{checkpoint.ConfigFile, checkpoint.SafetensorsFile} {
				b, err := os.ReadFile(filepath.Join(src, f))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			b, _ := os.ReadFile(filepath.Join(dir, checkpoint.ConfigFile))
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			tc.edit(m)
			b, _ = json.Marshal(m)
			if err := os.WriteFile(filepath.Join(dir, checkpoint.ConfigFile), b, 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := checkpoint.LoadHF(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
