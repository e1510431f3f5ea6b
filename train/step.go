package train

// Step is what the training loop reports after every optimizer step; it is
// also one line of metrics.jsonl.
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
}
