package train_test

import (
	"context"
	"math"
	"slices"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// prompted is synthetic SFT data: the first 3 targets of each row are a
// prompt, out of the loss.
type prompted struct{ synthetic }

func (p prompted) Kind() data.Kind { return data.KindSFT }
func (p prompted) Sample(i int, dst *data.Sample) error {
	if err := p.synthetic.Sample(i, dst); err != nil {
		return err
	}
	clear(dst.LossMask[:3])
	return nil
}

// reasonLoss is 2510's train_reason.py loss of one step over batches:
// the mean over micro-batches of Σ w·ce / Σ[w ≠ 0], with ce from the
// model's TokenLosses.
func reasonLoss(t *testing.T, m *model.Model, batches []data.Batch) float64 {
	t.Helper()
	var loss float64
	for _, b := range batches {
		if _, err := m.Loss(b.X, b.Y, b.LossMask, b.B, b.T, true); err != nil {
			t.Fatal(err)
		}
		var sum float64
		count := 0
		for i, ce := range m.TokenLosses(true) {
			if w := b.LossMask[i]; w != 0 {
				sum += float64(w) * float64(ce)
				count++
			}
		}
		// upstream adds the balance loss unweighted
		st, err := m.Loss(b.X, b.Y, b.LossMask, b.B, b.T, true)
		if err != nil {
			t.Fatal(err)
		}
		loss += (sum/float64(count) + st.Aux) / float64(len(batches))
	}
	return loss
}

// TestThinkWeightStep: with the tag tokens weighted 10, one optimizer step
// of the loop logs CE = Σ w·ce / (unweighted count), averaged over the
// accumulated micro-batches, and its gradient is that loss's: checked
// against central finite differences on a fresh copy of the model.
func TestThinkWeightStep(t *testing.T) {
	for _, moe := range []bool{false, true} {
		t.Run(map[bool]string{false: "dense", true: "moe"}[moe], func(t *testing.T) { thinkWeightStep(t, moe) })
	}
}

func thinkWeightStep(t *testing.T, moe bool) {
	var tags []int32 // every fifth id plays a tag token
	for id := int32(0); id < 60; id += 5 {
		tags = append(tags, id)
	}
	ds := data.WeightTargets(prompted{synthetic{n: 8, maxLen: 9, vocab: 60}}, tags, 10)
	lopts := data.LoaderOptions{BatchSize: 4, Seed: 3}
	l, err := data.NewLoader(ds, lopts)
	if err != nil {
		t.Fatal(err)
	}
	m := tinyModel(t, moe)
	o := train.DefaultSFTOptions()
	o.Epochs, o.Accumulation, o.LearningRate, o.GradClip, o.ThinkWeight = 1, 2, 0, 0, 10
	tr := &train.Trainer{Model: m, Loader: l, Opt: train.NewAdamW(m.Params, o.AdamW), Options: o}
	var steps []train.Step
	tr.OnStep = func(s train.Step) { steps = append(steps, s) }
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(steps) != 1 {
		t.Fatalf("%d steps, want 1 (8 rows, batch 4, accumulation 2)", len(steps))
	}

	// The same two micro-batches, on an untouched copy of the model.
	l2, err := data.NewLoader(ds, lopts)
	if err != nil {
		t.Fatal(err)
	}
	batches := make([]data.Batch, 2)
	for i := range batches {
		if ok, err := l2.Next(context.Background(), &batches[i]); !ok || err != nil {
			t.Fatalf("batch %d: %v, %v", i, ok, err)
		}
		// The weights must move the mean, or the test could not tell the
		// two normalisations apart.
		var sum, count float64
		for _, w := range batches[i].LossMask {
			if w != 0 {
				sum += float64(w)
				count++
			}
		}
		if sum/count < 1.5 {
			t.Fatalf("batch %d: Σw/count = %g: too few tag tokens to test anything", i, sum/count)
		}
	}
	ref := tinyModel(t, moe)
	want := reasonLoss(t, ref, batches)
	if got := steps[0].Loss; math.Abs(got-want) > 1e-5*want {
		t.Errorf("logged loss %.7g, want Σw·ce/count + aux %.7g", got, want)
	}
	if moe && !(steps[0].Aux > 0) {
		t.Errorf("MoE step logged aux %g", steps[0].Aux)
	}

	// Finite differences at the coordinates with the largest gradients and
	// a few others.
	g := m.Grads
	idx := make([]int, len(g))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int {
		return -cmpAbs(g[a], g[b])
	})
	check := append(idx[:6:6], 7, len(g)/3, len(g)/2, len(g)-5)
	const eps = 1e-3
	p := ref.Params.Data
	for _, i := range check {
		x := p[i]
		p[i] = x + eps
		up := reasonLoss(t, ref, batches)
		p[i] = x - eps
		down := reasonLoss(t, ref, batches)
		p[i] = x
		fd := (up - down) / (2 * eps)
		if math.Abs(fd-float64(g[i])) > 1e-3+2e-2*math.Abs(fd) {
			t.Errorf("param %d: gradient %.6g, finite difference %.6g", i, g[i], fd)
		}
	}
}

func cmpAbs(a, b float32) int {
	x, y := math.Abs(float64(a)), math.Abs(float64(b))
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	}
	return 0
}

// TestThinkWeightDataParallel: with weighted targets, 2 ranks × batch 2
// log the CE and sum the gradients of 1 process × batch 4 (each rank's
// weighted sum over the global unweighted count), rows holding different
// numbers of targets and the last global batch split 2+1.
func TestThinkWeightDataParallel(t *testing.T) {
	var tags []int32
	for id := int32(0); id < 60; id += 5 {
		tags = append(tags, id)
	}
	for _, accum := range []int{1, 2} {
		ds := data.WeightTargets(ragged{synthetic{n: 11, maxLen: 9, vocab: 60}}, tags, 10)
		trainer := func(batch, r, world int, comm train.Reducer) *train.Trainer {
			m := tinyModel(t, false)
			l, err := data.NewLoader(ds, data.LoaderOptions{BatchSize: batch, Rank: r, World: world})
			if err != nil {
				t.Fatal(err)
			}
			o := train.DefaultOptions()
			o.Epochs, o.Accumulation, o.LearningRate, o.ThinkWeight = 1, accum, 0, 10
			return &train.Trainer{Model: m, Loader: l, Opt: train.NewAdamW(m.Params, o.AdamW), Options: o, Comm: comm}
		}
		one := trainer(4, 0, 1, nil)
		var want []float64
		one.OnStep = func(s train.Step) { want = append(want, s.CE) }
		if err := one.Run(context.Background()); err != nil {
			t.Fatal(err)
		}
		g := newGroup(2)
		two := []*train.Trainer{trainer(2, 0, 2, rank{g, 0, 2}), trainer(2, 1, 2, rank{g, 1, 2})}
		var got []float64
		two[0].OnStep = func(s train.Step) { got = append(got, s.CE) }
		errs := make([]error, 2)
		var wg sync.WaitGroup
		for i, tr := range two {
			wg.Go(func() { errs[i] = tr.Run(context.Background()) })
		}
		wg.Wait()
		for _, err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		if len(want) == 0 || len(got) != len(want) {
			t.Fatalf("accumulation %d: %d steps (1 process) vs %d (2 ranks)", accum, len(want), len(got))
		}
		for i := range want {
			if math.Abs(want[i]-got[i]) > 1e-5*want[i] {
				t.Errorf("accumulation %d, step %d: CE %.7f (1 process) vs %.7f (2 ranks)", accum, i+1, want[i], got[i])
			}
		}
		// lr 0 keeps the weights equal, so the last step's summed
		// gradients compare directly (Adam would magnify rounding in tiny
		// gradients).
		var maxd, maxg float64
		for i, v := range one.Model.Grads {
			maxg = math.Max(maxg, math.Abs(float64(v)))
			maxd = math.Max(maxd, math.Abs(float64(v-two[0].Model.Grads[i])))
		}
		if maxd > 1e-5*maxg {
			t.Errorf("accumulation %d: last step's gradients differ by up to %g (largest %g)", accum, maxd, maxg)
		}
	}
}
