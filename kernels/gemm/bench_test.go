package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

// benchShapes are the products of one MiniMind training step (N = 8×512
// rows, hidden 512, FFN 1536, vocab 6400; weights [out, in]) and of decode
// (m = 1 or 8 rows against a weight, transB).
var benchShapes = []struct {
	name           string
	transA, transB bool
	m, n, k        int
	cold           bool // decode: cycle through copies of B; training: evict the caches before each call
}{
	{"fwd_4096x512·1536x512T", false, true, 4096, 1536, 512, false},
	{"fwd_4096x1536·512x1536T", false, true, 4096, 512, 1536, false},
	{"dx_4096x1536·1536x512", false, false, 4096, 512, 1536, false},
	{"dW_4096x1536T·4096x512", true, false, 1536, 512, 4096, false},
	{"lmhead_4096x512·6400x512T", false, true, 4096, 6400, 512, false},
	{"lmhead_dx_4096x6400·6400x512", false, false, 4096, 512, 6400, false},
	{"lmhead_dW_4096x6400T·4096x512", true, false, 6400, 512, 4096, false},
	// The same products with the caches evicted before each call, as in a
	// training step, where every operand was last touched a layer ago:
	// warm operands (left in L3 by the previous call) overstate the
	// in-step speed, by ~10% on the AVX-512 kind.
	{"fwd_4096x512·1536x512T_cold", false, true, 4096, 1536, 512, true},
	{"dx_4096x1536·1536x512_cold", false, false, 4096, 512, 1536, true},
	{"dW_4096x1536T·4096x512_cold", true, false, 1536, 512, 4096, true},
	{"dW_4096x512T·4096x512_cold", true, false, 512, 512, 4096, true},
	// One routed expert of the default MoE (top-2 of 4: ~2048 of the 4096 rows).
	{"moe_fwd_2048x512·1536x512T", false, true, 2048, 1536, 512, false},
	{"moe_dx_2048x1536·1536x512", false, false, 2048, 512, 1536, false},
	{"moe_dW_2048x1536T·2048x512", true, false, 1536, 512, 2048, false},
	{"decode_m1_1536x512", false, true, 1, 1536, 512, false},
	{"decode_m1_1536x512_cold", false, true, 1, 1536, 512, true},
	{"decode_m8_1536x512", false, true, 8, 1536, 512, false},
	{"decode_m8_1536x512_cold", false, true, 8, 1536, 512, true},
	{"decode_m1_6400x512", false, true, 1, 6400, 512, false},
	{"decode_m1_6400x512_cold", false, true, 1, 6400, 512, true},
	{"decode_m8_6400x512", false, true, 8, 6400, 512, false},
	{"decode_m8_6400x512_cold", false, true, 8, 6400, 512, true},
}

// evictBytes is what the cold training-shape benchmarks write between
// calls: more than any L3 this runs on (this VM reports 480 MiB).
const evictBytes = 640 << 20

// BenchmarkSgemm reports GFLOP/s (2mnk per call) and, for decode shapes,
// the GB/s of streaming B once.
//
// Training shapes also report "peak%": the median GFLOP/s as a percentage
// of the machine's fp32 peak measured (with an FMA loop) on the same
// number of threads just before.
func BenchmarkSgemm(b *testing.B) {
	pool := newPool(b, 0)
	peak, _ := MeasurePeakGFLOPs(pool.Workers())
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
				// Decode shapes also run "cold": cycling through copies of B
				// that together exceed L3, as a whole model does.
				bs := [][]float32{p.b}
				var evict []float32
				if s.cold && s.m > skinnyMaxM {
					evict = make([]float32, evictBytes/4)
				}
				if s.cold && s.m <= skinnyMaxM {
					for len(bs)*len(p.b)*4 < coldBytes {
						bs = append(bs, append([]float32(nil), p.b...))
					}
				}
				b.ReportAllocs()
				// The fastest single call is reported too: on shared cores
				// it is the least disturbed estimate of what the code can do.
				best := time.Duration(math.MaxInt64)
				i := 0
				for b.Loop() {
					q := p
					q.b = bs[i%len(bs)]
					i++
					if evict != nil {
						b.StopTimer()
						for j := 0; j < len(evict); j += 16 { // a write per cache line
							evict[j]++
						}
						b.StartTimer()
					}
					t0 := time.Now()
					q.run(g, q.c)
					best = min(best, time.Since(t0))
				}
				sec := b.Elapsed().Seconds() / float64(b.N)
				flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
				b.ReportMetric(flop/sec/1e9, "GFLOP/s")
				b.ReportMetric(flop/best.Seconds()/1e9, "best-GFLOP/s")
				if s.m > skinnyMaxM && kind != Generic {
					b.ReportMetric(100*flop/sec/1e9/peak, "peak%")
				}
				if s.m <= skinnyMaxM {
					b.ReportMetric(4*float64(s.n)*float64(s.k)/sec/1e9, "GB/s")
				}
			})
		}
	}
}
