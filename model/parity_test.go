package model_test

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// backends are the implementations the model tests run on: the reference
// loops and the CPU backend with its best GEMM path (kernels/cpu's own
// tests run the kernels on every path).
func backends(t testing.TB) map[string]kernels.Backend {
	t.Helper()
	c := cpu.New(cpu.Options{})
	t.Cleanup(c.Close)
	return map[string]kernels.Backend{"ref": ref.New(), "cpu": c}
}

// TestParity runs the model against every PyTorch fixture on each backend.
func TestParity(t *testing.T) {
	for name, be := range backends(t) {
		t.Run(name, func(t *testing.T) { modeltest.Parity(t, be) })
	}
}

// TestParityOptimizerStep checks gradient clipping and one AdamW step
// (package train, through each backend's kernels) against PyTorch: from
// the fixture's weights and gradients to its grad norm, clip coefficient
// and weights after the step.
func TestParityOptimizerStep(t *testing.T) {
	for _, fix := range []string{"tiny-dense", "tiny-moe"} {
		for bname, be := range backends(t) {
			t.Run(fix+"/"+bname, func(t *testing.T) {
				dir := fixture.Dir(t, fix)
				p, err := checkpoint.LoadHF(dir)
				if err != nil {
					t.Fatal(err)
				}
				var exp struct {
					GradNormPreclip float64 `json:"grad_norm_preclip"`
					ClipCoef        float64 `json:"clip_coef"`
					AdamW           struct {
						LR          float32    `json:"lr"`
						Betas       [2]float32 `json:"betas"`
						Eps         float32    `json:"eps"`
						WeightDecay float32    `json:"weight_decay"`
						MaxGradNorm float64    `json:"max_grad_norm"`
					} `json:"adamw"`
				}
				raw, err := os.ReadFile(filepath.Join(dir, "expected.json"))
				if err != nil {
					t.Fatal(err)
				}
				if err := json.Unmarshal(raw, &exp); err != nil {
					t.Fatalf("%s: %v", dir, err)
				}
				fixGrads := modeltest.ReadTensors(t, filepath.Join(dir, "grads.safetensors"))
				grads := make([]float32, len(p.Data))
				for _, s := range p.Specs {
					copy(p.View(grads, s.Name), modeltest.Floats(t, fixGrads, s.Name))
				}

				opt := train.NewAdamW(p, train.AdamWConfig{Beta1: exp.AdamW.Betas[0], Beta2: exp.AdamW.Betas[1], Eps: exp.AdamW.Eps, WeightDecay: exp.AdamW.WeightDecay})
				norm, coef := train.ClipGradNorm(be, grads, exp.AdamW.MaxGradNorm)
				if math.Abs(norm-exp.GradNormPreclip) > 1e-4*exp.GradNormPreclip || math.Abs(coef-exp.ClipCoef) > 1e-5*exp.ClipCoef {
					t.Errorf("grad norm %.8f clip coef %.8f, want %.8f %.8f", norm, coef, exp.GradNormPreclip, exp.ClipCoef)
				}
				opt.Step(be, p.Data, grads, exp.AdamW.LR)
				after := modeltest.ReadTensors(t, filepath.Join(dir, "params_after_step.safetensors"))
				var pmax float64
				for _, s := range p.Specs {
					// 1e-3 where the clipped gradient is below 1e-7 (the
					// README's sensitive entries), 1e-5 elsewhere.
					got, want, g := p.View(p.Data, s.Name), modeltest.Floats(t, after, s.Name), modeltest.Floats(t, fixGrads, s.Name)
					for i := range got {
						d := math.Abs(float64(got[i] - want[i]))
						tol := 1e-5
						if math.Abs(float64(g[i])*coef) < 1e-7 {
							tol = 1e-3
						}
						if d > tol {
							t.Errorf("param %s[%d]: got %g want %g", s.Name, i, got[i], want[i])
							break
						}
						pmax = math.Max(pmax, d)
					}
				}
				t.Logf("max |diff|: grad_norm=%.2g params_after_step=%.2g", math.Abs(norm-exp.GradNormPreclip), pmax)
			})
		}
	}
}
