package train

import "errors"

// Errors a caller can tell apart with errors.Is (the CLI maps some of them
// to exit statuses).
var (
	// ErrNonFinite: a training step's loss or gradient norm was NaN or
	// infinite (beyond Options.SkipNonfinite skipped steps), weights about
	// to be saved held one, or Evaluate's result was not finite.
	ErrNonFinite = errors.New("non-finite value (NaN or Inf)")
	// ErrMaxSeqLen: the samples are longer than the model's RoPE tables.
	ErrMaxSeqLen = errors.New("exceeds max_position_embeddings")
	// ErrWorldSize: a run is resumed with a different number of
	// data-parallel ranks.
	ErrWorldSize = errors.New("world size differs")
	// ErrChangedSchedule: a run is resumed with options that change the
	// learning-rate schedule or the batches (Config.AllowChangedSchedule
	// permits it to Run), or a GRPO or PPO run with another schedule,
	// seed or number of prompts.
	ErrChangedSchedule = errors.New("schedule changed since the resume state was saved")
	// ErrChangedSetup: a run is resumed with another objective than it
	// was saved with: DPO's loss, β or reference model, distillation's
	// teacher, α or temperature, LoRA's base model or adapters (rank, α,
	// targets), GRPO's and PPO's
	// reference, reward, loss and rollout settings, GRPO's prompt
	// rendering (--thinking_ratio) (see Setup).
	ErrChangedSetup = errors.New("training setup changed since the resume state was saved")
	// ErrResumeField: a resume state's field is out of range (a damaged
	// or foreign file).
	ErrResumeField = errors.New("bad resume state field")
	// ErrArchitecture: an architecture setting the user gave
	// (Config.Explicit) contradicts the weights the run starts from, or
	// the tokenizer's vocabulary differs from the model's.
	ErrArchitecture = errors.New("architecture mismatch")
	// ErrMemory: the run would need more memory than the machine has
	// available.
	ErrMemory = errors.New("not enough memory")
)
