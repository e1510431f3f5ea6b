package model_test

import (
	"math"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestCriticFiniteDifference checks Critic.ForwardBackward (value head,
// the second final norm, the backbone below it) against central
// differences of loss = Σ_i c_i·v_i, on the value head and the largest
// backbone gradients; with MoE the balance loss must stay out of it.
func TestCriticFiniteDifference(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  model.Config
	}{
		{"m3-dense", modeltest.TinyConfig3(false)},
		{"moe", modeltest.TinyConfig(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := cpu.New(cpu.Options{Threads: 1})
			defer be.Close()
			m := modeltest.Model(t, tc.cfg, 5, be)
			C := tc.cfg.HiddenSize
			head := make([]float32, C+1)
			for i := range head {
				head[i] = float32(math.Sin(float64(i)*1.3)) * 0.3
			}
			c, err := model.NewCritic(m, head)
			if err != nil {
				t.Fatal(err)
			}
			const B, T = 2, 6
			ids := make([]int32, B*T)
			for i := range ids {
				ids[i] = int32((i*7 + 3) % tc.cfg.VocabSize)
			}
			coef := make([]float64, B*T)
			for i := range coef {
				coef[i] = math.Cos(float64(i)) + 0.2
			}
			loss := func() float64 {
				v, err := c.Values(ids, B, T)
				if err != nil {
					t.Fatal(err)
				}
				var s float64
				for i, x := range v {
					s += coef[i] * float64(x)
				}
				return s
			}
			c.ZeroGrad()
			clear(c.HeadGrad)
			st, err := c.ForwardBackward(ids, B, T, 1, func(v, dv []float32) (float64, error) {
				var s float64
				for i, x := range v {
					s += coef[i] * float64(x)
					dv[i] = float32(coef[i])
				}
				return s, nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if want := loss(); math.Abs(st.Loss-want) > 1e-4*(1+math.Abs(want)) {
				t.Errorf("training-mode loss %g, inference values give %g", st.Loss, want)
			}
			check := func(name string, w []float32, g float32) {
				t.Helper()
				eps := float32(1e-2)
				if tc.cfg.UseMoE {
					eps = 1e-3 // top-k routing switches within larger steps
				}
				orig := w[0]
				w[0] = orig + eps
				up := loss()
				w[0] = orig - eps
				down := loss()
				w[0] = orig
				fd := (up - down) / (2 * float64(eps))
				if math.Abs(fd-float64(g)) > 2e-3+2e-2*math.Abs(fd) {
					t.Errorf("%s: gradient %.6g, finite difference %.6g", name, g, fd)
				}
			}
			for _, i := range []int{0, C / 2, C} {
				check("value_head", c.Head[i:], c.HeadGrad[i])
			}
			norm := m.Params.View(m.Params.Data, "model.norm.weight")
			gnorm := m.Params.View(m.Grads, "model.norm.weight")
			for _, i := range []int{0, 3} {
				check("model.norm.weight", norm[i:], gnorm[i])
			}
			// The 8 largest backbone gradients.
			g := append([]float32(nil), m.Grads...)
			for range 8 {
				best := 0
				for i, v := range g {
					if math.Abs(float64(v)) > math.Abs(float64(g[best])) {
						best = i
					}
				}
				check("param", m.Params.Data[best:], m.Grads[best])
				g[best] = 0
			}
		})
	}
}
