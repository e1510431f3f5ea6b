package model_test

import (
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

func TestConfigValidate(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(c *model.Config)
		field  string // "" = valid
	}{
		{"default", func(c *model.Config) {}, ""},
		{"default moe", func(c *model.Config) { c.UseMoE = true }, ""},
		{"hidden not divisible", func(c *model.Config) { c.HiddenSize = 500 }, "hidden_size"},
		{"heads not divisible by kv", func(c *model.Config) { c.NumKeyValueHeads = 3 }, "num_key_value_heads"},
		{"topk > experts", func(c *model.Config) { c.UseMoE = true; c.NumExpertsPerTok = 5 }, "num_experts_per_tok"},
		{"zero layers", func(c *model.Config) { c.NumHiddenLayers = 0 }, "num_hidden_layers"},
		{"negative vocab", func(c *model.Config) { c.VocabSize = -1 }, "vocab_size"},
		{"zero intermediate", func(c *model.Config) { c.IntermediateSize = 0 }, "intermediate_size"},
		{"zero experts", func(c *model.Config) { c.UseMoE = true; c.NRoutedExperts = 0 }, "n_routed_experts"},
		{"bad act", func(c *model.Config) { c.HiddenAct = "gelu" }, "hidden_act"},
		{"bad scoring", func(c *model.Config) { c.UseMoE = true; c.ScoringFunc = "sigmoid" }, "scoring_func"},
		{"zero eps", func(c *model.Config) { c.RMSNormEps = 0 }, "rms_norm_eps"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := model.DefaultConfig()
			tc.mutate(&c)
			err := c.Validate()
			switch {
			case tc.field == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case tc.field != "" && err == nil:
				t.Fatalf("no error, want one naming %s", tc.field)
			case tc.field != "" && !strings.Contains(err.Error(), tc.field):
				t.Fatalf("error %q does not name %s", err, tc.field)
			}
		})
	}
}

func TestConfigJSON(t *testing.T) {
	src := `{"hidden_size": 768, "num_hidden_layers": 16, "num_key_value_heads": null,
		"intermediate_size": null, "my_custom_field": {"a": [1, 2]}, "use_moe": true, "model_type": "minimind"}`
	var c model.Config
	if err := json.Unmarshal([]byte(src), &c); err != nil {
		t.Fatal(err)
	}
	if c.HiddenSize != 768 || c.NumHiddenLayers != 16 || c.NumKeyValueHeads != 8 || c.IntermediateSize != 2048 || !c.UseMoE {
		t.Fatalf("parsed %+v", c)
	}
	if c.VocabSize != 6400 || c.RopeTheta != 1e6 || c.AuxLossAlpha != 0.01 {
		t.Fatalf("defaults not kept: %+v", c)
	}
	out, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"my_custom_field":{"a":[1,2]}`, `"model_type":"minimind"`, `"intermediate_size":2048`, `"rope_scaling":null`} {
		if !strings.Contains(string(out), want) {
			t.Errorf("config.json lacks %s:\n%s", want, out)
		}
	}
	var back model.Config
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatal(err)
	}
	if back.HiddenSize != c.HiddenSize || back.IntermediateSize != c.IntermediateSize || string(back.Extra()["my_custom_field"]) != `{"a":[1,2]}` {
		t.Errorf("round trip lost fields: %+v", back)
	}
}

func TestParamCounts(t *testing.T) {
	cases := []struct {
		name   string
		hidden int
		layers int
		inter  int
		moe    bool
		want   int
	}{
		{"MiniMind2-Small", 512, 8, 1408, false, 25_829_888},
		{"MiniMind2", 768, 16, 2048, false, 104_030_976},
		{"MiniMind2-MoE", 640, 8, 1728, true, 145_029_760},
		{"512 MoE", 512, 8, 1408, true, 95_052_288},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := model.DefaultConfig()
			c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize, c.UseMoE = tc.hidden, tc.layers, tc.inter, tc.moe
			if got := c.NumParams(); got != tc.want {
				t.Errorf("params = %d, want %d", got, tc.want)
			}
		})
	}
	if got := model.MiniMindIntermediate(512); got != 1408 {
		t.Errorf("MiniMindIntermediate(512) = %d, want 1408", got)
	}
}

func TestYaRNBounds(t *testing.T) {
	// SPEC §2.2: for hd=64, theta 1e6, orig 2048: dims 0–5 untouched, ≥14 divided by 16.
	c := model.DefaultConfig()
	c.InferenceRopeScaling = true
	plain := model.DefaultConfig()
	_, cs := c.RopeTables(2)
	_, cp := plain.RopeTables(2)
	// position 1: cos(inv_freq); sin(inv_freq) ≈ inv_freq.
	for i := 0; i <= 5; i++ {
		if cs[32+i] != cp[32+i] {
			t.Errorf("dim %d changed by YaRN", i)
		}
	}
	if cs[32+20] == cp[32+20] {
		t.Errorf("dim 20 not scaled by YaRN")
	}
}

func randomBatch(seed uint64, B, T, V int) (ids, tg []int32, mask []float32) {
	r := rand.New(rand.NewPCG(seed, 1))
	for i := 0; i < B*T; i++ {
		ids = append(ids, int32(r.IntN(V)))
		tg = append(tg, int32(r.IntN(V)))
		mask = append(mask, float32(r.IntN(4)/3^1))
	}
	return
}

// TestMoEMatchesDense: one routed expert, top-1, no shared expert and no
// balance loss is exactly a dense FFN with that expert's weights.
func TestMoEMatchesDense(t *testing.T) {
	dc := modeltest.TinyConfig(false)
	mc := modeltest.TinyConfig(true)
	mc.NRoutedExperts, mc.NumExpertsPerTok, mc.NSharedExperts, mc.AuxLossAlpha = 1, 1, 0, 0
	dp := modeltest.Params(t, dc, 3)
	mp := modeltest.Params(t, mc, 4)
	for _, s := range dp.Specs {
		name := strings.Replace(s.Name, ".mlp.", ".mlp.experts.0.", 1)
		copy(mp.View(mp.Data, name), dp.View(dp.Data, s.Name))
	}
	be := ref.New()
	dm, mm := model.New(dp, be), model.New(mp, be)
	ids, tg, mask := randomBatch(5, 2, 7, dc.VocabSize)
	dm.ZeroGrad()
	mm.ZeroGrad()
	ds, err := dm.ForwardBackward(ids, tg, mask, 2, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := mm.ForwardBackward(ids, tg, mask, 2, 7, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d := ds.Loss - ms.Loss; d > 1e-6 || d < -1e-6 {
		t.Fatalf("loss dense %.8f moe %.8f", ds.Loss, ms.Loss)
	}
	for _, s := range dp.Specs {
		name := strings.Replace(s.Name, ".mlp.", ".mlp.experts.0.", 1)
		kerneltest.AllClose(t, "grad/"+s.Name, mp.View(mm.Grads, name), dp.View(dm.Grads, s.Name), 1e-6, 1e-5)
	}
	for l := 0; l < mc.NumHiddenLayers; l++ {
		for _, v := range mp.View(mm.Grads, "model.layers."+string(rune('0'+l))+".mlp.gate.weight") {
			if v != 0 {
				t.Fatalf("router gradient %g, want 0 with a single expert", v)
			}
		}
	}
}

// TestTrainStepNoAlloc: after the first step, a training step and the
// optimizer do not allocate.
func TestTrainStepNoAlloc(t *testing.T) {
	for _, moe := range []bool{false, true} {
		c := modeltest.TinyConfig(moe)
		be := cpu.New(cpu.Options{})
		defer be.Close()
		m := modeltest.Model(t, c, 1, be)
		ids, tg, mask := randomBatch(2, 3, 9, c.VocabSize)
		step := func() {
			m.ZeroGrad()
			if _, err := m.ForwardBackward(ids, tg, mask, 3, 9, 1); err != nil {
				t.Fatal(err)
			}
		}
		step()
		if n := testing.AllocsPerRun(5, step); n != 0 {
			t.Errorf("moe=%v: %v allocations per training step, want 0", moe, n)
		}
		kv, _ := m.NewKVCache(1, 40)
		_, _ = m.Forward(kv, ids[:5], 5, nil, 1)
		dec := func() {
			if kv.Len() >= 39 {
				kv.Reset()
			}
			if _, err := m.Forward(kv, ids[:1], 1, nil, 1); err != nil {
				t.Fatal(err)
			}
		}
		dec()
		if n := testing.AllocsPerRun(20, dec); n != 0 {
			t.Errorf("moe=%v: %v allocations per decode step, want 0", moe, n)
		}
	}
}

func TestBadInput(t *testing.T) {
	m := modeltest.Model(t, modeltest.TinyConfig(false), 0, ref.New())
	if _, err := m.Logits([]int32{1, 2, 999}, 1, 3, nil, 0); err == nil || !strings.Contains(err.Error(), "vocabulary") {
		t.Errorf("out-of-vocabulary id: err = %v", err)
	}
	if _, err := m.Logits([]int32{1, 2}, 1, 3, nil, 0); err == nil {
		t.Error("wrong id count accepted")
	}
	kv, _ := m.NewKVCache(1, 4)
	if _, err := m.Forward(kv, []int32{1, 2, 3, 4, 5}, 5, nil, 1); err == nil {
		t.Error("cache overflow accepted")
	}
}

// TestPositionsPastTheTables: every entry point refuses more positions
// than the RoPE tables hold with an error (the kernels would index past
// them and panic).
func TestPositionsPastTheTables(t *testing.T) {
	c := modeltest.TinyConfig(false)
	m := modeltest.Model(t, c, 1, cpu.New(cpu.Options{Threads: 1}))
	T := c.MaxPositionEmbeddings + 1
	ids, ys, mask := make([]int32, T), make([]int32, T), make([]float32, T)
	for i := range mask {
		mask[i] = 1
	}
	grad := func(_, _ []float32) (float64, error) { return 0, nil }
	for name, call := range map[string]func() error{
		"ForwardBackward": func() error { _, err := m.ForwardBackward(ids, ys, mask, 1, T, 1); return err },
		"Loss":            func() error { _, err := m.Loss(ids, ys, mask, 1, T, true); return err },
		"Logits":          func() error { _, err := m.Logits(ids, 1, T, nil, 0); return err },
		"ForwardBackwardLogits": func() error {
			_, err := m.ForwardBackwardLogits(ids, 1, T, 1, grad)
			return err
		},
		"ForwardBackwardHidden": func() error {
			_, err := m.ForwardBackwardHidden(ids, 1, T, 1, grad)
			return err
		},
	} {
		if err := call(); err == nil || !strings.Contains(err.Error(), "exceed max_position_embeddings") {
			t.Errorf("%s: %v, want a max_position_embeddings error", name, err)
		}
	}
}
