package gemm

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/minimind-go/minimind/kernels/parallel"
)

var allKinds = []Kind{Generic, AVX2, AVX512}

// gemmFor returns a Gemm of kind on pool, skipping t when the CPU lacks it.
func gemmFor(t testing.TB, pool *parallel.Pool, kind Kind) *Gemm {
	t.Helper()
	if !Supported(kind) {
		t.Skipf("kind %v not supported on this CPU", kind)
	}
	g, err := New(pool, kind)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func newPool(t testing.TB, n int) *parallel.Pool {
	t.Helper()
	p := parallel.New(n)
	t.Cleanup(p.Close)
	return p
}

func randSlice(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = r.Float32()*2 - 1
	}
	return s
}

// problem is one Sgemm call's operands, with random contents and leading
// dimensions padded by pad elements.
type problem struct {
	transA, transB bool
	m, n, k        int
	a, b, c        []float32
	lda, ldb, ldc  int
	accumulate     bool
}

func (p problem) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,m=%d,n=%d,k=%d,lda=%d,ldb=%d,ldc=%d,acc=%v",
		p.transA, p.transB, p.m, p.n, p.k, p.lda, p.ldb, p.ldc, p.accumulate)
}

func newProblem(r *rand.Rand, transA, transB bool, m, n, k, pad int, accumulate bool) problem {
	p := problem{transA: transA, transB: transB, m: m, n: n, k: k, accumulate: accumulate}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	p.lda, p.ldb, p.ldc = max(ac, 1)+pad, max(bc, 1)+pad, max(n, 1)+pad
	p.a = randSlice(r, ar*p.lda)
	p.b = randSlice(r, br*p.ldb)
	p.c = randSlice(r, m*p.ldc)
	return p
}

func (p problem) run(g *Gemm, c []float32) {
	g.Sgemm(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, c, p.ldc, p.accumulate)
}

func (p problem) want() []float32 {
	c := append([]float32(nil), p.c...)
	Reference(p.transA, p.transB, p.m, p.n, p.k, p.a, p.lda, p.b, p.ldb, c, p.ldc, p.accumulate)
	return c
}

// checkClose fails t unless got matches want within atol + rtol·|want| in
// the m×n part, and got equals the original c bitwise in the padding
// between n and ldc (which Sgemm must not touch). It reports the worst
// element.
func checkClose(t *testing.T, p problem, want, got []float32) {
	t.Helper()
	atol := 2e-6 * float64(p.k+1) // inputs are in [-1, 1]: |Σ| ≤ k (+1 for C)
	const rtol = 1e-5
	worst, worstI, worstJ := -1.0, 0, 0
	for i := 0; i < p.m; i++ {
		for j := 0; j < p.ldc; j++ {
			x := i*p.ldc + j
			if j >= p.n {
				if math.Float32bits(got[x]) != math.Float32bits(p.c[x]) {
					t.Fatalf("%v: padding C[%d][%d] changed: %v -> %v", p, i, j, p.c[x], got[x])
				}
				continue
			}
			d := math.Abs(float64(got[x]) - float64(want[x]))
			if excess := d - (atol + rtol*math.Abs(float64(want[x]))); excess > worst || math.IsNaN(d) {
				worst, worstI, worstJ = excess, i, j
				if math.IsNaN(d) {
					worst = math.Inf(1)
				}
			}
		}
	}
	if worst > 0 {
		x := worstI*p.ldc + worstJ
		t.Fatalf("%v: worst C[%d][%d]: got %v, want %v (diff %g)", p, worstI, worstJ, got[x], want[x],
			math.Abs(float64(got[x])-float64(want[x])))
	}
}

// TestSgemm compares every supported kind with Reference over awkward
// shapes, both transpositions, overwrite and accumulate, and minimal and
// padded leading dimensions.
func TestSgemm(t *testing.T) {
	pool := newPool(t, 2)
	sizes := []int{1, 7, 17, 33, 65, 129}
	type shape struct{ m, n, k int }
	var shapes []shape
	for _, m := range sizes {
		for _, n := range sizes {
			for _, k := range sizes {
				shapes = append(shapes, shape{m, n, k})
			}
		}
	}
	// Several k blocks (kc ≤ 256), several row blocks (mc = 144), several
	// column blocks (nc = 4096), decode shapes (m ≤ 8 with transB) and k
	// that is not a multiple of the vector width.
	shapes = append(shapes, shape{300, 70, 600}, shape{150, 161, 257}, shape{13, 4133, 41},
		shape{8, 515, 1100}, shape{3, 97, 31}, shape{5, 4, 16}, shape{9, 64, 520}, shape{0, 5, 5},
		shape{5, 0, 5}, shape{5, 5, 0})
	r := rand.New(rand.NewPCG(1, 2))
	type tcase struct {
		p    problem
		want []float32
	}
	var cases []tcase
	for _, s := range shapes {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, acc := range []bool{false, true} {
					pad := 0
					if r.IntN(2) == 0 {
						pad = 1 + r.IntN(5)
					}
					p := newProblem(r, tA, tB, s.m, s.n, s.k, pad, acc)
					cases = append(cases, tcase{p, p.want()})
				}
			}
		}
	}
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			for _, tc := range cases {
				got := append([]float32(nil), tc.p.c...)
				tc.p.run(g, got)
				checkClose(t, tc.p, tc.want, got)
			}
		})
	}
}

// TestSmallBlocks runs every kind with its cache blocking shrunk (kc 40,
// two panels per row item and column sub-block, packed op(B) of at most
// 10400 floats), so that modest shapes cross many k blocks with tails
// (40 = 5 packing groups of 8; k = 133 ends with 13), k chunks, many row
// items, column groups and sub-blocks, whole and partial panels and the
// 12-row multi-panel packing of Aᵀ, in every transposition.
func TestSmallBlocks(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(9, 10))
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			g.cfg.kc, g.cfg.mc, g.cfg.ncs = 40, 2*g.cfg.mr, 2*g.cfg.nr
			g.cfg.packB = 10400 // k chunks: 40 for n = 203, 160 for n = 64
			for _, s := range []struct{ m, n, k int }{{157, 203, 133}, {61, 97, 80}, {25, 130, 41}, {40, 64, 170}} {
				for _, tA := range []bool{false, true} {
					for _, tB := range []bool{false, true} {
						p := newProblem(r, tA, tB, s.m, s.n, s.k, r.IntN(3), tA != tB)
						want := p.want()
						got := append([]float32(nil), p.c...)
						p.run(g, got)
						checkClose(t, p, want, got)
					}
				}
			}
		})
	}
}

// TestDeterministic checks that a kind's result is bitwise the same with 1
// and 2 workers, on the blocked and the skinny path.
func TestDeterministic(t *testing.T) {
	p1, p2 := newPool(t, 1), newPool(t, 2)
	r := rand.New(rand.NewPCG(3, 4))
	probs := []problem{
		newProblem(r, false, true, 301, 259, 530, 0, false),
		newProblem(r, true, false, 97, 515, 300, 3, true),
		newProblem(r, false, false, 16, 4200, 64, 0, false),
		newProblem(r, false, true, 7, 1031, 517, 1, false),
		newProblem(r, true, false, 157, 300, 389, 2, true),
	}
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g1, g2 := gemmFor(t, p1, kind), gemmFor(t, p2, kind)
			for _, p := range probs {
				c1 := append([]float32(nil), p.c...)
				c2 := append([]float32(nil), p.c...)
				p.run(g1, c1)
				p.run(g2, c2)
				for i := range c1 {
					if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
						t.Fatalf("%v: C[%d]: 1 worker %v, 2 workers %v", p, i, c1[i], c2[i])
					}
				}
			}
		})
	}
}

// TestNoAllocs checks that steady-state calls do not allocate.
func TestNoAllocs(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(5, 6))
	probs := []problem{
		newProblem(r, false, true, 200, 300, 400, 0, false),
		newProblem(r, true, false, 150, 70, 300, 0, true),
		newProblem(r, false, true, 4, 1000, 256, 0, false),
	}
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g := gemmFor(t, pool, kind)
			for _, p := range probs {
				p.run(g, p.c) // grow buffers
				if n := testing.AllocsPerRun(5, func() { p.run(g, p.c) }); n != 0 {
					t.Errorf("%v: %v allocations per call, want 0", p, n)
				}
			}
		})
	}
}

func TestBadArgsPanic(t *testing.T) {
	g := gemmFor(t, newPool(t, 1), Generic)
	s := make([]float32, 100)
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"negative m", func() { g.Sgemm(false, false, -1, 2, 2, s, 2, s, 2, s, 2, false) }},
		{"lda < k", func() { g.Sgemm(false, false, 2, 2, 3, s, 2, s, 2, s, 2, false) }},
		{"ldb < k transB", func() { g.Sgemm(false, true, 2, 2, 3, s, 3, s, 2, s, 2, false) }},
		{"ldc < n", func() { g.Sgemm(false, false, 2, 3, 2, s, 2, s, 3, s, 2, false) }},
		{"short c", func() { g.Sgemm(false, false, 20, 20, 2, s, 2, s, 20, s, 20, false) }},
		{"short a transA", func() { g.Sgemm(true, false, 20, 2, 20, s, 20, s, 2, s, 2, false) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			tc.f()
		})
	}
}

func TestNew(t *testing.T) {
	pool := newPool(t, 1)
	g, err := New(pool, Auto)
	if err != nil {
		t.Fatal(err)
	}
	if g.Kind() == Auto || !Supported(g.Kind()) {
		t.Errorf("Auto resolved to %v", g.Kind())
	}
	t.Logf("Auto = %v", g.Kind())
	for _, k := range allKinds {
		if _, err := New(pool, k); (err == nil) != Supported(k) {
			t.Errorf("New(%v): err=%v, Supported=%v", k, err, Supported(k))
		}
	}
	if _, err := New(pool, Kind(42)); err == nil {
		t.Error("New(Kind(42)) succeeded")
	}
	if _, err := New(nil, Generic); err == nil {
		t.Error("New(nil pool) succeeded")
	}
}

// TestChunkedBitwise: cutting k into chunks (packB) keeps the k blocks and
// their order, so the result is bitwise that of the unchunked product.
func TestChunkedBitwise(t *testing.T) {
	pool := newPool(t, 2)
	r := rand.New(rand.NewPCG(13, 14))
	for _, kind := range allKinds {
		t.Run(kind.String(), func(t *testing.T) {
			g1, g2 := gemmFor(t, pool, kind), gemmFor(t, pool, kind)
			g2.cfg.packB = 2 * g2.cfg.kc * 70 // chunks of 2 k blocks for n = 70
			for _, tA := range []bool{false, true} {
				p := newProblem(r, tA, false, 50, 70, 5*g1.cfg.kc+3, 1, true)
				c1 := append([]float32(nil), p.c...)
				c2 := append([]float32(nil), p.c...)
				p.run(g1, c1)
				p.run(g2, c2)
				for i := range c1 {
					if math.Float32bits(c1[i]) != math.Float32bits(c2[i]) {
						t.Fatalf("%v: C[%d]: whole %v, chunked %v", p, i, c1[i], c2[i])
					}
				}
			}
		})
	}
}
