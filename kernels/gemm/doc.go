// Package gemm holds the single-precision matrix multiply that every matrix
// product in MiniMind-Go goes through: Gemm.Sgemm, its half-precision-weight
// decode variant (SgemmHalfB), its Q8_0-weight variant (SgemmQ8B: int8 dot
// products for decode, the blocked GEMM on weights dequantized while
// packing for prefill; see q8.go), and Reference, the plain triple loop
// used as the test oracle.
//
// # Algorithm
//
// Large products use the BLIS/GotoBLAS scheme. The k dimension is cut into
// blocks of kc; for each block, all of op(A) is packed into mr-row panels
// (mr×kc, k-major) and op(B) into nr-column panels (kc×nr, k-major, in
// column blocks of at most nc), zero-padded at the edges so a micro-kernel
// always computes a full mr×nr tile. The output is then cut into items of
// mc rows × a range of B panels; inside an item the B micro-panel in use
// stays in L1 while the mr-row A micro-panels of the item's mc×kc block,
// which stays in L2, stream past it. Edge tiles are computed into a stack
// buffer and only their valid part is written to C.
//
// Decode products (m ≤ 8 rows of A against a weight matrix stored [n×k],
// transB) take a dedicated skinny path that streams B once, parallel over n,
// and is bound by memory bandwidth.
//
// # Kinds
//
// The micro-kernels exist in pure Go (Generic), AVX2+FMA and AVX-512
// assembly (amd64 only); the AVX512 kind's Q8_0 dot kernel also needs
// AVX-512 VNNI (vpdpbusd) and uses the AVX2 one without it. New picks one per Gemm value (Auto: the best the CPU
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
