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
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// TestGRPOParity checks the GRPO and CISPO losses, on- and off-policy,
// against upstream's grpo_train_epoch step (posttrain/grpo): loss, the
// advantages, the log-probs, the KL and every policy gradient. The
// fixture's rows share two left pads, which are dropped: with RoPE the
// masked, left-padded rows are the same computation.
func TestGRPOParity(t *testing.T) {
	dir := fixture.Dir(t, "posttrain/grpo")
	polDir := fixture.Dir(t, "minimind3-dense")
	be := cpu.New(cpu.Options{})
	defer be.Close()
	var in struct {
		OutputIDs [][]int32 `json:"output_ids"`
		PromptLen int       `json:"prompt_len"`
		NumGen    int       `json:"num_generations"`
		Rewards   []float64 `json:"rewards"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	var exp map[string]json.RawMessage
	raw, err = os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	want := modeltest.ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	const pads = 2
	B, W := len(in.OutputIDs), len(in.OutputIDs[0])
	T, P, R := W-pads, in.PromptLen-pads, W-in.PromptLen
	adv, err := train.GroupAdvantages(in.Rewards, in.NumGen)
	if err != nil {
		t.Fatal(err)
	}
	wantAdv := modeltest.Floats(t, want, "advantages")
	for i := range adv {
		if math.Abs(adv[i]-float64(wantAdv[i])) > 1e-5 {
			t.Errorf("advantage %d: %.7g, want %.7g", i, adv[i], wantAdv[i])
		}
	}
	// toRows spreads [B,R] completion values onto [B,T] target positions.
	toRows := func(c []float32) []float32 {
		out := make([]float32, B*T)
		for b := range B {
			for j := range R {
				out[b*T+P-1+j] = c[b*R+j]
			}
		}
		return out
	}
	fromRows := func(x []float32) []float32 {
		out := make([]float32, B*R)
		for b := range B {
			for j := range R {
				out[b*R+j] = x[b*T+P-1+j]
			}
		}
		return out
	}
	// completion_mask is int64 in the fixture: its rows end after the first
	// eos (2) at completion index 6, none, 2 and 9.
	wantMask := make([]float32, B*R)
	for b, n := range []int{7, 10, 3, 10} {
		for j := range n {
			wantMask[b*R+j] = 1
		}
	}
	for _, tc := range []struct{ loss, variant, old string }{
		{train.LossGRPO, "onpolicy", "old_per_token_logps"},
		{train.LossCISPO, "onpolicy", "old_per_token_logps"},
		{train.LossGRPO, "offpolicy", "old_per_token_logps_offpolicy"},
		{train.LossCISPO, "offpolicy", "old_per_token_logps_offpolicy"},
	} {
		name := tc.loss + "_" + tc.variant
		t.Run(name, func(t *testing.T) {
			var e struct {
				Loss float64 `json:"loss"`
			}
			if err := json.Unmarshal(exp[name], &e); err != nil {
				t.Fatal(err)
			}
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
			o := train.DefaultGRPOLossOptions()
			o.LossType = tc.loss
			g, err := train.NewGRPO(policy, ref, o)
			if err != nil {
				t.Fatal(err)
			}
			r := &train.Rollouts{B: B, T: T, Advantages: adv, Eos: []int32{2},
				OldLogProbs: toRows(modeltest.Floats(t, want, tc.old))}
			for b := range B {
				r.IDs = append(r.IDs, in.OutputIDs[b][pads:]...)
				r.PromptLen = append(r.PromptLen, P)
				r.CompLen = append(r.CompLen, R)
			}
			if tc.variant == "onpolicy" && tc.loss == train.LossGRPO {
				// The policy's own log-probs must reproduce upstream's old ones.
				own := &train.Rollouts{IDs: r.IDs, B: B, T: T, PromptLen: r.PromptLen, CompLen: r.CompLen, Advantages: adv, Eos: r.Eos}
				if err := g.PolicyLogProbs(own); err != nil {
					t.Fatal(err)
				}
				kerneltest.AllClose(t, "old log-probs", mul(fromRows(own.OldLogProbs), wantMask), mul(modeltest.Floats(t, want, "old_per_token_logps"), wantMask), 1e-4, 0)
			}
			policy.ZeroGrad()
			st, err := g.Step(context.Background(), r, 1)
			if err != nil {
				t.Fatal(err)
			}
			if math.Abs(st.Loss-e.Loss) > 5e-5 || st.Aux != 0 {
				t.Errorf("loss %.9g (aux %g), want %.9g", st.Loss, st.Aux, e.Loss)
			}
			if tc.variant == "onpolicy" && tc.loss == train.LossGRPO {
				lp, refLP := g.LogProbs()
				mask := fromRows(g.Mask())
				kerneltest.AllClose(t, "completion_mask", mask, wantMask, 0, 0)
				kerneltest.AllClose(t, "per_token_logps", mul(fromRows(lp), mask), mul(modeltest.Floats(t, want, "per_token_logps"), wantMask), 1e-4, 0)
				kerneltest.AllClose(t, "ref_per_token_logps", mul(fromRows(refLP), mask), mul(modeltest.Floats(t, want, "ref_per_token_logps"), wantMask), 1e-4, 0)
				if math.Abs(st.Ratio-1) > 1e-5 || st.Clipped != 0 {
					t.Errorf("on-policy ratio %g, clipped %g; want 1, 0", st.Ratio, st.Clipped)
				}
			}
			if tc.variant == "offpolicy" && st.Clipped == 0 {
				t.Errorf("off-policy: no token clipped")
			}
			grads := modeltest.ReadTensors(t, filepath.Join(dir, "grads_"+name+".safetensors"))
			worst := 0.0
			for _, s := range pol.Specs {
				worst = max(worst, kerneltest.AllClose(t, "grad/"+s.Name, pol.View(policy.Grads, s.Name), modeltest.Floats(t, grads, s.Name), 5e-5, 0))
			}
			t.Logf("loss %.9g (want %.9g), KL %.4g, ratio %.4g, clipped %.3g, max |grad diff| %.3g", st.Loss, e.Loss, st.KL, st.Ratio, st.Clipped, worst)
		})
	}
}

func mul(a, b []float32) []float32 {
	out := make([]float32, len(a))
	for i := range a {
		out[i] = a[i] * b[i]
	}
	return out
}
