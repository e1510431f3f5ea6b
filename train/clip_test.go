package train_test

import (
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// TestStepScaled: GradNorm + StepScaled (the loop's clip-and-update, fused
// on the CPU backend, Scale then AdamW on ref) gives ClipGradNorm + Step's
// exact parameters and moments, whether or not the clip bites.
func TestStepScaled(t *testing.T) {
	p, err := model.NewParams(modeltest.TinyConfig(false))
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(41, 42))
	grads := make([]float32, len(p.Data))
	for i := range grads {
		grads[i] = float32(r.NormFloat64() * 0.05)
	}
	cb := cpu.New(cpu.Options{Threads: 2})
	defer cb.Close()
	for _, tc := range []struct {
		name    string
		be      kernels.Backend
		maxNorm float64
	}{
		{"cpu/clipped", cb, 0.5},
		{"cpu/unclipped", cb, 1e6},
		{"cpu/no_clip", cb, 0},
		{"ref/clipped", ref.New(), 0.5},
	} {
		t.Run(tc.name, func(t *testing.T) {
			run := func(fused bool) (*train.AdamW, []float32, float64) {
				params := append([]float32(nil), p.Data...)
				g := append([]float32(nil), grads...)
				o := train.NewAdamW(p, train.DefaultAdamW())
				var norm float64
				for range 2 { // two steps: the moments feed the second
					if fused {
						var coef float64
						norm, coef = train.GradNorm(tc.be, g, tc.maxNorm)
						o.StepScaled(tc.be, params, g, 1e-3, train.ClipScale(coef, tc.maxNorm))
					} else {
						norm, _ = train.ClipGradNorm(tc.be, g, tc.maxNorm)
						o.Step(tc.be, params, g, 1e-3)
					}
					copy(g, grads)
				}
				return o, params, norm
			}
			o1, p1, n1 := run(true)
			o2, p2, n2 := run(false)
			if n1 != n2 {
				t.Fatalf("norm %v, want %v", n1, n2)
			}
			for i := range p1 {
				if p1[i] != p2[i] || o1.M[i] != o2.M[i] || o1.V[i] != o2.V[i] {
					t.Fatalf("[%d]: fused p,m,v = %g,%g,%g; want %g,%g,%g", i, p1[i], o1.M[i], o1.V[i], p2[i], o2.M[i], o2.V[i])
				}
			}
			if n1 < 0.5 || p1[0] == p.Data[0] {
				t.Fatalf("no real update: norm %v, p[0] %g → %g", n1, p.Data[0], p1[0])
			}
		})
	}
}
