package train_test

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"math"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/train"
)

func slabHash(s []float32) [32]byte {
	b := make([]byte, 4*len(s))
	for i, v := range s {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
	}
	return sha256.Sum256(b)
}

func loraConfig(t *testing.T, dir string, base *model.Params) train.LoRAConfig {
	o := train.DefaultLoRAOptions()
	o.Epochs, o.BatchSize, o.LearningRate, o.WarmupIters, o.SaveInterval = 2, 4, 1e-2, 1, 3
	return train.LoRAConfig{
		Name: "lora_test", Base: base, Spec: model.LoRASpec{Rank: 2, Alpha: 4, Targets: model.LoRATargets},
		Options: o, Data: synthetic{n: 21, maxLen: 9, vocab: 60, kind: data.KindSFT},
		Backend: cpu.New(cpu.Options{}), OutDir: dir,
	}
}

// TestLoRARunResumeExact: a LoRA run killed mid-way and resumed gives the
// uninterrupted run's losses and adapter file bit for bit; the base slab
// is never written, the model has no base gradients, and only the
// adapters are in the file (upstream's key names).
func TestLoRARunResumeExact(t *testing.T) {
	base := modeltest.Params(t, tinyConfig(false), 11)
	h0 := slabHash(base.Data)

	full, err := train.RunLoRA(context.Background(), loraConfig(t, t.TempDir(), base))
	if err != nil {
		t.Fatal(err)
	}
	if slabHash(base.Data) != h0 {
		t.Fatal("LoRA training wrote to the base weights")
	}
	if full.TotalSteps != 12 || len(full.Steps) != 12 {
		t.Fatalf("%d steps of %d recorded, want 12", len(full.Steps), full.TotalSteps)
	}
	if full.MemoryBytes >= full.FullBytes || full.FullBytes-full.MemoryBytes != 12*int64(full.BaseParams)-16*int64(full.LoRAParams) {
		t.Errorf("memory %d vs full fine-tuning %d: the base should carry no gradients or moments", full.MemoryBytes, full.FullBytes)
	}

	dir := t.TempDir()
	cfg := loraConfig(t, dir, base)
	ctx := &cancelAfter{Context: context.Background()}
	ctx.n.Store(7)
	if _, err := train.RunLoRA(ctx, cfg); !errors.Is(err, context.Canceled) {
		t.Fatalf("interrupted run: %v", err)
	}
	cfg.Resume = true
	resumed, err := train.RunLoRA(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if resumed.Step == 0 || resumed.Step >= 12 {
		t.Fatalf("resumed at step %d, want in the middle", resumed.Step)
	}
	for i, s := range resumed.Steps {
		if s.Loss != full.Steps[i].Loss || s.GradNorm != full.Steps[i].GradNorm {
			t.Errorf("step %d: loss %v grad_norm %v, uninterrupted %v %v", s.Step, s.Loss, s.GradNorm, full.Steps[i].Loss, full.Steps[i].GradNorm)
		}
	}
	a, _, da, err := checkpoint.ReadLoRATensors(full.Weights)
	if err != nil {
		t.Fatal(err)
	}
	b, _, db, err := checkpoint.ReadLoRATensors(resumed.Weights)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a, b) || len(a) != 2*7*tinyConfig(false).NumHiddenLayers {
		t.Fatalf("keys %v and %v", a, b)
	}
	for _, k := range a {
		if !slices.Equal(da[k], db[k]) {
			t.Errorf("%s differs after resume", k)
		}
	}
	if filepath.Base(full.Weights) != "lora_test_"+strconv.Itoa(base.Config.HiddenSize)+".pth" {
		t.Errorf("file %s", full.Weights)
	}
	// The first loss is the base model's (B = 0), and training lowers it.
	if last := full.Steps[len(full.Steps)-1].Loss; !(last < full.Steps[0].Loss) {
		t.Errorf("loss %v → %v: LoRA training did not lower it", full.Steps[0].Loss, last)
	}
}

// TestLoRADataParallel: 2 ranks × batch 2 take the steps of one process ×
// batch 4: the same losses and adapters (to float32 summation order).
func TestLoRADataParallel(t *testing.T) {
	base := modeltest.Params(t, tinyConfig(false), 11)
	one := loraConfig(t, t.TempDir(), base)
	one.Options.BatchSize = 4
	want, err := train.RunLoRA(context.Background(), one)
	if err != nil {
		t.Fatal(err)
	}
	g := newGroup(2)
	dir := t.TempDir()
	var res [2]*train.LoRAResult
	var errs [2]error
	var wg sync.WaitGroup
	for r := range 2 {
		cfg := loraConfig(t, dir, base)
		cfg.Options.BatchSize, cfg.Comm = 2, rank{g, r, 2}
		wg.Go(func() { res[r], errs[r] = train.RunLoRA(context.Background(), cfg) })
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	got := res[0]
	if len(got.Steps) != len(want.Steps) || len(got.Steps) == 0 {
		t.Fatalf("%d steps on 2 ranks, %d in one process", len(got.Steps), len(want.Steps))
	}
	for i, s := range got.Steps {
		if d := math.Abs(s.Loss - want.Steps[i].Loss); d > 1e-5 {
			t.Errorf("step %d: loss %v on 2 ranks, %v in one process", s.Step, s.Loss, want.Steps[i].Loss)
		}
	}
	_, _, a, err := checkpoint.ReadLoRATensors(want.Weights)
	if err != nil {
		t.Fatal(err)
	}
	_, _, b, err := checkpoint.ReadLoRATensors(got.Weights)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range a {
		for i := range v {
			if d := math.Abs(float64(v[i] - b[k][i])); d > 2e-3 {
				t.Fatalf("%s[%d]: %g on 2 ranks, %g in one process", k, i, b[k][i], v[i])
			}
		}
	}
}
