package model_test

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// maskedCE is the masked mean cross-entropy as a grad callback for
// ForwardBackwardLogits, written from TokenLogProbs and the softmax: it
// must reproduce ForwardBackward.
func maskedCE(targets []int32, mask []float32, V int) func(logits, dlogits []float32) (float64, error) {
	lp := make([]float32, len(targets))
	return func(logits, dlogits []float32) (float64, error) {
		model.TokenLogProbs(lp, logits, targets, V)
		var sum, msum float64
		for i, t := range targets {
			if t >= 0 {
				sum -= float64(lp[i]) * float64(mask[i])
				msum += float64(mask[i])
			}
		}
		for i, t := range targets {
			if t < 0 || mask[i] == 0 {
				continue
			}
			w := float64(mask[i]) / msum
			row := logits[i*V : (i+1)*V]
			// softmax = exp(logit - logsumexp) with logsumexp = logit[t] - logp[t]
			lse := float64(row[t]) - float64(lp[i])
			for j, x := range row {
				dlogits[i*V+j] += float32(w * math.Exp(float64(x)-lse))
			}
			dlogits[i*V+int(t)] -= float32(w)
		}
		return sum / msum, nil
	}
}

func TestForwardBackwardLogitsMatchesCE(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  model.Config
	}{
		{"dense", modeltest.TinyConfig(false)},
		{"moe", modeltest.TinyConfig(true)},
		{"m3-dense", modeltest.TinyConfig3(false)},
		{"m3-moe", modeltest.TinyConfig3(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			be := cpu.New(cpu.Options{Threads: 1})
			defer be.Close()
			B, T, V := 2, 7, tc.cfg.VocabSize
			rng := rand.New(rand.NewPCG(3, 4))
			ids, targets, mask := make([]int32, B*T), make([]int32, B*T), make([]float32, B*T)
			for i := range ids {
				ids[i] = int32(rng.IntN(V))
				targets[i] = int32(rng.IntN(V))
				mask[i] = float32(rng.IntN(2))
			}
			targets[3] = -1
			mask[0] = 1
			const scale = 0.5
			ref := modeltest.Model(t, tc.cfg, 11, be)
			want, err := ref.ForwardBackward(ids, targets, mask, B, T, scale)
			if err != nil {
				t.Fatal(err)
			}
			m := modeltest.Model(t, tc.cfg, 11, be)
			grad := maskedCE(targets, mask, V)
			var got model.Stats
			// Twice: the second call must add the same gradient again.
			for range 2 {
				if got, err = m.ForwardBackwardLogits(ids, B, T, scale, grad); err != nil {
					t.Fatal(err)
				}
			}
			if math.Abs(got.CE-want.CE) > 1e-6 || math.Abs(got.Aux-want.Aux) > 1e-9 || math.Abs(got.Loss-want.Loss) > 1e-6 {
				t.Errorf("stats %+v, want %+v", got, want)
			}
			if tc.cfg.UseMoE && got.Aux == 0 {
				t.Errorf("MoE aux is 0")
			}
			worst, at := 0.0, -1
			for i, g := range m.Grads {
				if d := math.Abs(float64(g) - 2*float64(ref.Grads[i])); d > worst {
					worst, at = d, i
				}
			}
			if worst > 1e-6 {
				t.Errorf("grads differ by %g at slab index %d (%g vs 2×%g)", worst, at, m.Grads[at], ref.Grads[at])
			}
			allocs := testing.AllocsPerRun(3, func() {
				if _, err := m.ForwardBackwardLogits(ids, B, T, scale, grad); err != nil {
					t.Fatal(err)
				}
			})
			if allocs > 0 {
				t.Errorf("%v allocations per call after the first", allocs)
			}
		})
	}
}

func TestForwardBackwardLogitsErrors(t *testing.T) {
	be := cpu.New(cpu.Options{Threads: 1})
	defer be.Close()
	m := modeltest.Model(t, modeltest.TinyConfig(false), 1, be)
	boom := errors.New("boom")
	_, err := m.ForwardBackwardLogits([]int32{1, 2, 3, 4}, 2, 2, 1, func(_, d []float32) (float64, error) {
		d[0] = 1
		return 0, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("error %v, want the callback's", err)
	}
	for _, g := range m.Grads {
		if g != 0 {
			t.Fatal("grads changed after a failed callback")
		}
	}
	_, err = m.ForwardBackwardLogits([]int32{1, 2, 3}, 2, 2, 1, nil)
	if err == nil || !strings.Contains(err.Error(), "3 token ids") {
		t.Fatalf("error %v, want the batch size named", err)
	}
}

func TestTokenLogProbs(t *testing.T) {
	const V = 5
	logits := []float32{1, 2, 3, 4, 5, 0, 0, 0, 0, 0, 100, -100, 0, 0, 0}
	targets := []int32{4, 2, -1}
	out := []float32{9, 9, 9}
	model.TokenLogProbs(out, logits, targets, V)
	lse := math.Log(math.Exp(1) + math.Exp(2) + math.Exp(3) + math.Exp(4) + math.Exp(5))
	want := []float64{5 - lse, -math.Log(5), 0}
	for i := range want {
		if math.Abs(float64(out[i])-want[i]) > 1e-6 {
			t.Errorf("%s: %g, want %g", fmt.Sprint("row ", i), out[i], want[i])
		}
	}
}
