package cuda_test

// The model-level GPU checks. They import model (through model/modeltest),
// which the kernels packages themselves never do: this file is the one
// test-only edge from kernels/cuda up to the model.

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestParity runs the model on the GPU in fp32 mode against every PyTorch
// fixture (model/modeltest.Parity, with the CPU's tolerances).
func TestParity(t *testing.T) {
	modeltest.Parity(t, gpu(t, cuda.FP32, t.TempDir()))
}

// trainCurve runs steps AdamW steps of a tiny model on be and returns
// the losses. The data and initialisation are fixed, so two backends see
// the same problem.
func trainCurve(t *testing.T, be kernels.Backend, moe bool, steps int) []float64 {
	t.Helper()
	c := modeltest.TinyConfig(moe)
	c.HiddenSize, c.IntermediateSize, c.VocabSize = 64, 128, 256
	p := modeltest.Params(t, c, 7)
	m := model.New(p, be)
	B, T := 4, 32
	g := rand.New(rand.NewPCG(11, 1))
	// A learnable stream: token i+1 = (3·token i + 1) mod V, with noise.
	ids, tg, mask := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
	for b := 0; b < B; b++ {
		x := int32(g.IntN(c.VocabSize))
		for i := 0; i < T; i++ {
			ids[b*T+i] = x
			x = (3*x + 1) % int32(c.VocabSize)
			if g.IntN(10) == 0 {
				x = int32(g.IntN(c.VocabSize))
			}
			tg[b*T+i], mask[b*T+i] = x, 1
		}
	}
	mom, vel := make([]float32, len(p.Data)), make([]float32, len(p.Data))
	var losses []float64
	for s := 1; s <= steps; s++ {
		m.ZeroGrad()
		st, err := m.ForwardBackward(ids, tg, mask, B, T, 1)
		if err != nil {
			t.Fatal(err)
		}
		losses = append(losses, st.Loss)
		// Clip at 1 through the backend, as the train loop does.
		if n := math.Sqrt(be.SumSquares(m.Grads)); n > 1 {
			be.Scale(m.Grads, float32(1/n))
		}
		be.AdamW(p.Data, m.Grads, mom, vel, 3e-3, 0.9, 0.95, 1e-8, 0.01, s)
	}
	return losses
}

// TestTrainingCurve: 50 steps on the GPU follow the CPU's loss curve —
// within fp32 round-off in FP32 mode, within bf16 tolerance in BF16 mode
// — and the loss goes down.
func TestTrainingCurve(t *testing.T) {
	const steps = 50
	for _, moe := range []bool{false, true} {
		for _, tc := range []struct {
			p         cuda.Precision
			atol, rel float64
		}{{cuda.FP32, 2e-3, 1e-3}, {cuda.BF16, 5e-2, 2e-2}} {
			t.Run(fmt.Sprintf("moe%v/%v", moe, tc.p), func(t *testing.T) {
				g := gpu(t, tc.p, t.TempDir())
				c := cpu.New(cpu.Options{})
				defer c.Close()
				want := trainCurve(t, c, moe, steps)
				got := trainCurve(t, g, moe, steps)
				t.Logf("loss: cpu %.4f → %.4f, cuda %.4f → %.4f", want[0], want[steps-1], got[0], got[steps-1])
				for i := range want {
					if d := math.Abs(got[i] - want[i]); d > tc.atol+tc.rel*want[i] || math.IsNaN(got[i]) {
						t.Fatalf("step %d: cuda loss %.6f, cpu %.6f (|diff| %.3g)", i+1, got[i], want[i], d)
					}
				}
				if got[steps-1] >= got[0] {
					t.Errorf("loss did not decrease: %.4f → %.4f", got[0], got[steps-1])
				}
			})
		}
	}
}
