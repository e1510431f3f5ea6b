// Package train trains MiniMind models: the loop (Trainer: gradient
// accumulation, data-parallel all-reduce through a Reducer, clipping, AdamW
// at the warmup+cosine learning rate, save points), its typed resume state
// (ResumeState, SaveResume, LoadResume: a resumed run repeats the
// uninterrupted run's losses exactly) and the per-step metrics (Step,
// Recorder for metrics.jsonl, PlotLoss for loss.png). Every default is in
// DefaultOptions and DefaultSFTOptions.
//
// Errors are returned with context, never printed; progress is reported
// through hooks (Trainer.OnStep, Trainer.OnSave), and a nil hook does
// nothing. A Trainer is used by one goroutine; the kernels it calls use the
// model backend's threads. Cancelling the context saves a resume point at
// the last completed optimizer step and returns ctx.Err().
package train
