package train

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
)

// Distill is the white-box distillation loss of upstream
// trainer/train_distillation.py (d65ef2c), on the positions with a label:
//
//	loss = α·CE + (1−α)·T²·KL(softmax(teacher/T) ‖ softmax(student/T))
//
// with upstream's reductions: CE is the masked sum over (n + 1e-8) and the
// KL is reduction='batchmean' over the n selected rows only, i.e. the sum
// over rows and vocabulary of p_t·(log p_t − log q_s) divided by n. The
// teacher's logits are cut to the student's vocabulary before its softmax.
// An MoE student's balance loss is weighted by α in upstream (it is added
// to the CE term); Distiller.Step does the same.
type Distill struct {
	Alpha       float64 // --alpha: weight of the CE term
	Temperature float64 // --temperature: T of both softmaxes
}

// Validate reports an α outside [0,1] or a T that is not positive and
// finite, naming the flag.
func (d Distill) Validate() error {
	if !(d.Alpha >= 0 && d.Alpha <= 1) {
		return fmt.Errorf("--alpha %g: want a number in [0, 1]", d.Alpha)
	}
	if !(d.Temperature > 0) || math.IsInf(d.Temperature, 0) {
		return fmt.Errorf("--temperature %g: want a finite number above 0", d.Temperature)
	}
	return nil
}

// DistillParts is one micro-batch's distillation loss and its parts.
type DistillParts struct {
	Loss float64 // α·CE + (1−α)·KL (without an MoE student's balance loss)
	CE   float64 // masked mean cross-entropy against the labels
	KL   float64 // T²·KL, batchmean over the selected rows
	Rows int     // positions in the loss (target ≥ 0 and mask ≠ 0)
}

// Loss computes the distillation loss of student logits [N,V] against
// teacher logits [N,VT] (VT ≥ V; each row is cut to its first V entries)
// on the rows whose target is ≥ 0 and whose mask is not 0 (upstream's
// labels != -100), and ADDS d(loss)/d(student) to dlogits [N,V]; other rows
// get nothing. With no selected row everything is 0 (upstream's batchmean
// would divide by zero and give NaN, while its gradient is 0).
// Sums run in float64.
func (d Distill) Loss(dlogits, student, teacher []float32, targets []int32, mask []float32, V, VT int) DistillParts {
	N := len(targets)
	if V <= 0 || VT < V || len(student) < N*V || len(dlogits) < N*V || len(teacher) < N*VT || len(mask) < N {
		// Shapes are the caller's bug, as in the kernels.
		panic(fmt.Sprintf("train: distill loss: N %d V %d VT %d with %d student, %d teacher, %d dlogits, %d mask entries",
			N, V, VT, len(student), len(teacher), len(dlogits), len(mask)))
	}
	n := 0
	for i, y := range targets {
		if y >= 0 && mask[i] != 0 {
			n++
		}
	}
	if n == 0 {
		return DistillParts{}
	}
	T, a := d.Temperature, d.Alpha
	// d/ds of α·CE_i/(n+1e-8) is α/(n+1e-8)·(softmax(s) − onehot(y)); of
	// (1−α)·T²/n·Σ p_t(log p_t − log softmax(s/T)) it is (1−α)·T/n·(softmax(s/T) − p_t).
	wce := a / (float64(n) + 1e-8)
	wkl := (1 - a) * T / float64(n)
	// Rows are independent: they run in parallel (a batch of real size is
	// 10⁴ rows of 6400 logits), each writing its own CE and KL, summed
	// below in row order, so the result does not depend on the split.
	parts := make([]float64, 2*N)
	// row computes row i with scratch e [3V]: the three exponentials are
	// taken once per entry and reused for both the losses and the gradient.
	row := func(i int, e []float64) {
		y := targets[i]
		s := student[i*V : (i+1)*V]
		t := teacher[i*VT : i*VT+V]
		ds := dlogits[i*V : (i+1)*V]
		e1, eq, ep := e[:V], e[V:2*V], e[2*V:3*V]
		ms, mt := float64(s[0]), float64(t[0])
		for v := range s {
			ms, mt = math.Max(ms, float64(s[v])), math.Max(mt, float64(t[v]))
		}
		var s1, sq, sp float64
		for v := range s {
			e1[v] = math.Exp(float64(s[v]) - ms)
			eq[v] = math.Exp((float64(s[v]) - ms) / T)
			ep[v] = math.Exp((float64(t[v]) - mt) / T)
			s1, sq, sp = s1+e1[v], sq+eq[v], sp+ep[v]
		}
		lsq, lsp := math.Log(sq), math.Log(sp)
		var kl float64
		for v := range s {
			p := ep[v] / sp
			if p > 0 { // kl_div's target·(log target − input), 0 at target 0
				lp := (float64(t[v])-mt)/T - lsp // log softmax(t/T)
				lq := (float64(s[v])-ms)/T - lsq // log softmax(s/T)
				kl += p * (lp - lq)
			}
			g := wce*e1[v]/s1 + wkl*(eq[v]/sq-p)
			if v == int(y) {
				g -= wce
			}
			ds[v] += float32(g)
		}
		parts[2*i], parts[2*i+1] = ms+math.Log(s1)-float64(s[y]), kl
	}
	workers := min(runtime.GOMAXPROCS(0), max(1, n*V/(1<<16)))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			e := make([]float64, 3*V)
			for i := w; i < N; i += workers {
				if targets[i] >= 0 && mask[i] != 0 {
					row(i, e)
				}
			}
		})
	}
	wg.Wait()
	var ce, kl float64
	for i := range N {
		ce += parts[2*i]
		kl += parts[2*i+1]
	}
	ce /= float64(n) + 1e-8
	kl *= T * T / float64(n)
	return DistillParts{Loss: a*ce + (1-a)*kl, CE: ce, KL: kl, Rows: n}
}

// Distiller runs one distillation micro-batch: the teacher's logits from
// its inference pass (no gradients, no activations kept), then the
// student's forward pass, the Distill loss on its logits and its backward
// pass. Parts holds the last micro-batch's loss parts.
type Distiller struct {
	Teacher *model.Model
	Loss    Distill
	Parts   DistillParts
}

// NewDistiller checks that teacher can teach student: the teacher's
// vocabulary must hold the student's (its logits are cut to the student's
// vocabulary, as upstream), and α and T must be valid.
func NewDistiller(teacher *model.Model, student *model.Config, loss Distill) (*Distiller, error) {
	if err := loss.Validate(); err != nil {
		return nil, err
	}
	if tv, sv := teacher.Config.VocabSize, student.VocabSize; tv < sv {
		return nil, fmt.Errorf("train: the teacher's vocab_size %d is smaller than the student's %d: its logits cannot be cut to the student's vocabulary (distillation needs the same tokenizer): %w",
			tv, sv, ErrArchitecture)
	}
	return &Distiller{Teacher: teacher, Loss: loss}, nil
}

// Step adds the gradient of the distillation loss on micro-batch b, times
// scale, to m.Grads. An MoE student's balance loss is weighted α, as
// upstream adds it to the CE term: the backward pass runs at scale·α with
// the logits' gradient divided by α (with α 0 the balance loss keeps
// weight 1, where upstream drops it). The Stats are the upstream log's:
// Loss the total, CE the cross-entropy, Aux the balance loss; Parts the
// rest.
func (d *Distiller) Step(m *model.Model, b *data.Batch, scale float32) (model.Stats, error) {
	N := b.B * b.T
	if b.T > d.Teacher.Config.MaxPositionEmbeddings {
		return model.Stats{}, fmt.Errorf("teacher: %d positions per row: %w %d", b.T, ErrMaxSeqLen, d.Teacher.Config.MaxPositionEmbeddings)
	}
	tl, err := d.Teacher.Logits(b.X[:N], b.B, b.T, nil, 0)
	if err != nil {
		return model.Stats{}, fmt.Errorf("teacher: %w", err)
	}
	V, VT := m.Config.VocabSize, d.Teacher.Config.VocabSize
	a := d.Loss.Alpha
	weighAux := m.Config.UseMoE && a > 0
	s := scale
	if weighAux {
		s = scale * float32(a)
	}
	st, err := m.ForwardBackwardLogits(b.X[:N], b.B, b.T, s, func(logits, dlogits []float32) (float64, error) {
		d.Parts = d.Loss.Loss(dlogits, logits, tl, b.Y[:N], b.LossMask[:N], V, VT)
		if weighAux {
			inv := float32(1 / a)
			for i := range dlogits {
				dlogits[i] *= inv
			}
		}
		return d.Parts.Loss, nil
	})
	if err != nil {
		return model.Stats{}, err
	}
	aw := 1.0
	if m.Config.UseMoE {
		aw = a
		if a == 0 {
			aw = 1
		}
	}
	return model.Stats{Loss: d.Parts.Loss + aw*st.Aux, CE: d.Parts.CE, Aux: st.Aux, Tokens: float64(d.Parts.Rows)}, nil
}

// Micro returns Step on student m as the training loop's MicroStep.
func (d *Distiller) Micro(m *model.Model) MicroStep {
	return func(_ context.Context, b *data.Batch, scale float32) (model.Stats, Rewards, error) {
		st, err := d.Step(m, b, scale)
		return st, Rewards{}, err
	}
}

// StepKL returns the T²·KL part of a distillation step from its record,
// which carries the loss, CE and balance loss (each weighed over
// micro-batches and ranks alike, so the parts add up as in one batch):
// (loss − α·(ce + aux))/(1 − α), with the balance loss at weight 1 when α
// is 0 (Step). With α 1 the KL is not in the loss: 0.
func (d Distill) StepKL(s Step) float64 {
	a := d.Alpha
	if a >= 1 {
		return 0
	}
	aw := a
	if a == 0 {
		aw = 1
	}
	return (s.Loss - a*s.CE - aw*s.Aux) / (1 - a)
}
