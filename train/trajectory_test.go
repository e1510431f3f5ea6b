package train_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/train"
)

// TestTrajectory replays the train-trajectory fixture: 6 optimizer steps of
// warmup+cosine, accumulation 2, clipping and AdamW, checking per-step lr,
// loss and grad norm and the final weights.
func TestTrajectory(t *testing.T) {
	dir := fixture.Dir(t, "train-trajectory")
	p, err := checkpoint.LoadHF(filepath.Join(filepath.Dir(dir), "tiny-dense"))
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(cpu.Options{})
	m := model.New(p, be)
	var exp struct {
		Steps []struct {
			LR       float64 `json:"lr"`
			Loss     float64 `json:"loss"`
			GradNorm float64 `json:"grad_norm_preclip"`
		} `json:"steps"`
		Accum    int     `json:"accumulation_steps"`
		LR       float64 `json:"learning_rate"`
		Warmup   int     `json:"warmup_iters"`
		Total    int     `json:"total_steps"`
		GradClip float64 `json:"grad_clip"`
		AdamW    struct {
			Betas       [2]float32 `json:"betas"`
			Eps         float32    `json:"eps"`
			WeightDecay float32    `json:"weight_decay"`
		} `json:"adamw"`
	}
	b, err := os.ReadFile(filepath.Join(dir, "expected.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &exp); err != nil {
		t.Fatal(err)
	}
	batches, err := safetensors.ReadFile(filepath.Join(dir, "batches.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	idsT, _ := batches.Get("input_ids")
	maskT, _ := batches.Get("loss_mask")
	ids64, err := idsT.Int64s()
	if err != nil {
		t.Fatal(err)
	}
	masks, err := maskT.Float32s()
	if err != nil {
		t.Fatal(err)
	}
	B, L := idsT.Shape[1], idsT.Shape[2]
	T := L - 1
	opt := train.NewAdamW(p, train.AdamWConfig{Beta1: exp.AdamW.Betas[0], Beta2: exp.AdamW.Betas[1], Eps: exp.AdamW.Eps, WeightDecay: exp.AdamW.WeightDecay})
	x, y := make([]int32, B*T), make([]int32, B*T)
	for step := 0; step < exp.Total; step++ {
		lr := train.LR(step, exp.Total, exp.Warmup, exp.LR)
		m.ZeroGrad()
		var loss float64
		for a := 0; a < exp.Accum; a++ {
			mb := step*exp.Accum + a
			for r := 0; r < B; r++ {
				for s := 0; s < T; s++ {
					x[r*T+s] = int32(ids64[(mb*B+r)*L+s])
					y[r*T+s] = int32(ids64[(mb*B+r)*L+s+1])
				}
			}
			st, err := m.ForwardBackward(x, y, masks[mb*B*T:(mb+1)*B*T], B, T, float32(1/float64(exp.Accum)))
			if err != nil {
				t.Fatal(err)
			}
			loss += st.Loss / float64(exp.Accum)
		}
		norm, _ := train.ClipGradNorm(be, m.Grads, exp.GradClip)
		opt.Step(be, p.Data, m.Grads, float32(lr))
		w := exp.Steps[step]
		if math.Abs(lr-w.LR) > 1e-9 || math.Abs(loss-w.Loss) > 1e-5 || math.Abs(norm-w.GradNorm) > 1e-4*w.GradNorm {
			t.Errorf("step %d: lr %.10g loss %.8f norm %.8f, want %.10g %.8f %.8f", step, lr, loss, norm, w.LR, w.Loss, w.GradNorm)
		}
	}
	final, err := safetensors.ReadFile(filepath.Join(dir, "params_final.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	var maxd float64
	for _, s := range p.Specs {
		tt, _ := final.Get(s.Name)
		want, _ := tt.Float32s()
		got := p.View(p.Data, s.Name)
		for i := range got {
			d := math.Abs(float64(got[i] - want[i]))
			if d > 1e-5 {
				t.Fatalf("final %s[%d] = %g, want %g", s.Name, i, got[i], want[i])
			}
			maxd = math.Max(maxd, d)
		}
	}
	t.Logf("train-trajectory: 6 steps match; final params max |diff| %.2g", maxd)
}

func TestLRSchedule(t *testing.T) {
	cases := []struct {
		name                string
		step, total, warmup int
		want                float64
	}{
		{"step 0 no warmup", 0, 100, 0, 1e-3},
		{"halfway no warmup", 50, 100, 0, 0.55e-3},
		{"end", 100, 100, 0, 1e-4},
		{"warmup start", 0, 100, 10, 0},
		{"warmup mid", 5, 100, 10, 0.5e-3},
		{"warmup end", 10, 100, 10, 1e-3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := train.LR(c.step, c.total, c.warmup, 1e-3); math.Abs(got-c.want) > 1e-12 {
				t.Errorf("LR = %g, want %g", got, c.want)
			}
		})
	}
}
