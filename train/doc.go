// Package train trains and evaluates MiniMind models.
//
//   - Run trains one stage (pretrain or SFT) as `minimind pretrain|sft` does:
//     it picks the starting weights (resume state > Config.Init > for SFT
//     the pretrain checkpoint > random), shares rank 0's weights across
//     data-parallel ranks, runs the Trainer and writes the .pth, the resume
//     state, metrics.jsonl and loss.png at every save point. Config holds
//     the resolved run; DefaultConfig, DefaultOptions and DefaultSFTOptions
//     hold every default, which the CLI's flags read.
//   - Trainer is the loop: gradient accumulation, the gradient all-reduce
//     through a Reducer, clipping, AdamW at the warmup+cosine learning rate,
//     and save points. Its Micro hook replaces the cross-entropy of a
//     micro-batch with another loss (MicroStep).
//   - DPO (StageDPO, `minimind dpo`) is upstream train_dpo.py's loss as a
//     MicroStep: the policy against a frozen reference model, both from
//     Config.Init or the SFT checkpoint, with the sum (HEAD) or mean (2510)
//     sequence score; Rewards are its implicit rewards, in Step.
//   - Distill and Distiller (StageDistill, `minimind distill`) are upstream
//     train_distillation.py's α·CE + (1−α)·T²·KL against a teacher that
//     only runs inference, as a MicroStep on SFT data.
//   - ResumeState (SaveResume, LoadResume) is the typed state a run resumes
//     from; a resumed run repeats the uninterrupted run's losses exactly.
//   - Step, Recorder and PlotLoss are the per-step metrics, metrics.jsonl
//     and the loss plot; Evaluate is the token-weighted cross-entropy of a
//     model on a JSONL dataset (`minimind eval`).
//
// A NaN or infinite loss or gradient norm stops training with ErrNonFinite
// before the update is applied and before anything is saved, so the files
// on disk stay those of the last good save point (Options.SkipNonfinite
// skips a budget of such steps instead); metrics.jsonl still records the
// step, with "NaN"/"+Inf" as strings. Resuming checks the state's fields
// (ErrResumeField) and refuses a changed schedule (ErrChangedSchedule).
//
// Errors are returned with context, never printed; progress is reported
// through hooks (Config.OnStep, OnSave, ...; Trainer.OnStep, OnSave), and a
// nil hook does nothing. A Trainer is used by one goroutine; the kernels it
// calls use the model backend's threads. Cancelling the context saves a
// resume point at the last completed optimizer step and returns ctx.Err().
package train
