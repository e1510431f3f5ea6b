package train

import (
	"slices"
	"testing"
)

// TestSetupChanges: each difference is listed once, in flag terms; an
// older resume state (no setup) and identical setups list none; weights
// are told apart by their values, not their paths.
func TestSetupChanges(t *testing.T) {
	t.Parallel()
	w := weightsID("/a/ref.pth", []float32{1, 2, 3})
	moved := weightsID("/b/ref.pth", []float32{1, 2, 3})
	other := weightsID("/a/ref.pth", []float32{1, 2, 3.0000002})
	if w.Sum != moved.Sum || w.Sum == other.Sum || w.Sum != weightsID("", []float32{1, 2, 3}).Sum {
		t.Fatalf("sums %s %s %s: want equal for equal values, different otherwise", w.Sum, moved.Sum, other.Sum)
	}
	big := make([]float32, 3<<14+5) // spans several chunks
	big[len(big)-1] = 1
	if weightsID("", big).Sum == weightsID("", make([]float32, len(big))).Sum {
		t.Error("a change in the last chunk does not change the sum")
	}
	dpo := func(loss string, beta float64, ref WeightsID) *Setup {
		return &Setup{DPO: &DPOSetup{Loss: loss, Beta: beta, Reference: ref}}
	}
	dist := func(teacher WeightsID, alpha, temp float64) *Setup {
		return &Setup{Distill: &DistillSetup{Teacher: teacher, Alpha: alpha, Temperature: temp}}
	}
	grpo := func(reward string, beta float64, n int, ref WeightsID) *Setup {
		return &Setup{GRPO: &GRPOSetup{Reference: ref, Reward: reward, LossType: LossCISPO, Beta: beta, Epsilon: 0.2, EpsilonHigh: 5,
			NumGenerations: n, Temperature: 0.8, MaxGenLen: 16}}
	}
	// thinking sets s's GRPO thinking ratio (nil: an older file's).
	thinking := func(s *Setup, ratio *float64) *Setup {
		s.GRPO.ThinkingRatio = ratio
		return s
	}
	ppo := func(reward string, kl float64, iters int, ref WeightsID) *Setup {
		p := DefaultPPO()
		return &Setup{PPO: &PPOSetup{Reference: ref, Reward: reward, ClipEpsilon: p.ClipEpsilon, VFCoef: p.VFCoef, KLCoef: kl,
			Gamma: p.Gamma, Lam: p.Lam, ClipRangeValue: p.ClipRangeValue, EarlyStopKL: p.EarlyStopKL, UpdateIters: iters,
			MiniBatch: p.MiniBatch, Temperature: 0.8, MaxGenLen: 16}}
	}
	for _, tc := range []struct {
		name       string
		saved, now *Setup
		want       []string
	}{
		{"older file", nil, dpo(DPOSum, 0.15, w), nil},
		{"same", dpo(DPOSum, 0.15, w), dpo(DPOSum, 0.15, moved), nil},
		{"dpo loss and beta", dpo(DPOSum, 0.15, w), dpo(DPOMean, 0.1, w), []string{"--dpo_loss sum → mean", "--beta 0.15 → 0.1"}},
		{"reference", dpo(DPOSum, 0.15, w), dpo(DPOSum, 0.15, other),
			[]string{"the reference model has other weights (ref.pth " + w.Sum + " → ref.pth " + other.Sum + ")"}},
		{"distill", dist(w, 0.5, 1.5), dist(other, 0, 2), []string{"the teacher (--teacher) has other weights (ref.pth " + w.Sum + " → ref.pth " + other.Sum + ")",
			"--alpha 0.5 → 0", "--temperature 1.5 → 2"}},
		{"lora base without paths", &Setup{Base: &WeightsID{Sum: "crc32c:1"}}, &Setup{Base: &WeightsID{Sum: "crc32c:2"}},
			[]string{"the base model (--init) has other weights (crc32c:1 → crc32c:2)"}},
		{"other stage's part", dpo(DPOSum, 0.15, w), dist(w, 0.5, 1.5), nil},
		{"grpo", grpo("rules", 0.1, 6, w), grpo("rules+gt", 0.04, 4, other), []string{"the reference model (--init) has other weights (ref.pth " + w.Sum + " → ref.pth " + other.Sum + ")",
			"--reward rules → rules+gt", "--beta 0.1 → 0.04", "--num_generations 6 → 4"}},
		{"grpo, reward unnamed now", grpo("rules", 0.1, 6, w), grpo("", 0.1, 6, moved), nil},
		{"grpo, reward unnamed before", grpo("", 0.1, 6, w), grpo("rules", 0.1, 6, w), nil},
		{"grpo thinking ratio", thinking(grpo("rules", 0.1, 6, w), new(0.5)), thinking(grpo("rules", 0.1, 6, w), new(0.0)), []string{"--thinking_ratio 0.5 → 0"}},
		{"grpo thinking ratio, older file", grpo("rules", 0.1, 6, w), thinking(grpo("rules", 0.1, 6, w), new(0.5)), nil},
		{"ppo", ppo("rules", 0.02, 2, w), ppo("rules", 0.05, 1, w), []string{"--kl_coef 0.02 → 0.05", "--ppo_update_iters 2 → 1"}},
		{"ppo, older file", nil, ppo("rules", 0.02, 2, w), nil},
	} {
		if got := setupChanges(tc.saved, tc.now); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %q, want %q", tc.name, got, tc.want)
		}
	}
}
