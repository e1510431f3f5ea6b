package gemm

import (
	"testing"
)

// BenchmarkMicroKernel runs one kind's micro-kernel on cache-resident packed
// panels (one core): the ceiling the blocked path can approach.
func BenchmarkMicroKernel(b *testing.B) {
	for _, kind := range allKinds {
		b.Run(kind.String(), func(b *testing.B) {
			g := gemmFor(b, newPool(b, 1), kind)
			cfg := g.cfg
			kc := cfg.kc
			a := make([]float32, cfg.mr*kc)
			bp := make([]float32, cfg.nr*kc)
			c := make([]float32, cfg.mr*cfg.nr)
			for b.Loop() {
				g.kernel(kc, &a[0], &bp[0], &c[0], cfg.nr, 1, &bp[0], 0)
			}
			sec := b.Elapsed().Seconds() / float64(b.N)
			b.ReportMetric(2*float64(cfg.mr*cfg.nr*kc)/sec/1e9, "GFLOP/s")
		})
	}
}
