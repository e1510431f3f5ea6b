package gemm

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// benchShapes are the products of one MiniMind training step (N = 8×512
// rows, hidden 512, FFN 1536, vocab 6400; weights [out, in]) and of decode
// (m = 1 or 8 rows against a weight, transB).
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
}{
	{"fwd_4096x512·1536x512T", false, true, 4096, 1536, 512},
	{"fwd_4096x1536·512x1536T", false, true, 4096, 512, 1536},
	{"dx_4096x1536·1536x512", false, false, 4096, 512, 1536},
	{"dW_4096x1536T·4096x512", true, false, 1536, 512, 4096},
	{"lmhead_4096x512·6400x512T", false, true, 4096, 6400, 512},
	{"lmhead_dx_4096x6400·6400x512", false, false, 4096, 512, 6400},
	{"lmhead_dW_4096x6400T·4096x512", true, false, 6400, 512, 4096},
	{"decode_m1_1536x512", false, true, 1, 1536, 512},
	{"decode_m8_1536x512", false, true, 8, 1536, 512},
	{"decode_m1_6400x512", false, true, 1, 6400, 512},
	{"decode_m8_6400x512", false, true, 8, 6400, 512},
}

// BenchmarkSgemm reports GFLOP/s (2mnk per call) and, for decode shapes,
// the GB/s of streaming B once.
func BenchmarkSgemm(b *testing.B) {
	pool := newPool(b, 0)
	r := rand.New(rand.NewPCG(7, 8))
	for _, s := range benchShapes {
		var p problem // made on first use, so filtered-out shapes cost nothing
		for _, kind := range allKinds {
			b.Run(fmt.Sprintf("%s/%v", s.name, kind), func(b *testing.B) {
				g := gemmFor(b, pool, kind)
				if p.c == nil {
					p = newProblem(r, s.transA, s.transB, s.m, s.n, s.k, 0, true)
				}
				if kind == Generic && s.m > 8 && testing.Short() {
					b.Skip("generic on training shapes is slow; drop -short to run")
				}
				p.run(g, p.c)
				b.ReportAllocs()
				for b.Loop() {
					p.run(g, p.c)
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				b.ReportMetric(2*float64(s.m)*float64(s.n)*float64(s.k)/sec/1e9, "GFLOP/s")
				if s.m <= skinnyMaxM {
					b.ReportMetric(4*float64(s.n)*float64(s.k)/sec/1e9, "GB/s")
				}
			})
		}
	}
}
