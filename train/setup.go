package train

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math"
	"path/filepath"
	"strings"
)

// Setup is what shapes a stage's objective beyond Options: DPO's loss, β
// and reference model, distillation's teacher and loss, LoRA's frozen base
// model, GRPO's and PPO's reference, reward and loss settings. A resume
// state stores it, and a resumed run must have the same (ErrChangedSetup
// otherwise): continuing under another loss or against other frozen
// weights would quietly optimise a different objective from the saved
// moments. Older resume states hold none (or lack a part or a field) and
// are not checked for what they lack.
type Setup struct {
	DPO     *DPOSetup     `json:"dpo,omitempty"`
	Distill *DistillSetup `json:"distill,omitempty"`
	Base    *WeightsID    `json:"lora_base,omitempty"` // LoRA's frozen base (--init)
	GRPO    *GRPOSetup    `json:"grpo,omitempty"`
	PPO     *PPOSetup     `json:"ppo,omitempty"`
}

// DPOSetup is StageDPO's part of Setup: the resolved loss variant and β,
// and the reference model.
type DPOSetup struct {
	Loss      string    `json:"loss"`
	Beta      float64   `json:"beta"`
	Reference WeightsID `json:"reference"`
}

// DistillSetup is StageDistill's part of Setup.
type DistillSetup struct {
	Teacher     WeightsID `json:"teacher"`
	Alpha       float64   `json:"alpha"`
	Temperature float64   `json:"temperature"`
}

// GRPOSetup is RunGRPO's part of Setup: the frozen reference, the reward,
// the resolved loss and what shapes the rollouts a step learns from.
type GRPOSetup struct {
	Reference WeightsID `json:"reference"`
	// Reward names the reward (GRPOConfig.RewardName); "" is unknown and
	// not compared.
	Reward         string  `json:"reward,omitempty"`
	LossType       string  `json:"loss_type"`
	Beta           float64 `json:"beta"`
	Epsilon        float64 `json:"epsilon"`
	EpsilonHigh    float64 `json:"epsilon_high"`
	NumGenerations int     `json:"num_generations"`
	Temperature    float64 `json:"temperature"`
	MaxGenLen      int     `json:"max_gen_len"`
	// ThinkingRatio is GRPOConfig.ThinkingRatio, which shapes the prompts;
	// nil in older files (not compared).
	ThinkingRatio *float64 `json:"thinking_ratio,omitempty"`
}

// PPOSetup is RunPPO's part of Setup: the frozen reference (the starting
// weights), the reward, the PPO loss and update settings and what shapes
// the rollouts.
type PPOSetup struct {
	Reference WeightsID `json:"reference"`
	// Reward names the reward (PPOConfig.RewardName); "" is unknown and not
	// compared.
	Reward         string  `json:"reward,omitempty"`
	ClipEpsilon    float64 `json:"clip_epsilon"`
	VFCoef         float64 `json:"vf_coef"`
	KLCoef         float64 `json:"kl_coef"`
	Gamma          float64 `json:"gamma"`
	Lam            float64 `json:"lam"`
	ClipRangeValue float64 `json:"cliprange_value"`
	EarlyStopKL    float64 `json:"early_stop_kl"`
	UpdateIters    int     `json:"ppo_update_iters"`
	MiniBatch      int     `json:"mini_batch_size"`
	Temperature    float64 `json:"temperature"`
	MaxGenLen      int     `json:"max_gen_len"`
}

// WeightsID names frozen weights a run depends on: the file they came
// from (for messages) and a checksum of the values, which is what is
// compared, so that a moved file is the same weights and a file
// overwritten in place (SFT rerun into the same out_dir) is not.
type WeightsID struct {
	Path string `json:"path,omitempty"`
	Sum  string `json:"sum"` // "crc32c:%08x" of the fp32 values, little-endian
}

// weightsID checksums data (CRC-32C over the little-endian fp32 bytes: a
// few hundred MB/s at worst, once per run start).
func weightsID(path string, data []float32) WeightsID {
	tab := crc32.MakeTable(crc32.Castagnoli)
	var crc uint32
	buf := make([]byte, 0, 4<<14)
	for i := 0; i < len(data); i += 1 << 14 {
		buf = buf[:0]
		for _, v := range data[i:min(i+1<<14, len(data))] {
			buf = binary.LittleEndian.AppendUint32(buf, math.Float32bits(v))
		}
		crc = crc32.Update(crc, tab, buf)
	}
	return WeightsID{Path: path, Sum: fmt.Sprintf("crc32c:%08x", crc)}
}

// setupChanges lists what now changes of saved, as "--flag saved → now"
// or a sentence about frozen weights; nothing when saved is nil (an older
// resume state) or a part is missing on either side.
func setupChanges(saved, now *Setup) []string {
	if saved == nil || now == nil {
		return nil
	}
	var out []string
	// flags lists each differing pair, in order; a value is any comparable
	// one (a string, a number).
	type pair struct {
		flag string
		a, b any
	}
	flags := func(ps ...pair) {
		for _, p := range ps {
			if p.a != p.b {
				out = append(out, fmt.Sprintf("--%s %v → %v", p.flag, p.a, p.b))
			}
		}
	}
	weights := func(what string, a, b WeightsID) {
		if a.Sum != b.Sum {
			out = append(out, fmt.Sprintf("%s has other weights (%s → %s)", what, describe(a), describe(b)))
		}
	}
	// The reward's name is compared only when both runs gave one.
	reward := func(a, b string) pair {
		if a == "" || b == "" {
			return pair{}
		}
		return pair{"reward", a, b}
	}
	if a, b := saved.DPO, now.DPO; a != nil && b != nil {
		flags(pair{"dpo_loss", a.Loss, b.Loss}, pair{"beta", a.Beta, b.Beta})
		weights("the reference model", a.Reference, b.Reference)
	}
	if a, b := saved.Distill, now.Distill; a != nil && b != nil {
		weights("the teacher (--teacher)", a.Teacher, b.Teacher)
		flags(pair{"alpha", a.Alpha, b.Alpha}, pair{"temperature", a.Temperature, b.Temperature})
	}
	if a, b := saved.Base, now.Base; a != nil && b != nil {
		weights("the base model (--init)", *a, *b)
	}
	if a, b := saved.GRPO, now.GRPO; a != nil && b != nil {
		weights("the reference model (--init)", a.Reference, b.Reference)
		flags(reward(a.Reward, b.Reward),
			pair{"loss_type", a.LossType, b.LossType}, pair{"beta", a.Beta, b.Beta}, pair{"epsilon", a.Epsilon, b.Epsilon},
			pair{"epsilon_high", a.EpsilonHigh, b.EpsilonHigh}, pair{"num_generations", a.NumGenerations, b.NumGenerations},
			pair{"temperature", a.Temperature, b.Temperature}, pair{"max_gen_len", a.MaxGenLen, b.MaxGenLen})
		if a.ThinkingRatio != nil && b.ThinkingRatio != nil {
			flags(pair{"thinking_ratio", *a.ThinkingRatio, *b.ThinkingRatio})
		}
	}
	if a, b := saved.PPO, now.PPO; a != nil && b != nil {
		weights("the reference model (--init)", a.Reference, b.Reference)
		flags(reward(a.Reward, b.Reward),
			pair{"clip_epsilon", a.ClipEpsilon, b.ClipEpsilon}, pair{"vf_coef", a.VFCoef, b.VFCoef}, pair{"kl_coef", a.KLCoef, b.KLCoef},
			pair{"gamma", a.Gamma, b.Gamma}, pair{"lam", a.Lam, b.Lam}, pair{"cliprange_value", a.ClipRangeValue, b.ClipRangeValue},
			pair{"early_stop_kl", a.EarlyStopKL, b.EarlyStopKL}, pair{"ppo_update_iters", a.UpdateIters, b.UpdateIters},
			pair{"mini_batch_size", a.MiniBatch, b.MiniBatch}, pair{"temperature", a.Temperature, b.Temperature},
			pair{"max_gen_len", a.MaxGenLen, b.MaxGenLen})
	}
	return out
}

// describe names weights for a message: the file's base name and sum.
func describe(w WeightsID) string {
	if w.Path == "" {
		return w.Sum
	}
	return filepath.Base(w.Path) + " " + w.Sum
}

// checkSetup fails with ErrChangedSetup when a resumed run's setup differs
// from the saved one.
func checkSetup(resumePath string, saved, now *Setup) error {
	return changedSetup(resumePath, setupChanges(saved, now))
}

// changedSetup is ErrChangedSetup naming the changes ch (as setupChanges
// writes them), nil when there are none.
func changedSetup(resumePath string, ch []string) error {
	if len(ch) == 0 {
		return nil
	}
	return fmt.Errorf("train: resume from %s: %s (saved → now): %w; rerun with the saved values and weights, or without --resume to start afresh",
		resumePath, strings.Join(ch, ", "), ErrChangedSetup)
}
