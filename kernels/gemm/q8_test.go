package gemm

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/quant"
)

// randQ8 returns n rows of k weights in Q8_0 with ld bytes per row (the
// padding bytes random too): quants span the full int8 range, -128
// included (a GGUF file may hold it even though QuantizeQ8 never writes
// it), and scales of several magnitudes.
func randQ8(r *rand.Rand, n, k, ld int) []byte {
	b := make([]byte, n*ld)
	for i := range b {
		b[i] = byte(r.IntN(256))
	}
	for j := range n {
		for blk := range k / quant.Q8Block {
			off := j*ld + blk*quant.Q8BlockBytes
			d := float32(r.Float64()*2) * float32(math.Pow(2, float64(r.IntN(12)-10)))
			binary.LittleEndian.PutUint16(b[off:], half.Float32ToF16(d))
		}
	}
	return b
}

// dequantRows decodes n Q8_0 rows of k weights (ld bytes apart) to n×k
// float32.
func dequantRows(t *testing.T, b []byte, n, k, ld int) []float32 {
	t.Helper()
	w := make([]float32, n*k)
	for j := range n {
		if err := quant.DequantizeQ8(w[j*k:(j+1)*k], b[j*ld:j*ld+quant.Q8Bytes(k)]); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// q8Want is the exact value SgemmQ8B approximates in float32 rounding
// only: Σ_b dx·dw·(exact integer block dot), in float64, with A quantized
// by QuantizeRowQ8, plus the sum of |lane terms| (the scale of rounding
// error).
func q8Want(m, n, k int, a []float32, lda int, b []byte, ldb int, c []float32, ldc int, accumulate bool) (want, mag []float64) {
	nb := k / quant.Q8Block
	want, mag = make([]float64, m*n), make([]float64, m*n)
	xq, xd := make([]int8, k), make([]float32, nb)
	for i := range m {
		QuantizeRowQ8(xq, xd, a[i*lda:i*lda+k])
		for j := range n {
			var s, sa float64
			for blk := range nb {
				w := b[j*ldb+blk*quant.Q8BlockBytes:]
				dw := half.F16ToFloat32(binary.LittleEndian.Uint16(w))
				// Rounding error scales with the 8 lanes' terms, which
				// may cancel within a block.
				for l := range 8 {
					var is int64
					for p := 4 * l; p < 4*l+4; p++ {
						is += int64(xq[blk*quant.Q8Block+p]) * int64(int8(w[2+p]))
					}
					t := float64(xd[blk]) * float64(dw) * float64(is)
					s += t
					sa += math.Abs(t)
				}
			}
			if accumulate {
				s += float64(c[i*ldc+j])
				sa += math.Abs(float64(c[i*ldc+j]))
			}
			want[i*n+j], mag[i*n+j] = s, sa
		}
	}
	return want, mag
}

// TestSgemmQ8B checks the decode path (m ≤ 8) of every kind against the
// exact integer arithmetic (to float32 rounding) and against the Generic
// kind bit for bit, and the prefill path (m > 8) against Reference on the
// dequantized weights, on awkward shapes: partial row groups, padded
// leading dimensions, accumulate, several k blocks of the blocked GEMM.
func TestSgemmQ8B(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(21, 22))
	gen := gemmFor(t, pool, Generic)
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			for _, m := range []int{1, 3, 8, 13, 40} {
				for _, n := range []int{1, 4, 7, 33} {
					for _, k := range []int{32, 96, 512, 544} {
						acc := r.IntN(2) == 0
						pad := r.IntN(2)
						lda, ldb, ldc := k+pad, quant.Q8Bytes(k)+3*pad, n+pad
						a := randSlice(r, m*lda)
						for i := range a {
							a[i] *= float32(math.Pow(2, float64(r.IntN(6)-3)))
						}
						b := randQ8(r, n, k, ldb)
						c0 := randSlice(r, m*ldc)
						got := append([]float32(nil), c0...)
						g.SgemmQ8B(m, n, k, a, lda, b, ldb, got, ldc, acc)
						name := fmt.Sprintf("m=%d,n=%d,k=%d,pad=%d,acc=%v", m, n, k, pad, acc)
						if m > skinnyMaxM {
							// float32 products of A and the dequantized weights.
							w := dequantRows(t, b, n, k, ldb)
							for i := range m {
								for j := range n {
									var s, sa float64
									for p := range k {
										v := float64(a[i*lda+p]) * float64(w[j*k+p])
										s, sa = s+v, sa+math.Abs(v)
									}
									if acc {
										s, sa = s+float64(c0[i*ldc+j]), sa+math.Abs(float64(c0[i*ldc+j]))
									}
									if d := math.Abs(float64(got[i*ldc+j]) - s); d > 1e-5*sa {
										t.Fatalf("%s: C[%d][%d] = %v, want %v (|Δ| %g)", name, i, j, got[i*ldc+j], s, d)
									}
								}
							}
							continue
						}
						ref := append([]float32(nil), c0...)
						gen.SgemmQ8B(m, n, k, a, lda, b, ldb, ref, ldc, acc)
						want, mag := q8Want(m, n, k, a, lda, b, ldb, c0, ldc, acc)
						for i := range m {
							for j := range ldc {
								x := i*ldc + j
								if j >= n {
									if got[x] != c0[x] {
										t.Fatalf("%s: padding C[%d][%d] changed", name, i, j)
									}
									continue
								}
								if math.Float32bits(got[x]) != math.Float32bits(ref[x]) {
									t.Fatalf("%s: C[%d][%d] = %v, generic twin %v", name, i, j, got[x], ref[x])
								}
								// float32 rounding of ~k/4 adds and products.
								tol := 1e-6*mag[i*n+j]*float64(k/32+2) + 1e-30
								if d := math.Abs(float64(got[x]) - want[i*n+j]); d > tol {
									t.Fatalf("%s: C[%d][%d] = %v, want %v (|Δ| %g > %g)", name, i, j, got[x], want[i*n+j], d, tol)
								}
							}
						}
					}
				}
			}
		})
	}
}

// TestSgemmQ8BAccuracy bounds the error that quantization (weights by
// QuantizeQ8, activations by QuantizeRowQ8) adds to a float32 product of
// Gaussian data, the shape of a decode step: relative to the typical
// output it is about 1% per matrix — the size of what the model sees.
func TestSgemmQ8BAccuracy(t *testing.T) {
	pool := newPool(t, 1)
	r := rand.New(rand.NewPCG(23, 24))
	const m, n, k = 2, 64, 512
	a, w := make([]float32, m*k), make([]float32, n*k)
	for i := range a {
		a[i] = float32(r.NormFloat64())
	}
	for i := range w {
		w[i] = float32(r.NormFloat64() * 0.05)
	}
	b := make([]byte, quant.Q8Bytes(n*k))
	if err := quant.QuantizeQ8(b, w); err != nil {
		t.Fatal(err)
	}
	want := make([]float32, m*n)
	Reference(false, true, m, n, k, a, k, w, k, want, n, false)
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			got := make([]float32, m*n)
			g.SgemmQ8B(m, n, k, a, k, b, quant.Q8Bytes(k), got, n, false)
			var se, sw float64
			for i := range got {
				d := float64(got[i] - want[i])
				se += d * d
				sw += float64(want[i]) * float64(want[i])
			}
			// Each factor rounds with relative RMS error ≈ (max/127)/√12 ÷
			// RMS ≈ 0.01 for Gaussian blocks of 32; the two together ≈ 1.4%.
			if rel := math.Sqrt(se / sw); rel > 0.02 || rel < 1e-4 {
				t.Fatalf("relative RMS error %.3g, want about 0.01 (below 0.02)", rel)
			} else {
				t.Logf("relative RMS error of q8_0 × q8 activations vs float32: %.3g", rel)
			}
		})
	}
}

func TestQuantizeRowQ8(t *testing.T) {
	x := make([]float32, 64)
	x[0], x[1], x[2], x[3] = 127, -63.5, 0.5, -127
	x[32+5] = -2 // second block: max 2, so d = 2/127
	q, d := make([]int8, 64), make([]float32, 2)
	QuantizeRowQ8(q, d, x)
	if d[0] != 1 || d[1] != float32(2)/127 {
		t.Errorf("scales %v, want [1 %v]", d, float32(2)/127)
	}
	for i, want := range map[int]int8{0: 127, 1: -64, 2: 1, 3: -127, 4: 0, 32 + 5: -127, 33: 0} {
		if q[i] != want {
			t.Errorf("q[%d] = %d, want %d", i, q[i], want)
		}
	}
}

func TestSgemmQ8BNoAllocs(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(25, 26))
	const m, n, k = 8, 1000, 512
	a := randSlice(r, m*k)
	b := randQ8(r, n, k, quant.Q8Bytes(k))
	c := make([]float32, m*n)
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			f := func() { g.SgemmQ8B(m, n, k, a, k, b, quant.Q8Bytes(k), c, n, false) }
			f()
			if n := testing.AllocsPerRun(5, f); n != 0 {
				t.Errorf("%v allocations per call, want 0", n)
			}
		})
	}
}

func TestDequantizeRowsQ8(t *testing.T) {
	const V, C = 5, 64
	w := make([]float32, V*C)
	for i := range w {
		w[i] = float32(i%17) - 8
	}
	table := make([]byte, quant.Q8Bytes(V*C))
	if err := quant.QuantizeQ8(table, w); err != nil {
		t.Fatal(err)
	}
	all := make([]float32, V*C)
	if err := quant.DequantizeQ8(all, table); err != nil {
		t.Fatal(err)
	}
	ids := []int32{4, 0, 4}
	out := make([]float32, len(ids)*C)
	DequantizeRowsQ8(out, ids, table, len(ids), C)
	for i, id := range ids {
		for j := range C {
			if out[i*C+j] != all[int(id)*C+j] {
				t.Fatalf("row %d (id %d) col %d: %v, want %v", i, id, j, out[i*C+j], all[int(id)*C+j])
			}
		}
	}
}

// BenchmarkSgemmQ8B measures decode against Q8_0 weights; GB/s counts the
// 1.0625 bytes per weight read once. "cold" cycles through copies of B
// totalling coldBytes (as a whole model does), "warm" reuses one.
func BenchmarkSgemmQ8B(b *testing.B) {
	pool := newPool(b, 0)
	r := rand.New(rand.NewPCG(27, 28))
	for _, s := range []struct{ m, n, k int }{{1, 1536, 512}, {8, 1536, 512}, {1, 512, 1536}, {1, 6400, 512}, {8, 6400, 512}, {512, 1536, 512}} {
		ld := quant.Q8Bytes(s.k)
		a := randSlice(r, s.m*s.k)
		w := randQ8(r, s.n, s.k, ld)
		c := make([]float32, s.m*s.n)
		for _, kind := range allKinds {
			for _, cold := range []bool{false, true} {
				copies := [][]byte{w}
				temp := "warm"
				if cold {
					if s.m > 8 {
						continue
					}
					temp = "cold"
					for len(copies)*len(w) < coldBytes {
						copies = append(copies, append([]byte(nil), w...))
					}
				}
				b.Run(fmt.Sprintf("m%d_%dx%d_%s/%v", s.m, s.n, s.k, temp, kind), func(b *testing.B) {
					g := gemmFor(b, pool, kind)
					b.ReportAllocs()
					i := 0
					for b.Loop() {
						g.SgemmQ8B(s.m, s.n, s.k, a, s.k, copies[i%len(copies)], ld, c, s.n, false)
						i++
					}
					sec := b.Elapsed().Seconds() / float64(b.N)
					b.ReportMetric(float64(s.n*ld)/sec/1e9, "GB/s")
					b.ReportMetric(2*float64(s.m*s.n*s.k)/sec/1e9, "GFLOP/s")
				})
			}
		}
	}
}

// TestQuantizeRowQ8Rounding checks the fast rounding against math.Round
// (C's roundf) on quotients near every half-integer and on random ones.
func TestQuantizeRowQ8Rounding(t *testing.T) {
	r := rand.New(rand.NewPCG(29, 30))
	x := make([]float32, 0, 32*4096)
	for len(x) < cap(x) {
		blk := make([]float32, 32)
		blk[0] = 127 // scale 1: quants are the values rounded
		for j := 1; j < 32; j++ {
			switch r.IntN(3) {
			case 0:
				blk[j] = float32(r.IntN(254)-127) + 0.5 // ties
			case 1:
				blk[j] = math.Nextafter32(float32(r.IntN(254)-127)+0.5, float32(r.NormFloat64()*1000))
			default:
				blk[j] = float32(r.Float64()*254 - 127)
			}
		}
		x = append(x, blk...)
	}
	q, d := make([]int8, len(x)), make([]float32, len(x)/32)
	QuantizeRowQ8(q, d, x)
	for i, v := range x {
		if want := int8(math.Round(float64(v))); q[i] != want || d[i/32] != 1 {
			t.Fatalf("x=%v (scale %v): q %d, want %d", v, d[i/32], q[i], want)
		}
	}
}

// TestSgemmQ8BThreads: the result does not depend on the pool size (each
// output is computed by one worker in a fixed order), on both paths.
func TestSgemmQ8BThreads(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, m := range []int{1, 5, 20} {
		const n, k = 301, 256
		a := randSlice(r, m*k)
		b := randQ8(r, n, k, quant.Q8Bytes(k))
		var first []float32
		for _, threads := range []int{1, 2, 3} {
			g := gemmFor(t, newPool(t, threads), Auto)
			c := make([]float32, m*n)
			g.SgemmQ8B(m, n, k, a, k, b, quant.Q8Bytes(k), c, n, false)
			if first == nil {
				first = c
				continue
			}
			for i := range c {
				if math.Float32bits(c[i]) != math.Float32bits(first[i]) {
					t.Fatalf("m=%d, %d threads: C[%d] = %v, 1 thread %v", m, threads, i, c[i], first[i])
				}
			}
		}
	}
}

// TestSgemmQ8BChunked: the blocked path's k chunks (packB) start Q8_0 rows
// at the chunk's first block, so a chunked product is bitwise the whole one.
func TestSgemmQ8BChunked(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(23, 24))
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g1, g2 := gemmFor(t, pool, kind), gemmFor(t, pool, kind)
			const m, n = 40, 70
			g2.cfg.packB = 2 * g2.cfg.kc * n // chunks of 2 k blocks
			k := 5 * g1.cfg.kc
			ldb := quant.Q8Bytes(k)
			a := randSlice(r, m*k)
			b := randQ8(r, n, k, ldb)
			c1 := randSlice(r, m*n)
			c2 := append([]float32(nil), c1...)
			g1.SgemmQ8B(m, n, k, a, k, b, ldb, c1, n, true)
			g2.SgemmQ8B(m, n, k, a, k, b, ldb, c2, n, true)
			for i := range c1 {
				if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
					t.Fatalf("C[%d]: whole %v, chunked %v", i, c1[i], c2[i])
				}
			}
		})
	}
}
