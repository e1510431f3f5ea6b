package devmodel

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

// batch is a random micro-batch with some ignored targets and a
// non-uniform loss mask, so the masking paths are exercised.
type batch struct {
	ids, tgt []int32
	mask     []float32
	B, T     int
}

func randomBatch(c *model.Config, B, T int, seed uint64) batch {
	r := rand.New(rand.NewPCG(seed, 7))
	b := batch{ids: make([]int32, B*T), tgt: make([]int32, B*T), mask: make([]float32, B*T), B: B, T: T}
	for i := range b.ids {
		b.ids[i] = int32(r.IntN(c.VocabSize))
		b.tgt[i] = int32(r.IntN(c.VocabSize))
		b.mask[i] = 1
		switch r.IntN(8) {
		case 0:
			b.tgt[i] = -100
		case 1:
			b.mask[i] = 0
		}
	}
	return b
}

// configs are the four model shapes: MiniMind2 and minimind-3, dense and
// MoE (MiniMind2's with a shared expert and the sequence balance loss,
// minimind-3's top-1 with unit weights).
func configs() map[string]model.Config {
	moe2 := modeltest.TinyConfig(true)
	moe2.SeqAux = true
	moe2nb := modeltest.TinyConfig(true)
	moe2nb.SeqAux = false
	return map[string]model.Config{
		"minimind2":         modeltest.TinyConfig(false),
		"minimind2-moe":     moe2,
		"minimind2-moe-all": moe2nb,
		"minimind3":         modeltest.TinyConfig3(false),
		"minimind3-moe":     modeltest.TinyConfig3(true),
	}
}

func cpuBackend(t *testing.T) kernels.Backend {
	be := cpu.New(cpu.Options{Threads: 1})
	t.Cleanup(func() { be.Close() })
	return be
}

// TestResidentMatchesModel: on the Host device with the CPU backend, the
// resident trainer (ForwardBackward over accumulated micro-batches, the
// gradient norm, clipping, AdamW) gives exactly package model's and
// package train's numbers — stats, gradients and weights after each step.
// The CUDA device runs this same code.
func TestResidentMatchesModel(t *testing.T) {
	for name, c := range configs() {
		t.Run(name, func(t *testing.T) {
			be := cpuBackend(t)
			ref := modeltest.Model(t, c, 3, be)
			p := modeltest.Params(t, c, 3)
			dev := NewHost(be, cuda.FP32)
			m, err := New(dev, p)
			if err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(m, DefaultAdamW())
			if err != nil {
				t.Fatal(err)
			}
			opt := train.NewAdamW(ref.Params, train.DefaultAdamW())
			const B, T, accum = 2, 9, 2
			got := make([]float32, len(p.Data))
			for step := 0; step < 3; step++ {
				ref.ZeroGrad()
				if err := m.ZeroGrad(); err != nil {
					t.Fatal(err)
				}
				for a := 0; a < accum; a++ {
					bt := randomBatch(&c, B, T, uint64(10*step+a))
					want, err := ref.ForwardBackward(bt.ids, bt.tgt, bt.mask, B, T, 1.0/accum)
					if err != nil {
						t.Fatal(err)
					}
					st, err := tr.Micro(bt.ids, bt.tgt, bt.mask, B, T, 1.0/accum)
					if err != nil {
						t.Fatal(err)
					}
					if st != want {
						t.Fatalf("step %d micro %d: stats %+v, model %+v", step, a, st, want)
					}
					if c.UseMoE && c.AuxCoef() > 0 && st.Aux == 0 {
						t.Fatalf("MoE step without a balance loss")
					}
				}
				if err := m.DownloadGrads(got); err != nil {
					t.Fatal(err)
				}
				same(t, "grads", step, got, ref.Grads)
				wantNorm, _ := train.ClipGradNorm(be, ref.Grads, 1)
				opt.Step(be, ref.Params.Data, ref.Grads, 1e-3)
				r, err := tr.Step(1e-3, 1)
				if err != nil {
					t.Fatal(err)
				}
				if r.GradNorm != wantNorm || r.Skipped || r.LossScale != 1 {
					t.Fatalf("step %d: %+v, want norm %v", step, r, wantNorm)
				}
				if err := m.Download(p); err != nil {
					t.Fatal(err)
				}
				same(t, "params", step, p.Data, ref.Params.Data)
			}
		})
	}
}

// same fails at the first element that differs (bitwise).
func same(t *testing.T, what string, step int, got, want []float32) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("step %d %s: %d values, want %d", step, what, len(got), len(want))
	}
	for i := range got {
		if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
			t.Fatalf("step %d %s[%d] = %v, model %v", step, what, i, got[i], want[i])
		}
	}
}
