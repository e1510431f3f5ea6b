package gemm

import (
	"fmt"

	"github.com/minimind-go/minimind/kernels/parallel"
)

// Kind names a micro-kernel family.
type Kind int

const (
	// Auto picks the best kind the CPU supports: AVX512 > AVX2 > Generic.
	Auto Kind = iota
	// Generic is the pure-Go micro-kernel; it runs everywhere.
	Generic
	// AVX2 is the AVX2+FMA assembly micro-kernel (amd64).
	AVX2
	// AVX512 is the AVX-512F assembly micro-kernel (amd64).
	AVX512
)

// String returns the kind's name.
func (k Kind) String() string {
	switch k {
	case Auto:
		return "auto"
	case Generic:
		return "generic"
	case AVX2:
		return "avx2"
	case AVX512:
		return "avx512"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Supported reports whether this CPU can run kind (Generic always; Auto
// always, since it resolves to a supported kind).
func Supported(k Kind) bool {
	switch k {
	case Auto, Generic:
		return true
	case AVX2:
		return hasAVX2
	case AVX512:
		return hasAVX512
	}
	return false
}

// config is one kind's register tile and cache blocking.
type config struct {
	mr, nr int // micro-tile: rows of A × columns of B held in registers
	kc     int // depth of a packed block: kc×nr B micro-panel lives in L1
	mc     int // rows per work item: the mc×kc A block lives in L2
	ncs    int // columns per work item: the mc×ncs C block lives in L2
	packB  int // most floats of packed op(B) at once (k is chunked past it)
	vec    int // dot kernel's k granularity (floats per vector)
}

// maxTile bounds mr·nr over all kinds (AVX-512: 12×32); edge tiles are
// computed into a stack array of this size.
const maxTile = 12 * 32

// Gemm multiplies matrices on a pool's workers. It owns the packing
// buffers, grown on demand and reused, so steady-state calls do not
// allocate. Not safe for concurrent use.
type Gemm struct {
	pool  *parallel.Pool
	kind  Kind
	cfg   config
	bpack []float32    // all of op(B): per k block, ceil(n/nr) panels of kc×nr
	ws    []*workspace // one packed A block per worker
	job   job          // the call in progress; also the Task given to the pool
	sk    skinnyJob
	hj    halfJob
	q8j   q8Job
	q8q   q8QuantJob
	q8x   []int8    // SgemmQ8B's quantized A
	q8d   []float32 // and its block scales

	statNames map[statKey]string // StatName's strings, made once per shape
}

// New returns a Gemm using kind (Auto = the best the CPU supports:
// AVX512 > AVX2 > Generic). An unsupported kind is an error, and so is an
// assembly kind that fails a one-off check against Reference (Auto then
// falls back to the next kind).
func New(pool *parallel.Pool, kind Kind) (*Gemm, error) {
	if pool == nil {
		return nil, fmt.Errorf("gemm: nil pool")
	}
	if kind == Auto {
		// Fall back past a kind that fails its self-check (see newKind).
		var err error
		for _, k := range []Kind{AVX512, AVX2, Generic} {
			if !Supported(k) {
				continue
			}
			var g *Gemm
			if g, err = newKind(pool, k); err == nil {
				return g, nil
			}
		}
		return nil, err
	}
	if !Supported(kind) {
		return nil, fmt.Errorf("gemm: kind %v not supported by this CPU", kind)
	}
	return newKind(pool, kind)
}

// newKind builds a Gemm of a supported kind and, for the assembly kinds,
// checks it once against Reference on a small product that runs every
// kernel (full and edge tiles, both skinny kernels). A wrong result from
// hardware we could not test on becomes an error here instead of a silently
// wrong model.
func newKind(pool *parallel.Pool, kind Kind) (*Gemm, error) {
	g := &Gemm{pool: pool, kind: kind, cfg: configFor(kind)}
	g.job.g = g
	g.sk.g = g
	g.hj.g = g
	g.q8j.g = g
	if kind == Generic {
		return g, nil
	}
	if err := g.selfCheck(); err != nil {
		return nil, err
	}
	return g, nil
}

// selfCheck compares g with Reference on a blocked and a skinny product.
func (g *Gemm) selfCheck() error {
	cfg := &g.cfg
	for _, s := range []struct{ m, n, k int }{
		{2*cfg.mr + 1, 2*cfg.nr + 3, 2*cfg.vec + 3}, // blocked: full and edge tiles
		{5, 9, 4*cfg.vec + 1},                       // skinny: 4×2 and 1-row kernels, tails
	} {
		a := make([]float32, s.m*s.k)
		b := make([]float32, s.n*s.k)
		for i := range a {
			a[i] = float32(i%13) - 6
		}
		for i := range b {
			b[i] = float32(i%7) - 3
		}
		got := make([]float32, s.m*s.n)
		want := make([]float32, s.m*s.n)
		g.Sgemm(false, true, s.m, s.n, s.k, a, s.k, b, s.k, got, s.n, false)
		Reference(false, true, s.m, s.n, s.k, a, s.k, b, s.k, want, s.n, false)
		// Small integers: every partial sum is exact in float32.
		for i := range want {
			if got[i] != want[i] {
				return fmt.Errorf("gemm: %v kernels fail their self-check (%d×%d×%d, C[%d] = %v, want %v)",
					g.kind, s.m, s.n, s.k, i, got[i], want[i])
			}
		}
	}
	return g.selfCheckQ8()
}

// selfCheckQ8 compares the kind's Q8_0 dot kernel with its pure-Go twin,
// which it must match bit for bit, on blocks with quants -128..127.
func (g *Gemm) selfCheckQ8() error {
	const nb, ldw = 3, 3*34 + 5
	xq := make([]int8, nb*32)
	xd := []float32{0.5, 3, 0.0078125}
	w := make([]byte, 4*ldw)
	for i := range xq {
		xq[i] = int8(i*37%255 - 127)
	}
	for i := range w {
		w[i] = byte(i * 101)
	}
	for r := range 4 {
		for b := range nb {
			w[r*ldw+b*34], w[r*ldw+b*34+1] = 0x00, byte(0x30+r+b) // f16 scales 0.125 to 0.3
		}
	}
	var got, want [4]float32
	g.q8Dot4(nb, xq, xd, w, ldw, &got)
	q8Dot4Go(nb, xq, xd, w, ldw, &want)
	if got != want {
		return fmt.Errorf("gemm: %v q8_0 kernel fails its self-check (%v, want %v)", g.kind, got, want)
	}
	return nil
}

// Kind reports the micro-kernel family in use (never Auto).
func (g *Gemm) Kind() Kind { return g.kind }

// Sgemm computes C[m×n] = op(A)·op(B), or C += op(A)·op(B) when accumulate.
// All matrices are row-major with leading dimensions (row strides, in
// elements). op(A) is m×k: A is m×k (lda ≥ k), or k×m when transA
// (lda ≥ m). op(B) is k×n: B is k×n (ldb ≥ n), or n×k when transB
// (ldb ≥ k). ldc ≥ n. Bad dimensions or short slices panic.
func (g *Gemm) Sgemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if !accumulate {
			for i := 0; i < m; i++ {
				clear(c[i*ldc : i*ldc+n])
			}
		}
		return
	}
	if transB && !transA && m <= skinnyMaxM {
		g.skinny(m, n, k, a, lda, b, ldb, c, ldc, accumulate)
		return
	}
	g.blocked(transA, transB, m, n, k, a, lda, b, ldb, c, ldc, accumulate, nil, 0)
}

// checkArgs panics unless the dimensions, leading dimensions and slice
// lengths describe valid matrices.
func checkArgs(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("gemm: negative dimension m=%d n=%d k=%d", m, n, k))
	}
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	checkMat("a", a, ar, ac, lda)
	checkMat("b", b, br, bc, ldb)
	checkMat("c", c, m, n, ldc)
}

func checkMat(name string, s []float32, rows, cols, ld int) {
	if ld < max(cols, 1) {
		panic(fmt.Sprintf("gemm: ld%s=%d < max(cols=%d, 1)", name, ld, cols))
	}
	if rows == 0 || cols == 0 {
		return
	}
	if need := (rows-1)*ld + cols; len(s) < need {
		panic(fmt.Sprintf("gemm: len(%s)=%d < %d for %d×%d with ld=%d", name, len(s), need, rows, cols, ld))
	}
}
