package devmodel

import (
	"context"
	"fmt"
	"math"
	"testing"

	"github.com/minimind-go/minimind/dist/nccl"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// The tests below run the resident model on the GPU and compare it with
// the same code on the Host device (CPU backend, the same precision
// emulated): they skip without a GPU ("no usable GPU: <reason>").
// scripts/gpu-check.sh runs them.

func gpuDevice(t *testing.T, p cuda.Precision) *CUDA {
	t.Helper()
	// The default kernel cache (gpu-check points XDG_CACHE_HOME at its
	// own): NVRTC compiles once, not once per subtest.
	d, err := NewCUDA(cuda.Options{Precision: p})
	if err != nil {
		t.Skipf("no usable GPU: %v", err)
	}
	if p == cuda.BF16 && d.Backend().Info().Capability < 80 {
		d.Close()
		t.Skipf("no usable GPU: bf16 needs sm_80, this is sm_%d", d.Backend().Info().Capability)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Error(err)
		}
	})
	return d
}

// tol is the agreement asked of the GPU against the Host device in each
// precision: fp32 as the kernels' conformance (reordered sums only), the
// 16-bit modes looser since cuBLAS and the CPU accumulate the rounded
// products in different orders.
func tol(p cuda.Precision) (atol, rtol float64) {
	if p == cuda.FP32 {
		return 1e-4, 1e-3
	}
	return 2e-2, 2e-2
}

func close32(t *testing.T, what string, got, want []float32, atol, rtol float64) {
	t.Helper()
	worst, at := 0.0, -1
	for i := range got {
		d := math.Abs(float64(got[i]) - float64(want[i]))
		lim := atol + rtol*math.Abs(float64(want[i]))
		if !(d <= lim) && (at < 0 || d/lim > worst) {
			worst, at = d/lim, i
		}
	}
	if at >= 0 {
		t.Errorf("%s[%d] = %v, host %v (%.3g× the tolerance)", what, at, got[at], want[at], worst)
	}
}

// TestCUDAMatchesHost: three accumulated training steps (stats, gradients,
// weights) and the traffic per step, GPU against Host, for every model
// shape and precision.
func TestCUDAMatchesHost(t *testing.T) {
	for _, prec := range []cuda.Precision{cuda.FP32, cuda.BF16, cuda.FP16} {
		for name, c := range configs() {
			t.Run(fmt.Sprintf("%s/%s", prec, name), func(t *testing.T) {
				gd := gpuDevice(t, prec)
				hd := NewHost(cpuBackend(t), prec)
				atol, rtol := tol(prec)
				gm, gt := residentTrainer(t, gd, c)
				hm, ht := residentTrainer(t, hd, c)
				const B, T, accum = 2, 9, 2
				P := gm.NumParams()
				gg, hg := make([]float32, P), make([]float32, P)
				for step := 0; step < 3; step++ {
					gh0, gd0 := gd.Traffic()
					hh0, hd0 := hd.Traffic()
					for _, m := range []*Model{gm, hm} {
						if err := m.ZeroGrad(); err != nil {
							t.Fatal(err)
						}
					}
					for a := 0; a < accum; a++ {
						bt := randomBatch(&c, B, T, uint64(10*step+a))
						gs, err := gt.Micro(bt.ids, bt.tgt, bt.mask, B, T, 1.0/accum)
						if err != nil {
							t.Fatal(err)
						}
						hs, err := ht.Micro(bt.ids, bt.tgt, bt.mask, B, T, 1.0/accum)
						if err != nil {
							t.Fatal(err)
						}
						if math.Abs(gs.Loss-hs.Loss) > atol+rtol*hs.Loss || math.Abs(gs.Aux-hs.Aux) > atol+rtol*hs.Aux || gs.Tokens != hs.Tokens {
							t.Fatalf("step %d micro %d: GPU %+v, host %+v", step, a, gs, hs)
						}
					}
					if err := gm.DownloadGrads(gg); err != nil {
						t.Fatal(err)
					}
					if err := hm.DownloadGrads(hg); err != nil {
						t.Fatal(err)
					}
					close32(t, fmt.Sprintf("step %d grads", step), gg, hg, atol, rtol)
					gr, err := gt.Step(1e-3, 1)
					if err != nil {
						t.Fatal(err)
					}
					hr, err := ht.Step(1e-3, 1)
					if err != nil {
						t.Fatal(err)
					}
					if gr.Skipped != hr.Skipped || math.Abs(gr.GradNorm-hr.GradNorm) > atol+rtol*hr.GradNorm {
						t.Fatalf("step %d: GPU %+v, host %+v", step, gr, hr)
					}
					gh1, gd1 := gd.Traffic()
					hh1, hd1 := hd.Traffic()
					if gh1-gh0 != hh1-hh0 || gd1-gd0 != hd1-hd0 {
						t.Errorf("step %d traffic: GPU %d↑ %d↓ bytes, host %d↑ %d↓", step, gh1-gh0, gd1-gd0, hh1-hh0, hd1-hd0)
					}
				}
				gp, hp := modeltest.Params(t, c, 3), modeltest.Params(t, c, 3)
				if err := gm.Download(gp); err != nil {
					t.Fatal(err)
				}
				if err := hm.Download(hp); err != nil {
					t.Fatal(err)
				}
				close32(t, "params after 3 steps", gp.Data, hp.Data, atol/10, rtol/10)
			})
		}
	}
}

func residentTrainer(t *testing.T, d Device, c model.Config) (*Model, *Trainer) {
	m, err := New(d, modeltest.Params(t, c, 3))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, DefaultAdamW())
	if err != nil {
		t.Fatal(err)
	}
	return m, tr
}

// TestCUDADecodeMatchesHost: prefill and decode logits through the device
// KV cache, GPU against Host.
func TestCUDADecodeMatchesHost(t *testing.T) {
	for name, c := range configs() {
		t.Run(name, func(t *testing.T) {
			gd := gpuDevice(t, cuda.FP32)
			hd := NewHost(cpuBackend(t), cuda.FP32)
			var ms []*Model
			var kvs []*KVCache
			for _, d := range []Device{gd, hd} {
				m, err := New(d, modeltest.Params(t, c, 5))
				if err != nil {
					t.Fatal(err)
				}
				kv, err := m.NewKVCache(3, 20)
				if err != nil {
					t.Fatal(err)
				}
				ms, kvs = append(ms, m), append(kvs, kv)
			}
			gl, hl := make([]float32, 3*c.VocabSize), make([]float32, 3*c.VocabSize)
			ids, T := randomBatch(&c, 3, 6, 9).ids, 6
			for step := 0; step < 4; step++ {
				if err := ms[0].Forward(kvs[0], ids, T, gl); err != nil {
					t.Fatal(err)
				}
				if err := ms[1].Forward(kvs[1], ids, T, hl); err != nil {
					t.Fatal(err)
				}
				close32(t, fmt.Sprintf("step %d logits", step), gl, hl, 1e-4, 1e-3)
				ids, T = []int32{int32(step + 1), int32(step + 7), int32(step + 3)}, 1
			}
		})
	}
}

// TestCUDATrainingCurve: 200 optimizer steps of a small model on a fixed
// set of batches, GPU against the CPU (package model's own trainer path
// on the Host device): every loss within 2e-3 + 1e-3·loss in fp32 and
// 5e-2 + 2e-2·loss in bf16/fp16 (the tolerances of kernels/cuda's
// 50-step TestTrainingCurve), dense and MoE.
func TestCUDATrainingCurve(t *testing.T) {
	if testing.Short() {
		t.Skip("200 steps: not in -short")
	}
	for _, moe := range []bool{false, true} {
		for _, prec := range []cuda.Precision{cuda.FP32, cuda.BF16, cuda.FP16} {
			t.Run(fmt.Sprintf("moe=%v/%s", moe, prec), func(t *testing.T) {
				gd := gpuDevice(t, prec)
				c := model.DefaultConfig()
				c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings = 128, 4, 320, 512, 128
				c.UseMoE = moe
				be := cpu.New(cpu.Options{}) // every core: the CPU reference is the slow side
				t.Cleanup(func() { be.Close() })
				hd := NewHost(be, cuda.FP32)
				_, gt := residentTrainer(t, gd, c)
				_, ht := residentTrainer(t, hd, c)
				atol, rtol := 2e-3, 1e-3
				if prec != cuda.FP32 {
					atol, rtol = 5e-2, 2e-2
				}
				const B, T = 4, 64
				batches := make([]batch, 8)
				for i := range batches {
					batches[i] = randomBatch(&c, B, T, uint64(100+i))
				}
				for step := 0; step < 200; step++ {
					bt := batches[step%len(batches)]
					var losses [2]float64
					for i, tr := range []*Trainer{gt, ht} {
						if err := tr.Model.ZeroGrad(); err != nil {
							t.Fatal(err)
						}
						st, err := tr.Micro(bt.ids, bt.tgt, bt.mask, B, T, 1)
						if err != nil {
							t.Fatal(err)
						}
						if _, err := tr.Step(1e-3, 1); err != nil {
							t.Fatal(err)
						}
						losses[i] = st.Loss
					}
					if d := math.Abs(losses[0] - losses[1]); !(d <= atol+rtol*losses[1]) {
						t.Fatalf("step %d: GPU loss %.5f, CPU %.5f (|Δ| %.3g)", step, losses[0], losses[1], d)
					}
					if step%50 == 0 || step == 199 {
						t.Logf("step %3d: GPU %.5f, CPU %.5f", step, losses[0], losses[1])
					}
				}
			})
		}
	}
}

// oneRank is a one-process host communicator for NCCL.
type oneRank struct{}

func (oneRank) Rank() int { return 0 }
func (oneRank) Size() int { return 1 }
func (oneRank) BroadcastBytes(_ context.Context, b []byte, _ int) ([]byte, error) {
	return b, nil
}

// TestNCCLOneRank: the NCCL bindings on a real GPU — the unique id passed
// by value to ncclCommInitRank, an in-place all-reduce — with one rank
// (NCCL refuses two ranks of one communicator on the same GPU; the
// two-GPU equivalence needs a machine with two).
func TestNCCLOneRank(t *testing.T) {
	d := gpuDevice(t, cuda.FP32)
	if _, _, err := nccl.Version(); err != nil {
		t.Skipf("no NCCL: %v", err)
	}
	c, err := d.NewNCCL(context.Background(), oneRank{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x, err := d.Alloc(1000)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]float32, 1000)
	for i := range want {
		want[i] = float32(i) - 3.5
	}
	if err := d.Upload(x, want); err != nil {
		t.Fatal(err)
	}
	if err := d.AllReduceSum(c, x); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 1000)
	if err := d.Download(got, x); err != nil {
		t.Fatal(err)
	}
	same(t, "all-reduce over one rank", 0, got, want)
}
