// Package gemm holds the single-precision matrix multiply that every matrix
// product in MiniMind-Go goes through: Gemm.Sgemm, its half-precision-weight
// decode variant (SgemmHalfB), its Q8_0-weight variant (SgemmQ8B: int8 dot
// products for decode, the blocked GEMM on weights dequantized while
// packing for prefill; see q8.go), and Reference, the plain triple loop
// used as the test oracle.
//
// # Algorithm
//
// Large products use the BLIS/GotoBLAS packing scheme with a
// C-stationary loop order. All of op(B) is packed first, k block (kc deep)
// by k block, into nr-column panels (kc×nr, k-major), zero-padded at the
// edges. The output is then cut into items of at most mc rows × ncs
// columns, and each item runs over all k blocks while its C block stays
// in L2: per block it packs its own rows of op(A) into mr-row panels
// (mr×kc) in its worker's buffer, prefetching the next block's rows of A,
// then runs the micro-kernel over B panels (outer: the B micro-panel
// stays in L1) × A panels (from L2). C thus travels from and to memory
// once per call, however deep k is. Edge tiles are computed into a stack
// buffer and only their valid part is written to C.
//
// Decode products (m ≤ 8 rows of A against a weight matrix stored [n×k],
// transB) take a dedicated skinny path that streams B once, parallel over n,
// and is bound by memory bandwidth.
//
// # Kinds
//
// The micro-kernels exist in pure Go (Generic), AVX2+FMA and AVX-512
// assembly (amd64 only); the assembly kinds also pack panels in assembly
// (AVX2 instructions), and the AVX512 kind's Q8_0 dot kernel also needs
// AVX-512 VNNI (vpdpbusd), using the AVX2 one without it. New picks one per
// Gemm value (Auto: the best the CPU
// supports); the CPU feature results are package-level values computed once.
//
// # Threads, determinism, panics
//
// A Gemm runs every call on the workers of the parallel.Pool it was built
// with and is not safe for concurrent use. Each output element is computed
// by exactly one worker with a summation order fixed by the kind and the
// blocking constants alone, so for a given kind and shape the result is
// bitwise identical for any pool size. Different kinds (and the skinny
// versus blocked path) round differently.
//
// Bad dimensions, leading dimensions or too-short slices are programming
// errors and panic, as an out-of-range index would.
package gemm
