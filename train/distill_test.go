package train_test

import (
	"context"
	"encoding/json"
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// distillInputs is posttrain/distill/inputs.json.
type distillInputs struct {
	InputIDs [][]int32 `json:"input_ids"`
	Labels   [][]int32 `json:"labels"`
}

// distillExpected is the part of posttrain/distill/expected.json the
// tests check.
type distillExpected struct {
	Alpha       float64 `json:"alpha"`
	Temperature float64 `json:"temperature"`
	Loss        float64 `json:"loss"`
	CE          float64 `json:"ce_loss"`
	Distill     float64 `json:"distill_loss"`
	Selected    int     `json:"selected_positions"`
}

func readDistillFixture(t *testing.T) (string, distillInputs, distillExpected) {
	t.Helper()
	dir := fixture.Dir(t, "posttrain/distill")
	var in distillInputs
	var exp distillExpected
	for name, v := range map[string]any{"inputs.json": &in, "expected.json": &exp} {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return dir, in, exp
}

// shiftedTargets turns upstream's labels [B,T] into per-position targets
// [B,T]: position t predicts labels[t+1]; the last position is ignored.
func shiftedTargets(labels [][]int32) (tg []int32, mask []float32) {
	for _, row := range labels {
		for t := range row {
			v := int32(-100)
			if t+1 < len(row) {
				v = row[t+1]
			}
			m := float32(0)
			if v >= 0 {
				m = 1
			}
			tg, mask = append(tg, v), append(mask, m)
		}
	}
	return tg, mask
}

// TestDistillLossFixture: upstream's loss on upstream's own logits
// (posttrain/distill expected.safetensors, [2,15,320] each) within the
// README's loss tolerance (2e-6).
func TestDistillLossFixture(t *testing.T) {
	dir, in, exp := readDistillFixture(t)
	f := modeltest.ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	s, te := modeltest.Floats(t, f, "student_logits"), modeltest.Floats(t, f, "teacher_logits")
	B, T := len(in.Labels), len(in.Labels[0])-1
	V := len(s) / (B * T)
	// Labels shifted by one, as upstream's labels[:, 1:].
	var tg []int32
	var mask []float32
	for _, row := range in.Labels {
		for _, y := range row[1:] {
			tg = append(tg, y)
			mask = append(mask, 1)
		}
	}
	d := train.Distill{Alpha: exp.Alpha, Temperature: exp.Temperature}
	dl := make([]float32, len(s))
	p := d.Loss(dl, s, te, tg, mask, V, V)
	if p.Rows != exp.Selected {
		t.Errorf("%d rows selected, want %d", p.Rows, exp.Selected)
	}
	for _, c := range []struct {
		name      string
		got, want float64
	}{{"loss", p.Loss, exp.Loss}, {"ce", p.CE, exp.CE}, {"distill", p.KL, exp.Distill}} {
		if math.Abs(c.got-c.want) > 2e-6 {
			t.Errorf("%s %.9g, want %.9g", c.name, c.got, c.want)
		}
	}
	t.Logf("loss %.9g (want %.9g) ce %.9g distill %.9g", p.Loss, exp.Loss, p.CE, p.KL)
}

// TestDistillLossGradient checks Loss's gradient against central finite
// differences (float64 sums over float32 logits, h 1e-2) with a teacher of
// a larger vocabulary (cut to the student's), masked rows and a negative
// target, for α 0.5 and the ends 0 and 1; masked rows get no gradient.
func TestDistillLossGradient(t *testing.T) {
	const N, V, VT = 6, 7, 9
	r := rand.New(rand.NewPCG(1, 2))
	s := make([]float32, N*V)
	te := make([]float32, N*VT)
	for i := range s {
		s[i] = float32(r.NormFloat64() * 2)
	}
	for i := range te {
		te[i] = float32(r.NormFloat64() * 2)
	}
	tg := []int32{3, -100, 0, 6, 2, 5}
	mask := []float32{1, 1, 1, 0, 1, 1}
	for _, d := range []train.Distill{{Alpha: 0.5, Temperature: 1.5}, {Alpha: 0, Temperature: 2}, {Alpha: 1, Temperature: 0.7}} {
		dl := make([]float32, N*V)
		p := d.Loss(dl, s, te, tg, mask, V, VT)
		if p.Rows != 4 {
			t.Fatalf("%d rows, want 4", p.Rows)
		}
		if want := d.Alpha*p.CE + (1-d.Alpha)*p.KL; math.Abs(p.Loss-want) > 1e-12 {
			t.Errorf("%+v: loss %g ≠ α·ce + (1−α)·kl = %g", d, p.Loss, want)
		}
		loss := func() float64 { return d.Loss(make([]float32, N*V), s, te, tg, mask, V, VT).Loss }
		const h = 1e-2
		for i := range s {
			if row := i / V; tg[row] < 0 || mask[row] == 0 {
				if dl[i] != 0 {
					t.Errorf("%+v: masked row %d got gradient %g", d, row, dl[i])
				}
				continue
			}
			x := s[i]
			s[i] = x + h
			up := loss()
			s[i] = x - h
			dn := loss()
			s[i] = x
			fd := (up - dn) / (2 * h)
			if math.Abs(fd-float64(dl[i])) > 1e-4+1e-3*math.Abs(fd) {
				t.Errorf("%+v: d/ds[%d] = %.6g, finite difference %.6g", d, i, dl[i], fd)
			}
		}
	}
}

// TestDistillLossKLZero: a student equal to the (cut) teacher has a zero
// KL, and its gradient is the CE part's alone; no selected row is a zero
// loss with no gradient.
func TestDistillLossKLZero(t *testing.T) {
	const V, VT = 4, 6
	s := []float32{0.5, -1, 2, 0.25}
	te := []float32{0.5, -1, 2, 0.25, 9, -9} // the extra logits are cut before the softmax
	d := train.Distill{Alpha: 0.5, Temperature: 1.5}
	dl := make([]float32, V)
	p := d.Loss(dl, s, te, []int32{2}, []float32{1}, V, VT)
	if math.Abs(p.KL) > 1e-12 {
		t.Errorf("KL of identical distributions = %g", p.KL)
	}
	dce := make([]float32, V)
	pce := train.Distill{Alpha: 1, Temperature: 1.5}.Loss(dce, s, te, []int32{2}, []float32{1}, V, VT)
	if math.Abs(p.CE-pce.CE) > 1e-12 {
		t.Errorf("ce %g vs %g", p.CE, pce.CE)
	}
	for v := range dl {
		if math.Abs(float64(dl[v]-0.5*dce[v])) > 1e-7 {
			t.Errorf("grad[%d] %g, want half the CE gradient %g", v, dl[v], dce[v])
		}
	}
	dl = make([]float32, V)
	if p := d.Loss(dl, s, te, []int32{-100}, []float32{1}, V, VT); p != (train.DistillParts{}) || dl[0] != 0 {
		t.Errorf("no selected row: %+v, grad %v", p, dl)
	}
}

// TestDistillValidate: α outside [0,1] and a non-positive T are refused,
// naming the flag.
func TestDistillValidate(t *testing.T) {
	for _, c := range []struct {
		d    train.Distill
		flag string
	}{{train.Distill{Alpha: 1.5, Temperature: 1}, "--alpha"}, {train.Distill{Alpha: math.NaN(), Temperature: 1}, "--alpha"},
		{train.Distill{Alpha: 0.5, Temperature: 0}, "--temperature"}, {train.Distill{Alpha: 0.5, Temperature: math.Inf(1)}, "--temperature"}} {
		err := c.d.Validate()
		if err == nil || !strings.Contains(err.Error(), c.flag) {
			t.Errorf("%+v: error %v, want one naming %s", c.d, err, c.flag)
		}
	}
	if err := (train.Distill{Alpha: 0.5, Temperature: 1.5}).Validate(); err != nil {
		t.Error(err)
	}
}

// loadHF loads a fixture's HF directory on the CPU backend.
func loadHF(t *testing.T, name string) *model.Model {
	t.Helper()
	p, err := checkpoint.LoadHF(fixture.Dir(t, name))
	if err != nil {
		t.Fatal(err)
	}
	return model.New(p, cpu.New(cpu.Options{Threads: 2}))
}

// distillBatch is posttrain/distill's inputs as a batch: all 16 positions
// (the last one has no target, so its logits are not in the loss, as
// upstream's logits[:, :-1]).
func distillBatch(in distillInputs) *data.Batch {
	B, T := len(in.InputIDs), len(in.InputIDs[0])
	b := &data.Batch{B: B, T: T}
	for _, row := range in.InputIDs {
		b.X = append(b.X, row...)
	}
	b.Y, b.LossMask = shiftedTargets(in.Labels)
	return b
}

// TestDistillParity: one Distiller step of student minimind3-dense taught
// by minimind3-moe against upstream's (posttrain/distill): the loss, its
// parts and every student gradient within the README's tolerances (loss
// 2e-6, gradients 2e-5 abs).
func TestDistillParity(t *testing.T) {
	_, in, exp := readDistillFixture(t)
	student, teacher := loadHF(t, "minimind3-dense"), loadHF(t, "minimind3-moe")
	dir := fixture.Dir(t, "posttrain/distill")
	d, err := train.NewDistiller(teacher, &student.Config, train.Distill{Alpha: exp.Alpha, Temperature: exp.Temperature})
	if err != nil {
		t.Fatal(err)
	}
	b := distillBatch(in)
	student.ZeroGrad()
	st, err := d.Step(student, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(st.Loss-exp.Loss) > 2e-6 || math.Abs(st.CE-exp.CE) > 2e-6 || math.Abs(d.Parts.KL-exp.Distill) > 2e-6 || st.Aux != 0 {
		t.Errorf("loss %.9g ce %.9g distill %.9g aux %g; want %.9g %.9g %.9g 0", st.Loss, st.CE, d.Parts.KL, st.Aux, exp.Loss, exp.CE, exp.Distill)
	}
	if d.Parts.Rows != exp.Selected {
		t.Errorf("%d rows, want %d", d.Parts.Rows, exp.Selected)
	}
	grads := modeltest.ReadTensors(t, filepath.Join(dir, "grads.safetensors"))
	var worst float64
	for _, s := range student.Params.Specs {
		worst = math.Max(worst, kerneltest.AllClose(t, "grad/"+s.Name, student.Params.View(student.Grads, s.Name), modeltest.Floats(t, grads, s.Name), 2e-5, 0))
	}
	// The teacher's logits are upstream's too (its inference pass).
	want := modeltest.ReadTensors(t, filepath.Join(dir, "expected.safetensors"))
	tl, err := teacher.Logits(b.X, b.B, b.T, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	V := teacher.Config.VocabSize
	var cut []float32
	for r := 0; r < b.B; r++ {
		cut = append(cut, tl[r*b.T*V:(r*b.T+b.T-1)*V]...)
	}
	kerneltest.AllClose(t, "teacher_logits", cut, modeltest.Floats(t, want, "teacher_logits"), 1e-4, 0)
	t.Logf("loss %.9g (want %.9g), max |grad diff| %.3g", st.Loss, exp.Loss, worst)
}

// TestDistillMoEStudentAux: an MoE student's balance loss enters with
// weight α, as upstream's alpha·(ce + aux_loss): the step's gradients are
// those of the distillation loss plus α times the balance loss's.
func TestDistillMoEStudentAux(t *testing.T) {
	_, in, _ := readDistillFixture(t)
	student, teacher := loadHF(t, "minimind3-moe"), loadHF(t, "minimind3-dense")
	const alpha = 0.3
	loss := train.Distill{Alpha: alpha, Temperature: 1.5}
	d, err := train.NewDistiller(teacher, &student.Config, loss)
	if err != nil {
		t.Fatal(err)
	}
	b := distillBatch(in)
	N, V := b.B*b.T, student.Config.VocabSize
	tl, err := teacher.Logits(b.X, b.B, b.T, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	tl = append([]float32(nil), tl...)
	// Both parts at weight 1, then the balance loss alone.
	student.ZeroGrad()
	full, err := student.ForwardBackwardLogits(b.X, b.B, b.T, 1, func(logits, dlogits []float32) (float64, error) {
		return loss.Loss(dlogits, logits, tl, b.Y[:N], b.LossMask[:N], V, V).Loss, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	both := append([]float32(nil), student.Grads...)
	student.ZeroGrad()
	if _, err := student.ForwardBackwardLogits(b.X, b.B, b.T, 1, func(_, _ []float32) (float64, error) { return 0, nil }); err != nil {
		t.Fatal(err)
	}
	aux := append([]float32(nil), student.Grads...)
	student.ZeroGrad()
	st, err := d.Step(student, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if full.Aux <= 0 || math.Abs(st.Aux-full.Aux) > 1e-12 || math.Abs(st.Loss-(full.CE+alpha*full.Aux)) > 1e-9 {
		t.Errorf("step loss %.9g aux %.9g; want %.9g + %g·%.9g", st.Loss, st.Aux, full.CE, alpha, full.Aux)
	}
	want := make([]float32, len(both))
	for i := range want {
		want[i] = both[i] - (1-alpha)*aux[i]
	}
	kerneltest.AllClose(t, "grads", student.Grads, want, 1e-6, 1e-5)
}

// TestDistillTeacherVocab: a teacher whose vocabulary is smaller than the
// student's is refused, naming both sizes; a larger one is cut.
func TestDistillTeacherVocab(t *testing.T) {
	sc := modeltest.TinyConfig3(false)
	tc := sc
	tc.VocabSize = sc.VocabSize - 1
	small := modeltest.Model(t, tc, 1, cpu.New(cpu.Options{Threads: 1}))
	_, err := train.NewDistiller(small, &sc, train.Distill{Alpha: 0.5, Temperature: 1.5})
	if err == nil || !errors.Is(err, train.ErrArchitecture) || !strings.Contains(err.Error(), "49") || !strings.Contains(err.Error(), "50") {
		t.Fatalf("smaller teacher: error %v, want ErrArchitecture naming 49 and 50", err)
	}
	tc.VocabSize = sc.VocabSize + 14
	big := modeltest.Model(t, tc, 2, cpu.New(cpu.Options{Threads: 1}))
	student := modeltest.Model(t, sc, 3, cpu.New(cpu.Options{Threads: 1}))
	d, err := train.NewDistiller(big, &sc, train.Distill{Alpha: 0.5, Temperature: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	b := &data.Batch{B: 1, T: 4, X: []int32{1, 7, 49, 3}, Y: []int32{7, 49, 3, -100}, LossMask: []float32{1, 1, 1, 0}}
	student.ZeroGrad()
	st, err := d.Step(student, b, 1)
	if err != nil {
		t.Fatal(err)
	}
	if d.Parts.Rows != 3 || !(st.Loss > 0) || !(d.Parts.KL > 0) {
		t.Errorf("larger teacher: %+v, parts %+v", st, d.Parts)
	}
}

// distillTrainer is newTrainer's loop distilling tinyModel from a tiny
// MoE teacher with 4 more vocabulary entries (cut off).
func distillTrainer(t *testing.T, accum int) (*train.Trainer, *train.Distiller) {
	t.Helper()
	tr := newTrainer(t, false, 3, accum, 2)
	tc := tinyConfig(true)
	tc.VocabSize += 4
	teacher := modeltest.Model(t, tc, 99, cpu.New(cpu.Options{}))
	d, err := train.NewDistiller(teacher, &tr.Model.Config, train.Distill{Alpha: 0.5, Temperature: 1.5})
	if err != nil {
		t.Fatal(err)
	}
	tr.Micro = d.Micro(tr.Model)
	return tr, d
}

// TestDistillExactResume: a distillation run interrupted at a step
// boundary or between accumulated micro-batches and resumed from its state
// repeats the uninterrupted run's losses and final weights bit for bit;
// and the run teaches: the KL part falls.
func TestDistillExactResume(t *testing.T) {
	ref, d := distillTrainer(t, 2)
	// The KL to the teacher on 8 fixed samples, from the inference passes.
	var fixed data.Sample
	b := &data.Batch{B: 8}
	for i := range 8 {
		if err := (synthetic{n: 37, maxLen: 9, vocab: 60}).Sample(i, &fixed); err != nil {
			t.Fatal(err)
		}
		b.T = len(fixed.X)
		b.X, b.Y, b.LossMask = append(b.X, fixed.X...), append(b.Y, fixed.Y...), append(b.LossMask, fixed.LossMask...)
	}
	klNow := func() float64 {
		tl, err := d.Teacher.Logits(b.X, b.B, b.T, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		sl, err := ref.Model.Logits(b.X, b.B, b.T, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		V := ref.Model.Config.VocabSize
		return d.Loss.Loss(make([]float32, len(sl)), sl, tl, b.Y, b.LossMask, V, d.Teacher.Config.VocabSize).KL
	}
	kl0 := klNow()
	var want []float64
	ref.OnStep = func(s train.Step) { want = append(want, s.Loss) }
	if err := ref.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if kl1 := klNow(); !(kl1 < 0.8*kl0) {
		t.Errorf("KL to the teacher %.4g before, %.4g after %d steps: want it below 0.8×", kl0, kl1, len(want))
	} else {
		t.Logf("KL to the teacher on 8 samples: %.4g → %.4g in %d steps", kl0, kl1, len(want))
	}
	for _, cut := range []int64{8, 14} {
		first, _ := distillTrainer(t, 2)
		var got []float64
		first.OnStep = func(s train.Step) { got = append(got, s.Loss) }
		var saved *train.ResumeState
		first.OnSave = func(_ context.Context, reason string, st *train.ResumeState) error {
			if reason == "interrupt" {
				c := *st
				c.Params = append([]float32(nil), st.Params...)
				c.M, c.V = append([]float32(nil), st.M...), append([]float32(nil), st.V...)
				saved = &c
			}
			return nil
		}
		ctx := &cancelAfter{Context: context.Background()}
		ctx.n.Store(cut)
		if err := first.Run(ctx); err != context.Canceled || saved == nil {
			t.Fatalf("cut %d: Run = %v, saved %v", cut, err, saved != nil)
		}
		second, _ := distillTrainer(t, 2)
		if err := second.Restore(saved, 0); err != nil {
			t.Fatal(err)
		}
		second.OnStep = func(s train.Step) { got = append(got, s.Loss) }
		if err := second.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("cut %d: %d steps, want %d", cut, len(got), len(want))
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("cut %d: step %d loss %.17g, want %.17g", cut, i+1, got[i], want[i])
			}
		}
		for i, v := range ref.Model.Params.Data {
			if second.Model.Params.Data[i] != v {
				t.Fatalf("cut %d: final weight %d differs", cut, i)
			}
		}
	}
}

// TestDistillStepKL: the KL part read back from a step record is the
// micro-batch's, for a dense and an MoE student.
func TestDistillStepKL(t *testing.T) {
	_, in, exp := readDistillFixture(t)
	for _, name := range []string{"minimind3-dense", "minimind3-moe"} {
		student, teacher := loadHF(t, name), loadHF(t, "minimind3-moe")
		for _, alpha := range []float64{0, 0.3, exp.Alpha} {
			d, err := train.NewDistiller(teacher, &student.Config, train.Distill{Alpha: alpha, Temperature: 1.5})
			if err != nil {
				t.Fatal(err)
			}
			st, err := d.Step(student, distillBatch(in), 1)
			if err != nil {
				t.Fatal(err)
			}
			got := d.Loss.StepKL(train.Step{Loss: st.Loss, CE: st.CE, Aux: st.Aux})
			if math.Abs(got-d.Parts.KL) > 1e-9 {
				t.Errorf("%s α %g: StepKL %.12g, want %.12g", name, alpha, got, d.Parts.KL)
			}
		}
	}
}

// TestDistillDataParallel: 2 ranks × batch 2 distil as 1 process × batch
// 4 — losses and final weights — on rows with different numbers of
// targets and a last global batch split 2+1: both parts are means over the
// labelled positions, which the loop's weighting by targets makes global.
func TestDistillDataParallel(t *testing.T) {
	ds := ragged{synthetic{n: 11, maxLen: 9, vocab: 60}}
	trainer := func(batch, r, world int, comm train.Reducer) *train.Trainer {
		m := tinyModel(t, false)
		l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: batch, Rank: r, World: world})
		if err != nil {
			t.Fatal(err)
		}
		o := train.DefaultOptions()
		o.Epochs, o.LearningRate = 1, 3e-3
		tr := &train.Trainer{Model: m, Loader: l, Opt: train.NewAdamW(m.Params, o.AdamW), Options: o, Comm: comm}
		d, err := train.NewDistiller(modeltest.Model(t, tinyConfig(true), 99, cpu.New(cpu.Options{Threads: 1})), &m.Config, train.DefaultDistill())
		if err != nil {
			t.Fatal(err)
		}
		tr.Micro = d.Micro(m)
		return tr
	}
	one := trainer(4, 0, 1, nil)
	var want []float64
	one.OnStep = func(s train.Step) { want = append(want, s.Loss) }
	if err := one.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	g := newGroup(2)
	two := []*train.Trainer{trainer(2, 0, 2, rank{g, 0, 2}), trainer(2, 1, 2, rank{g, 1, 2})}
	var got []float64
	two[0].OnStep = func(s train.Step) { got = append(got, s.Loss) }
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i, tr := range two {
		wg.Go(func() { errs[i] = tr.Run(context.Background()) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if len(want) != 3 || len(got) != len(want) {
		t.Fatalf("steps: %d (1 process) vs %d (2 ranks), want 3", len(want), len(got))
	}
	for i := range want {
		if math.Abs(want[i]-got[i]) > 1e-5 {
			t.Errorf("step %d: loss %.7f (1 process) vs %.7f (2 ranks)", i+1, want[i], got[i])
		}
	}
	var maxd float64
	for i, v := range one.Model.Params.Data {
		for _, tr := range two {
			maxd = math.Max(maxd, math.Abs(float64(v-tr.Model.Params.Data[i])))
		}
	}
	if maxd > 1e-5 {
		t.Errorf("final weights differ by up to %g", maxd)
	}
}

// BenchmarkDistillLoss: one micro-batch of upstream's size (32 rows of
// 339 positions, every position labelled) at the 6400-token vocabulary.
func BenchmarkDistillLoss(b *testing.B) {
	const N, V = 32 * 339, 6400
	r := rand.New(rand.NewPCG(1, 2))
	s, te := make([]float32, N*V), make([]float32, N*V)
	for i := range s {
		s[i], te[i] = float32(r.NormFloat64()), float32(r.NormFloat64())
	}
	tg, mask := make([]int32, N), make([]float32, N)
	for i := range tg {
		tg[i], mask[i] = int32(r.IntN(V)), 1
	}
	dl := make([]float32, N*V)
	d := train.DefaultDistill()
	for b.Loop() {
		d.Loss(dl, s, te, tg, mask, V, V)
	}
}
