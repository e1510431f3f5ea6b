package model_test

import (
	"fmt"
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// BenchmarkTrainStep: one forward+backward of the default-size model
// (hidden 512, 8 layers, intermediate 1536) at batch 4, seq 512.
func BenchmarkTrainStep(b *testing.B) {
	for _, moe := range []bool{false, true} {
		name := "dense"
		if moe {
			name = "moe"
		}
		b.Run(fmt.Sprintf("%s/B4_T512", name), func(b *testing.B) {
			c := model.DefaultConfig()
			c.UseMoE = moe
			be := cpu.New(cpu.Options{})
			defer be.Close()
			m := modeltest.Model(b, c, 1, be)
			B, T := 4, 512
			ids, tg, mask := randomBatch(1, B, T, c.VocabSize)
			m.ZeroGrad()
			if _, err := m.ForwardBackward(ids, tg, mask, B, T, 1); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				m.ZeroGrad()
				_, _ = m.ForwardBackward(ids, tg, mask, B, T, 1)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(float64(B*T)/sec, "tok/s")
			b.ReportMetric(model.TrainFLOPs(&c, B, T)/sec/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkDecodeStep: one batch-1 token through the default dense model
// with a KV cache holding 128 to 511 positions, per inference dtype.
func BenchmarkDecodeStep(b *testing.B) {
	c := model.DefaultConfig()
	be := cpu.New(cpu.Options{})
	defer be.Close()
	m := modeltest.Model(b, c, 1, be)
	for _, dtype := range []string{"f32", "bf16", "f16", "q8_0"} {
		b.Run(dtype, func(b *testing.B) {
			if err := m.SetInferenceDType(dtype); err != nil {
				b.Fatal(err)
			}
			kv, _ := m.NewKVCache(1, 512)
			prompt := make([]int32, 128)
			if _, err := m.Forward(kv, prompt, len(prompt), nil, 1); err != nil {
				b.Fatal(err)
			}
			tok := []int32{5}
			b.ReportAllocs()
			b.ResetTimer()
			for b.Loop() {
				if kv.Len() >= 511 {
					kv.Lens[0] = 128
				}
				_, _ = m.Forward(kv, tok, 1, nil, 1)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "tok/s")
		})
	}
}
