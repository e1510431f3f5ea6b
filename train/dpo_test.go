package train_test

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// dpoFixtureBatch is posttrain/dpo's inputs as a data.Batch: chosen rows,
// then rejected rows.
func dpoFixtureBatch(t *testing.T, dir string) *data.Batch {
	var in struct {
		XC [][]int32   `json:"x_chosen"`
		YC [][]int32   `json:"y_chosen"`
		MC [][]float32 `json:"mask_chosen"`
		XR [][]int32   `json:"x_rejected"`
		YR [][]int32   `json:"y_rejected"`
		MR [][]float32 `json:"mask_rejected"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	P, T := len(in.XC), len(in.XC[0])
	b := &data.Batch{B: 2 * P, T: T, Pairs: P, Indices: []int{0, 1}}
	for _, rows := range [][][]int32{in.XC, in.XR} {
		for _, r := range rows {
			b.X = append(b.X, r...)
		}
	}
	for _, rows := range [][][]int32{in.YC, in.YR} {
		for _, r := range rows {
			b.Y = append(b.Y, r...)
		}
	}
	for _, rows := range [][][]float32{in.MC, in.MR} {
		for _, r := range rows {
			b.LossMask = append(b.LossMask, r...)
		}
	}
	return b
}

// TestDPOParity checks both DPO variants against the upstream trainer's
// numbers (posttrain/dpo): loss, per-pair z, sequence scores, per-token
// log-probs and every policy gradient.
func TestDPOParity(t *testing.T) {
	dir := fixture.Dir(t, "posttrain/dpo")
	polDir := fixture.Dir(t, "minimind3-dense")
	be := cpu.New(cpu.Options{})
	defer be.Close()
	var exp map[string]struct {
		Beta   float64   `json:"beta"`
		Loss   float64   `json:"loss"`
		Z      []float64 `json:"logits_pi_minus_ref"`
		PolSeq []float64 `json:"policy_seq_logp"`
		RefSeq []float64 `json:"ref_seq_logp"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	want := modeltest.ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	b := dpoFixtureBatch(t, dir)
	for _, tc := range []struct{ name, loss, grads string }{
		{"head", train.DPOSum, "grads_head.safetensors"},
		{"v2510", train.DPOMean, "grads_2510.safetensors"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := exp[tc.name]
			pol, err := checkpoint.LoadHF(polDir)
			if err != nil {
				t.Fatal(err)
			}
			refP, err := model.NewParams(pol.Config)
			if err != nil {
				t.Fatal(err)
			}
			f, err := safetensors.ReadFile(filepath.Join(dir, "..", "ref_model.safetensors"))
			if err != nil {
				t.Fatal(err)
			}
			if err := checkpoint.FillFromSafetensors(refP, f); err != nil {
				t.Fatal(err)
			}
			policy, ref := model.New(pol, be), model.New(refP, be)
			d, err := train.NewDPO(policy, ref, train.DPOOptions{Loss: tc.loss})
			if err != nil {
				t.Fatal(err)
			}
			if d.Opts.Beta != e.Beta {
				t.Fatalf("default beta %g, want %g", d.Opts.Beta, e.Beta)
			}
			policy.ZeroGrad()
			st, rw, err := d.Step(context.Background(), b, 1)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(st.Loss-e.Loss) > 2e-6 || st.Aux != 0 {
				t.Errorf("loss %.9g (aux %g), want %.9g", st.Loss, st.Aux, e.Loss)
			}
			pol4, ref4 := d.Scores()
			for i := range 4 {
				// The README's tolerance is per token (1e-4); a score sums
				// up to 7 of them.
				if math.Abs(pol4[i]-e.PolSeq[i]) > 7e-4 || math.Abs(ref4[i]-e.RefSeq[i]) > 7e-4 {
					t.Errorf("row %d: scores %.7g, %.7g; want %.7g, %.7g", i, pol4[i], ref4[i], e.PolSeq[i], e.RefSeq[i])
				}
			}
			beta := e.Beta
			wantChosen := beta * ((e.PolSeq[0] - e.RefSeq[0]) + (e.PolSeq[1] - e.RefSeq[1])) / 2
			wantMargin := beta * (e.Z[0] + e.Z[1]) / 2
			if math.Abs(rw.Chosen-wantChosen) > 1e-4 || math.Abs(rw.Margin-wantMargin) > 1e-4 || rw.Acc != 0.5 {
				t.Errorf("rewards %+v, want chosen %.6g margin %.6g acc 0.5", rw, wantChosen, wantMargin)
			}
			if tc.name == "head" {
				// Per-token log-probs before masking: what both scores are built from.
				kerneltest.AllClose(t, "policy_log_probs", d.PolicyLogProbs(), modeltest.Floats(t, want, "policy_log_probs"), 1e-4, 0)
				kerneltest.AllClose(t, "ref_log_probs", d.RefLogProbs(), modeltest.Floats(t, want, "ref_log_probs"), 1e-4, 0)
			}
			grads := modeltest.ReadTensors(t, filepath.Join(dir, tc.grads))
			worst := 0.0
			for _, s := range pol.Specs {
				worst = max(worst, kerneltest.AllClose(t, "grad/"+s.Name, pol.View(policy.Grads, s.Name), modeltest.Floats(t, grads, s.Name), 5e-5, 0))
			}
			t.Logf("loss %.9g (want %.9g), max |grad diff| %.3g", st.Loss, e.Loss, worst)
		})
	}
}

// TestDPOFiniteDifference checks the DPO gradient (loss and MoE aux) of a
// tiny model against central differences of the loss, on the parameters
// with the largest gradients.
func TestDPOFiniteDifference(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  model.Config
		loss string
	}{
		{"m3-sum", modeltest.TinyConfig3(false), train.DPOSum},
		{"m3-mean", modeltest.TinyConfig3(false), train.DPOMean},
		{"moe-sum", modeltest.TinyConfig(true), train.DPOSum},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := cpu.New(cpu.Options{Threads: 1})
			defer be.Close()
			policy := modeltest.Model(t, tc.cfg, 1, be)
			ref := modeltest.Model(t, tc.cfg, 2, be)
			d, err := train.NewDPO(policy, ref, train.DPOOptions{Loss: tc.loss, Beta: 0.5})
			if err != nil {
				t.Fatal(err)
			}
			const P, T = 2, 9
			b := &data.Batch{B: 2 * P, T: T, Pairs: P, Indices: []int{0, 1}}
			for r := range 2 * P {
				for j := range T {
					b.X = append(b.X, int32((r*7+j*3)%tc.cfg.VocabSize))
					b.Y = append(b.Y, int32((r*5+j*11+1)%tc.cfg.VocabSize))
					m := float32(0)
					if j >= 3+r%2 {
						m = 1
					}
					b.LossMask = append(b.LossMask, m)
				}
			}
			ctx := context.Background()
			loss := func() float64 {
				st, _, err := d.Step(ctx, b, 0)
				if err != nil {
					t.Fatal(err)
				}
				return st.Loss
			}
			policy.ZeroGrad()
			st, _, err := d.Step(ctx, b, 1)
			if err != nil {
				t.Fatal(err)
			}
			if tc.cfg.UseMoE && st.Aux == 0 {
				t.Fatal("no MoE aux in the loss")
			}
			g := append([]float32(nil), policy.Grads...)
			// The 12 largest gradients.
			idx := make([]int, 0, 12)
			for range 12 {
				best := -1
				for i, v := range g {
					if (best < 0 || math.Abs(float64(v)) > math.Abs(float64(g[best]))) && !contains(idx, i) {
						best = i
					}
				}
				idx = append(idx, best)
			}
			w := policy.Params.Data
			eps := float32(1e-2)
			if tc.cfg.UseMoE {
				eps = 1e-3 // top-k routing switches within larger steps
			}
			for _, i := range idx {
				orig := w[i]
				w[i] = orig + eps
				up := loss()
				w[i] = orig - eps
				down := loss()
				w[i] = orig
				fd := (up - down) / (2 * float64(eps))
				if math.Abs(fd-float64(g[i])) > 1e-3+2e-2*math.Abs(fd) {
					t.Errorf("param %d: gradient %.6g, finite difference %.6g", i, g[i], fd)
				}
			}
		})
	}
}

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}
