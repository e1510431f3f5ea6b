//go:build amd64

#include "textflag.h"

// AVX2+FMA kernels for attention tiles and the exp-based element-wise
// kernels. Go declarations and contracts: simd_amd64.go; pure-Go
// equivalents (the fallback and the test oracle): simd.go.

// ---------------------------------------------------------------------------
// Constants for the exp polynomial (Cephes expf), each splatted to 8 lanes
// so that FMAs can take them as memory operands.
#define SPLAT(name, v) DATA name<>+0(SB)/4, v; DATA name<>+4(SB)/4, v; DATA name<>+8(SB)/4, v; DATA name<>+12(SB)/4, v; DATA name<>+16(SB)/4, v; DATA name<>+20(SB)/4, v; DATA name<>+24(SB)/4, v; DATA name<>+28(SB)/4, v; GLOBL name<>(SB), RODATA|NOPTR, $32

SPLAT(explog2e, $0x3fb8aa3b)
SPLAT(expc1, $0x3f318000)
SPLAT(expc2, $0xb95e8083)
SPLAT(expp0, $0x39506967)
SPLAT(expp1, $0x3ab743ce)
SPLAT(expp2, $0x3c088908)
SPLAT(expp3, $0x3d2aa9c1)
SPLAT(expp4, $0x3e2aaaaa)
SPLAT(expp5, $0x3f000000)
SPLAT(exphi, $0x42b00000)
SPLAT(explo, $0xc2aeac4f)
SPLAT(expone, $0x3f800000)
SPLAT(expneg, $0xbf800000)
SPLAT(exp127, $0x0000007f)

// EXPCONST loads the constants EXP8 keeps in registers: Y8 log2(e),
// Y9 ln2 (high part), Y10 ln2 (low part), Y11 the upper clamp 88,
// Y12 the lower bound -87.33654 (exp = 2^-126), Y13 1.0.
#define EXPCONST \
	VMOVUPS explog2e<>(SB), Y8; \
	VMOVUPS expc1<>(SB), Y9; \
	VMOVUPS expc2<>(SB), Y10; \
	VMOVUPS exphi<>(SB), Y11; \
	VMOVUPS explo<>(SB), Y12; \
	VMOVUPS expone<>(SB), Y13

// EXP8: Y0 = exp(Y0) for 8 lanes; clobbers Y1–Y4. n = round(x·log2 e),
// r = x − n·ln2 (Cody–Waite, two FMAs), exp(r) by Cephes' degree-7
// polynomial 1 + r + r²·p(r), then scaled by 2ⁿ built in the exponent
// bits. Inputs above 88 are clamped to 88; inputs below −87.33654 (where
// the result would be subnormal) give exactly 0, as do NaNs.
#define EXP8 \
	VCMPPS       $0x1d, Y12, Y0, Y4; \
	VMINPS       Y11, Y0, Y0; \
	VMAXPS       Y12, Y0, Y0; \
	VMULPS       Y8, Y0, Y1; \
	VROUNDPS     $0, Y1, Y1; \
	VFNMADD231PS Y9, Y1, Y0; \
	VFNMADD231PS Y10, Y1, Y0; \
	VMULPS       Y0, Y0, Y2; \
	VMOVUPS      expp0<>(SB), Y3; \
	VFMADD213PS  expp1<>(SB), Y0, Y3; \
	VFMADD213PS  expp2<>(SB), Y0, Y3; \
	VFMADD213PS  expp3<>(SB), Y0, Y3; \
	VFMADD213PS  expp4<>(SB), Y0, Y3; \
	VFMADD213PS  expp5<>(SB), Y0, Y3; \
	VFMADD213PS  Y0, Y2, Y3; \
	VADDPS       Y13, Y3, Y3; \
	VCVTTPS2DQ   Y1, Y1; \
	VPADDD       exp127<>(SB), Y1, Y1; \
	VPSLLD       $23, Y1, Y1; \
	VMULPS       Y1, Y3, Y0; \
	VANDPS       Y4, Y0, Y0

// func expAVX2(n int, dst, src *float32, a, c float32) float32
TEXT ·expAVX2(SB), NOSPLIT, $0-36
	MOVQ         n+0(FP), CX
	MOVQ         dst+8(FP), DI
	MOVQ         src+16(FP), SI
	VBROADCASTSS a+24(FP), Y6
	VBROADCASTSS c+28(FP), Y7
	EXPCONST
	VXORPS       Y5, Y5, Y5

exploop:
	VMOVUPS     (SI), Y0
	VFMADD213PS Y7, Y6, Y0
	EXP8
	VADDPS      Y0, Y5, Y5
	VMOVUPS     Y0, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	SUBQ        $8, CX
	JNZ         exploop

	VEXTRACTF128 $1, Y5, X1
	VADDPS       X1, X5, X5
	VHADDPS      X5, X5, X5
	VHADDPS      X5, X5, X5
	MOVSS        X5, ret+32(FP)
	VZEROUPPER
	RET

// func maxAVX2(n int, x *float32) float32
TEXT ·maxAVX2(SB), NOSPLIT, $0-20
	MOVQ    n+0(FP), CX
	MOVQ    x+8(FP), SI
	VMOVUPS (SI), Y0
	ADDQ    $32, SI
	SUBQ    $8, CX
	JZ      maxreduce

maxloop:
	VMAXPS (SI), Y0, Y0
	ADDQ   $32, SI
	SUBQ   $8, CX
	JNZ    maxloop

maxreduce:
	VEXTRACTF128 $1, Y0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0x4e, X0, X1
	VMAXPS       X1, X0, X0
	VPERMILPS    $0xb1, X0, X1
	VMAXPS       X1, X0, X0
	MOVSS        X0, ret+16(FP)
	VZEROUPPER
	RET

// func swigluAVX2(n int, out, gate, up *float32)
TEXT ·swigluAVX2(SB), NOSPLIT, $0-32
	MOVQ    n+0(FP), CX
	MOVQ    out+8(FP), DI
	MOVQ    gate+16(FP), SI
	MOVQ    up+24(FP), DX
	EXPCONST
	VMOVUPS expneg<>(SB), Y6

swloop:
	VMOVUPS (SI), Y14
	VMULPS  Y6, Y14, Y0
	EXP8
	VADDPS  Y13, Y0, Y0
	VDIVPS  Y0, Y14, Y1
	VMULPS  (DX), Y1, Y1
	VMOVUPS Y1, (DI)
	ADDQ    $32, SI
	ADDQ    $32, DI
	ADDQ    $32, DX
	SUBQ    $8, CX
	JNZ     swloop
	VZEROUPPER
	RET

// func swigluBackAVX2(n int, dg, du, dout, gate, up *float32)
TEXT ·swigluBackAVX2(SB), NOSPLIT, $0-48
	MOVQ    n+0(FP), CX
	MOVQ    dg+8(FP), DI
	MOVQ    du+16(FP), BX
	MOVQ    dout+24(FP), DX
	MOVQ    gate+32(FP), SI
	MOVQ    up+40(FP), R8
	EXPCONST
	VMOVUPS expneg<>(SB), Y6

swbloop:
	VMOVUPS     (SI), Y14
	VMULPS      Y6, Y14, Y0
	EXP8
	VADDPS      Y13, Y0, Y0
	VDIVPS      Y0, Y13, Y5     // s = sigmoid(g)
	VMOVUPS     (DX), Y7        // d
	VMULPS      Y5, Y14, Y15    // g·s
	VMOVUPS     (BX), Y1
	VFMADD231PS Y15, Y7, Y1     // du += d·g·s
	VMOVUPS     Y1, (BX)
	VSUBPS      Y5, Y13, Y2     // 1 − s
	VFMADD213PS Y13, Y14, Y2    // 1 + g·(1 − s)
	VMULPS      Y5, Y2, Y2
	VMULPS      (R8), Y2, Y2
	VMOVUPS     (DI), Y1
	VFMADD231PS Y2, Y7, Y1      // dg += d·u·s·(1 + g(1 − s))
	VMOVUPS     Y1, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, BX
	ADDQ        $32, DX
	ADDQ        $32, R8
	SUBQ        $8, CX
	JNZ         swbloop
	VZEROUPPER
	RET

// func swigluBackSetAVX2(n int, h, dg, du, dout, gate, up *float32)
// The operations of swigluAVX2 and swigluBackAVX2 (its FMAs into zero
// become plain products: the same bits), sharing one exp.
TEXT ·swigluBackSetAVX2(SB), NOSPLIT, $0-56
	MOVQ    n+0(FP), CX
	MOVQ    h+8(FP), R9
	MOVQ    dg+16(FP), DI
	MOVQ    du+24(FP), BX
	MOVQ    dout+32(FP), DX
	MOVQ    gate+40(FP), SI
	MOVQ    up+48(FP), R8
	EXPCONST
	VMOVUPS expneg<>(SB), Y6

swsloop:
	VMOVUPS     (SI), Y14
	VMULPS      Y6, Y14, Y0
	EXP8
	VADDPS      Y13, Y0, Y0     // den = 1 + exp(−g)
	VMOVUPS     (R8), Y15       // u
	VDIVPS      Y0, Y14, Y1
	VMULPS      Y15, Y1, Y1     // h = g/den·u
	VMOVUPS     Y1, (R9)
	VDIVPS      Y0, Y13, Y5     // s = sigmoid(g)
	VMOVUPS     (DX), Y7        // d
	VMULPS      Y5, Y14, Y1     // g·s
	VMULPS      Y1, Y7, Y1      // du = d·g·s
	VMOVUPS     Y1, (BX)
	VSUBPS      Y5, Y13, Y2     // 1 − s
	VFMADD213PS Y13, Y14, Y2    // 1 + g·(1 − s)
	VMULPS      Y5, Y2, Y2
	VMULPS      Y15, Y2, Y2
	VMULPS      Y2, Y7, Y2      // dg = d·u·s·(1 + g(1 − s))
	VMOVUPS     Y2, (DI)
	ADDQ        $32, SI
	ADDQ        $32, DI
	ADDQ        $32, BX
	ADDQ        $32, DX
	ADDQ        $32, R8
	ADDQ        $32, R9
	SUBQ        $8, CX
	JNZ         swsloop
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// dots3x4AVX2: out[i*ldo+j] = Σ_{p<hs} q[i*ldq+p]·k[j*ldk+p], i < 3, j < 4.
// The attention score tile (queries × keys, both contiguous along the head
// dimension, so no transposition is needed). 12 accumulators Y0–Y11 (row
// i, key j in Y(4i+j)); per 8 floats of hs: 3 query loads, 4 key loads,
// 12 FMAs. Each accumulator gets one FMA per step, so 12 chains cover the
// FMA latency. The tile is reduced horizontally at the end.
//
// func dots3x4AVX2(hs int, q *float32, ldq int, k *float32, ldk int, out *float32, ldo int)
TEXT ·dots3x4AVX2(SB), NOSPLIT, $0-56
	MOVQ hs+0(FP), CX
	MOVQ q+8(FP), SI
	MOVQ ldq+16(FP), R9
	SHLQ $2, R9
	LEAQ (SI)(R9*1), BX
	LEAQ (BX)(R9*1), R8
	MOVQ k+24(FP), DI
	MOVQ ldk+32(FP), R9
	SHLQ $2, R9
	LEAQ (DI)(R9*1), R10
	LEAQ (R10)(R9*1), R11
	LEAQ (R11)(R9*1), R12
	MOVQ out+40(FP), DX
	MOVQ ldo+48(FP), R13
	SHLQ $2, R13
	XORQ AX, AX

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

dotsloop:
	VMOVUPS     (SI)(AX*1), Y12
	VMOVUPS     (BX)(AX*1), Y13
	VMOVUPS     (R8)(AX*1), Y14
	VMOVUPS     (DI)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y0
	VFMADD231PS Y15, Y13, Y4
	VFMADD231PS Y15, Y14, Y8
	VMOVUPS     (R10)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y1
	VFMADD231PS Y15, Y13, Y5
	VFMADD231PS Y15, Y14, Y9
	VMOVUPS     (R11)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y2
	VFMADD231PS Y15, Y13, Y6
	VFMADD231PS Y15, Y14, Y10
	VMOVUPS     (R12)(AX*1), Y15
	VFMADD231PS Y15, Y12, Y3
	VFMADD231PS Y15, Y13, Y7
	VFMADD231PS Y15, Y14, Y11
	ADDQ        $32, AX
	SUBQ        $8, CX
	JNZ         dotsloop

#define RED4(a, b, c, d, xa) \
	VHADDPS      b, a, a; \
	VHADDPS      d, c, c; \
	VHADDPS      c, a, a; \
	VEXTRACTF128 $1, a, X15; \
	VADDPS       X15, xa, xa; \
	VMOVUPS      xa, (DX); \
	ADDQ         R13, DX

	RED4(Y0, Y1, Y2, Y3, X0)
	RED4(Y4, Y5, Y6, Y7, X4)
	RED4(Y8, Y9, Y10, Y11, X8)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// func adamwAVX2(n int, p, grad, m, v *float32, c *adamConsts)
// Y8–Y15 and Y6 hold c's nine scalars; the operations and their order are
// adamw's (simd.go), with no FMA, so results match the Go loop exactly.
TEXT ·adamwAVX2(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         p+8(FP), DI
	MOVQ         grad+16(FP), SI
	MOVQ         m+24(FP), R8
	MOVQ         v+32(FP), R9
	MOVQ         c+40(FP), DX
	VBROADCASTSS 0(DX), Y8   // decay
	VBROADCASTSS 4(DX), Y9   // b1
	VBROADCASTSS 8(DX), Y10  // c1 = 1−b1
	VBROADCASTSS 12(DX), Y11 // b2
	VBROADCASTSS 16(DX), Y12 // c2 = 1−b2
	VBROADCASTSS 20(DX), Y13 // bc2Sqrt
	VBROADCASTSS 24(DX), Y14 // eps
	VBROADCASTSS 28(DX), Y15 // stepSize
	VBROADCASTSS 32(DX), Y6  // gs
	XORQ         AX, AX

adamwloop:
	VMULPS  (SI)(AX*1), Y6, Y0  // g·gs
	VMULPS  (R8)(AX*1), Y9, Y1  // b1·m
	VMULPS  Y0, Y10, Y2         // c1·g
	VADDPS  Y2, Y1, Y1          // m'
	VMOVUPS Y1, (R8)(AX*1)
	VMULPS  (R9)(AX*1), Y11, Y2 // b2·v
	VMULPS  Y0, Y12, Y3         // c2·g
	VMULPS  Y0, Y3, Y3          // c2·g·g
	VADDPS  Y3, Y2, Y2          // v'
	VMOVUPS Y2, (R9)(AX*1)
	VSQRTPS Y2, Y3
	VDIVPS  Y13, Y3, Y3         // √v' / bc2Sqrt
	VADDPS  Y14, Y3, Y3         // denom
	VMULPS  Y1, Y15, Y4         // stepSize·m'
	VDIVPS  Y3, Y4, Y4          // / denom
	VMULPS  (DI)(AX*1), Y8, Y5  // p·decay
	VSUBPS  Y4, Y5, Y5
	VMOVUPS Y5, (DI)(AX*1)
	ADDQ    $32, AX
	SUBQ    $8, CX
	JNZ     adamwloop
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// RMSNorm rows and plain element-wise kernels. Each walks its n floats (a
// positive multiple of 8) 32 at a time while it can, then 8 at a time; AX
// is the byte offset shared by all the pointers. The reductions keep four
// accumulators Y0–Y3 in the 32-wide loop (the 8-wide one adds into Y0) and
// sum them as (Y0+Y1)+(Y2+Y3) before the horizontal reduction. The
// element-wise results use no FMA, so they equal the Go loops' bits.

// LOOP32x8(body, l32, l8, l8loop, ldone): body(off, reg, acc) for
// off = 0, 32, 64, 96 with (reg, acc) = (Y4, Y0) … (Y7, Y3) per 32 floats,
// then body(0, Y4, Y0) per remaining 8; the l* are the loop's labels.
#define LOOP32x8(body, l32, l8, l8loop, ldone) \
	XORQ AX, AX; \
	SUBQ $32, CX; \
	JL   l8; \
l32: \
	body(0, Y4, Y0); \
	body(32, Y5, Y1); \
	body(64, Y6, Y2); \
	body(96, Y7, Y3); \
	ADDQ $128, AX; \
	SUBQ $32, CX; \
	JGE  l32; \
l8: \
	ADDQ $32, CX; \
	JZ   ldone; \
l8loop: \
	body(0, Y4, Y0); \
	ADDQ $32, AX; \
	SUBQ $8, CX; \
	JNZ  l8loop; \
ldone:

// HSUM4: X0 = Σ of the 32 lanes of Y0–Y3 (in its low lane).
#define HSUM4 \
	VADDPS       Y1, Y0, Y0; \
	VADDPS       Y3, Y2, Y2; \
	VADDPS       Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VHADDPS      X0, X0, X0; \
	VHADDPS      X0, X0, X0

#define ZERO4 \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3

// acc += x²
#define SUMSQ(o, y, acc) \
	VMOVUPS     o(SI)(AX*1), y; \
	VFMADD231PS y, y, acc

// func sumsqAVX2(n int, x *float32) float32
TEXT ·sumsqAVX2(SB), NOSPLIT, $0-20
	MOVQ n+0(FP), CX
	MOVQ x+8(FP), SI
	ZERO4
	LOOP32x8(SUMSQ, sumsq32, sumsq8, sumsq8loop, sumsqdone)
	HSUM4
	MOVSS X0, ret+16(FP)
	VZEROUPPER
	RET

// out = w·(x·r); Y15 = r
#define SCALEMUL(o, y, acc) \
	VMULPS  o(SI)(AX*1), Y15, y; \
	VMULPS  o(DX)(AX*1), y, y; \
	VMOVUPS y, o(DI)(AX*1)

// func scaleMulAVX2(n int, out, x, w *float32, r float32)
TEXT ·scaleMulAVX2(SB), NOSPLIT, $0-36
	MOVQ         n+0(FP), CX
	MOVQ         out+8(FP), DI
	MOVQ         x+16(FP), SI
	MOVQ         w+24(FP), DX
	VBROADCASTSS r+32(FP), Y15
	LOOP32x8(SCALEMUL, scalemul32, scalemul8, scalemul8loop, scalemuldone)
	VZEROUPPER
	RET

// p = dy·(x·r); dw += p; acc += w·p. Y15 = r, Y12 scratch.
#define RMSDOT(o, y, acc) \
	VMULPS      o(SI)(AX*1), Y15, y; \
	VMULPS      o(DX)(AX*1), y, y; \
	VADDPS      o(DI)(AX*1), y, Y12; \
	VMOVUPS     Y12, o(DI)(AX*1); \
	VFMADD231PS o(R8)(AX*1), y, acc

// func rmsBackDotAVX2(n int, dw, x, dy, w *float32, r float32) float32
TEXT ·rmsBackDotAVX2(SB), NOSPLIT, $0-52
	MOVQ         n+0(FP), CX
	MOVQ         dw+8(FP), DI
	MOVQ         x+16(FP), SI
	MOVQ         dy+24(FP), DX
	MOVQ         w+32(FP), R8
	VBROADCASTSS r+40(FP), Y15
	ZERO4
	LOOP32x8(RMSDOT, rmsdot32, rmsdot8, rmsdot8loop, rmsdotdone)
	HSUM4
	MOVSS X0, ret+48(FP)
	VZEROUPPER
	RET

// dx += r·(w·dy − (x·r)·dot); Y14 = r, Y15 = dot, Y12 scratch.
#define RMSDX(o, y, acc) \
	VMULPS  o(SI)(AX*1), Y14, y; \
	VMULPS  Y15, y, y; \
	VMOVUPS o(R8)(AX*1), Y12; \
	VMULPS  o(DX)(AX*1), Y12, Y12; \
	VSUBPS  y, Y12, Y12; \
	VMULPS  Y14, Y12, Y12; \
	VADDPS  o(DI)(AX*1), Y12, Y12; \
	VMOVUPS Y12, o(DI)(AX*1)

// func rmsBackDxAVX2(n int, dx, x, dy, w *float32, r, dot float32)
TEXT ·rmsBackDxAVX2(SB), NOSPLIT, $0-48
	MOVQ         n+0(FP), CX
	MOVQ         dx+8(FP), DI
	MOVQ         x+16(FP), SI
	MOVQ         dy+24(FP), DX
	MOVQ         w+32(FP), R8
	VBROADCASTSS r+40(FP), Y14
	VBROADCASTSS dot+44(FP), Y15
	LOOP32x8(RMSDX, rmsdx32, rmsdx8, rmsdx8loop, rmsdxdone)
	VZEROUPPER
	RET

// out = a + b
#define VADD(o, y, acc) \
	VMOVUPS o(SI)(AX*1), y; \
	VADDPS  o(DX)(AX*1), y, y; \
	VMOVUPS y, o(DI)(AX*1)

// func addAVX2(n int, out, a, b *float32)
TEXT ·addAVX2(SB), NOSPLIT, $0-32
	MOVQ n+0(FP), CX
	MOVQ out+8(FP), DI
	MOVQ a+16(FP), SI
	MOVQ b+24(FP), DX
	LOOP32x8(VADD, vadd32, vadd8, vadd8loop, vadddone)
	VZEROUPPER
	RET

// x *= s; Y15 = s
#define VSCALE(o, y, acc) \
	VMULPS  o(DI)(AX*1), Y15, y; \
	VMOVUPS y, o(DI)(AX*1)

// func scaleAVX2(n int, x *float32, s float32)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-20
	MOVQ         n+0(FP), CX
	MOVQ         x+8(FP), DI
	VBROADCASTSS s+16(FP), Y15
	LOOP32x8(VSCALE, vscale32, vscale8, vscale8loop, vscaledone)
	VZEROUPPER
	RET

// dst += s·src (product, then sum: the Go loop's bits); Y15 = s
#define AXPY(o, y, acc) \
	VMULPS  o(SI)(AX*1), Y15, y; \
	VADDPS  o(DI)(AX*1), y, y; \
	VMOVUPS y, o(DI)(AX*1)

// func axpyAVX2(n int, dst, src *float32, s float32)
TEXT ·axpyAVX2(SB), NOSPLIT, $0-28
	MOVQ         n+0(FP), CX
	MOVQ         dst+8(FP), DI
	MOVQ         src+16(FP), SI
	VBROADCASTSS s+24(FP), Y15
	LOOP32x8(AXPY, axpy32, axpy8, axpy8loop, axpydone)
	VZEROUPPER
	RET

// acc += a·b
#define VDOT(o, y, acc) \
	VMOVUPS     o(SI)(AX*1), y; \
	VFMADD231PS o(DX)(AX*1), y, acc

// func dotAVX2(n int, a, b *float32) float32
TEXT ·dotAVX2(SB), NOSPLIT, $0-28
	MOVQ n+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	ZERO4
	LOOP32x8(VDOT, vdot32, vdot8, vdot8loop, vdotdone)
	HSUM4
	MOVSS X0, ret+24(FP)
	VZEROUPPER
	RET

// func sumsq64AVX2(n int, x *float32) float64
// Σ x[i]² in float64: each float32 is widened (exact) and squared exactly
// (48 significant bits), so an FMA adds the exact square. Four
// accumulators of 4 doubles; 16 floats per iteration.
TEXT ·sumsq64AVX2(SB), NOSPLIT, $0-24
	MOVQ   n+0(FP), CX
	MOVQ   x+8(FP), SI
	VXORPD Y4, Y4, Y4
	VXORPD Y5, Y5, Y5
	VXORPD Y6, Y6, Y6
	VXORPD Y7, Y7, Y7

ss64loop:
	VCVTPS2PD   (SI), Y0
	VCVTPS2PD   16(SI), Y1
	VCVTPS2PD   32(SI), Y2
	VCVTPS2PD   48(SI), Y3
	VFMADD231PD Y0, Y0, Y4
	VFMADD231PD Y1, Y1, Y5
	VFMADD231PD Y2, Y2, Y6
	VFMADD231PD Y3, Y3, Y7
	ADDQ        $64, SI
	SUBQ        $16, CX
	JNZ         ss64loop

	VADDPD       Y5, Y4, Y4
	VADDPD       Y7, Y6, Y6
	VADDPD       Y6, Y4, Y4
	VEXTRACTF128 $1, Y4, X1
	VADDPD       X1, X4, X4
	VPERMILPD    $1, X4, X1
	VADDSD       X1, X4, X4
	MOVSD        X4, ret+16(FP)
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// AVX-512F versions of the SwiGLU kernels: the AVX2 ones' operations, in
// the same order, on 16 lanes (VRNDSCALEPS $0 is VROUNDPS $0; the lower
// bound's mask is a K register), so both give the same bits.

// EXPCONST16: Z8–Z13 as EXPCONST's Y8–Y13.
#define EXPCONST16 \
	VBROADCASTSS explog2e<>(SB), Z8; \
	VBROADCASTSS expc1<>(SB), Z9; \
	VBROADCASTSS expc2<>(SB), Z10; \
	VBROADCASTSS exphi<>(SB), Z11; \
	VBROADCASTSS explo<>(SB), Z12; \
	VBROADCASTSS expone<>(SB), Z13

// EXP16: Z0 = exp(Z0) for 16 lanes, as EXP8; clobbers Z1–Z3, K1, and
// needs Z16–Z21 = the polynomial's p0…p5, Z22 = 127.
#define EXP16 \
	VCMPPS       $0x1d, Z12, Z0, K1; \
	VMINPS       Z11, Z0, Z0; \
	VMAXPS       Z12, Z0, Z0; \
	VMULPS       Z8, Z0, Z1; \
	VRNDSCALEPS  $0, Z1, Z1; \
	VFNMADD231PS Z9, Z1, Z0; \
	VFNMADD231PS Z10, Z1, Z0; \
	VMULPS       Z0, Z0, Z2; \
	VMOVAPS      Z16, Z3; \
	VFMADD213PS  Z17, Z0, Z3; \
	VFMADD213PS  Z18, Z0, Z3; \
	VFMADD213PS  Z19, Z0, Z3; \
	VFMADD213PS  Z20, Z0, Z3; \
	VFMADD213PS  Z21, Z0, Z3; \
	VFMADD213PS  Z0, Z2, Z3; \
	VADDPS       Z13, Z3, Z3; \
	VCVTTPS2DQ   Z1, Z1; \
	VPADDD       Z22, Z1, Z1; \
	VPSLLD       $23, Z1, Z1; \
	VMULPS       Z1, Z3, Z0; \
	VMOVAPS.Z    Z0, K1, Z0

#define EXPPOLY16 \
	VBROADCASTSS expp0<>(SB), Z16; \
	VBROADCASTSS expp1<>(SB), Z17; \
	VBROADCASTSS expp2<>(SB), Z18; \
	VBROADCASTSS expp3<>(SB), Z19; \
	VBROADCASTSS expp4<>(SB), Z20; \
	VBROADCASTSS expp5<>(SB), Z21; \
	VPBROADCASTD exp127<>(SB), Z22

// func swigluAVX512(n int, out, gate, up *float32)
TEXT ·swigluAVX512(SB), NOSPLIT, $0-32
	MOVQ         n+0(FP), CX
	MOVQ         out+8(FP), DI
	MOVQ         gate+16(FP), SI
	MOVQ         up+24(FP), DX
	EXPCONST16
	EXPPOLY16
	VBROADCASTSS expneg<>(SB), Z6

sw16loop:
	VMOVUPS (SI), Z14
	VMULPS  Z6, Z14, Z0
	EXP16
	VADDPS  Z13, Z0, Z0
	VDIVPS  Z0, Z14, Z1
	VMULPS  (DX), Z1, Z1
	VMOVUPS Z1, (DI)
	ADDQ    $64, SI
	ADDQ    $64, DI
	ADDQ    $64, DX
	SUBQ    $16, CX
	JNZ     sw16loop
	VZEROUPPER
	RET

// func swigluBackSetAVX512(n int, h, dg, du, dout, gate, up *float32)
TEXT ·swigluBackSetAVX512(SB), NOSPLIT, $0-56
	MOVQ         n+0(FP), CX
	MOVQ         h+8(FP), R9
	MOVQ         dg+16(FP), DI
	MOVQ         du+24(FP), BX
	MOVQ         dout+32(FP), DX
	MOVQ         gate+40(FP), SI
	MOVQ         up+48(FP), R8
	EXPCONST16
	EXPPOLY16
	VBROADCASTSS expneg<>(SB), Z6

sws16loop:
	VMOVUPS     (SI), Z14
	VMULPS      Z6, Z14, Z0
	EXP16
	VADDPS      Z13, Z0, Z0     // den = 1 + exp(−g)
	VMOVUPS     (R8), Z15       // u
	VDIVPS      Z0, Z14, Z1
	VMULPS      Z15, Z1, Z1     // h = g/den·u
	VMOVUPS     Z1, (R9)
	VDIVPS      Z0, Z13, Z5     // s = sigmoid(g)
	VMOVUPS     (DX), Z7        // d
	VMULPS      Z5, Z14, Z1     // g·s
	VMULPS      Z1, Z7, Z1      // du = d·g·s
	VMOVUPS     Z1, (BX)
	VSUBPS      Z5, Z13, Z2     // 1 − s
	VFMADD213PS Z13, Z14, Z2    // 1 + g·(1 − s)
	VMULPS      Z5, Z2, Z2
	VMULPS      Z15, Z2, Z2
	VMULPS      Z2, Z7, Z2      // dg = d·u·s·(1 + g(1 − s))
	VMOVUPS     Z2, (DI)
	ADDQ        $64, SI
	ADDQ        $64, DI
	ADDQ        $64, BX
	ADDQ        $64, DX
	ADDQ        $64, R8
	ADDQ        $64, R9
	SUBQ        $16, CX
	JNZ         sws16loop
	VZEROUPPER
	RET
