package cpu

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/kernels/gemm"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/kernels/ref"
)

// closeTo reports whether got is within tol·(1 + |want|) of want (both
// −Inf also counts).
func closeTo(got, want float32, tol float64) bool {
	if got == want {
		return true
	}
	return math.Abs(float64(got-want)) <= tol*(1+math.Abs(float64(want)))
}

// attScores returns an nb × lds block of scores, the first w columns set.
func attScores(r *rand.Rand, nb, lds int) []float32 {
	return randVec(r, nb*lds, -6, 6)
}

// attLims returns w causal limits: rows 0 … m−1 at positions pos0 + r/g,
// the rest −1.
func attLims(w, m, g, pos0 int) []float32 {
	lim := make([]float32, w)
	for r := range lim {
		lim[r] = -1
		if r < m {
			lim[r] = float32(pos0 + r/g)
		}
	}
	return lim
}

// attAsmPaths returns the assembly paths of the block kernels this CPU
// runs, each with its name.
func attAsmPaths() map[string]attISA {
	m := map[string]attISA{}
	if gemm.Supported(gemm.AVX2) {
		m["avx2"] = attAVX2
	}
	if gemm.Supported(gemm.AVX512) {
		m["avx512"] = attAVX512
	}
	return m
}

// TestAttnAsmVsGo compares attention's block kernels (attn_amd64.s,
// attn_avx512_amd64.s) with their pure-Go twins on awkward shapes: partial
// key blocks, padding rows, blocks that the causal mask cuts, hides, or
// leaves alone.
func TestAttnAsmVsGo(t *testing.T) {
	needAVX2(t)
	for name, isa := range attAsmPaths() {
		t.Run(name, func(t *testing.T) { testAttnAsmVsGo(t, isa) })
	}
}

func testAttnAsmVsGo(t *testing.T, isa attISA) {
	r := rand.New(rand.NewPCG(7, 8))
	const lds = 56
	ninf := float32(math.Inf(-1))
	type limCase struct {
		m, g, pos0 int
		j0         float32
	}
	for _, nb := range []int{1, 5, 6, 47, 48} {
		for _, w := range []int{8, 16, 48} {
			for _, lc := range []limCase{
				{w, 1, 100, 0},     // all visible
				{w - 3, 4, 10, 8},  // diagonal block, padding rows
				{w / 2, 2, 3, 0},   // diagonal from the first key
				{w, 3, 0, 40},      // later block: some rows see nothing
				{1, 1, 0, 0},       // one row, one key
				{0, 1, 0, 0},       // padding only
				{w - 1, 8, 200, 0}, // visible, one padding row
			} {
				name := fmt.Sprintf("nb%d_w%d_m%d_g%d_p%d_j%g", nb, w, lc.m, lc.g, lc.pos0, lc.j0)
				lim := attLims(w, lc.m, lc.g, lc.pos0)
				s0 := attScores(r, nb, lds)
				// A first block (max −Inf) and a later one (finite max).
				for _, first := range []bool{true, false} {
					mx0, l0 := make([]float32, w), make([]float32, w)
					for i := range mx0 {
						mx0[i], l0[i] = ninf, 0
						if !first && lim[i] >= 0 {
							mx0[i], l0[i] = float32(r.Float64()*8-2), float32(1+r.Float64()*10)
						}
					}
					var s, mx, l, al [2][]float32
					for k, path := range []attISA{isa, attGo} {
						s[k], mx[k], l[k], al[k] = slices.Clone(s0), slices.Clone(mx0), slices.Clone(l0), make([]float32, w)
						attSoftmax(path, nb, w, s[k], lds, lim, lc.j0, mx[k], l[k], al[k])
					}
					for j := range nb {
						for c := range w {
							if a, b := s[0][j*lds+c], s[1][j*lds+c]; !closeTo(a, b, 1e-6) || math.IsNaN(float64(a)) {
								t.Fatalf("%s first=%v: p[%d][%d] asm %g, go %g", name, first, j, c, a, b)
							}
						}
						for c := w; c < lds; c++ {
							if s[0][j*lds+c] != s0[j*lds+c] {
								t.Fatalf("%s: column %d past w written", name, c)
							}
						}
					}
					for c := range w {
						if !closeTo(mx[0][c], mx[1][c], 0) || !closeTo(l[0][c], l[1][c], 1e-5) || !closeTo(al[0][c], al[1][c], 1e-6) {
							t.Fatalf("%s first=%v: row %d: asm m,l,alpha = %g,%g,%g; go %g,%g,%g", name, first, c,
								mx[0][c], l[0][c], al[0][c], mx[1][c], l[1][c], al[1][c])
						}
						if lim[c] < 0 && (l[0][c] != 0 || al[0][c] != 0) {
							t.Fatalf("%s: padding row %d: l %g alpha %g, want 0", name, c, l[0][c], al[0][c])
						}
					}

					// Backward: lse and D per row, dP random.
					lse, d := randVec(r, w, 2, 6), randVec(r, w, -1, 1)
					dp0 := randVec(r, nb*lds, -2, 2)
					var bs, bd [2][]float32
					for k, path := range []attISA{isa, attGo} {
						bs[k], bd[k] = slices.Clone(s0), slices.Clone(dp0)
						attSoftmaxBack(path, nb, w, bs[k], bd[k], lds, lim, lc.j0, lse, d)
					}
					for i := range s0 {
						if !closeTo(bs[0][i], bs[1][i], 1e-6) || !closeTo(bd[0][i], bd[1][i], 1e-6) {
							t.Fatalf("%s back [%d]: asm p,ds = %g,%g; go %g,%g", name, i, bs[0][i], bd[0][i], bs[1][i], bd[1][i])
						}
					}
				}
			}
		}
	}

	t.Run("panel", func(t *testing.T) {
		for _, rows := range []int{1, 5, 6, 12, 17} {
			for _, n := range []int{1, 15, 16, 40, 48, 64, 80, 112, 136} {
				for _, kd := range []int{0, 1, 7, 48} {
					for _, trans := range []bool{false, true} {
						ars, acs := kd+3, 1
						if trans {
							ars, acs = 1, 9
						}
						a := randVec(r, rows*(kd+3)+9*kd+1, -1, 1)
						b := randVec(r, max(kd, 1)*(n+5), -1, 1)
						c0 := randVec(r, rows*(n+7), -1, 1)
						sc := randVec(r, rows, 0, 2)
						for mode := attSet; mode <= attScale; mode++ {
							var c [2][]float32
							for k, path := range []attISA{isa, attGo} {
								c[k] = slices.Clone(c0)
								attPanel(path, rows, n, kd, a, ars, acs, b, n+5, c[k], n+7, sc, mode)
							}
							for i := range c0 {
								if !closeTo(c[0][i], c[1][i], 1e-5) {
									t.Fatalf("rows=%d n=%d kd=%d trans=%v mode=%d [%d]: asm %g, go %g", rows, n, kd, trans, mode, i, c[0][i], c[1][i])
								}
								if i/(n+7) >= rows || i%(n+7) >= n {
									if c[0][i] != c0[i] {
										t.Fatalf("rows=%d n=%d kd=%d mode=%d: [%d] outside C written", rows, n, kd, mode, i)
									}
								}
							}
						}
					}
				}
			}
		}
	})

	t.Run("rowdots", func(t *testing.T) {
		for _, rows := range []int{1, 3, 4, 8} {
			for _, hs := range []int{8, 16, 24, 64, 72} {
				a, b := randVec(r, rows*(hs+5), -1, 1), randVec(r, rows*(hs+3), -1, 1)
				var out [2][]float32
				for k, asm := range []bool{isa >= attAVX2, false} {
					out[k] = make([]float32, rows+1)
					attRowDots(asm, rows, hs, a, hs+5, b, hs+3, out[k])
				}
				for i := range rows {
					var want float64
					for p := range hs {
						want += float64(a[i*(hs+5)+p]) * float64(b[i*(hs+3)+p])
					}
					if !closeTo(out[0][i], float32(want), 1e-5) || !closeTo(out[1][i], float32(want), 1e-5) {
						t.Fatalf("rows=%d hs=%d [%d]: asm %g, go %g, want %g", rows, hs, i, out[0][i], out[1][i], want)
					}
				}
				if out[0][rows] != 0 {
					t.Fatalf("rows=%d hs=%d: out past rows written", rows, hs)
				}
			}
		}
	})

	t.Run("transpose", func(t *testing.T) {
		for _, sz := range [][2]int{{8, 8}, {16, 64}, {48, 64}, {8, 40}, {3, 5}, {12, 64}, {48, 6}} {
			rows, cols := sz[0], sz[1]
			src := randVec(r, rows*(cols+3), -1, 1)
			d0 := randVec(r, cols*(rows+5), -1, 1)
			var d [2][]float32
			for k, asm := range []bool{isa >= attAVX2, false} {
				d[k] = slices.Clone(d0)
				attTranspose(asm, rows, cols, src, cols+3, d[k], rows+5)
			}
			if !slices.Equal(d[0], d[1]) {
				t.Fatalf("%d×%d: asm and go differ", rows, cols)
			}
			for c := range cols {
				for i := range rows + 5 {
					want := d0[c*(rows+5)+i]
					if i < rows {
						want = src[i*(cols+3)+c]
					}
					if d[0][c*(rows+5)+i] != want {
						t.Fatalf("%d×%d: dst[%d][%d] = %g, want %g", rows, cols, c, i, d[0][c*(rows+5)+i], want)
					}
				}
			}
		}
	})
}

// TestAttentionThreadsBitwise: work items never depend on the thread
// count, so 1, 2 and 3 threads give the same bits, forward and backward,
// on each path.
func TestAttentionThreadsBitwise(t *testing.T) {
	type shape struct{ B, T, S, P, NH, NKV, HS int }
	for _, kind := range []gemm.Kind{gemm.Generic, gemm.AVX2, gemm.AVX512} {
		if !gemm.Supported(kind) {
			continue
		}
		for _, s := range []shape{{2, 101, 101, 0, 8, 2, 64}, {1, 200, 200, 0, 4, 4, 32}, {2, 9, 40, 31, 8, 2, 64}, {8, 61, 61, 0, 8, 2, 32}, {4, 300, 300, 0, 4, 2, 16}} {
			r := rand.New(rand.NewPCG(uint64(s.T), 1))
			q := randVec(r, s.B*s.T*s.NH*s.HS, -1, 1)
			k, v := randVec(r, s.B*s.S*s.NKV*s.HS, -1, 1), randVec(r, s.B*s.S*s.NKV*s.HS, -1, 1)
			do := randVec(r, len(q), -1, 1)
			past := make([]int32, s.B)
			for i := range past {
				past[i] = int32(s.P)
			}
			var ref [5][]float32
			for _, threads := range []int{1, 2, 3} {
				be := New(Options{GEMM: kind, Threads: threads})
				out, lse := make([]float32, len(q)), make([]float32, s.B*s.NH*s.T)
				be.AttentionForward(out, lse, q, k, v, nil, past, s.B, s.T, s.S, s.NH, s.NKV, s.HS)
				got := [5][]float32{out, lse}
				if s.P == 0 {
					dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
					be.AttentionBackward(dq, dk, dv, do, out, lse, q, k, v, nil, s.B, s.T, s.NH, s.NKV, s.HS)
					got[2], got[3], got[4] = dq, dk, dv
				}
				be.Close()
				if threads == 1 {
					ref = got
					continue
				}
				for i, name := range []string{"out", "lse", "dq", "dk", "dv"} {
					if !slices.Equal(got[i], ref[i]) {
						t.Errorf("%v %+v: %s with %d threads differs from 1 thread", kind, s, name, threads)
					}
				}
			}
		}
	}
}

// BenchmarkAttentionDecode times one decode step's attention (B1, one new
// position after 300 cached ones, the model's heads, a padding mask) and
// a short prefill (T 40 after 100 cached), in GFLOP/s of visible pairs.
func BenchmarkAttentionDecode(b *testing.B) {
	NH, NKV, HS := 8, 2, 64
	for _, c := range []struct{ T, P int }{{1, 300}, {40, 100}} {
		S := c.T + c.P
		r := rand.New(rand.NewPCG(5, 6))
		q := randVec(r, c.T*NH*HS, -1, 1)
		k, v := randVec(r, S*NKV*HS, -1, 1), randVec(r, S*NKV*HS, -1, 1)
		mask := make([]float32, S)
		for i := range mask {
			mask[i] = 1
		}
		mask[0] = 0
		out, lse := make([]float32, len(q)), make([]float32, NH*c.T)
		past := []int32{int32(c.P)}
		pairs := float64(NH) * float64(c.T*c.P+c.T*(c.T+1)/2)
		be := New(Options{Threads: 1})
		b.Run(fmt.Sprintf("T%d_past%d", c.T, c.P), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				be.AttentionForward(out, lse, q, k, v, mask, past, 1, c.T, S, NH, NKV, HS)
			}
			b.ReportMetric(pairs*4*float64(HS)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		be.Close()
	}
}

// TestAttnExpAccuracy: the exp inside the softmax kernels (AEXP2 in
// attn_amd64.s, ZEXP2 in attn_avx512_amd64.s) is within 1 ulp of math.Exp over the normal range and 0
// below it, like expf; it is read through attSoftmaxBack with lse = 0 and
// D = 0, so that p = exp(s).
func TestAttnExpAccuracy(t *testing.T) {
	needAVX2(t)
	for name, isa := range attAsmPaths() {
		t.Run(name, func(t *testing.T) { testAttnExpAccuracy(t, isa) })
	}
}

func testAttnExpAccuracy(t *testing.T, isa attISA) {
	var xs []float32
	for x := float32(expLo); x <= 88; x += 0.00731 {
		xs = append(xs, x)
	}
	xs = append(xs, 0, -0, 1e-8, -1e-8, expLo, 88, -88, -100, -1e9, float32(math.Inf(-1)))
	xs = append(xs, make([]float32, 16-len(xs)%16)...) // whole strips
	w := 16
	nb := len(xs) / w
	lim := attLims(w, w, 1, nb+w) // all visible
	s, dp := slices.Clone(xs), make([]float32, len(xs))
	attSoftmaxBack(isa, nb, w, s, dp, w, lim, 0, make([]float32, w), make([]float32, w))
	worst := 0.0
	for i, x := range xs {
		if x < expLo {
			if s[i] != 0 {
				t.Errorf("exp(%g) = %g, want 0 (flushed)", x, s[i])
			}
			continue
		}
		want := float32(math.Exp(float64(x)))
		if u := ulps(s[i], want); u > worst {
			worst = u
			if u > 1 {
				t.Errorf("exp(%g) = %g, want %g (%.1f ulp)", x, s[i], want, u)
			}
		}
	}
	t.Logf("max error %.2f ulp over %d points", worst, len(xs))
}

// BenchmarkAttentionTrain times attention forward and backward at the
// training shape (B 8, T 512, 8 heads, 2 KV heads, head size 64, causal)
// on each assembly path, in GFLOP/s as the step breakdown counts them
// (attTask.StatFLOPs). Threads follow -cpu.
func BenchmarkAttentionTrain(b *testing.B) {
	B, T, NH, NKV, HS := 8, 512, 8, 2, 64
	r := rand.New(rand.NewPCG(9, 10))
	q := randVec(r, B*T*NH*HS, -1, 1)
	k, v := randVec(r, B*T*NKV*HS, -1, 1), randVec(r, B*T*NKV*HS, -1, 1)
	do := randVec(r, len(q), -1, 1)
	out, lse := make([]float32, len(q)), make([]float32, B*NH*T)
	dq, dk, dv := make([]float32, len(q)), make([]float32, len(k)), make([]float32, len(v))
	pairs := float64(B) * float64(T*(T+1)/2) * float64(NH*HS)
	for _, kind := range []gemm.Kind{gemm.AVX2, gemm.AVX512} {
		if !gemm.Supported(kind) {
			continue
		}
		be := New(Options{GEMM: kind})
		be.AttentionForward(out, lse, q, k, v, nil, nil, B, T, T, NH, NKV, HS)
		b.Run(kind.String()+"/fwd", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				be.AttentionForward(out, lse, q, k, v, nil, nil, B, T, T, NH, NKV, HS)
			}
			b.ReportMetric(4*pairs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(kind.String()+"/bwd", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				be.AttentionBackward(dq, dk, dv, do, out, lse, q, k, v, nil, B, T, NH, NKV, HS)
			}
			b.ReportMetric(10*pairs*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		be.Close()
	}
}

// BenchmarkAttnPanel times attPanel on the training shape's two product
// shapes (scores: 48 keys × 48 query rows × head size 64; P·V: 48 rows ×
// 64 × 48 keys, A read transposed), C in L1, per assembly path.
func BenchmarkAttnPanel(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	a, bm, c := randVec(r, 64*64, -1, 1), randVec(r, 64*64, -1, 1), randVec(r, 64*64, -1, 1)
	for name, isa := range attAsmPaths() {
		for _, s := range []struct {
			name                  string
			rows, n, kd, ars, acs int
		}{{"scores", 48, 48, 64, 64, 1}, {"pv", 48, 64, 48, 1, 48}} {
			b.Run(name+"/"+s.name, func(b *testing.B) {
				for b.Loop() {
					attPanel(isa, s.rows, s.n, s.kd, a, s.ars, s.acs, bm, 64, c, 64, nil, attAdd)
				}
				b.ReportMetric(2*float64(s.rows*s.n*s.kd)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// TestAttentionVsRef checks each path against kernels/ref at lengths of
// several query and key blocks: odd T and T not a multiple of a block,
// GQA ratios 1 and 4, with and without a padding mask, and batch sizes
// on both sides of attBackItems (backward whole per (b, kv head), and in
// parts).
func TestAttentionVsRef(t *testing.T) {
	type shape struct{ B, T, NH, NKV, HS int }
	shapes := []shape{
		{8, 131, 8, 2, 64}, // 16 (b, kv head) pairs: one part each
		{1, 131, 8, 2, 64}, // 8 parts
		{2, 77, 4, 4, 32},  // GQA ratio 1, 2 parts
		{3, 100, 8, 8, 64}, // GQA ratio 1, one part
		{2, 49, 8, 2, 16},  // 5 query blocks in 4 parts
	}
	rf := ref.New()
	for _, kind := range []gemm.Kind{gemm.Generic, gemm.AVX2, gemm.AVX512} {
		if !gemm.Supported(kind) {
			continue
		}
		be := New(Options{GEMM: kind, Threads: 2})
		for _, s := range shapes {
			for _, masked := range []bool{false, true} {
				name := fmt.Sprintf("%v/%+v/mask=%v", kind, s, masked)
				r := rand.New(rand.NewPCG(uint64(s.T), uint64(s.B)))
				q := randVec(r, s.B*s.T*s.NH*s.HS, -1, 1)
				k, v := randVec(r, s.B*s.T*s.NKV*s.HS, -1, 1), randVec(r, s.B*s.T*s.NKV*s.HS, -1, 1)
				var mask []float32
				if masked {
					mask = make([]float32, s.B*s.T)
					for i := range mask {
						if r.IntN(4) > 0 {
							mask[i] = 1
						}
					}
				}
				o1, o2 := make([]float32, len(q)), make([]float32, len(q))
				l1, l2 := make([]float32, s.B*s.NH*s.T), make([]float32, s.B*s.NH*s.T)
				rf.AttentionForward(o1, l1, q, k, v, mask, nil, s.B, s.T, s.T, s.NH, s.NKV, s.HS)
				be.AttentionForward(o2, l2, q, k, v, mask, nil, s.B, s.T, s.T, s.NH, s.NKV, s.HS)
				kerneltest.AllClose(t, name+"/out", o2, o1, 1e-5, 1e-4)
				kerneltest.AllClose(t, name+"/lse", l2, l1, 1e-5, 1e-4)
				do := randVec(r, len(q), -1, 1)
				dq0, dk0, dv0 := randVec(r, len(q), -1, 1), randVec(r, len(k), -1, 1), randVec(r, len(v), -1, 1)
				dq1, dk1, dv1 := slices.Clone(dq0), slices.Clone(dk0), slices.Clone(dv0)
				rf.AttentionBackward(dq1, dk1, dv1, do, o1, l1, q, k, v, mask, s.B, s.T, s.NH, s.NKV, s.HS)
				be.AttentionBackward(dq0, dk0, dv0, do, o1, l1, q, k, v, mask, s.B, s.T, s.NH, s.NKV, s.HS)
				kerneltest.AllClose(t, name+"/dq", dq0, dq1, 1e-4, 1e-4)
				kerneltest.AllClose(t, name+"/dk", dk0, dk1, 1e-4, 1e-4)
				kerneltest.AllClose(t, name+"/dv", dv0, dv1, 1e-4, 1e-4)
			}
		}
		be.Close()
	}
}
