package train

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
)

// Step is what the training loop reports after every optimizer step; it is
// also one line of metrics.jsonl. JSON has no NaN or Inf, so non-finite
// values are written as the strings "NaN", "+Inf" and "-Inf" (and read
// back): a diverged step is recorded, never dropped.
type Step struct {
	Stage      string  `json:"stage,omitempty"` // "pretrain", "sft", ...
	Step       int     `json:"step"`            // optimizer steps done (1-based)
	Total      int     `json:"total"`           // optimizer steps in the whole run
	Epoch      int     `json:"epoch"`           // 0-based
	Loss       float64 `json:"loss"`            // mean over the accumulated micro-batches (CE + aux)
	CE         float64 `json:"ce"`
	Aux        float64 `json:"aux"`
	LR         float64 `json:"lr"`
	GradNorm   float64 `json:"grad_norm"` // before clipping
	TokensPerS float64 `json:"tokens_per_s"`
	ElapsedS   float64 `json:"elapsed_s"`
	// Nonfinite names the values of this step that were NaN or infinite
	// ("loss,ce", "grad_norm", ...). The optimizer step was not applied:
	// it was skipped (Options.SkipNonfinite), or, with Stopped, the run
	// stopped here with ErrNonFinite.
	Nonfinite string `json:"nonfinite,omitempty"`
	Stopped   bool   `json:"stopped,omitempty"`
	// EvalLoss is the mean cross-entropy on the held-out data
	// (Config.Eval) after this step; 0 when not evaluated at this step.
	EvalLoss float64 `json:"eval_loss,omitempty"`
	// DPO's implicit rewards (Rewards), means over the step's pairs;
	// absent (0) for other stages.
	RewardAcc      float64 `json:"reward_acc,omitempty"`
	RewardChosen   float64 `json:"reward_chosen,omitempty"`
	RewardRejected float64 `json:"reward_rejected,omitempty"`
	RewardMargin   float64 `json:"reward_margin,omitempty"`
}

// stepJSON is Step as written: the same keys in the same order, with
// floats that may be non-finite.
type stepJSON struct {
	Stage          string    `json:"stage,omitempty"`
	Step           int       `json:"step"`
	Total          int       `json:"total"`
	Epoch          int       `json:"epoch"`
	Loss           jsonFloat `json:"loss"`
	CE             jsonFloat `json:"ce"`
	Aux            jsonFloat `json:"aux"`
	LR             jsonFloat `json:"lr"`
	GradNorm       jsonFloat `json:"grad_norm"`
	TokensPerS     jsonFloat `json:"tokens_per_s"`
	ElapsedS       jsonFloat `json:"elapsed_s"`
	Nonfinite      string    `json:"nonfinite,omitempty"`
	Stopped        bool      `json:"stopped,omitempty"`
	EvalLoss       jsonFloat `json:"eval_loss,omitempty"`
	RewardAcc      jsonFloat `json:"reward_acc,omitempty"`
	RewardChosen   jsonFloat `json:"reward_chosen,omitempty"`
	RewardRejected jsonFloat `json:"reward_rejected,omitempty"`
	RewardMargin   jsonFloat `json:"reward_margin,omitempty"`
}

// MarshalJSON writes s with non-finite floats as strings.
func (s Step) MarshalJSON() ([]byte, error) {
	return json.Marshal(stepJSON{
		s.Stage, s.Step, s.Total, s.Epoch, jsonFloat(s.Loss), jsonFloat(s.CE), jsonFloat(s.Aux),
		jsonFloat(s.LR), jsonFloat(s.GradNorm), jsonFloat(s.TokensPerS), jsonFloat(s.ElapsedS), s.Nonfinite, s.Stopped, jsonFloat(s.EvalLoss),
		jsonFloat(s.RewardAcc), jsonFloat(s.RewardChosen), jsonFloat(s.RewardRejected), jsonFloat(s.RewardMargin),
	})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (s *Step) UnmarshalJSON(b []byte) error {
	var j stepJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = Step{
		j.Stage, j.Step, j.Total, j.Epoch, float64(j.Loss), float64(j.CE), float64(j.Aux),
		float64(j.LR), float64(j.GradNorm), float64(j.TokensPerS), float64(j.ElapsedS), j.Nonfinite, j.Stopped, float64(j.EvalLoss),
		float64(j.RewardAcc), float64(j.RewardChosen), float64(j.RewardRejected), float64(j.RewardMargin),
	}
	return nil
}

// jsonFloat is a float64 whose NaN and infinities travel as strings.
type jsonFloat float64

func (f jsonFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return json.Marshal(v)
}

func (f *jsonFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		switch s {
		case "NaN":
			*f = jsonFloat(math.NaN())
		case "+Inf", "Inf", "Infinity":
			*f = jsonFloat(math.Inf(1))
		case "-Inf", "-Infinity":
			*f = jsonFloat(math.Inf(-1))
		default:
			return fmt.Errorf("number %q: want a number, \"NaN\", \"+Inf\" or \"-Inf\"", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = jsonFloat(v)
	return nil
}

// nonfinite returns the names of the values that are NaN or infinite,
// comma-separated, or "" when all are finite. names and values pair up.
func nonfinite(names []string, values ...float64) string {
	var bad []string
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			bad = append(bad, names[i])
		}
	}
	return strings.Join(bad, ",")
}
