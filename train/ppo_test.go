package train_test

import (
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

// ppoFixture loads posttrain/ppo: actor, reference and critic models and
// the rollout (prompts without their left padding, responses, rewards).
func ppoFixture(t *testing.T) (*train.PPO, *train.PPORollout, *safetensors.File, string) {
	dir := fixture.Dir(t, "posttrain/ppo")
	polDir := fixture.Dir(t, "minimind3-dense")
	be := cpu.New(cpu.Options{})
	t.Cleanup(be.Close)
	var in struct {
		Out     [][]int32 `json:"output_ids"`
		Comp    [][]int32 `json:"completion_ids"`
		P       int       `json:"prompt_len"`
		Rewards []float64 `json:"rewards"`
		Pad     int32     `json:"pad_token_id"`
		EOS     int32     `json:"eos_token_id"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, "inputs.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(raw, &in); err != nil {
		t.Fatal(err)
	}
	load := func() *model.Params {
		p, err := checkpoint.LoadHF(polDir)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	actorP, criticP := load(), load()
	refP, err := model.NewParams(actorP.Config)
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
	vh := modeltest.ReadTensors(t, filepath.Join(dir, "critic_value_head.safetensors"))
	head := append(modeltest.Floats(t, vh, model.ValueHeadWeightName), modeltest.Floats(t, vh, model.ValueHeadBiasName)...)
	critic, err := model.NewCritic(model.New(criticP, be), head)
	if err != nil {
		t.Fatal(err)
	}
	p := &train.PPO{Actor: model.New(actorP, be), Ref: model.New(refP, be), Critic: critic, Opts: train.DefaultPPO()}

	var prompts [][]int32
	for _, row := range in.Out {
		k := 0
		for k < in.P && row[k] == in.Pad {
			k++
		}
		prompts = append(prompts, row[k:in.P])
	}
	r, err := train.NewPPORollout(prompts, in.Comp, in.Rewards, in.Pad, in.EOS)
	if err != nil {
		t.Fatal(err)
	}
	return p, r, modeltest.ReadTensors(t, filepath.Join(dir, "expected.safetensors")), dir
}

// TestPPOParity checks the rollout side (values, reference log-probs,
// token rewards, GAE, whitened advantages, returns) and the first
// minibatch (losses, actor and critic gradients incl. the value head)
// against upstream train_ppo.py (posttrain/ppo).
func TestPPOParity(t *testing.T) {
	p, r, want, dir := ppoFixture(t)
	var exp struct {
		Loss, Policy, Value, KLRef, ApproxKL, ClipFrac, Mean, Var float64
		Lengths                                                   []int `json:"resp_lengths"`
	}
	var raw map[string]json.RawMessage
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]any{"loss": &exp.Loss, "policy_loss": &exp.Policy, "value_loss": &exp.Value,
		"kl_ref_penalty": &exp.KLRef, "approx_kl": &exp.ApproxKL, "clipfrac": &exp.ClipFrac,
		"adv_mean_before_whitening": &exp.Mean, "adv_var_before_whitening": &exp.Var, "resp_lengths": &exp.Lengths} {
		if err := json.Unmarshal(raw[k], v); err != nil {
			t.Fatalf("expected.json %s: %v", k, err)
		}
	}
	if err := p.Prepare(r); err != nil {
		t.Fatal(err)
	}
	for i, L := range exp.Lengths {
		if r.Lengths[i] != L {
			t.Errorf("response length %d: %d, want %d", i, r.Lengths[i], L)
		}
	}
	kerneltest.AllClose(t, "resp_policy_mask", r.Mask, modeltest.Floats(t, want, "resp_policy_mask"), 0, 0)
	kerneltest.AllClose(t, "old_resp_logp", r.OldLogp, modeltest.Floats(t, want, "old_resp_logp"), 2e-5, 0)
	kerneltest.AllClose(t, "ref_resp_logp", r.RefLogp, modeltest.Floats(t, want, "ref_resp_logp"), 2e-5, 0)
	kerneltest.AllClose(t, "old_resp_values", r.OldValues, modeltest.Floats(t, want, "old_resp_values"), 2e-5, 0)
	kerneltest.AllClose(t, "token_rewards", r.TokenRewards, modeltest.Floats(t, want, "token_rewards"), 0, 0)
	kerneltest.AllClose(t, "advantages", r.Adv, modeltest.Floats(t, want, "advantages"), 2e-5, 0)
	kerneltest.AllClose(t, "returns", r.Returns, modeltest.Floats(t, want, "returns"), 2e-5, 0)
	if math.Abs(r.AdvMean-exp.Mean) > 2e-6 || math.Abs(r.AdvVar-exp.Var) > 2e-6 {
		t.Errorf("advantage mean/var before whitening %.9g/%.9g, want %.9g/%.9g", r.AdvMean, r.AdvVar, exp.Mean, exp.Var)
	}
	// Upstream's old log-probs come from the rollout engine; use them so
	// that the ratio is the fixture's.
	r.OldLogp = modeltest.Floats(t, want, "old_resp_logp")

	p.Actor.ZeroGrad()
	p.Critic.ZeroGrad()
	st, err := p.Minibatch(r, []int{0, 1}, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{
		{"loss", st.Loss, exp.Loss}, {"policy_loss", st.Policy, exp.Policy}, {"value_loss", st.Value, exp.Value},
		{"kl_ref_penalty", st.KLRef, exp.KLRef}, {"approx_kl", st.ApproxKL, exp.ApproxKL}, {"clipfrac", st.ClipFrac, exp.ClipFrac},
	} {
		if math.Abs(c.got-c.want) > 2e-6 {
			t.Errorf("%s %.9g, want %.9g", c.name, c.got, c.want)
		}
	}
	if st.Stop {
		t.Error("early stop at approx-KL ~0")
	}
	worst := 0.0
	ga := modeltest.ReadTensors(t, filepath.Join(dir, "grads_actor.safetensors"))
	for _, s := range p.Actor.Params.Specs {
		worst = max(worst, kerneltest.AllClose(t, "actor/"+s.Name, p.Actor.Params.View(p.Actor.Grads, s.Name), modeltest.Floats(t, ga, s.Name), 2e-5, 0))
	}
	gc := modeltest.ReadTensors(t, filepath.Join(dir, "grads_critic.safetensors"))
	cp := p.Critic.Params
	for _, s := range cp.Specs {
		worst = max(worst, kerneltest.AllClose(t, "critic/"+s.Name, cp.View(p.Critic.Grads, s.Name), modeltest.Floats(t, gc, s.Name), 2e-5, 0))
	}
	C := cp.Config.HiddenSize
	worst = max(worst, kerneltest.AllClose(t, "critic/"+model.ValueHeadWeightName, p.Critic.HeadGrad[:C], modeltest.Floats(t, gc, model.ValueHeadWeightName), 2e-5, 0))
	worst = max(worst, kerneltest.AllClose(t, "critic/"+model.ValueHeadBiasName, p.Critic.HeadGrad[C:], modeltest.Floats(t, gc, model.ValueHeadBiasName), 2e-5, 0))
	t.Logf("loss %.9g (want %.9g), max |grad diff| %.3g", st.Loss, exp.Loss, worst)
}

// TestPPOEarlyStop: a minibatch whose approx-KL passes early_stop_kl
// reports Stop and adds nothing to either model's gradients (upstream
// multiplies its loss by 0).
func TestPPOEarlyStop(t *testing.T) {
	p, r, _, _ := ppoFixture(t)
	if err := p.Prepare(r); err != nil {
		t.Fatal(err)
	}
	for i := range r.OldLogp {
		r.OldLogp[i] -= 1 // approx-KL ½·1² = 0.5 > 0.25
	}
	p.Actor.ZeroGrad()
	p.Critic.ZeroGrad()
	st, err := p.Minibatch(r, []int{1, 0}, 1)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Stop || math.Abs(st.ApproxKL-0.5) > 1e-6 {
		t.Fatalf("stop %v, approx-KL %g; want true, 0.5", st.Stop, st.ApproxKL)
	}
	for _, g := range [][]float32{p.Actor.Grads, p.Critic.Grads, p.Critic.HeadGrad} {
		for i, v := range g {
			if v != 0 {
				t.Fatalf("gradient %d is %g after a stopped minibatch", i, v)
			}
		}
	}
}
