package train

import (
	"fmt"
	"math"
	"strings"
)

// LR is the seed's learning-rate schedule at optimizer step t (0-based) of
// total: linear warmup from 0 over warmup steps, then cosine from lr down
// to lr/10 over the remaining steps. With warmup 0 this is MiniMind 2510's
// lr·(0.1 + 0.45·(1 + cos(π·t/total))).
func LR(t, total, warmup int, lr float64) float64 {
	if t < warmup {
		return lr * float64(t) / float64(warmup)
	}
	minLR := lr / 10
	span := total - warmup
	if span <= 0 {
		return minLR
	}
	progress := math.Min(float64(t-warmup)/float64(span), 1)
	return minLR + 0.5*(1+math.Cos(math.Pi*progress))*(lr-minLR)
}

// rlScheduleChanges lists what RunGRPO and RunPPO treat as their schedule
// and a resume must keep, as "--flag saved → now": scheduleChanges'
// options, and what they have no data.Loader to refuse (Run's loader
// does): the seed and shuffling, which fix the prompt order and the
// rollouts' sampling seeds, and the number of prompts, which fixes the
// run's length and so its learning rates. A saved count of 0 (an older
// PPO state) is not compared.
func rlScheduleChanges(saved, now Options, savedPrompts, prompts int) []string {
	out := scheduleChanges(saved, now)
	if saved.Seed != now.Seed {
		out = append(out, fmt.Sprintf("--seed %v → %v", saved.Seed, now.Seed))
	}
	if saved.Shuffle != now.Shuffle {
		out = append(out, fmt.Sprintf("--shuffle %v → %v", saved.Shuffle, now.Shuffle))
	}
	if savedPrompts != 0 && savedPrompts != prompts {
		out = append(out, fmt.Sprintf("--data_path %d → %d prompts", savedPrompts, prompts))
	}
	return out
}

// changedSchedule is ErrChangedSchedule for stage's resume state at
// resumePath naming the changes ch (as rlScheduleChanges writes them), nil
// when there are none.
func changedSchedule(stage, resumePath string, ch []string) error {
	if len(ch) == 0 {
		return nil
	}
	return fmt.Errorf("train: %s: resume from %s: %s (saved → now): %w; rerun with the saved values, or without --resume to start afresh",
		stage, resumePath, strings.Join(ch, ", "), ErrChangedSchedule)
}
