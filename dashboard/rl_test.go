package dashboard

import (
	"encoding/json"
	"math"
	"path/filepath"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/train"
)

// grpoStep and ppoStep are update n of an RL run, as its trainer writes
// them to metrics.jsonl.
func grpoStep(n int) train.GRPOStep {
	f := float64(n)
	return train.GRPOStep{Stage: train.StageGRPO, Step: n, Total: 10, Loss: 0.5 - f/100, Aux: 0, Reward: f / 10, RewardStd: 0.2,
		KL: f / 1000, Ratio: 1, Clipped: 0.05, CompLen: 30 + f, LR: 1e-6, GradNorm: 0.7, RolloutTokS: 500, RolloutShare: 0.6,
		UpdateShare: 0.4, ElapsedS: f}
}

func ppoStep(n int) train.PPOStep {
	f := float64(n)
	return train.PPOStep{Step: train.Step{Stage: train.StagePPO, Step: n, Total: 10, Loss: 0.3, CE: 0, LR: 3e-7, GradNorm: 0.4, TokensPerS: 800, ElapsedS: f},
		Reward: -1 + f/5, PolicyLoss: 0.1, ValueLoss: 2 / f, KLRef: f / 500, ApproxKL: 0.001, ClipFrac: 0.02 * f, RespLen: 40, CriticLR: 1e-6,
		RolloutS: 1.5, UpdateS: 0.5, RolloutTPS: 300}
}

func jsonLine(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b) + "\n"
}

// TestRLMetrics: the GRPO and PPO trainers' own keys (reward, kl,
// clipfrac, ...) come back as extra series of their stage, values in
// place; DPO's rewards and a sparse eval_loss too, at the steps that have
// them. A value a line lacks (GRPO writes no ce or tokens_per_s) and a
// non-finite one are null, not 0, and do not break the JSON.
func TestRLMetrics(t *testing.T) {
	dir := t.TempDir()
	var text string
	for i := 1; i <= 3; i++ {
		text += jsonLine(t, grpoStep(i))
	}
	for i := 1; i <= 4; i++ {
		text += jsonLine(t, ppoStep(i))
	}
	dpo := func(n int, eval float64) train.Step {
		return train.Step{Stage: "dpo", Step: n, Total: 3, Loss: 0.69, LR: 1e-7, GradNorm: 1, TokensPerS: 100, ElapsedS: 1,
			RewardAcc: 0.5, RewardChosen: 0.1 * float64(n), RewardRejected: -0.1, RewardMargin: 0.1*float64(n) + 0.1, EvalLoss: eval}
	}
	skipped := dpo(3, 0)
	skipped.Loss, skipped.GradNorm, skipped.Nonfinite = math.NaN(), math.Inf(1), "loss,grad_norm"
	text += jsonLine(t, dpo(1, 0)) + jsonLine(t, dpo(2, 0.8)) + jsonLine(t, skipped)
	appendFile(t, filepath.Join(dir, MetricsFile), text)

	body := getRuns(t, newHandler(t, Options{}, dir))
	stages := map[string]stageJSON{}
	for _, st := range body.Runs[0].Stages {
		stages[st.Stage] = st
	}
	if len(stages) != 3 {
		t.Fatalf("stages %v, want grpo, ppo and dpo", body.Runs[0].Stages)
	}
	for _, c := range []struct {
		stage, key string
		steps      []int
		values     []float64
	}{
		{"grpo", "reward", []int{1, 2, 3}, []float64{0.1, 0.2, 0.3}},
		{"grpo", "kl", []int{1, 2, 3}, []float64{0.001, 0.002, 0.003}},
		{"grpo", "clipped", []int{1, 2, 3}, []float64{0.05, 0.05, 0.05}},
		{"grpo", "completion_len", []int{1, 2, 3}, []float64{31, 32, 33}},
		{"grpo", "rollout_tokens_per_s", []int{1, 2, 3}, []float64{500, 500, 500}},
		{"ppo", "reward", []int{1, 2, 3, 4}, []float64{-0.8, -0.6, -0.4, -0.2}},
		{"ppo", "kl_ref", []int{1, 2, 3, 4}, []float64{0.002, 0.004, 0.006, 0.008}},
		{"ppo", "clipfrac", []int{1, 2, 3, 4}, []float64{0.02, 0.04, 0.06, 0.08}},
		{"ppo", "value_loss", []int{1, 2, 3, 4}, []float64{2, 1, 2.0 / 3, 0.5}},
		{"dpo", "reward_margin", []int{1, 2, 3}, []float64{0.2, 0.30000000000000004, 0.4}},
		{"dpo", "eval_loss", []int{2}, []float64{0.8}},
	} {
		e, ok := stages[c.stage].Extra[c.key]
		if !ok {
			t.Errorf("%s: no %s series (extras %v)", c.stage, c.key, keysOf(stages[c.stage].Extra))
			continue
		}
		got := make([]float64, len(e.Value))
		for i, v := range e.Value {
			got[i] = float64(v)
		}
		if !slices.Equal(e.Step, c.steps) || !slices.EqualFunc(got, c.values, func(a, b float64) bool { return math.Abs(a-b) < 1e-12 }) {
			t.Errorf("%s %s: steps %v values %v, want %v %v", c.stage, c.key, e.Step, got, c.steps, c.values)
		}
	}
	for _, k := range []string{"stage", "step", "total", "epoch", "loss", "lr", "nonfinite", "stopped"} {
		for name, st := range stages {
			if _, ok := st.Extra[k]; ok {
				t.Errorf("%s: %s is an extra series; it is a fixed column or not a number", name, k)
			}
		}
	}
	g := stages["grpo"]
	if !slices.Equal(g.LastMissing, []string{"ce", "tokens_per_s"}) || !math.IsNaN(float64(g.CE[0])) || !math.IsNaN(float64(g.TokensPerS[2])) ||
		float64(g.Loss[2]) != 0.47 || float64(g.GradNorm[0]) != 0.7 {
		t.Errorf("grpo fixed columns: missing %v, ce %v, tokens/s %v, loss %v, grad norm %v", g.LastMissing, g.CE, g.TokensPerS, g.Loss, g.GradNorm)
	}
	if p := stages["ppo"]; len(p.LastMissing) != 0 || float64(p.TokensPerS[3]) != 800 {
		t.Errorf("ppo fixed columns: missing %v, tokens/s %v", p.LastMissing, p.TokensPerS)
	}
	d := stages["dpo"]
	if !math.IsNaN(float64(d.Loss[2])) || !math.IsNaN(float64(d.GradNorm[2])) || float64(d.Loss[1]) != 0.69 || d.Last.Nonfinite != "loss,grad_norm" {
		t.Errorf("dpo with a skipped non-finite step: loss %v, grad norm %v, last %+v", d.Loss, d.GradNorm, d.Last)
	}
}

func keysOf[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}
