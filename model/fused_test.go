package model_test

import (
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// zeroingBackend is a backend as the model used to see one: no fused
// kernels (only kernels.Backend's methods), and every overwriting product
// done as a zeroing pass plus an accumulating product.
type zeroingBackend struct{ kernels.Backend }

func (z zeroingBackend) MatMul(c, a, b []float32, m, n, k int, transA, transB, accumulate bool) {
	if !accumulate {
		z.Zero(c[:m*n])
	}
	z.Backend.MatMul(c, a, b, m, n, k, transA, transB, true)
}

// TestBackwardFusionBits: a training step's loss and gradients are the
// same bits with the backward's overwriting products and the fused SwiGLU
// step as with zeroing passes, accumulating products and the separate
// SwiGLU kernels, dense and MoE (with and without a shared expert).
func TestBackwardFusionBits(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  model.Config
	}{
		{"dense", modeltest.TinyConfig(false)},
		{"moe", modeltest.TinyConfig(true)},
		{"minimind3-moe", modeltest.TinyConfig3(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.IntermediateSize = 600 // several of the GEMM's k blocks
			be := cpu.New(cpu.Options{Threads: 3})
			defer be.Close()
			B, T := 2, 24
			r := rand.New(rand.NewPCG(51, 52))
			ids, tg, mask := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
			for i := range ids {
				ids[i], tg[i], mask[i] = int32(r.IntN(c.VocabSize)), int32(r.IntN(c.VocabSize)), 1
			}
			var grads [2][]float32
			var loss [2]float64
			for k, b := range []kernels.Backend{be, zeroingBackend{be}} {
				m := modeltest.Model(t, c, 7, b)
				m.ZeroGrad()
				st, err := m.ForwardBackward(ids, tg, mask, B, T, 1)
				if err != nil {
					t.Fatal(err)
				}
				grads[k], loss[k] = m.Grads, st.Loss
			}
			if loss[0] != loss[1] {
				t.Fatalf("loss %v, want %v", loss[0], loss[1])
			}
			nonzero := 0
			for i := range grads[0] {
				if grads[0][i] != grads[1][i] {
					t.Fatalf("grad[%d] = %g, want %g", i, grads[0][i], grads[1][i])
				}
				if grads[0][i] != 0 {
					nonzero++
				}
			}
			if nonzero < len(grads[0])/2 {
				t.Fatalf("only %d of %d gradients are non-zero", nonzero, len(grads[0]))
			}
		})
	}
}
