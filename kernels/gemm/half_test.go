package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/half"
)

// TestConvertHalf checks, for each kind, that the vector conversion
// agrees with the scalar one (package half) on all 65536 bit patterns.
func TestConvertHalf(t *testing.T) {
	src := make([]uint16, 1<<16+5) // +5: a scalar tail after the vectors
	for i := range src {
		src[i] = uint16(i)
	}
	dst := make([]float32, len(src))
	pool := newPool(t, 1)
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			for _, bf16 := range []bool{false, true} {
				g.convertHalf(dst, src, bf16)
				for i, h := range src {
					want := half.F16ToFloat32(h)
					if bf16 {
						want = half.BF16ToFloat32(h)
					}
					got := dst[i]
					if math.IsNaN(float64(want)) && math.IsNaN(float64(got)) {
						continue
					}
					if math.Float32bits(got) != math.Float32bits(want) {
						t.Fatalf("bf16=%v: %#04x → %v (%#08x), want %v (%#08x)", bf16, h, got,
							math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		})
	}
}

// randHalf returns n random 16-bit floats of magnitude ≈ [2⁻⁶, 2], both
// signs, in the chosen format.
func randHalf(r *rand.Rand, n int, bf16 bool) []uint16 {
	s := make([]uint16, n)
	for i := range s {
		if bf16 {
			s[i] = uint16(math.Float32bits(r.Float32()*4-2) >> 16)
		} else {
			s[i] = uint16(r.IntN(2))<<15 | uint16(9+r.IntN(7))<<10 | uint16(r.IntN(1024))
		}
	}
	return s
}

func widen(b []uint16, bf16 bool) []float32 {
	f := make([]float32, len(b))
	for i, h := range b {
		if bf16 {
			f[i] = half.BF16ToFloat32(h)
		} else {
			f[i] = half.F16ToFloat32(h)
		}
	}
	return f
}

// TestSgemmHalfB compares SgemmHalfB with Reference on the widened weights.
func TestSgemmHalfB(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(9, 10))
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			for _, m := range []int{1, 3, 4, 7, 8, 11} {
				for _, n := range []int{1, 5, 8, 33} {
					for _, k := range []int{1, 7, 17, 48, 520, 560, 1100} {
						for _, bf16 := range []bool{false, true} {
							acc := r.IntN(2) == 0
							p := newProblem(r, false, true, m, n, k, r.IntN(3), acc)
							hb := randHalf(r, len(p.b), bf16)
							p.b = widen(hb, bf16)
							want := p.want()
							got := append([]float32(nil), p.c...)
							g.SgemmHalfB(m, n, k, p.a, p.lda, hb, p.ldb, bf16, got, p.ldc, acc)
							t.Run(fmt.Sprintf("bf16=%v", bf16), func(t *testing.T) { checkClose(t, p, want, got) })
						}
					}
				}
			}
		})
	}
}

func TestSgemmHalfBNoAllocs(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(11, 12))
	p := newProblem(r, false, true, 8, 1000, 600, 0, false)
	hb := randHalf(r, len(p.b), false)
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			f := func() { g.SgemmHalfB(p.m, p.n, p.k, p.a, p.lda, hb, p.ldb, false, p.c, p.ldc, false) }
			f()
			if n := testing.AllocsPerRun(5, f); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

// coldBytes is the weight working set of the "cold" decode benchmarks:
// several copies of the matrix, cycled, so that (like a whole model during
// decode) it does not fit in L3 and every call streams from DRAM.
const coldBytes = 128 << 20

// BenchmarkSgemmHalfB measures decode against half-precision weights; GB/s
// counts the 2-byte weights read once. "cold" cycles through copies of B
// totalling coldBytes (DRAM-bound, as in real decode); "warm" reuses one.
func BenchmarkSgemmHalfB(b *testing.B) {
	pool := newPool(b, 0)
	r := rand.New(rand.NewPCG(13, 14))
	for _, s := range []struct{ m, n, k int }{{1, 1536, 512}, {8, 1536, 512}, {1, 6400, 512}, {8, 6400, 512}} {
		for _, bf16 := range []bool{false, true} {
			format := "f16"
			if bf16 {
				format = "bf16"
			}
			a := randSlice(r, s.m*s.k)
			hb := randHalf(r, s.n*s.k, bf16)
			c := make([]float32, s.m*s.n)
			for _, kind := range allKinds {
				for _, cold := range []bool{false, true} {
					copies := [][]uint16{hb}
					temp := "warm"
					if cold {
						temp = "cold"
						for len(copies)*len(hb)*2 < coldBytes {
							copies = append(copies, append([]uint16(nil), hb...))
						}
					}
					b.Run(fmt.Sprintf("decode_m%d_%dx%d_%s_%s/%v", s.m, s.n, s.k, format, temp, kind), func(b *testing.B) {
						g := gemmFor(b, pool, kind)
						b.ReportAllocs()
						i := 0
						for b.Loop() {
							g.SgemmHalfB(s.m, s.n, s.k, a, s.k, copies[i%len(copies)], s.k, bf16, c, s.n, false)
							i++
						}
						sec := b.Elapsed().Seconds() / float64(b.N)
						b.ReportMetric(2*float64(s.n*s.k)/sec/1e9, "GB/s")
						b.ReportMetric(2*float64(s.m*s.n*s.k)/sec/1e9, "GFLOP/s")
					})
				}
			}
		}
	}
}
