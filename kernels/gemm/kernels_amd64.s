//go:build amd64

#include "textflag.h"

// Micro-kernels for the blocked path and dot kernels for the skinny path.
// Contracts are in kernel.go (Gemm.kernel, Gemm.dot4). Packed panels are
// k-major: a holds mr floats per k step, b holds nr floats per k step.

// ---------------------------------------------------------------------------
// AVX2 6×16 micro-kernel.
//
// Registers: Y0–Y11 accumulate the tile, two YMM per row (row r in
// Y(2r), Y(2r+1): columns 0–7 and 8–15). Y12, Y13 hold the 16 floats of b
// for this k step; Y14, Y15 alternate as broadcasts of a[r]. Per k step:
// 2 loads of b, 6 broadcast loads, 12 FMAs — FMA-bound on two FMA pipes
// (6 cycles) with 12 independent chains, enough to cover the FMA latency
// (4–5 cycles × 2 pipes = 8–10 in flight).
//
// SI = a, DI = b, DX = c row pointer, R8 = ldc in bytes, CX = k counter.

// func kernAVX2(kc int, a, b, c *float32, ldc int, accum int, pf *float32, pfstep int)
TEXT ·kernAVX2(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ accum+40(FP), R9
	MOVQ pf+48(FP), R11
	MOVQ pfstep+56(FP), R12

	// Prefetch the C tile (6 rows × 64 bytes, up to two lines each): it
	// is read or written only after the k loop, and when C is larger than
	// L2 (dW products, accumulating over many k blocks) its lines come
	// from L3; fetched now, they arrive while the FMAs run.
	MOVQ       DX, R10
	PREFETCHT0 (R10)
	PREFETCHT0 60(R10)
	ADDQ       R8, R10
	PREFETCHT0 (R10)
	PREFETCHT0 60(R10)
	ADDQ       R8, R10
	PREFETCHT0 (R10)
	PREFETCHT0 60(R10)
	ADDQ       R8, R10
	PREFETCHT0 (R10)
	PREFETCHT0 60(R10)
	ADDQ       R8, R10
	PREFETCHT0 (R10)
	PREFETCHT0 60(R10)
	ADDQ       R8, R10
	PREFETCHT0 (R10)
	PREFETCHT0 60(R10)

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

#define AVX2STEP(ao, bo) \
	VMOVUPS      bo(DI), Y12; \
	VMOVUPS      bo+32(DI), Y13; \
	VBROADCASTSS ao(SI), Y14; \
	VBROADCASTSS ao+4(SI), Y15; \
	VFMADD231PS  Y12, Y14, Y0; \
	VFMADD231PS  Y13, Y14, Y1; \
	VFMADD231PS  Y12, Y15, Y2; \
	VFMADD231PS  Y13, Y15, Y3; \
	VBROADCASTSS ao+8(SI), Y14; \
	VBROADCASTSS ao+12(SI), Y15; \
	VFMADD231PS  Y12, Y14, Y4; \
	VFMADD231PS  Y13, Y14, Y5; \
	VFMADD231PS  Y12, Y15, Y6; \
	VFMADD231PS  Y13, Y15, Y7; \
	VBROADCASTSS ao+16(SI), Y14; \
	VBROADCASTSS ao+20(SI), Y15; \
	VFMADD231PS  Y12, Y14, Y8; \
	VFMADD231PS  Y13, Y14, Y9; \
	VFMADD231PS  Y12, Y15, Y10; \
	VFMADD231PS  Y13, Y15, Y11

avx2loop:
	AVX2STEP(0, 0)
	PREFETCHT0 (R11)
	ADDQ R12, R11
	ADDQ $24, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  avx2loop

	TESTQ R9, R9
	JZ    avx2set

#define AVX2ADD(r0, r1) VADDPS (DX), r0, r0; VADDPS 32(DX), r1, r1; VMOVUPS r0, (DX); VMOVUPS r1, 32(DX); ADDQ R8, DX
	AVX2ADD(Y0, Y1)
	AVX2ADD(Y2, Y3)
	AVX2ADD(Y4, Y5)
	AVX2ADD(Y6, Y7)
	AVX2ADD(Y8, Y9)
	AVX2ADD(Y10, Y11)
	VZEROUPPER
	RET

avx2set:
#define AVX2SET(r0, r1) VMOVUPS r0, (DX); VMOVUPS r1, 32(DX); ADDQ R8, DX
	AVX2SET(Y0, Y1)
	AVX2SET(Y2, Y3)
	AVX2SET(Y4, Y5)
	AVX2SET(Y6, Y7)
	AVX2SET(Y8, Y9)
	AVX2SET(Y10, Y11)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512 12×32 micro-kernel (AVX-512F instructions only).
//
// Registers: Z0–Z23 accumulate the tile, two ZMM per row (row r in
// Z(2r), Z(2r+1): columns 0–15 and 16–31). Z24, Z25 hold the 32 floats of
// b for this k step; Z26–Z31 take the broadcasts of a[0..11], two rows at a
// time, rotating so each broadcast has time to land. Per k step: 2 loads
// of b, 12 broadcast loads, 24 FMAs — FMA-bound on two 512-bit FMA pipes
// (12 cycles) with 24 independent chains.

// func kernAVX512(kc int, a, b, c *float32, ldc int, accum int, pf *float32, pfstep int)
TEXT ·kernAVX512(SB), NOSPLIT, $0-64
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ c+24(FP), DX
	MOVQ ldc+32(FP), R8
	SHLQ $2, R8
	MOVQ accum+40(FP), R9
	MOVQ pf+48(FP), R11
	MOVQ pfstep+56(FP), R12

	// Prefetch the C tile (12 rows × 128 bytes: two lines, three when
	// unaligned), as the AVX2 kernel does: it is read or written only
	// after the k loop, and fetched now its lines arrive while the FMAs
	// run instead of stalling the stores.
	MOVQ DX, R10
#define PFROW PREFETCHT0 (R10); PREFETCHT0 64(R10); PREFETCHT0 124(R10); ADDQ R8, R10
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	VPXORD Z14, Z14, Z14
	VPXORD Z15, Z15, Z15
	VPXORD Z16, Z16, Z16
	VPXORD Z17, Z17, Z17
	VPXORD Z18, Z18, Z18
	VPXORD Z19, Z19, Z19
	VPXORD Z20, Z20, Z20
	VPXORD Z21, Z21, Z21
	VPXORD Z22, Z22, Z22
	VPXORD Z23, Z23, Z23

avx512loop:
	VMOVUPS      (DI), Z24
	VMOVUPS      64(DI), Z25
	VBROADCASTSS (SI), Z26
	VBROADCASTSS 4(SI), Z27
	VBROADCASTSS 8(SI), Z28
	VBROADCASTSS 12(SI), Z29
	VFMADD231PS  Z24, Z26, Z0
	VFMADD231PS  Z25, Z26, Z1
	VFMADD231PS  Z24, Z27, Z2
	VFMADD231PS  Z25, Z27, Z3
	VBROADCASTSS 16(SI), Z30
	VBROADCASTSS 20(SI), Z31
	VFMADD231PS  Z24, Z28, Z4
	VFMADD231PS  Z25, Z28, Z5
	VFMADD231PS  Z24, Z29, Z6
	VFMADD231PS  Z25, Z29, Z7
	VBROADCASTSS 24(SI), Z26
	VBROADCASTSS 28(SI), Z27
	VFMADD231PS  Z24, Z30, Z8
	VFMADD231PS  Z25, Z30, Z9
	VFMADD231PS  Z24, Z31, Z10
	VFMADD231PS  Z25, Z31, Z11
	VBROADCASTSS 32(SI), Z28
	VBROADCASTSS 36(SI), Z29
	VFMADD231PS  Z24, Z26, Z12
	VFMADD231PS  Z25, Z26, Z13
	VFMADD231PS  Z24, Z27, Z14
	VFMADD231PS  Z25, Z27, Z15
	VBROADCASTSS 40(SI), Z30
	VBROADCASTSS 44(SI), Z31
	VFMADD231PS  Z24, Z28, Z16
	VFMADD231PS  Z25, Z28, Z17
	VFMADD231PS  Z24, Z29, Z18
	VFMADD231PS  Z25, Z29, Z19
	VFMADD231PS  Z24, Z30, Z20
	VFMADD231PS  Z25, Z30, Z21
	VFMADD231PS  Z24, Z31, Z22
	VFMADD231PS  Z25, Z31, Z23
	PREFETCHT0   (R11)
	ADDQ         R12, R11
	ADDQ         $48, SI
	ADDQ         $128, DI
	DECQ         CX
	JNZ          avx512loop

	TESTQ R9, R9
	JZ    avx512set

#define AVX512ADD(r0, r1) VADDPS (DX), r0, r0; VADDPS 64(DX), r1, r1; VMOVUPS r0, (DX); VMOVUPS r1, 64(DX); ADDQ R8, DX
	AVX512ADD(Z0, Z1)
	AVX512ADD(Z2, Z3)
	AVX512ADD(Z4, Z5)
	AVX512ADD(Z6, Z7)
	AVX512ADD(Z8, Z9)
	AVX512ADD(Z10, Z11)
	AVX512ADD(Z12, Z13)
	AVX512ADD(Z14, Z15)
	AVX512ADD(Z16, Z17)
	AVX512ADD(Z18, Z19)
	AVX512ADD(Z20, Z21)
	AVX512ADD(Z22, Z23)
	VZEROUPPER
	RET

avx512set:
#define AVX512SET(r0, r1) VMOVUPS r0, (DX); VMOVUPS r1, 64(DX); ADDQ R8, DX
	AVX512SET(Z0, Z1)
	AVX512SET(Z2, Z3)
	AVX512SET(Z4, Z5)
	AVX512SET(Z6, Z7)
	AVX512SET(Z8, Z9)
	AVX512SET(Z10, Z11)
	AVX512SET(Z12, Z13)
	AVX512SET(Z14, Z15)
	AVX512SET(Z16, Z17)
	AVX512SET(Z18, Z19)
	AVX512SET(Z20, Z21)
	AVX512SET(Z22, Z23)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// Dot kernels: out[r] = Σ_p a[p]·b[r*ldb+p], r < 4.
//
// Registers: SI = a, DI/R9/R10/R11 = the four b rows, AX = byte offset,
// CX = floats left. Accumulators: 4 for even vectors, 4 for odd vectors
// (8 chains hide the FMA latency). The a vector is loaded once and each b
// vector is an FMA memory operand, so every byte of b is read exactly once.
// The final sums are reduced horizontally to one XMM holding out[0..3].

// func dot4AVX2(k int, a, b *float32, ldb int, out *[4]float32)
TEXT ·dot4AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	LEAQ (DI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	MOVQ out+32(FP), DX
	XORQ AX, AX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

	CMPQ CX, $16
	JLT  dot2tail

dot2loop:
	VMOVUPS     (SI)(AX*1), Y8
	VMOVUPS     32(SI)(AX*1), Y9
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS (R9)(AX*1), Y8, Y1
	VFMADD231PS (R10)(AX*1), Y8, Y2
	VFMADD231PS (R11)(AX*1), Y8, Y3
	VFMADD231PS 32(DI)(AX*1), Y9, Y4
	VFMADD231PS 32(R9)(AX*1), Y9, Y5
	VFMADD231PS 32(R10)(AX*1), Y9, Y6
	VFMADD231PS 32(R11)(AX*1), Y9, Y7
	ADDQ        $64, AX
	SUBQ        $16, CX
	CMPQ        CX, $16
	JGE         dot2loop

dot2tail:
	TESTQ       CX, CX
	JZ          dot2reduce
	VMOVUPS     (SI)(AX*1), Y8
	VFMADD231PS (DI)(AX*1), Y8, Y0
	VFMADD231PS (R9)(AX*1), Y8, Y1
	VFMADD231PS (R10)(AX*1), Y8, Y2
	VFMADD231PS (R11)(AX*1), Y8, Y3

dot2reduce:
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	VHADDPS      Y1, Y0, Y0 // per lane: [s0 s0 s1 s1]
	VHADDPS      Y3, Y2, Y2 // per lane: [s2 s2 s3 s3]
	VHADDPS      Y2, Y0, Y0 // per lane: [s0 s1 s2 s3]
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DX)
	VZEROUPPER
	RET

// func dot4AVX512(k int, a, b *float32, ldb int, out *[4]float32)
TEXT ·dot4AVX512(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	SHLQ $2, R8
	LEAQ (DI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	MOVQ out+32(FP), DX
	XORQ AX, AX

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

	CMPQ CX, $32
	JLT  dot5tail

dot5loop:
	VMOVUPS     (SI)(AX*1), Z8
	VMOVUPS     64(SI)(AX*1), Z9
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS (R9)(AX*1), Z8, Z1
	VFMADD231PS (R10)(AX*1), Z8, Z2
	VFMADD231PS (R11)(AX*1), Z8, Z3
	VFMADD231PS 64(DI)(AX*1), Z9, Z4
	VFMADD231PS 64(R9)(AX*1), Z9, Z5
	VFMADD231PS 64(R10)(AX*1), Z9, Z6
	VFMADD231PS 64(R11)(AX*1), Z9, Z7
	ADDQ        $128, AX
	SUBQ        $32, CX
	CMPQ        CX, $32
	JGE         dot5loop

dot5tail:
	TESTQ       CX, CX
	JZ          dot5reduce
	VMOVUPS     (SI)(AX*1), Z8
	VFMADD231PS (DI)(AX*1), Z8, Z0
	VFMADD231PS (R9)(AX*1), Z8, Z1
	VFMADD231PS (R10)(AX*1), Z8, Z2
	VFMADD231PS (R11)(AX*1), Z8, Z3

dot5reduce:
	VADDPS        Z4, Z0, Z0
	VADDPS        Z5, Z1, Z1
	VADDPS        Z6, Z2, Z2
	VADDPS        Z7, Z3, Z3
	VEXTRACTF64X4 $1, Z0, Y4 // fold 512 → 256 bits (AVX-512F form)
	VEXTRACTF64X4 $1, Z1, Y5
	VEXTRACTF64X4 $1, Z2, Y6
	VEXTRACTF64X4 $1, Z3, Y7
	VADDPS        Y4, Y0, Y0
	VADDPS        Y5, Y1, Y1
	VADDPS        Y6, Y2, Y2
	VADDPS        Y7, Y3, Y3
	VHADDPS       Y1, Y0, Y0
	VHADDPS       Y3, Y2, Y2
	VHADDPS       Y2, Y0, Y0
	VEXTRACTF128  $1, Y0, X1
	VADDPS        X1, X0, X0
	VMOVUPS       X0, (DX)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// 4×2 dot kernels: out[2i+r] = Σ_p a[i*lda+p]·b[r*ldb+p], i < 4, r < 2.
//
// For decode with m ≥ 4 rows: each loaded vector of b serves 4 rows of a
// and each vector of a serves 2 rows of b, so there are 6 loads per 8 FMAs
// (the 1-row dot4 needs 5 per 4) and one call covers twice the work.
//
// Registers: SI/R9/R10/R11 = the four a rows, DI/R13 = the two b rows,
// AX = byte offset, CX = floats left (a multiple of the vector width).
// Accumulator for (i, r) is Y(2i+r) / Z(2i+r); Y8/Y9 hold b, Y10–Y13 a.

// func dot4x2AVX2(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32)
TEXT ·dot4x2AVX2(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R12
	SHLQ $2, R12
	LEAQ (DI)(R12*1), R13
	MOVQ out+40(FP), DX
	XORQ AX, AX

	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7

d42loop:
	VMOVUPS     (DI)(AX*1), Y8
	VMOVUPS     (R13)(AX*1), Y9
	VMOVUPS     (SI)(AX*1), Y10
	VFMADD231PS Y8, Y10, Y0
	VFMADD231PS Y9, Y10, Y1
	VMOVUPS     (R9)(AX*1), Y11
	VFMADD231PS Y8, Y11, Y2
	VFMADD231PS Y9, Y11, Y3
	VMOVUPS     (R10)(AX*1), Y12
	VFMADD231PS Y8, Y12, Y4
	VFMADD231PS Y9, Y12, Y5
	VMOVUPS     (R11)(AX*1), Y13
	VFMADD231PS Y8, Y13, Y6
	VFMADD231PS Y9, Y13, Y7
	ADDQ        $32, AX
	SUBQ        $8, CX
	JNZ         d42loop

	// Per 128-bit lane: hadd trees give [s0 s1 s2 s3] in Y0 and
	// [s4 s5 s6 s7] in Y4; then the two lanes are added.
	VHADDPS    Y1, Y0, Y0
	VHADDPS    Y3, Y2, Y2
	VHADDPS    Y2, Y0, Y0
	VHADDPS    Y5, Y4, Y4
	VHADDPS    Y7, Y6, Y6
	VHADDPS    Y6, Y4, Y4
	VPERM2F128 $0x20, Y4, Y0, Y1 // [Y0.lo, Y4.lo]
	VPERM2F128 $0x31, Y4, Y0, Y2 // [Y0.hi, Y4.hi]
	VADDPS     Y2, Y1, Y1
	VMOVUPS    Y1, (DX)
	VZEROUPPER
	RET

// func dot4x2AVX512(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32)
TEXT ·dot4x2AVX512(SB), NOSPLIT, $0-48
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	MOVQ b+24(FP), DI
	MOVQ ldb+32(FP), R12
	SHLQ $2, R12
	LEAQ (DI)(R12*1), R13
	MOVQ out+40(FP), DX
	XORQ AX, AX

	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7

d52loop:
	VMOVUPS     (DI)(AX*1), Z8
	VMOVUPS     (R13)(AX*1), Z9
	VMOVUPS     (SI)(AX*1), Z10
	VFMADD231PS Z8, Z10, Z0
	VFMADD231PS Z9, Z10, Z1
	VMOVUPS     (R9)(AX*1), Z11
	VFMADD231PS Z8, Z11, Z2
	VFMADD231PS Z9, Z11, Z3
	VMOVUPS     (R10)(AX*1), Z12
	VFMADD231PS Z8, Z12, Z4
	VFMADD231PS Z9, Z12, Z5
	VMOVUPS     (R11)(AX*1), Z13
	VFMADD231PS Z8, Z13, Z6
	VFMADD231PS Z9, Z13, Z7
	ADDQ        $64, AX
	SUBQ        $16, CX
	JNZ         d52loop

	// Fold 512 → 256 bits, then reduce as in dot4x2AVX2.
	VEXTRACTF64X4 $1, Z0, Y8
	VEXTRACTF64X4 $1, Z1, Y9
	VEXTRACTF64X4 $1, Z2, Y10
	VEXTRACTF64X4 $1, Z3, Y11
	VEXTRACTF64X4 $1, Z4, Y12
	VEXTRACTF64X4 $1, Z5, Y13
	VEXTRACTF64X4 $1, Z6, Y14
	VEXTRACTF64X4 $1, Z7, Y15
	VADDPS        Y8, Y0, Y0
	VADDPS        Y9, Y1, Y1
	VADDPS        Y10, Y2, Y2
	VADDPS        Y11, Y3, Y3
	VADDPS        Y12, Y4, Y4
	VADDPS        Y13, Y5, Y5
	VADDPS        Y14, Y6, Y6
	VADDPS        Y15, Y7, Y7
	VHADDPS       Y1, Y0, Y0
	VHADDPS       Y3, Y2, Y2
	VHADDPS       Y2, Y0, Y0
	VHADDPS       Y5, Y4, Y4
	VHADDPS       Y7, Y6, Y6
	VHADDPS       Y6, Y4, Y4
	VPERM2F128    $0x20, Y4, Y0, Y1
	VPERM2F128    $0x31, Y4, Y0, Y2
	VADDPS        Y2, Y1, Y1
	VMOVUPS       Y1, (DX)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// Half-precision to float32 conversion of n values, n a positive multiple
// of 8 (the half-precision decode path converts weight chunks into an L1
// tile with these, then runs the dot kernels on the tile).

// func cvtF16AVX2(n int, src *uint16, dst *float32)
TEXT ·cvtF16AVX2(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI

cvtf16loop:
	VCVTPH2PS (SI), Y0 // F16C: 8 IEEE halves → 8 floats
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       cvtf16loop
	VZEROUPPER
	RET

// func cvtBF16AVX2(n int, src *uint16, dst *float32)
TEXT ·cvtBF16AVX2(SB), NOSPLIT, $0-24
	MOVQ n+0(FP), CX
	MOVQ src+8(FP), SI
	MOVQ dst+16(FP), DI

cvtbf16loop:
	VPMOVZXWD (SI), Y0     // 8 × uint16 → 8 × uint32
	VPSLLD    $16, Y0, Y0  // bf16 is the top half of a float32
	VMOVUPS   Y0, (DI)
	ADDQ      $16, SI
	ADDQ      $32, DI
	SUBQ      $8, CX
	JNZ       cvtbf16loop
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// Half-precision dot kernels for decode: out[r] = Σ_p a[p]·widen(b[r*ldb+p]),
// r < 4, k a positive multiple of 8. The 16-bit weights are widened in
// registers (bf16: zero-extend and shift into the high half; f16:
// VCVTPH2PS), so each weight byte is read from memory exactly once and no
// float32 copy is written. Registers as dot4AVX2, with B offsets in half
// the bytes of A's (BX = B byte offset).
#define HDOT4ZERO \
	SHLQ   $1, R8; \
	LEAQ   (DI)(R8*1), R9; \
	LEAQ   (R9)(R8*1), R10; \
	LEAQ   (R10)(R8*1), R11; \
	XORQ   AX, AX; \
	XORQ   BX, BX; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3

// HPREFETCH prefetches the next group of 4 weight rows (R12, set to the
// row after the group's last) as one block, at 4× the pace B advances
// (BX*4), so that it has arrived when the next call starts on it: the
// rows are short (k·2 bytes), too short for the hardware prefetcher to
// lock on before each row ends, and without this the kernel stalls on
// every row's start (bf16 decode from L3 ~30% slower). When ldb > k, or
// past the matrix's end, the prefetches are merely useless: they never
// fault.
#define HPREFETCH \
	PREFETCHT0 (R12)(BX*4); \
	PREFETCHT0 64(R12)(BX*4); \
	PREFETCHT0 128(R12)(BX*4); \
	PREFETCHT0 192(R12)(BX*4)

#define BF16W(addr, y) VPMOVZXWD addr, y; VPSLLD $16, y, y
#define F16W(addr, y) VCVTPH2PS addr, y

// HSTEP does 8 k values at byte offsets ao (a) and bo (b): widen the four
// b rows' vectors and FMA them with a's vector into acc0–acc3. Two
// accumulator sets alternate so 8 FMA chains hide the FMA latency.
#define HSTEP(W, ao, bo, acc0, acc1, acc2, acc3) \
	VMOVUPS     ao(SI)(AX*1), Y8; \
	W(bo(DI)(BX*1), Y10); \
	W(bo(R9)(BX*1), Y11); \
	W(bo(R10)(BX*1), Y12); \
	W(bo(R11)(BX*1), Y13); \
	VFMADD231PS Y10, Y8, acc0; \
	VFMADD231PS Y11, Y8, acc1; \
	VFMADD231PS Y12, Y8, acc2; \
	VFMADD231PS Y13, Y8, acc3

// func dot4BF16AVX2(k int, a *float32, b *uint16, ldb int, out *[4]float32)
TEXT ·dot4BF16AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	MOVQ out+32(FP), DX
	HDOT4ZERO
	LEAQ   (R11)(R8*1), R12
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ   CX, $32
	JLT    bftail

bfloop32:
	HPREFETCH
	HSTEP(BF16W, 0, 0, Y0, Y1, Y2, Y3)
	HSTEP(BF16W, 32, 16, Y4, Y5, Y6, Y7)
	HSTEP(BF16W, 64, 32, Y0, Y1, Y2, Y3)
	HSTEP(BF16W, 96, 48, Y4, Y5, Y6, Y7)
	ADDQ $128, AX
	ADDQ $64, BX
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  bfloop32

bftail:
	TESTQ CX, CX
	JZ    bfreduce

bfloop8:
	HSTEP(BF16W, 0, 0, Y0, Y1, Y2, Y3)
	ADDQ $32, AX
	ADDQ $16, BX
	SUBQ $8, CX
	JNZ  bfloop8

bfreduce:
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DX)
	VZEROUPPER
	RET

// func dot4F16AVX2(k int, a *float32, b *uint16, ldb int, out *[4]float32)
TEXT ·dot4F16AVX2(SB), NOSPLIT, $0-40
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DI
	MOVQ ldb+24(FP), R8
	MOVQ out+32(FP), DX
	HDOT4ZERO
	LEAQ   (R11)(R8*1), R12
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	CMPQ   CX, $32
	JLT    f16tail

f16loop32:
	HPREFETCH
	HSTEP(F16W, 0, 0, Y0, Y1, Y2, Y3)
	HSTEP(F16W, 32, 16, Y4, Y5, Y6, Y7)
	HSTEP(F16W, 64, 32, Y0, Y1, Y2, Y3)
	HSTEP(F16W, 96, 48, Y4, Y5, Y6, Y7)
	ADDQ $128, AX
	ADDQ $64, BX
	SUBQ $32, CX
	CMPQ CX, $32
	JGE  f16loop32

f16tail:
	TESTQ CX, CX
	JZ    f16reduce

f16loop8:
	HSTEP(F16W, 0, 0, Y0, Y1, Y2, Y3)
	ADDQ $32, AX
	ADDQ $16, BX
	SUBQ $8, CX
	JNZ  f16loop8

f16reduce:
	VADDPS       Y4, Y0, Y0
	VADDPS       Y5, Y1, Y1
	VADDPS       Y6, Y2, Y2
	VADDPS       Y7, Y3, Y3
	VHADDPS      Y1, Y0, Y0
	VHADDPS      Y3, Y2, Y2
	VHADDPS      Y2, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VMOVUPS      X0, (DX)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// pack6AVX2 packs six rows of A (row stride lda floats), k values [0, kc),
// kc a positive multiple of 4, into the 6-row micro-panel layout
// dst[p*6+i] = row i [p] (Gemm's packAPanel; pure-Go twin pack6Go).
// Per 4 k values: rows 0–3 go through a 4×4 SSE transpose (one 16-byte
// store per k), rows 4–5 are interleaved pairwise (one 8-byte store per k).
//
// SI, R9–R13 = the six rows, AX = byte offset into them, DI = dst.

// func pack6AVX2(kc int, a *float32, lda int, dst *float32)
TEXT ·pack6AVX2(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI
	LEAQ (SI)(R8*1), R9
	LEAQ (R9)(R8*1), R10
	LEAQ (R10)(R8*1), R11
	LEAQ (R11)(R8*1), R12
	LEAQ (R12)(R8*1), R13
	XORQ AX, AX

pack6loop:
	VMOVUPS   (SI)(AX*1), X0      // a0 a1 a2 a3 (row 0, k..k+3)
	VMOVUPS   (R9)(AX*1), X1      // b
	VMOVUPS   (R10)(AX*1), X2     // c
	VMOVUPS   (R11)(AX*1), X3     // d
	VMOVUPS   (R12)(AX*1), X4     // e
	VMOVUPS   (R13)(AX*1), X5     // f
	VUNPCKLPS X1, X0, X6          // a0 b0 a1 b1
	VUNPCKHPS X1, X0, X7          // a2 b2 a3 b3
	VUNPCKLPS X3, X2, X8          // c0 d0 c1 d1
	VUNPCKHPS X3, X2, X9          // c2 d2 c3 d3
	VUNPCKLPS X5, X4, X10         // e0 f0 e1 f1
	VUNPCKHPS X5, X4, X11         // e2 f2 e3 f3
	VSHUFPS   $0x44, X8, X6, X0   // a0 b0 c0 d0
	VSHUFPS   $0xEE, X8, X6, X1   // a1 b1 c1 d1
	VSHUFPS   $0x44, X9, X7, X2   // a2 b2 c2 d2
	VSHUFPS   $0xEE, X9, X7, X3   // a3 b3 c3 d3
	VMOVUPS   X0, (DI)
	VMOVQ     X10, 16(DI)
	VMOVUPS   X1, 24(DI)
	VMOVHPS   X10, 40(DI)
	VMOVUPS   X2, 48(DI)
	VMOVQ     X11, 64(DI)
	VMOVUPS   X3, 72(DI)
	VMOVHPS   X11, 88(DI)
	ADDQ      $16, AX
	ADDQ      $96, DI
	SUBQ      $4, CX
	JNZ       pack6loop
	RET

// func fmaLoopAVX2(n int)
// n iterations of 12 independent 8-lane FMAs (192 FLOP each): enough
// chains to cover the FMA latency on two pipes, so it runs at the core's
// FMA peak and measures it. The values computed are never used.
TEXT ·fmaLoopAVX2(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11
	VXORPS Y12, Y12, Y12
	VXORPS Y13, Y13, Y13
	TESTQ CX, CX
	JLE fmadone

fmaloop:
	VFMADD231PS Y12, Y13, Y0
	VFMADD231PS Y12, Y13, Y1
	VFMADD231PS Y12, Y13, Y2
	VFMADD231PS Y12, Y13, Y3
	VFMADD231PS Y12, Y13, Y4
	VFMADD231PS Y12, Y13, Y5
	VFMADD231PS Y12, Y13, Y6
	VFMADD231PS Y12, Y13, Y7
	VFMADD231PS Y12, Y13, Y8
	VFMADD231PS Y12, Y13, Y9
	VFMADD231PS Y12, Y13, Y10
	VFMADD231PS Y12, Y13, Y11
	DECQ CX
	JNZ  fmaloop

fmadone:
	VZEROUPPER
	RET

// func fmaLoopAVX512(n int)
// As fmaLoopAVX2 with 16-lane FMAs (384 FLOP per iteration).
TEXT ·fmaLoopAVX512(SB), NOSPLIT, $0-8
	MOVQ n+0(FP), CX
	VPXORD Z0, Z0, Z0
	VPXORD Z1, Z1, Z1
	VPXORD Z2, Z2, Z2
	VPXORD Z3, Z3, Z3
	VPXORD Z4, Z4, Z4
	VPXORD Z5, Z5, Z5
	VPXORD Z6, Z6, Z6
	VPXORD Z7, Z7, Z7
	VPXORD Z8, Z8, Z8
	VPXORD Z9, Z9, Z9
	VPXORD Z10, Z10, Z10
	VPXORD Z11, Z11, Z11
	VPXORD Z12, Z12, Z12
	VPXORD Z13, Z13, Z13
	TESTQ CX, CX
	JLE fma512done

fma512loop:
	VFMADD231PS Z12, Z13, Z0
	VFMADD231PS Z12, Z13, Z1
	VFMADD231PS Z12, Z13, Z2
	VFMADD231PS Z12, Z13, Z3
	VFMADD231PS Z12, Z13, Z4
	VFMADD231PS Z12, Z13, Z5
	VFMADD231PS Z12, Z13, Z6
	VFMADD231PS Z12, Z13, Z7
	VFMADD231PS Z12, Z13, Z8
	VFMADD231PS Z12, Z13, Z9
	VFMADD231PS Z12, Z13, Z10
	VFMADD231PS Z12, Z13, Z11
	DECQ CX
	JNZ  fma512loop

fma512done:
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// Strip packs: dst[p*w+i] = a[p*lda+i] for i < w, p < kc (kc ≥ 1). They
// pack an A panel when op(A) = Aᵀ (w = 6) and a B panel when op(B) = B
// (w = 16): each k step is a short contiguous copy, which as a Go array
// assignment was a runtime.memmove call per k step (4% of a training step).

// func packStrip6(kc int, a *float32, lda int, dst *float32)
TEXT ·packStrip6(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

strip6loop:
	VMOVUPS (SI), X0
	VMOVQ   16(SI), X1
	VMOVUPS X0, (DI)
	VMOVQ   X1, 16(DI)
	ADDQ    R8, SI
	ADDQ    $24, DI
	DECQ    CX
	JNZ     strip6loop
	RET

// func packStrip16(kc int, b *float32, ldb int, dst *float32)
TEXT ·packStrip16(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

strip16loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    R8, SI
	ADDQ    $64, DI
	DECQ    CX
	JNZ     strip16loop
	VZEROUPPER
	RET

// func packStrip12(kc int, a *float32, lda int, dst *float32)
// As packStrip6 with 12 floats per k step (the AVX-512 A panel of Aᵀ).
TEXT ·packStrip12(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

strip12loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), X1
	VMOVUPS Y0, (DI)
	VMOVUPS X1, 32(DI)
	ADDQ    R8, SI
	ADDQ    $48, DI
	DECQ    CX
	JNZ     strip12loop
	VZEROUPPER
	RET

// func packStrip32(kc int, b *float32, ldb int, dst *float32)
// As packStrip16 with 32 floats per k step (the AVX-512 B panel of B).
TEXT ·packStrip32(SB), NOSPLIT, $0-32
	MOVQ kc+0(FP), CX
	MOVQ b+8(FP), SI
	MOVQ ldb+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+24(FP), DI

strip32loop:
	VMOVUPS (SI), Y0
	VMOVUPS 32(SI), Y1
	VMOVUPS 64(SI), Y2
	VMOVUPS 96(SI), Y3
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	VMOVUPS Y2, 64(DI)
	VMOVUPS Y3, 96(DI)
	ADDQ    R8, SI
	ADDQ    $128, DI
	DECQ    CX
	JNZ     strip32loop
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// packRowsT packs rows whose k values lie along them (op(A) = A with
// mr = 12, op(B) = Bᵀ with nr = 16 or 32) into the k-major panel layout:
// dst[p*rows + i] = src[i*ld + p] for i < rows (a multiple of 4) and
// p < kc8 (a positive multiple of 8). For each 8 k values, each group of 4
// rows is one 4×8 transpose in registers (4 loads, 8 shuffles, 8 16-byte
// stores into the 8·rows floats of dst those k values fill), so dst is
// written in order and each source row is read 32 bytes at a time.
//
// SI = row group base, R10/R12 = its rows 0 and 2 at k, R8 = ld in bytes,
// DI = dst of this k block, R9 = rows·4 (dst bytes per k), R11 = row
// groups left, AX = k byte offset, CX = k blocks left, BX = dst of this
// row group, DX = its store pointer.

// func packRowsT(kc8 int, src *float32, ld int, rows int, dst *float32)
TEXT ·packRowsT(SB), NOSPLIT, $0-40
	MOVQ kc8+0(FP), CX
	SHRQ $3, CX
	MOVQ ld+16(FP), R8
	SHLQ $2, R8
	MOVQ rows+24(FP), R9
	SHLQ $2, R9
	MOVQ dst+32(FP), DI
	XORQ AX, AX

rowsTk:
	MOVQ src+8(FP), SI
	MOVQ DI, BX
	MOVQ rows+24(FP), R11
	SHRQ $2, R11

rowsTg:
	LEAQ      (SI)(AX*1), R10     // row 0 at k
	LEAQ      (R10)(R8*2), R12    // row 2 at k
	VMOVUPS   (R10), Y0           // row 0, k..k+7
	VMOVUPS   (R10)(R8*1), Y1     // row 1
	VMOVUPS   (R12), Y2           // row 2
	VMOVUPS   (R12)(R8*1), Y3     // row 3
	VUNPCKLPS Y1, Y0, Y4          // r0k0 r1k0 r0k1 r1k1 | k4 k5
	VUNPCKHPS Y1, Y0, Y5          // r0k2 r1k2 r0k3 r1k3 | k6 k7
	VUNPCKLPS Y3, Y2, Y6          // r2k0 r3k0 r2k1 r3k1 | k4 k5
	VUNPCKHPS Y3, Y2, Y7          // r2k2 r3k2 r2k3 r3k3 | k6 k7
	VSHUFPS   $0x44, Y6, Y4, Y0   // k0 | k4 (rows 0-3)
	VSHUFPS   $0xEE, Y6, Y4, Y1   // k1 | k5
	VSHUFPS   $0x44, Y7, Y5, Y2   // k2 | k6
	VSHUFPS   $0xEE, Y7, Y5, Y3   // k3 | k7
	MOVQ      BX, DX
	VMOVUPS   X0, (DX)
	ADDQ      R9, DX
	VMOVUPS   X1, (DX)
	ADDQ      R9, DX
	VMOVUPS   X2, (DX)
	ADDQ      R9, DX
	VMOVUPS   X3, (DX)
	ADDQ      R9, DX
	VEXTRACTF128 $1, Y0, (DX)
	ADDQ      R9, DX
	VEXTRACTF128 $1, Y1, (DX)
	ADDQ      R9, DX
	VEXTRACTF128 $1, Y2, (DX)
	ADDQ      R9, DX
	VEXTRACTF128 $1, Y3, (DX)
	LEAQ      (SI)(R8*4), SI      // next 4 rows
	ADDQ      $16, BX
	DECQ      R11
	JNZ       rowsTg

	ADDQ $32, AX
	LEAQ (DI)(R9*8), DI           // next 8 k values
	DECQ CX
	JNZ  rowsTk
	VZEROUPPER
	RET

// func packStrips12N(kc int, a *float32, lda int, panels int, dst *float32, pstride int)
// The A panels of Aᵀ for a whole row item: for p < kc, q < panels,
// dst[q*pstride + p*12 + i] = a[p*lda + q*12 + i], i < 12 (pstride in
// floats). Walking k outermost reads each row of A once, sequentially,
// across all the item's panels, instead of one 48-byte strip per row per
// panel (a cache line, and a TLB entry when rows are ≥ 4 KiB apart, each).
//
// SI = row p of a, DI = dst at p, R8 = lda bytes, R9 = pstride bytes,
// R10/R11 = source/destination of panel q, BX = panels left, CX = k left.
TEXT ·packStrips12N(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+32(FP), DI
	MOVQ pstride+40(FP), R9
	SHLQ $2, R9

strips12Nk:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ panels+24(FP), BX

strips12Nq:
	VMOVUPS (R10), Y0
	VMOVUPS 32(R10), X1
	VMOVUPS Y0, (R11)
	VMOVUPS X1, 32(R11)
	ADDQ    $48, R10
	ADDQ    R9, R11
	DECQ    BX
	JNZ     strips12Nq

	ADDQ R8, SI
	ADDQ $48, DI
	DECQ CX
	JNZ  strips12Nk
	VZEROUPPER
	RET

// func packStrips6N(kc int, a *float32, lda int, panels int, dst *float32, pstride int)
// packStrips12N for the AVX2 kind's 6-row A panels: dst[q*pstride + p*6 +
// i] = a[p*lda + q*6 + i], i < 6. Registers as in packStrips12N.
TEXT ·packStrips6N(SB), NOSPLIT, $0-48
	MOVQ kc+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	SHLQ $2, R8
	MOVQ dst+32(FP), DI
	MOVQ pstride+40(FP), R9
	SHLQ $2, R9

strips6Nk:
	MOVQ SI, R10
	MOVQ DI, R11
	MOVQ panels+24(FP), BX

strips6Nq:
	VMOVUPS (R10), X0
	VMOVQ   16(R10), X1
	VMOVUPS X0, (R11)
	VMOVQ   X1, 16(R11)
	ADDQ    $24, R10
	ADDQ    R9, R11
	DECQ    BX
	JNZ     strips6Nq

	ADDQ R8, SI
	ADDQ $24, DI
	DECQ CX
	JNZ  strips6Nk
	RET

// func prefetchRows(p *float32, rows int, seg int, stride int)
// PREFETCHT1 (into L2) every 64-byte line of rows runs of seg bytes
// starting stride bytes apart at p. Prefetches never fault.
TEXT ·prefetchRows(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ seg+16(FP), DX
	MOVQ stride+24(FP), R8
	TESTQ CX, CX
	JLE  pfdone

pfrow:
	XORQ AX, AX

pfline:
	PREFETCHT1 (SI)(AX*1)
	ADDQ $64, AX
	CMPQ AX, DX
	JLT  pfline
	ADDQ R8, SI
	DECQ CX
	JNZ  pfrow

pfdone:
	RET
