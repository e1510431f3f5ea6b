// Package cpu is the fast kernels.Backend for CPUs: every kernel runs on a
// persistent worker pool (kernels/parallel) and every matrix product goes
// through one packed, cache-blocked GEMM with SIMD micro-kernels
// (kernels/gemm).
//
// Each kernel's parallel work is a preallocated task struct owned by the
// Backend, so a kernel call does not allocate; per-worker scratch is grown
// on demand and then reused. Results do not depend on timing: reductions
// across rows (weight gradients, norms) are done per fixed share and summed
// in share order.
//
// A Backend is used by one goroutine at a time.
package cpu

import (
	"fmt"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/gemm"
	"github.com/minimind-go/minimind/kernels/parallel"
	"github.com/minimind-go/minimind/quant"
)

// Options configures a Backend.
type Options struct {
	// Threads is the number of worker threads (0 = GOMAXPROCS).
	Threads int
	// GEMM selects the matrix-multiply micro-kernel (gemm.Auto = best the
	// CPU supports). Tests force each path.
	GEMM gemm.Kind
}

// Backend is the CPU implementation of kernels.Backend.
type Backend struct {
	pool *parallel.Pool
	gemm *gemm.Gemm

	// One task value per kernel: filled in, then handed to the pool.
	emb    embTask
	norm   normTask
	rope   ropeTask
	att    attTask
	ew     ewTask
	ce     ceTask
	route  routeTask
	rows   rowsTask
	red    reduceTask
	adam   adamTask
	shares int  // Split shares = pool workers
	asm    bool // use the AVX2 kernels of simd_amd64.s (an assembly GEMM kind)
	avx512 bool // and the AVX-512 SwiGLU kernels (the AVX512 GEMM kind)
}

var _ kernels.Backend = (*Backend)(nil)

// New returns a CPU backend. It panics if opts.GEMM names a kind this CPU
// cannot run; use NewChecked to get an error instead.
func New(opts Options) *Backend {
	b, err := NewChecked(opts)
	if err != nil {
		panic(err)
	}
	return b
}

// NewChecked is New returning an error for an unsupported GEMM kind.
func NewChecked(opts Options) (*Backend, error) {
	pool := parallel.New(opts.Threads)
	g, err := gemm.New(pool, opts.GEMM)
	if err != nil {
		pool.Close()
		return nil, err
	}
	return &Backend{pool: pool, gemm: g, shares: pool.Workers(), asm: g.Kind() != gemm.Generic, avx512: g.Kind() == gemm.AVX512}, nil
}

// Close stops the worker goroutines.
func (b *Backend) Close() { b.pool.Close() }

// Name implements kernels.Backend.
func (b *Backend) Name() string {
	return fmt.Sprintf("cpu(%s, %d threads)", b.gemm.Kind(), b.pool.Workers())
}

// Threads reports the number of worker threads.
func (b *Backend) Threads() int { return b.pool.Workers() }

// Pool returns the worker pool every kernel runs on, for its statistics
// (parallel.Pool.EnableStats): who is busy in which kernel.
func (b *Backend) Pool() *parallel.Pool { return b.pool }

// MatMul implements kernels.Backend.
func (b *Backend) MatMul(c, a, w []float32, m, n, k int, transA, transB, accumulate bool) {
	lda, ldb := k, n
	if transA {
		lda = m
	}
	if transB {
		ldb = k
	}
	b.gemm.Sgemm(transA, transB, m, n, k, a, lda, w, ldb, c, n, accumulate)
}

// grow returns s resized to n, reallocating only when it is too small.
func grow(s []float32, n int) []float32 {
	if cap(s) < n {
		return make([]float32, n)
	}
	return s[:n]
}

// shareOf returns the index of the Split share that starts at lo.
func shareOf(lo, n, shares int) int {
	chunk := (n + shares - 1) / shares
	return lo / chunk
}

var _ kernels.HalfMatMuler = (*Backend)(nil)

// MatMulHalf implements kernels.HalfMatMuler with gemm.SgemmHalfB: the
// 16-bit weights are widened in L1-sized chunks, never as a whole matrix.
func (b *Backend) MatMulHalf(c, a []float32, w []uint16, m, n, k int, bf16, accumulate bool) {
	b.gemm.SgemmHalfB(m, n, k, a, k, w, k, bf16, c, n, accumulate)
}

var _ kernels.Q8MatMuler = (*Backend)(nil)

// MatMulQ8 implements kernels.Q8MatMuler with gemm.SgemmQ8B.
func (b *Backend) MatMulQ8(c, a []float32, w []byte, m, n, k int, accumulate bool) {
	b.gemm.SgemmQ8B(m, n, k, a, k, w, quant.Q8Bytes(k), c, n, accumulate)
}

// EmbeddingQ8 implements kernels.Q8MatMuler: N rows of C values decoded
// on the calling goroutine (a few rows per step; prefill's N·C is still
// small next to one matrix product).
func (b *Backend) EmbeddingQ8(out []float32, ids []int32, table []byte, N, C int) {
	gemm.DequantizeRowsQ8(out, ids, table, N, C)
}
