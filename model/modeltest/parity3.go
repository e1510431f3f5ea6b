package modeltest

import (
	"fmt"
	"math"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/model"
)

// m3Case is one minimind-3 forward+backward fixture with the tolerances
// its README recommends.
type m3Case struct {
	dir                      string
	logits, loss, aux, grads float64
}

var m3Cases = []m3Case{
	{dir: "minimind3-dense", logits: 1e-4, loss: 5e-6, grads: 2e-5},
	{dir: "minimind3-head_dim24", logits: 1e-4, loss: 2e-6, grads: 1e-5},
	{dir: "minimind3-moe", logits: 5e-5, loss: 2e-6, aux: 1e-9, grads: 2e-5},
}

// m3Inputs is inputs.json of the minimind-3 fixtures: upstream's
// input_ids and labels (-100 = ignored), the loss being
// CE(logits[:, :-1], labels[:, 1:]).
type m3Inputs struct {
	InputIDs [][]int32 `json:"input_ids"`
	Labels   [][]int32 `json:"labels"`
}

// m3Expected is the part of expected.json the checks use.
type m3Expected struct {
	Loss         float64   `json:"loss"`
	CELoss       float64   `json:"ce_loss"`
	AuxLoss      float64   `json:"aux_loss"`
	AuxPerLayer  []float64 `json:"aux_loss_per_layer"`
	UnusedZero   []string  `json:"unused_experts_zero_grad"`
	RouterGradMx float64   `json:"router_grad_max_abs"`
	Routing      struct {
		Experts [][][]int32 `json:"experts_per_token_per_layer"`
	} `json:"routing"`
}

// targets turns upstream's labels into the model's per-position targets:
// position t predicts labels[t+1]; the last position and -100 are ignored.
func m3Targets(labels [][]int32) (tg []int32, mask []float32) {
	for _, row := range labels {
		for t := range row {
			v := int32(-100)
			if t+1 < len(row) {
				v = row[t+1]
			}
			m := float32(0)
			if v >= 0 {
				m = 1
			}
			tg, mask = append(tg, v), append(mask, m)
		}
	}
	return tg, mask
}

// m3TrainStep checks a minimind-3 fixture: loss, CE and aux, per-layer aux
// and router choices and probabilities (MoE), final hidden states,
// per-token CE, logits (training and eval mode) and every gradient.
func m3TrainStep(t *testing.T, be kernels.Backend, tc m3Case) {
	dir := fixture.Dir(t, tc.dir)
	m := loadModel(t, dir, be, "")
	if got := m.Config.Family(); got != "minimind3" {
		t.Fatalf("family %q, want minimind3", got)
	}
	var in m3Inputs
	readJSON(t, filepath.Join(dir, "inputs.json"), &in)
	var exp m3Expected
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	B, T := len(in.InputIDs), len(in.InputIDs[0])
	ids := flatten(in.InputIDs)
	tg, mask := m3Targets(in.Labels)

	m.ZeroGrad()
	st, err := m.ForwardBackward(ids, tg, mask, B, T, 1)
	if err != nil {
		t.Fatal(err)
	}
	report := map[string]float64{"loss": math.Abs(st.Loss - exp.Loss)}
	if math.Abs(st.Loss-exp.Loss) > tc.loss || math.Abs(st.CE-exp.CELoss) > tc.loss || math.Abs(st.Aux-exp.AuxLoss) > max(tc.aux, 1e-12) {
		t.Errorf("loss %.9g ce %.9g aux %.9g, want %.9g %.9g %.9g", st.Loss, st.CE, st.Aux, exp.Loss, exp.CELoss, exp.AuxLoss)
	}
	want := ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	report["final_hidden"] = kerneltest.AllClose(t, "final_hidden", m.FinalHidden(true), Floats(t, want, "final_hidden"), tc.logits, 0)
	// token_ce is [B,T-1], 0 where ignored.
	tokWant := Floats(t, want, "token_ce")
	losses := m.TokenLosses(true)
	got := make([]float32, 0, len(tokWant))
	for b := 0; b < B; b++ {
		for s := 0; s < T-1; s++ {
			v := float32(0)
			if mask[b*T+s] > 0 {
				v = losses[b*T+s]
			}
			got = append(got, v)
		}
	}
	report["token_ce"] = kerneltest.AllClose(t, "token_ce", got, tokWant, 5e-5, 0)

	if m.Config.UseMoE {
		for l := 0; l < m.Config.NumHiddenLayers; l++ {
			idx, probs, aux, ok := m.Routing(l)
			if !ok {
				t.Fatalf("layer %d: no routing", l)
			}
			if math.Abs(aux-exp.AuxPerLayer[l]) > tc.aux {
				t.Errorf("layer %d aux %.12g, want %.12g", l, aux, exp.AuxPerLayer[l])
			}
			for n, e := range exp.Routing.Experts[l] {
				if idx[n] != e[0] {
					t.Errorf("layer %d token %d: expert %d, want %d", l, n, idx[n], e[0])
				}
			}
			kerneltest.AllClose(t, fmt.Sprintf("router_probs.layer%d", l), probs, Floats(t, want, fmt.Sprintf("router_probs.layer%d", l)), 1e-5, 0)
		}
	}

	grads := ReadTensors(t, filepath.Join(dir, "grads.safetensors"))
	for _, s := range m.Params.Specs {
		g, w := m.Params.View(m.Grads, s.Name), Floats(t, grads, s.Name)
		d := kerneltest.AllClose(t, "grad/"+s.Name, g, w, tc.grads, 0)
		report["grads"] = math.Max(report["grads"], d)
		if m.Config.UseMoE && isRouter(s.Name) {
			// Only the aux term feeds the router: also relative to its
			// own largest entry (README: rel <= 1e-3).
			var wmax float64
			for _, v := range w {
				wmax = math.Max(wmax, math.Abs(float64(v)))
			}
			if wmax == 0 {
				t.Fatalf("%s: fixture gradient is all zero", s.Name)
			}
			kerneltest.AllClose(t, "grad_rel/"+s.Name, g, w, 1e-3*wmax, 0)
		}
	}
	for _, name := range exp.UnusedZero {
		for i, v := range m.Params.View(m.Grads, name) {
			if v != 0 {
				t.Fatalf("unused expert %s: grad[%d] = %g, want 0", name, i, v)
			}
		}
	}

	logits, err := m.Logits(ids, B, T, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	report["logits"] = kerneltest.AllClose(t, "logits", logits, Floats(t, want, "logits"), tc.logits, 0)
	ev, err := m.Loss(ids, tg, mask, B, T, false)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Aux != 0 || math.Abs(ev.CE-exp.CELoss) > tc.loss {
		t.Errorf("eval mode: ce %.9g aux %g, want %.9g and 0", ev.CE, ev.Aux, exp.CELoss)
	}
	t.Logf("max |diff|: %s", fmtReport(report))
}

func isRouter(name string) bool {
	return len(name) > len("mlp.gate.weight") && name[len(name)-len("mlp.gate.weight"):] == "mlp.gate.weight"
}

// m3Decode checks the KV cache on a minimind-3 fixture: feeding row 0 of
// inputs.json one token at a time gives the full forward pass's logits at
// every position (after a 5-token prefill).
func m3Decode(t *testing.T, be kernels.Backend, dir string) {
	d := fixture.Dir(t, dir)
	m := loadModel(t, d, be, "")
	var in m3Inputs
	readJSON(t, filepath.Join(d, "inputs.json"), &in)
	ids := in.InputIDs[0]
	T, V := len(ids), m.Config.VocabSize
	full, err := m.Logits(ids, 1, T, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	full = append([]float32(nil), full...)
	kv, err := m.NewKVCache(1, T)
	if err != nil {
		t.Fatal(err)
	}
	const prefill = 5
	out, err := m.Forward(kv, ids[:prefill], prefill, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	maxd := kerneltest.AllClose(t, "prefill", out, full[:prefill*V], 1e-4, 0)
	for p := prefill; p < T; p++ {
		if out, err = m.Forward(kv, ids[p:p+1], 1, nil, 1); err != nil {
			t.Fatal(err)
		}
		maxd = max(maxd, kerneltest.AllClose(t, fmt.Sprintf("decode_pos%d", p), out, full[p*V:(p+1)*V], 1e-4, 0))
	}
	t.Logf("%s decode vs full forward: max |logit diff| %.2g over %d positions", dir, maxd, T)
}

// m3Yarn checks YaRN (inference_rope_scaling): the RoPE table rows and the
// logits and final hidden states of a 2080-token sequence at the kept
// positions, with and without the scaling.
func m3Yarn(t *testing.T, be kernels.Backend) {
	dir := fixture.Dir(t, "minimind3-yarn")
	p := loadModel(t, dir, be, "").Params
	var in struct {
		InputIDs [][]int32 `json:"input_ids"`
	}
	readJSON(t, filepath.Join(dir, "inputs.json"), &in)
	var exp struct {
		Kept []int `json:"positions_kept"`
		Rows []int `json:"rope_rows_positions"`
	}
	readJSON(t, filepath.Join(dir, "expected.json"), &exp)
	want := ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	ids := in.InputIDs[0]
	T := len(ids)
	for _, on := range []bool{true, false} {
		suffix := ""
		if !on {
			suffix = "_without_scaling"
		}
		t.Run(fmt.Sprintf("scaling=%v", on), func(t *testing.T) {
			cfg := p.Config
			cfg.SetInferenceRopeScaling(on)
			if (cfg.Scaling() != nil) != on {
				t.Fatalf("Scaling() = %v with inference_rope_scaling %v", cfg.Scaling(), on)
			}
			// Tables: upstream stores cat(cos, cos) rows of head_dim.
			hs := cfg.HeadSize()
			cos, sin := cfg.RopeTables(cfg.MaxPositionEmbeddings)
			var gotCos, gotSin []float32
			for _, pos := range exp.Rows {
				for j := 0; j < hs; j++ {
					i := pos*hs/2 + j%(hs/2)
					gotCos, gotSin = append(gotCos, cos[i]), append(gotSin, sin[i])
				}
			}
			kerneltest.AllClose(t, "rope_cos_rows"+suffix, gotCos, Floats(t, want, "rope_cos_rows"+suffix), 1e-4, 0)
			kerneltest.AllClose(t, "rope_sin_rows"+suffix, gotSin, Floats(t, want, "rope_sin_rows"+suffix), 1e-4, 0)

			q := *p
			q.Config = cfg
			m := model.New(&q, be)
			logits, err := m.Logits(ids, 1, T, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			V, C := cfg.VocabSize, cfg.HiddenSize
			wantL := Floats(t, want, "logits"+suffix)
			var wantH []float32
			if on {
				wantH = Floats(t, want, "final_hidden")
			}
			hidden := m.FinalHidden(false)
			var maxFirst, maxLast float64
			for j, pos := range exp.Kept {
				tol := 1e-4 // README: first positions 1e-4, last ones 1e-3
				if pos >= 2048 {
					tol = 1e-3
				}
				name := fmt.Sprintf("logits%s[pos %d]", suffix, pos)
				d := kerneltest.AllClose(t, name, logits[pos*V:(pos+1)*V], wantL[j*V:(j+1)*V], tol, 0)
				if wantH != nil {
					kerneltest.AllClose(t, fmt.Sprintf("final_hidden[pos %d]", pos), hidden[pos*C:(pos+1)*C], wantH[j*C:(j+1)*C], tol, 0)
				}
				if pos >= 2048 {
					maxLast = max(maxLast, d)
				} else {
					maxFirst = max(maxFirst, d)
				}
			}
			t.Logf("max |logit diff| first %.2g, last %.2g", maxFirst, maxLast)
		})
	}
}
