package train_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// faulty is a backend that injects non-finite values at chosen optimizer
// steps (1-based; one micro-batch per step): a NaN token loss, an infinite
// gradient norm, or a NaN weight after the update. It counts the AdamW
// updates it applies.
type faulty struct {
	kernels.Backend
	nanLoss, infNorm, nanWeight map[int]bool
	ce, ss, adam                int // calls so far
}

func (f *faulty) CrossEntropyForward(losses, logits []float32, targets []int32, N, V int) {
	f.Backend.CrossEntropyForward(losses, logits, targets, N, V)
	if f.ce++; f.nanLoss[f.ce] {
		losses[0] = float32(math.NaN())
	}
}

func (f *faulty) SumSquares(x []float32) float64 {
	if f.ss++; f.infNorm[f.ss] {
		return math.Inf(1)
	}
	return f.Backend.SumSquares(x)
}

func (f *faulty) AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, wd float32, t int) {
	f.Backend.AdamW(p, g, m, v, lr, beta1, beta2, eps, wd, t)
	f.adam++
	// SumSquares runs once per step, before the update.
	if f.nanWeight[f.ss] {
		p[0] = float32(math.NaN())
	}
}

func steps(s ...int) map[int]bool {
	m := map[int]bool{}
	for _, i := range s {
		m[i] = true
	}
	return m
}

// TestRunNonfinite: a NaN or infinite loss or gradient norm stops the run
// with an error naming the step and the value, applies no update and
// saves nothing, so the files on disk stay those of the last good save;
// --skip_nonfinite N skips up to N such steps. metrics.jsonl has a line
// for every step, the bad ones included.
func TestRunNonfinite(t *testing.T) {
	for _, c := range []struct {
		name                        string
		nanLoss, infNorm, nanWeight map[int]bool
		skip                        int
		wantErr                     string // "" for success
		wantUpdates                 int    // AdamW steps applied
		wantLines                   int    // lines of metrics.jsonl
		wantSaved                   int    // step of the files on disk (0: none)
		wantNonfinite               map[int]string
	}{
		{name: "nan loss at step 3", nanLoss: steps(3), wantErr: "step 3: non-finite loss,ce (loss NaN, ce NaN", wantUpdates: 2, wantLines: 3, wantSaved: 2,
			wantNonfinite: map[int]string{3: "loss,ce"}},
		{name: "nan loss at step 1: nothing saved", nanLoss: steps(1), wantErr: "step 1: non-finite loss,ce", wantLines: 1,
			wantNonfinite: map[int]string{1: "loss,ce"}},
		{name: "inf grad norm at step 2", infNorm: steps(2), wantErr: "step 2: non-finite grad_norm (loss ", wantUpdates: 1, wantLines: 2, wantSaved: 1,
			wantNonfinite: map[int]string{2: "grad_norm"}},
		{name: "nan weights are not saved", nanWeight: steps(2), wantErr: "step 2: not saving: the weights hold NaN at index 0", wantUpdates: 2, wantLines: 2, wantSaved: 1},
		{name: "skip one", nanLoss: steps(2), skip: 1, wantUpdates: 2, wantLines: 3, wantSaved: 3,
			wantNonfinite: map[int]string{2: "loss,ce"}},
		{name: "skip budget spent", nanLoss: steps(1, 2), skip: 1, wantErr: "step 2: non-finite loss,ce", wantUpdates: 0, wantLines: 2, wantSaved: 1,
			wantNonfinite: map[int]string{1: "loss,ce", 2: "loss,ce"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			var logs []string
			rc := runConfig(dir, "pretrain", &logs)
			be := &faulty{Backend: rc.Backend, nanLoss: c.nanLoss, infNorm: c.infNorm, nanWeight: c.nanWeight}
			rc.Backend = be
			rc.Options.SaveInterval, rc.Options.SkipNonfinite = 1, c.skip
			paths := rc.Paths()
			// The files at the last save point, as Run left them.
			var savedStep int
			var savedPth, savedResume []byte
			rc.OnSave = func(s train.Save) {
				savedStep = s.Step
				savedPth, savedResume = readFile(t, paths.Weights), readFile(t, paths.Resume)
			}
			var reported []train.Step
			rc.OnStep = func(s train.Step) { reported = append(reported, s) }
			_, err := train.Run(context.Background(), rc)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatal(err)
			case c.wantErr != "" && (!errors.Is(err, train.ErrNonFinite) || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("Run = %v, want ErrNonFinite with %q", err, c.wantErr)
			}
			t.Logf("Run: %v", err)
			if be.adam != c.wantUpdates {
				t.Errorf("%d AdamW updates, want %d", be.adam, c.wantUpdates)
			}
			if savedStep != c.wantSaved {
				t.Errorf("last save at step %d, want %d", savedStep, c.wantSaved)
			}
			if c.wantSaved == 0 {
				for _, p := range []string{paths.Weights, paths.Resume} {
					if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
						t.Errorf("%s exists (%v), want no file", p, err)
					}
				}
			} else {
				if !bytes.Equal(readFile(t, paths.Weights), savedPth) || !bytes.Equal(readFile(t, paths.Resume), savedResume) {
					t.Errorf("the files on disk are not those saved at step %d", savedStep)
				}
				st, err := train.LoadResume(paths.Resume)
				if err != nil {
					t.Fatal(err)
				}
				if st.Step != c.wantSaved || st.AdamStep+st.Skipped != st.Step {
					t.Errorf("resume state at step %d, adam_step %d, skipped %d; want step %d", st.Step, st.AdamStep, st.Skipped, c.wantSaved)
				}
			}
			// Every step is in metrics.jsonl, readable, in order.
			lines := bytes.Split(bytes.TrimSpace(readFile(t, paths.Metrics)), []byte("\n"))
			if len(lines) != c.wantLines || len(reported) != c.wantLines {
				t.Fatalf("metrics.jsonl has %d lines and OnStep saw %d steps, want %d:\n%s", len(lines), len(reported), c.wantLines, bytes.Join(lines, []byte("\n")))
			}
			for i, line := range lines {
				var s train.Step
				if err := json.Unmarshal(line, &s); err != nil {
					t.Fatalf("line %d: %v: %s", i+1, err, line)
				}
				if s.Step != i+1 || s.Nonfinite != c.wantNonfinite[i+1] || reported[i].Nonfinite != s.Nonfinite {
					t.Errorf("line %d: step %d, nonfinite %q; want step %d, %q", i+1, s.Step, s.Nonfinite, i+1, c.wantNonfinite[i+1])
				}
				if stop := c.wantErr != "" && i == len(lines)-1 && c.wantNonfinite[i+1] != ""; s.Stopped != stop {
					t.Errorf("line %d: stopped %v, want %v", i+1, s.Stopped, stop)
				}
				if (s.Nonfinite != "") != math.IsNaN(s.Loss) && !strings.Contains(s.Nonfinite, "grad_norm") {
					t.Errorf("line %d: loss %v with nonfinite %q", i+1, s.Loss, s.Nonfinite)
				}
			}
			// A resumed run of the kind the message suggests carries on.
			if c.wantSaved > 0 && c.wantSaved < 3 {
				rc := runConfig(dir, "pretrain", &logs)
				rc.Resume, rc.Options.SaveInterval = true, 1
				res, err := train.Run(context.Background(), rc)
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Steps) != 3 {
					t.Errorf("resumed run's history has %d steps, want 3", len(res.Steps))
				}
			}
		})
	}
}

// TestTrainerSkipKeepsSchedule: a skipped step counts as a step (the
// learning-rate schedule moves on, the run ends at TotalSteps) but leaves
// the weights, AdamW's moments and its t untouched.
func TestTrainerSkipKeepsSchedule(t *testing.T) {
	tr := newTrainer(t, false, 3, 1, 1)
	be := &faulty{Backend: tr.Model.Backend(), nanLoss: steps(2)}
	tr.Model = model.New(tr.Model.Params, be)
	tr.Options.SkipNonfinite = 1
	var before []float32
	var lrs []float64
	tr.OnStep = func(s train.Step) {
		lrs = append(lrs, s.LR)
		if s.Step == 1 {
			before = append([]float32(nil), tr.Model.Params.Data...)
		}
		if s.Step == 2 {
			for i, v := range tr.Model.Params.Data {
				if v != before[i] {
					t.Fatalf("weight %d changed on the skipped step", i)
				}
			}
		}
	}
	if err := tr.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if tr.Step != tr.TotalSteps() || tr.Skipped != 1 || tr.Opt.T != tr.Step-1 {
		t.Errorf("step %d of %d, skipped %d, AdamW t %d", tr.Step, tr.TotalSteps(), tr.Skipped, tr.Opt.T)
	}
	if len(lrs) != tr.TotalSteps() || lrs[1] != train.LR(1, tr.TotalSteps(), tr.Options.WarmupIters, tr.Options.LearningRate) {
		t.Errorf("learning rates %v", lrs)
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestStepJSON: every float of a Step survives metrics.jsonl, NaN and
// infinities included, and finite values are written as plain numbers.
func TestStepJSON(t *testing.T) {
	for _, c := range []struct {
		name string
		s    train.Step
		want string
	}{
		{name: "finite", s: train.Step{Stage: "sft", Step: 3, Total: 9, Loss: 2.5, CE: 2.5, LR: 1e-4, GradNorm: 0.75, TokensPerS: 100, ElapsedS: 1.5},
			want: `{"stage":"sft","step":3,"total":9,"epoch":0,"loss":2.5,"ce":2.5,"aux":0,"lr":0.0001,"grad_norm":0.75,"tokens_per_s":100,"elapsed_s":1.5}`},
		{name: "nan loss", s: train.Step{Step: 1, Loss: math.NaN(), CE: math.NaN(), GradNorm: math.Inf(1), TokensPerS: math.Inf(-1), Nonfinite: "loss,ce,grad_norm", Stopped: true},
			want: `{"step":1,"total":0,"epoch":0,"loss":"NaN","ce":"NaN","aux":0,"lr":0,"grad_norm":"+Inf","tokens_per_s":"-Inf","elapsed_s":0,"nonfinite":"loss,ce,grad_norm","stopped":true}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			b, err := json.Marshal(c.s)
			if err != nil {
				t.Fatal(err)
			}
			if string(b) != c.want {
				t.Errorf("got  %s\nwant %s", b, c.want)
			}
			var got train.Step
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			if !sameStep(got, c.s) {
				t.Errorf("read back %+v, want %+v", got, c.s)
			}
		})
	}
	var s train.Step
	if err := json.Unmarshal([]byte(`{"loss":"lots"}`), &s); err == nil {
		t.Error(`a loss of "lots" was accepted`)
	}
}

func sameFloat(a, b float64) bool { return a == b || (math.IsNaN(a) && math.IsNaN(b)) }

func sameStep(a, b train.Step) bool {
	return a.Stage == b.Stage && a.Step == b.Step && a.Total == b.Total && a.Epoch == b.Epoch && a.Nonfinite == b.Nonfinite && a.Stopped == b.Stopped &&
		sameFloat(a.Loss, b.Loss) && sameFloat(a.CE, b.CE) && sameFloat(a.Aux, b.Aux) && sameFloat(a.LR, b.LR) &&
		sameFloat(a.GradNorm, b.GradNorm) && sameFloat(a.TokensPerS, b.TokensPerS) && sameFloat(a.ElapsedS, b.ElapsedS)
}

// FuzzStepJSON: any Step, whatever its floats, marshals and reads back.
func FuzzStepJSON(f *testing.F) {
	f.Add(uint64(0), math.Float64bits(math.NaN()), math.Float64bits(math.Inf(1)), math.Float64bits(math.Copysign(0, -1)), "loss")
	f.Add(math.Float64bits(2.5), math.Float64bits(1e-300), math.Float64bits(math.Inf(-1)), uint64(1), "")
	f.Fuzz(func(t *testing.T, a, b, c, d uint64, nonfinite string) {
		if !utf8.ValidString(nonfinite) {
			t.Skip("JSON strings are UTF-8")
		}
		s := train.Step{Stage: "pretrain", Step: 1, Loss: math.Float64frombits(a), CE: math.Float64frombits(b), Aux: math.Float64frombits(c),
			LR: math.Float64frombits(d), GradNorm: math.Float64frombits(a ^ d), TokensPerS: math.Float64frombits(b ^ c), Nonfinite: nonfinite}
		j, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal %+v: %v", s, err)
		}
		var got train.Step
		if err := json.Unmarshal(j, &got); err != nil {
			t.Fatalf("unmarshal %s: %v", j, err)
		}
		if !sameStep(got, s) {
			t.Fatalf("%s read back as %+v, want %+v", j, got, s)
		}
	})
}

// TestPlotNonfinite: the loss plot leaves out non-finite losses instead of
// failing (a skipped step is in the history).
func TestPlotNonfinite(t *testing.T) {
	steps := []train.Step{{Step: 1, Loss: 3, LR: 1e-3}, {Step: 2, Loss: math.NaN(), LR: 1e-3}, {Step: 3, Loss: math.Inf(1), LR: 1e-3}, {Step: 4, Loss: 2.5, LR: 1e-3}}
	if err := train.PlotLoss(filepath.Join(t.TempDir(), "loss.png"), "t", steps); err != nil {
		t.Fatal(err)
	}
	if err := train.PlotLoss(filepath.Join(t.TempDir(), "loss.png"), "t", steps[1:3]); err != nil {
		t.Fatalf("a plot of only non-finite losses: %v", err)
	}
}

// TestPlotDegenerate: ranges gonum cannot tick (one step at a huge
// learning rate) still plot.
func TestPlotDegenerate(t *testing.T) {
	for _, c := range []struct {
		name  string
		steps []train.Step
	}{
		{name: "one step, lr 1e30", steps: []train.Step{{Step: 1, Loss: 9, LR: 1e30}}},
		{name: "constant huge loss", steps: []train.Step{{Step: 1, Loss: 1e300, LR: 1}, {Step: 2, Loss: 1e300, LR: 1}}},
		{name: "one step, lr 0", steps: []train.Step{{Step: 1, Loss: 0, LR: 0}}},
		{name: "widest span", steps: []train.Step{{Step: 1, Loss: 0, LR: 0}, {Step: 2, Loss: math.MaxFloat64, LR: math.MaxFloat64}, {Step: 3, Loss: math.MaxFloat64, LR: 1}}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := train.PlotLoss(filepath.Join(t.TempDir(), "loss.png"), "t", c.steps); err != nil {
				t.Fatal(err)
			}
		})
	}
}
