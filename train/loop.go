package train

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// Reducer sums gradients (each rank's weighted by its share of the
// targets) and counts across data-parallel ranks; dist.Comm implements it.
// Nil means one process.
type Reducer interface {
	Rank() int
	Size() int
	AllReduceSum(ctx context.Context, buf []float32) error
}

// Trainer runs the seed's loop: for each optimizer step, accumulate
// gradients over Accumulation micro-batches (each loss scaled by
// 1/Accumulation), average them across ranks, clip, take an AdamW step at
// the scheduled learning rate, report, and checkpoint at save points.
type Trainer struct {
	Model   *model.Model
	Loader  *data.Loader
	Opt     *AdamW
	Options Options
	Comm    Reducer

	// Step counts optimizer steps done; set by Restore.
	Step int
	// Skipped counts the steps of Step whose update was skipped for a
	// non-finite loss or gradient norm (Options.SkipNonfinite); set by
	// Restore.
	Skipped int

	// Micro replaces the masked cross-entropy of each micro-batch (nil:
	// Model.ForwardBackward), for post-training losses such as DPO's.
	Micro MicroStep

	// Device, when set, runs the steps on a device that holds its own copy
	// of the weights and optimizer state (resident.go); Model and Opt are
	// brought up to date at save points. Not with Micro or Comm.
	Device Resident

	// OnStep is called after every optimizer step (nil: nothing).
	OnStep func(Step)
	// OnMicro is called before the forward and backward pass of each
	// micro-batch this rank holds: k of n (1-based) of the step, so that a
	// long step can show progress (nil: nothing).
	OnMicro func(k, n int)
	// OnSave is called at save points — every SaveInterval steps, at the end
	// of each epoch, at the end, and when ctx is cancelled — with the state
	// to resume from (rank 0 writes it). reason is "interval", "epoch",
	// "final" or "interrupt".
	OnSave func(ctx context.Context, reason string, st *ResumeState) error

	start    time.Time
	stats    [7]float32       // loss, ce, aux and Rewards: averaged across ranks for the log
	count    [3]float32       // the step's token count in 12-bit digits, summed across ranks
	pos      data.LoaderState // loader state at the last step boundary
	hasPos   bool             // pos is set (by Run or Restore)
	batch    data.Batch
	elapsed0 float64 // elapsed seconds carried over from a resumed run
}

// StepsPerEpoch is the number of optimizer steps in one epoch: the
// loader's batches grouped by Accumulation, a trailing partial group
// flushed as a (smaller) step.
func (t *Trainer) StepsPerEpoch() int {
	a := max(1, t.Options.Accumulation)
	return (t.Loader.StepsPerEpoch() + a - 1) / a
}

// TotalSteps is the number of optimizer steps of the whole run.
func (t *Trainer) TotalSteps() int { return t.Options.Epochs * t.StepsPerEpoch() }

func (t *Trainer) worldSize() int {
	if t.Comm == nil {
		return 1
	}
	return t.Comm.Size()
}

// State returns the resume state at the last completed optimizer step. Its
// slabs are the live ones (no copy): save or copy them before the next
// step. It cannot fail: the state is typed, and SaveResume serialises it
// once.
func (t *Trainer) State() *ResumeState {
	pos := t.pos
	if !t.hasPos {
		pos = t.Loader.State()
	}
	return &ResumeState{
		Config: t.Model.Config, Step: t.Step, AdamStep: t.Opt.T, Epoch: pos.Epoch,
		Loader: pos, WorldSize: t.worldSize(), Options: t.Options, Skipped: t.Skipped,
		Params: t.params(), M: t.Opt.M, V: t.Opt.V,
	}
}

// Restore continues from st: weights, moments, counters and the loader's
// position. The architecture and world size must match, and st must lie
// within this run (its step at most TotalSteps).
func (t *Trainer) Restore(st *ResumeState, elapsed float64) error {
	if err := st.Validate(); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	if st.WorldSize != t.worldSize() {
		return fmt.Errorf("resume: saved by %d ranks, running %d: %w (the data order and batch split depend on it; resume with the same world size)", st.WorldSize, t.worldSize(), ErrWorldSize)
	}
	if len(st.Params) != len(t.params()) || len(st.M) != len(st.Params) || len(st.V) != len(st.Params) {
		return fmt.Errorf("resume: the saved model has %d parameters (moments %d, %d), this one %d (architecture flags differ?)", len(st.Params), len(st.M), len(st.V), len(t.params()))
	}
	if total := t.TotalSteps(); st.Step > total {
		return fmt.Errorf("resume: step %d is past this run's %d steps: %w", st.Step, total, ErrResumeField)
	}
	if st.Loader.Epoch > t.Options.Epochs {
		return fmt.Errorf("resume: loader epoch %d is past this run's %d epochs: %w", st.Loader.Epoch, t.Options.Epochs, ErrResumeField)
	}
	if err := t.Loader.Restore(st.Loader); err != nil {
		return fmt.Errorf("resume: %w", err)
	}
	copy(t.params(), st.Params)
	copy(t.Opt.M, st.M)
	copy(t.Opt.V, st.V)
	t.Opt.T = st.AdamStep
	t.Step, t.Skipped = st.Step, st.Skipped
	t.pos, t.hasPos = st.Loader, true
	t.elapsed0 = elapsed
	return nil
}

// Run trains until TotalSteps or until ctx is cancelled; then it saves a
// resume point at the last completed optimizer step (a partly accumulated
// step is discarded, and the loader rewound to its start) and returns
// ctx.Err().
func (t *Trainer) Run(ctx context.Context) error {
	o := t.Options
	if o.Accumulation < 1 {
		o.Accumulation = 1
	}
	total := t.TotalSteps()
	t.start = time.Now()
	m, be := t.Model, t.Model.Backend()
	micro := t.Micro
	if micro == nil && o.thinkWeight() != 1 && m.Config.UseMoE {
		// The model's one gradient scale would reweigh the balance loss
		// with the cross-entropy (reason.go).
		micro = thinkWeightMoEStep(m)
	}
	t.savePos()
	for t.Step < total {
		if err := ctx.Err(); err != nil {
			return t.interrupt(err)
		}
		stepStart := time.Now()
		epoch := t.Loader.Epoch()
		if t.Device != nil {
			if err := t.Device.ZeroGrad(); err != nil {
				return fmt.Errorf("step %d: %w", t.Step+1, err)
			}
		} else {
			m.ZeroGrad()
		}
		var loss, ce, aux float64
		var rw Rewards
		got, tokens := 0, 0
		dist := t.Comm != nil && t.Comm.Size() > 1
		for got < o.Accumulation {
			ok, err := t.Loader.Next(ctx, &t.batch)
			if err != nil {
				if ctx.Err() != nil {
					return t.interrupt(ctx.Err())
				}
				return err
			}
			if !ok {
				break
			}
			got++
			b := &t.batch
			if b.T > m.Config.MaxPositionEmbeddings {
				// The RoPE tables end there; the kernels would index past them.
				return fmt.Errorf("step %d: %d positions per row: %w %d", t.Step+1, b.T, ErrMaxSeqLen, m.Config.MaxPositionEmbeddings)
			}
			// One process takes the mean over the micro-batch's targets
			// (the seed's loss), each micro-batch weighted 1/Accumulation.
			w := 1.0
			ws, n := maskSums(b) // weighted and unweighted target counts (reason.go)
			if dist {
				// Ranks may hold different numbers of rows and targets (a
				// final partial batch, padding, SFT masks; a rank may hold
				// none): each weighs its own mean by its share of the global
				// micro-batch's targets, and the gradients are summed, so the
				// result is exactly one process's mean over the whole batch.
				// (An MoE balance loss is each rank's own, weighted alike:
				// being non-linear in the batch, it cannot match exactly.)
				total, err := t.sumCount(ctx, n)
				if err != nil {
					return fmt.Errorf("step %d: target count all-reduce: %w", t.Step+1, err)
				}
				w = 0
				if total > 0 {
					w = ws / float64(total)
				}
			} else if n > 0 {
				w = ws / float64(n) // exactly 1 unless the targets are weighted
			}
			if b.B == 0 { // a rank's empty share of a final partial batch
				continue
			}
			if t.OnMicro != nil {
				t.OnMicro(got, o.Accumulation)
			}
			scale := w / float64(o.Accumulation)
			var st model.Stats
			var r Rewards
			if micro != nil {
				st, r, err = micro(ctx, b, float32(scale))
			} else if t.Device != nil {
				st, err = t.Device.ForwardBackward(b.X, b.Y, b.LossMask, b.B, b.T, float32(scale))
			} else {
				st, err = m.ForwardBackward(b.X, b.Y, b.LossMask, b.B, b.T, float32(scale))
			}
			if err != nil {
				return fmt.Errorf("step %d: %w", t.Step+1, err)
			}
			// w/A rather than a precomputed scale: w is 1 in one process,
			// and x*1/A is bit for bit the seed's x/A.
			a := float64(o.Accumulation)
			loss += st.Loss * w / a
			ce += st.CE * w / a
			aux += st.Aux * w / a
			if micro != nil {
				rw.add(r, w/a)
			}
			tokens += b.B * b.T
		}
		if got == 0 {
			if t.Loader.Epoch() >= o.Epochs { // the data ran out early
				break
			}
			continue // the loader moved to the next epoch
		}
		if dist {
			// One all-reduce over the whole gradient slab per optimizer step:
			// a sum, each rank's part already weighted by its targets.
			var err error
			if gr, ok := t.Device.(GradReducer); ok { // on the device (NCCL)
				err = gr.AllReduceGrads(ctx)
			} else {
				err = t.Comm.AllReduceSum(ctx, t.grads())
			}
			if err != nil {
				return fmt.Errorf("step %d: gradient all-reduce: %w", t.Step+1, err)
			}
			// The logged loss is the global one, as a single process would see.
			t.stats = [7]float32{float32(loss), float32(ce), float32(aux),
				float32(rw.Acc), float32(rw.Chosen), float32(rw.Rejected), float32(rw.Margin)}
			n := 3
			if micro != nil {
				n = len(t.stats)
			}
			if err := t.Comm.AllReduceSum(ctx, t.stats[:n]); err != nil {
				return fmt.Errorf("step %d: loss all-reduce: %w", t.Step+1, err)
			}
			loss, ce, aux = float64(t.stats[0]), float64(t.stats[1]), float64(t.stats[2])
			if micro != nil {
				rw = Rewards{float64(t.stats[3]), float64(t.stats[4]), float64(t.stats[5]), float64(t.stats[6])}
			}
			n, err = t.sumCount(ctx, tokens)
			if err != nil {
				return fmt.Errorf("step %d: token count all-reduce: %w", t.Step+1, err)
			}
			tokens = n
		}
		var norm float64
		clip := float32(1) // the gradients' clipping factor, applied by the update
		overflow := false  // a loss scaler's skip (Device in fp16)
		if t.Device != nil {
			var err error
			if norm, overflow, err = t.Device.Unscale(); err != nil {
				return fmt.Errorf("step %d: %w", t.Step+1, err)
			}
		} else {
			var coef float64
			norm, coef = GradNorm(be, t.grads(), o.GradClip)
			clip = ClipScale(coef, o.GradClip)
		}
		lr := LR(t.Step, total, o.WarmupIters, o.LearningRate)
		// Every rank sees the same averaged loss and gradients, so every
		// rank makes the same choice here and they stay in lockstep.
		bad := nonfinite(stepValues, loss, ce, aux, norm)
		if overflow {
			// As AMP: the scaler backed off and the update is skipped; only
			// a non-finite loss counts against --skip_nonfinite.
			bad = nonfinite(stepValues[:3], loss, ce, aux)
		}
		rec := Step{
			Step: t.Step + 1, Total: total, Epoch: epoch, Loss: loss, CE: ce, Aux: aux, LR: lr, GradNorm: norm,
			Nonfinite: bad,
		}
		rw.fill(&rec)
		if bad != "" && t.Skipped >= o.SkipNonfinite {
			// Record the step that stopped the run, apply nothing, save
			// nothing: the files on disk stay those of the last good step.
			rec.TokensPerS, rec.ElapsedS, rec.Stopped = float64(tokens)/time.Since(stepStart).Seconds(), t.Elapsed(), true
			if t.OnStep != nil {
				t.OnStep(rec)
			}
			hint := "--skip_nonfinite N skips up to N such steps"
			if o.SkipNonfinite > 0 {
				hint = fmt.Sprintf("--skip_nonfinite %d: %d steps skipped already", o.SkipNonfinite, t.Skipped)
			}
			return fmt.Errorf("step %d: non-finite %s (loss %g, ce %g, aux %g, grad_norm %g): update not applied, nothing saved (the files hold the last save point); %s: %w",
				t.Step+1, bad, loss, ce, aux, norm, hint, ErrNonFinite)
		}
		switch {
		case bad != "":
			// As AMP's GradScaler: no update (AdamW's moments and t stay),
			// but the step counts and the schedule moves on.
			t.Skipped++
		case overflow:
		case t.Device != nil:
			t.Device.Apply(float32(lr), o.GradClip, norm)
		default:
			// ClipGradNorm + Step in one pass over the gradients.
			t.Opt.StepScaled(be, t.params(), t.grads(), float32(lr), clip)
		}
		t.Step++
		t.savePos()
		rec.TokensPerS, rec.ElapsedS = float64(tokens)/time.Since(stepStart).Seconds(), t.Elapsed()
		if t.OnStep != nil {
			t.OnStep(rec)
		}
		reason := ""
		switch {
		case t.Step == total:
			reason = "final"
		case t.Loader.Epoch() != epoch || t.Step%t.StepsPerEpoch() == 0:
			reason = "epoch"
		case o.SaveInterval > 0 && t.Step%o.SaveInterval == 0:
			reason = "interval"
		}
		if reason != "" && t.OnSave != nil {
			if err := t.syncDevice(true); err != nil {
				return fmt.Errorf("step %d: not saving: %w", t.Step, err)
			}
			if err := t.checkWeights(); err != nil {
				return fmt.Errorf("step %d: not saving: %w", t.Step, err)
			}
			if err := t.OnSave(ctx, reason, t.State()); err != nil {
				return fmt.Errorf("step %d: save: %w", t.Step, err)
			}
		}
	}
	return nil
}

// Elapsed is the training time so far, including resumed runs.
func (t *Trainer) Elapsed() float64 { return t.elapsed0 + time.Since(t.start).Seconds() }

func (t *Trainer) savePos() {
	t.pos, t.hasPos = t.Loader.State(), true
}

// sumCount returns the sum of n over all ranks, exactly: a float32 holds
// integers exactly only below 2^24, so n travels as three 12-bit digits,
// whose sums stay exact up to 4096 ranks (and n below 2^36 per rank).
func (t *Trainer) sumCount(ctx context.Context, n int) (int, error) {
	t.count = [3]float32{float32(n >> 24), float32((n >> 12) & 0xfff), float32(n & 0xfff)}
	if err := t.Comm.AllReduceSum(ctx, t.count[:]); err != nil {
		return 0, err
	}
	return int(t.count[0])<<24 + int(t.count[1])<<12 + int(t.count[2]), nil
}

// interrupt rewinds the loader to the last step boundary, saves, and
// returns err.
func (t *Trainer) interrupt(err error) error {
	if rerr := t.Loader.Restore(t.pos); rerr != nil {
		// The saved state holds t.pos, not the loader: it is still right.
		err = errors.Join(err, fmt.Errorf("rewinding the loader: %w", rerr))
	}
	if t.OnSave != nil {
		if werr := t.syncDevice(true); werr != nil {
			return errors.Join(err, fmt.Errorf("not saving on interrupt: %w", werr))
		}
		if werr := t.checkWeights(); werr != nil {
			return errors.Join(err, fmt.Errorf("not saving on interrupt: %w", werr))
		}
		if serr := t.OnSave(context.WithoutCancel(context.Background()), "interrupt", t.State()); serr != nil {
			return errors.Join(err, fmt.Errorf("saving on interrupt: %w", serr))
		}
	}
	return err
}

// stepValues names the values the loop checks, in nonfinite's order.
var stepValues = []string{"loss", "ce", "aux", "grad_norm"}

// checkWeights refuses weights or moments holding a NaN or Inf, which a
// checkpoint must never carry (a save would replace the last good one).
// Finite losses and gradients keep them finite, so this is a last guard;
// it reads the slabs once per save point.
func (t *Trainer) checkWeights() error {
	for _, x := range []struct {
		name string
		s    []float32
	}{{"weights", t.params()}, {"AdamW m", t.Opt.M}, {"AdamW v", t.Opt.V}} {
		if i := firstNonfinite(x.s); i >= 0 {
			return fmt.Errorf("the %s hold %v at index %d: %w", x.name, x.s[i], i, ErrNonFinite)
		}
	}
	return nil
}

// firstNonfinite returns the index of the first NaN or Inf in s, or -1.
func firstNonfinite(s []float32) int {
	for i, v := range s {
		// v-v is 0 for finite v and NaN for NaN and ±Inf.
		if v-v != 0 {
			return i
		}
	}
	return -1
}
