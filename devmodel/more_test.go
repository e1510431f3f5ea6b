package devmodel

import (
	"errors"
	"math"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestTrafficPerStep pins what crosses the bus in a resident training
// step: ids, targets and mask up (12 bytes a token) with the positions
// sorted by token (4·(N + 2·distinct + 1) bytes), the loss scalars
// down (8 bytes per layer and one), the MoE group offsets (4·(E+1) bytes
// per MoE layer) and the gradient norm (8 bytes). Nothing scales with
// the parameters or activations.
func TestTrafficPerStep(t *testing.T) {
	for name, c := range configs() {
		t.Run(name, func(t *testing.T) {
			dev := NewHost(cpuBackend(t), cuda.FP32)
			m, err := New(dev, modeltest.Params(t, c, 1))
			if err != nil {
				t.Fatal(err)
			}
			tr, err := NewTrainer(m, DefaultAdamW())
			if err != nil {
				t.Fatal(err)
			}
			const B, T, accum = 2, 8, 3
			for step := 0; step < 2; step++ {
				h0, d0 := dev.Traffic()
				if err := m.ZeroGrad(); err != nil {
					t.Fatal(err)
				}
				var sortBytes int64 // the embedding gradient's order: 4·(N + 2·distinct + 1) a micro-batch
				for a := 0; a < accum; a++ {
					bt := randomBatch(&c, B, T, uint64(a))
					if _, err := tr.Micro(bt.ids, bt.tgt, bt.mask, B, T, 1.0/accum); err != nil {
						t.Fatal(err)
					}
					distinct := map[int32]bool{}
					for _, id := range bt.ids {
						distinct[id] = true
					}
					sortBytes += int64(4 * (B*T + 2*len(distinct) + 1))
				}
				if _, err := tr.Step(1e-3, 1); err != nil {
					t.Fatal(err)
				}
				h1, d1 := dev.Traffic()
				L := int64(c.NumHiddenLayers)
				wantUp := int64(accum*12*B*T) + sortBytes
				wantDown := int64(accum)*8*(1+L) + 8
				if c.UseMoE {
					wantDown += int64(accum) * L * 4 * int64(c.Experts()+1)
				}
				if h1-h0 != wantUp || d1-d0 != wantDown {
					t.Errorf("step %d: h2d %d, d2h %d bytes; want %d, %d", step, h1-h0, d1-d0, wantUp, wantDown)
				}
			}
		})
	}
}

// TestDecodeMatchesModel: the device KV cache and Forward (prefill, then
// token-by-token decode) give model's logits exactly on the Host device,
// with only the ids, the kept rows and the logits crossing (and, MoE, the
// group offsets).
func TestDecodeMatchesModel(t *testing.T) {
	for name, c := range configs() {
		t.Run(name, func(t *testing.T) {
			be := cpuBackend(t)
			ref := modeltest.Model(t, c, 5, be)
			dev := NewHost(be, cuda.FP32)
			m, err := New(dev, modeltest.Params(t, c, 5))
			if err != nil {
				t.Fatal(err)
			}
			const B, S = 3, 20
			rkv, err := ref.NewKVCache(B, S)
			if err != nil {
				t.Fatal(err)
			}
			kv, err := m.NewKVCache(B, S)
			if err != nil {
				t.Fatal(err)
			}
			logits := make([]float32, B*c.VocabSize)
			T := 6
			bt := randomBatch(&c, B, T, 9)
			ids := bt.ids
			for step := 0; step < 4; step++ {
				want, err := ref.Forward(rkv, ids, T, nil, 1)
				if err != nil {
					t.Fatal(err)
				}
				h0, d0 := dev.Traffic()
				if err := m.Forward(kv, ids, T, logits); err != nil {
					t.Fatal(err)
				}
				h1, d1 := dev.Traffic()
				same(t, "logits", step, logits, want)
				wantDown := 4 * B * c.VocabSize
				if c.UseMoE { // the MoE group offsets
					wantDown += 4 * (c.Experts() + 1) * c.NumHiddenLayers
				}
				if up, down := h1-h0, d1-d0; up != int64(4*B*T+4*B) || down != int64(wantDown) {
					t.Errorf("step %d: h2d %d, d2h %d bytes; want %d, %d", step, up, down, 4*B*T+4*B, wantDown)
				}
				ids = []int32{int32(step + 1), int32(step + 7), int32(step + 3)}
				T = 1
			}
			if kv.Len() != 9 {
				t.Errorf("cache length %d, want 9", kv.Len())
			}
			if err := m.Forward(kv, make([]int32, 3*12), 12, logits); err == nil || !strings.Contains(err.Error(), "exceed the cache size") {
				t.Errorf("overfull cache: %v", err)
			}
		})
	}
}

// TestMixedPrecisionOnHost runs the bf16 and fp16 training paths on the
// Host device (16-bit rounding of every matrix-product input, as the
// GPU): the losses stay within bf16/fp16 distance of fp32's, and the
// fp16 run starts with torch's scale 65536.
func TestMixedPrecisionOnHost(t *testing.T) {
	c := modeltest.TinyConfig(true)
	run := func(prec cuda.Precision) ([]float64, *Trainer) {
		m, err := New(NewHost(cpuBackend(t), prec), modeltest.Params(t, c, 2))
		if err != nil {
			t.Fatal(err)
		}
		tr, err := NewTrainer(m, DefaultAdamW())
		if err != nil {
			t.Fatal(err)
		}
		var losses []float64
		for step := 0; step < 8; step++ {
			if err := m.ZeroGrad(); err != nil {
				t.Fatal(err)
			}
			bt := randomBatch(&c, 2, 16, 1) // one batch again and again: the loss must fall
			st, err := tr.Micro(bt.ids, bt.tgt, bt.mask, 2, 16, 1)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tr.Step(3e-3, 1); err != nil {
				t.Fatal(err)
			}
			losses = append(losses, st.Loss)
		}
		return losses, tr
	}
	f32, tr32 := run(cuda.FP32)
	if tr32.Scaler != nil {
		t.Error("fp32 got a loss scaler")
	}
	if f32[len(f32)-1] >= f32[0]-0.1 {
		t.Fatalf("fp32 loss did not fall: %v", f32)
	}
	for _, tc := range []struct {
		prec cuda.Precision
		tol  float64
	}{{cuda.BF16, 5e-2}, {cuda.FP16, 1e-2}} {
		got, tr := run(tc.prec)
		for i := range got {
			if d := math.Abs(got[i] - f32[i]); !(d <= tc.tol+tc.tol*f32[i]) {
				t.Errorf("%s step %d: loss %v, fp32 %v", tc.prec, i, got[i], f32[i])
			}
		}
		if tc.prec == cuda.FP16 && (tr.Scaler == nil || tr.Scaler.Scale != 65536 || tr.Scaler.Tracker != len(got)) {
			t.Errorf("fp16 scaler %+v, want scale 65536 after %d clean steps", tr.Scaler, len(got))
		}
	}
}

// TestFP16OverflowSkipsStep: with a loss scale that overflows binary16 in
// backward, the step is skipped (weights and AdamW's step count stay),
// the scale backs off by half, and training resumes once it fits — the
// GradScaler contract, end to end on the Host device.
func TestFP16OverflowSkipsStep(t *testing.T) {
	c := modeltest.TinyConfig(false)
	p := modeltest.Params(t, c, 4)
	m, err := New(NewHost(cpuBackend(t), cuda.FP16), p)
	if err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(m, DefaultAdamW())
	if err != nil {
		t.Fatal(err)
	}
	tr.Scaler.Scale = 1 << 30 // dlogits·2³⁰ is far past binary16's 65504
	before := append([]float32(nil), p.Data...)
	bt := randomBatch(&c, 2, 8, 3)
	var skipped int
	for step := 0; step < 40 && tr.T == 0; step++ {
		scale := tr.Scaler.Scale
		if err := m.ZeroGrad(); err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Micro(bt.ids, bt.tgt, bt.mask, 2, 8, 1); err != nil {
			t.Fatal(err)
		}
		r, err := tr.Step(1e-3, 1)
		if err != nil {
			t.Fatal(err)
		}
		if r.LossScale != scale {
			t.Fatalf("step %d: reported scale %v, used %v", step, r.LossScale, scale)
		}
		if r.Skipped {
			skipped++
			if tr.Scaler.Scale != scale/2 || tr.Scaler.Tracker != 0 || tr.T != 0 {
				t.Fatalf("skipped step %d: scaler %+v, T %d", step, tr.Scaler, tr.T)
			}
			if err := m.Download(p); err != nil {
				t.Fatal(err)
			}
			same(t, "params after a skipped step", step, p.Data, before)
		} else if tr.Scaler.Scale != scale || tr.Scaler.Tracker != 1 {
			t.Fatalf("clean step %d: scaler %+v", step, tr.Scaler)
		}
	}
	if skipped == 0 || tr.T != 1 {
		t.Fatalf("skipped %d steps, took %d: want some skipped, then one taken", skipped, tr.T)
	}
}

// TestGradScalerRules table-tests torch's _amp_update_scale_ rules.
func TestGradScalerRules(t *testing.T) {
	s := NewGradScaler()
	if s.Scale != 65536 || s.GrowthFactor != 2 || s.BackoffFactor != 0.5 || s.GrowthInterval != 2000 {
		t.Fatalf("defaults %+v", s)
	}
	if s.InvScale() != float32(1.0/65536) {
		t.Errorf("InvScale %v", s.InvScale())
	}
	s.GrowthInterval = 3
	for i, tc := range []struct {
		inf     bool
		scale   float32
		tracker int
	}{
		{false, 65536, 1}, {false, 65536, 2}, {false, 131072, 0}, // growth on the 3rd clean step
		{true, 65536, 0}, // backoff resets the tracker
		{false, 65536, 1}, {true, 32768, 0}, {true, 16384, 0},
		{false, 16384, 1}, {false, 16384, 2}, {false, 32768, 0},
	} {
		s.Update(tc.inf)
		if s.Scale != tc.scale || s.Tracker != tc.tracker {
			t.Fatalf("update %d (inf %v): scale %v tracker %d, want %v %d", i, tc.inf, s.Scale, s.Tracker, tc.scale, tc.tracker)
		}
	}
	// Growth that would overflow float32 keeps the scale (torch checks isfinite).
	big := &GradScaler{Scale: math.MaxFloat32, GrowthFactor: 2, BackoffFactor: 0.5, GrowthInterval: 1}
	big.Update(false)
	if big.Scale != math.MaxFloat32 || big.Tracker != 0 {
		t.Errorf("overflowing growth: %+v", big)
	}
}

// TestBadInput: bad batches are errors naming the problem, before any
// kernel runs.
func TestBadInput(t *testing.T) {
	c := modeltest.TinyConfig(false)
	m, err := New(NewHost(cpuBackend(t), cuda.FP32), modeltest.Params(t, c, 1))
	if err != nil {
		t.Fatal(err)
	}
	ok := randomBatch(&c, 1, 4, 1)
	for _, tc := range []struct {
		name    string
		ids     []int32
		tgt     []int32
		B, T    int
		wantErr string
	}{
		{"id out of vocab", []int32{1, 2, 999, 3}, ok.tgt, 1, 4, "outside the vocabulary"},
		{"negative id", []int32{1, -2, 3, 3}, ok.tgt, 1, 4, "outside the vocabulary"},
		{"target out of vocab", ok.ids, []int32{1, 2, 3, 50}, 1, 4, "target id 50"},
		{"short ids", ok.ids[:3], ok.tgt, 1, 4, "3 token ids"},
		{"too long", make([]int32, 65), make([]int32, 65), 1, 65, "max_position_embeddings"},
	} {
		mask := make([]float32, len(tc.tgt))
		if _, err := m.ForwardBackward(tc.ids, tc.tgt, mask, tc.B, tc.T, 1); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.wantErr)
		}
	}
	// A later, larger batch than the table was sized for is an error.
	if err := m.Reserve(1, 4); err != nil {
		t.Fatal(err)
	}
	big := randomBatch(&c, 2, 8, 2)
	if _, err := m.ForwardBackward(big.ids, big.tgt, big.mask, 2, 8, 1); err == nil || !strings.Contains(err.Error(), "Reserve") {
		t.Errorf("growing batch: %v", err)
	}
	if n := estimateActs(&c, 2, 16, true); n <= 0 || n != mustActs(t, &c, 2, 16) {
		t.Errorf("estimateActs = %d, allocated %d", n, mustActs(t, &c, 2, 16))
	}
}

func mustActs(t *testing.T, c *model.Config, B, N int) int64 {
	a, err := newActs(NewHost(nil, cuda.FP32), c, B, N, true)
	if err != nil {
		t.Fatal(err)
	}
	return a.bytes
}

// TestNoGPU: without a GPU (this machine, CI) NewCUDA fails with one of
// kernels/cuda's sentinels, which --device auto treats as "use the CPU".
// With a GPU it opens (the GPU tests run there).
func TestNoGPU(t *testing.T) {
	d, err := NewCUDA(cuda.Options{CacheDir: t.TempDir()})
	if err == nil {
		d.Close()
		t.Skip("a GPU is present: nothing to check here")
	}
	for _, s := range []error{cuda.ErrNoDriver, cuda.ErrNoNVRTC, cuda.ErrNoCUBLAS, cuda.ErrNoDevice, cuda.ErrUnsupportedPlatform} {
		if errors.Is(err, s) {
			return
		}
	}
	t.Errorf("NewCUDA without a GPU: %v wraps none of kernels/cuda's sentinels", err)
}
