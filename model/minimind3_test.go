package model_test

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestPresets: every preset is valid, of its family, with upstream's
// parameter count (MiniMind2: the 2510 README's 26M/104M/145M, as
// TestParamCounts; minimind-3: 64M and 198M, 64M active).
func TestPresets(t *testing.T) {
	want := map[string]struct {
		family string
		params int
	}{
		"minimind2-small": {"minimind2", 25_829_888},
		"minimind2":       {"minimind2", 104_030_976},
		"minimind2-moe":   {"minimind2", 145_029_760},
		"minimind3":       {"minimind3", 63_912_192},
		"minimind3-moe":   {"minimind3", 198_416_640},
	}
	names := model.PresetNames()
	if len(names) != len(want) {
		t.Fatalf("PresetNames() = %v", names)
	}
	for _, name := range names {
		c, err := model.Preset(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		w := want[name]
		if c.Family() != w.family || c.NumParams() != w.params {
			t.Errorf("%s: family %s, %d params; want %s, %d", name, c.Family(), c.NumParams(), w.family, w.params)
		}
	}
	c, _ := model.Preset("minimind3")
	if c.HiddenSize != 768 || c.NumHiddenLayers != 8 || c.HeadDim != 96 || c.NumKeyValueHeads != 4 || c.IntermediateSize != 2432 || c.RMSNormEps != 1e-6 {
		t.Errorf("minimind3 preset %+v", c)
	}
	if _, err := model.Preset("minimind4"); err == nil || !strings.Contains(err.Error(), "minimind3-moe") {
		t.Errorf("unknown preset: error %v, want one listing the names", err)
	}
}

// TestConfigJSON3: a minimind-3 config.json is read on minimind-3's
// defaults, written back with only its own fields, and the family is read
// from the keys; mixing the generations is an error naming the fields.
func TestConfigJSON3(t *testing.T) {
	var c model.Config
	src := `{"hidden_size": 512, "num_attention_heads": 8, "use_moe": true, "num_experts": 4,
		"inference_rope_scaling": false, "rope_scaling": {"type": "yarn", "factor": 4, "original_max_position_embeddings": 1024, "beta_fast": 32, "beta_slow": 1}}`
	if err := json.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if c.Family() != "minimind3" || c.HeadDim != 64 || c.IntermediateSize != 1664 || c.ExpertSize() != 1664 || c.RMSNormEps != 1e-6 ||
		c.NumKeyValueHeads != 4 || c.NumExpertsPerTok != 1 || c.AuxCoef() != 5e-4 || c.SharedExperts() != 0 || !c.Tied() {
		t.Fatalf("parsed %+v", c)
	}
	// Upstream's __init__ replaces rope_scaling by inference_rope_scaling.
	if c.Scaling() != nil {
		t.Errorf("rope_scaling kept with inference_rope_scaling false: %+v", c.Scaling())
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"n_routed_experts", "n_shared_experts", "aux_loss_alpha", "seq_aux", "scoring_func"} {
		if strings.Contains(string(out), `"`+k+`"`) {
			t.Errorf("minimind-3 config.json has %s:\n%s", k, out)
		}
	}
	var back model.Config
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.Family() != "minimind3" || back.HeadDim != 64 || back.ExpertSize() != 1664 || back.NumParams() != c.NumParams() {
		t.Errorf("round trip: %+v", back)
	}
	// And a MiniMind2 file has none of minimind-3's fields.
	out2, _ := json.Marshal(model.DefaultConfig())
	if strings.Contains(string(out2), `"head_dim"`) || strings.Contains(string(out2), `"num_experts"`) {
		t.Errorf("MiniMind2 config.json has minimind-3 fields:\n%s", out2)
	}
	err = json.Unmarshal([]byte(`{"head_dim": 64, "seq_aux": true}`), &c)
	if err == nil || !strings.Contains(err.Error(), "seq_aux") || !strings.Contains(err.Error(), "head_dim") {
		t.Errorf("mixed config: error %v", err)
	}
}

// TestSetInferenceRopeScaling: on sets upstream's fixed YaRN dict, off
// removes any rope_scaling (upstream's override), in both families.
func TestSetInferenceRopeScaling(t *testing.T) {
	for _, c := range []model.Config{model.DefaultConfig(), model.DefaultConfig3()} {
		c.RopeScaling = &model.RopeScaling{Type: "yarn", Factor: 4, OriginalMaxPositionEmbeddings: 512, BetaFast: 32, BetaSlow: 1}
		c.SetInferenceRopeScaling(true)
		if s := c.Scaling(); s == nil || *s != *model.DefaultYaRN() || !c.InferenceRopeScaling {
			t.Errorf("%s on: %+v", c.Family(), s)
		}
		c.SetInferenceRopeScaling(false)
		if c.Scaling() != nil {
			t.Errorf("%s off: %+v", c.Family(), c.Scaling())
		}
	}
}

// TestGradientsFiniteDifference3 checks the minimind-3 backward pass
// where no fixture does: an untied LM head, and top-2 routing (weights
// renormalised, balance loss over N·K choices with a large coefficient so
// it shows), against central differences of the float32 training loss.
func TestGradientsFiniteDifference3(t *testing.T) {
	for _, tc := range []struct {
		name string
		moe  bool
		k    int
	}{{"dense-untied", false, 1}, {"moe-top1-untied", true, 1}, {"moe-top2-untied", true, 2}} {
		t.Run(tc.name, func(t *testing.T) {
			c := modeltest.TinyConfig3(tc.moe)
			c.TieWordEmbeddings = false
			c.NumExpertsPerTok, c.RouterAuxLossCoef = tc.k, 0.5
			m := modeltest.Model(t, c, 3, ref.New())
			B, T := 2, 6
			ids, tg, mask := randomBatch(9, B, T, c.VocabSize)
			m.ZeroGrad()
			if _, err := m.ForwardBackward(ids, tg, mask, B, T, 1); err != nil {
				t.Fatal(err)
			}
			// routing is every layer's expert choices of the last pass: a
			// perturbation that flips one makes the loss jump, so that
			// entry is skipped.
			routing := func() string {
				var s []int32
				for l := 0; l < c.NumHiddenLayers; l++ {
					idx, _, _, _ := m.Routing(l)
					s = append(s, idx...)
				}
				return fmt.Sprint(s)
			}
			base := routing()
			flipped := false
			loss := func() float64 {
				st, err := m.Loss(ids, tg, mask, B, T, true)
				if err != nil {
					t.Fatal(err)
				}
				flipped = flipped || routing() != base
				return st.Loss
			}
			checked, skipped := 0, 0
			for si, s := range m.Params.Specs {
				w, g := m.Params.View(m.Params.Data, s.Name), m.Params.View(m.Grads, s.Name)
				for j := 0; j < 2; j++ {
					i := (si*7 + j*13) % len(w)
					old := w[i]
					const h = 1e-2
					flipped = false
					w[i] = old + h
					up := loss()
					w[i] = old - h
					down := loss()
					w[i] = old
					fd := (up - down) / (2 * h)
					if flipped {
						skipped++
						continue
					}
					if d := math.Abs(fd - float64(g[i])); d > 2e-3+0.05*math.Abs(fd) {
						t.Errorf("%s[%d]: grad %.6g, finite difference %.6g", s.Name, i, g[i], fd)
					}
					checked++
				}
			}
			if skipped > checked/4 {
				t.Fatalf("%d entries skipped for routing flips, %d checked", skipped, checked)
			}
			t.Logf("%d entries match central differences (%d skipped: routing flipped)", checked, skipped)
		})
	}
}
