package train

import (
	"context"
	"fmt"
)

// recording is what Run and RunLoRA do around Trainer.Run on rank 0:
// metrics.jsonl (this stage's lines after the resumed step dropped, then
// one line a step), the held-out evaluation at its interval, the stage's
// files at each save point, then the plot. The other ranks train in
// lockstep and write nothing.
type recording struct {
	Stage, Metrics, Plot, Title string

	Eval   *EvalSet
	OnEval func(done, total int) // Config.OnEval
	Logf   func(format string, a ...any)
	// Start runs once the metrics file is open, before the first step.
	Start func()
	// Write writes the stage's weights and resume state st at a save
	// point; the plot and OnSave follow.
	Write  func(st *ResumeState) error
	OnStep func(Step)
	OnSave func(Save)
}

// run runs tr and returns the stage's steps in metrics.jsonl, a resumed
// run's earlier ones included (none on ranks other than 0). A failed
// metrics write fails the next save point, or the run at its end.
func (r *recording) run(ctx context.Context, tr *Trainer, rank0 bool) (steps []Step, err error) {
	if !rank0 {
		// Only rank 0 records and writes; the others train in lockstep.
		return nil, tr.Run(ctx)
	}
	rec, err := OpenRecorder(r.Metrics, r.Stage, tr.Step)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := rec.Close(); cerr != nil && err == nil {
			steps, err = nil, cerr
		}
	}()
	if r.Start != nil {
		r.Start()
	}
	var recErr error // the first failed metrics write, reported at the next save point or the end
	tr.OnStep = func(s Step) {
		if ev := r.Eval; ev != nil && !s.Stopped && (s.Step == s.Total || ev.Interval > 0 && s.Step%ev.Interval == 0) {
			err := tr.syncDevice(false) // the evaluation reads the host weights
			var res *EvalResult
			if err == nil {
				res, err = EvaluateProgress(ctx, tr.Model, ev.Data, ev.Enc, max(1, ev.BatchTokens), r.OnEval)
			}
			switch {
			case err == nil:
				s.EvalLoss = res.Loss
			case ctx.Err() == nil:
				// A held-out score is a report, not the run: note it and go on.
				r.Logf("step %d: evaluation failed: %v", s.Step, err)
			}
		}
		if err := rec.Add(s); err != nil && recErr == nil {
			recErr = fmt.Errorf("step %d: %s: %w", s.Step, r.Metrics, err)
		}
		if r.OnStep != nil {
			r.OnStep(s)
		}
	}
	tr.OnSave = func(_ context.Context, reason string, st *ResumeState) error {
		if recErr != nil {
			return recErr
		}
		if err := r.Write(st); err != nil {
			return err
		}
		if err := rec.Plot(r.Plot, r.Title); err != nil {
			return err
		}
		if r.OnSave != nil {
			r.OnSave(Save{Reason: reason, Step: st.Step})
		}
		return nil
	}
	if err := tr.Run(ctx); err != nil {
		return nil, err
	}
	if recErr != nil {
		return nil, recErr
	}
	return rec.History(), nil
}
