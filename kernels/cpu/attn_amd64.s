//go:build amd64

#include "textflag.h"

// AVX2+FMA kernels of the tiled attention (attention.go): the softmax
// steps on transposed score blocks s[j*lds + r] (key j, query row r), one
// strip of 8 query rows at a time, so that per-row values (max, sum, lse,
// D, the causal limit) stay in vectors while the strip's keys go by; the
// 6×16-tile product over whole panels; and an 8×8-block transpose. Go
// declarations: attn_amd64.go; pure-Go twins: attention.go.

// The exp constants of simd_amd64.s (file-local there), and −Inf for
// masked scores.
#define SPLAT(name, v) DATA name<>+0(SB)/4, v; DATA name<>+4(SB)/4, v; DATA name<>+8(SB)/4, v; DATA name<>+12(SB)/4, v; DATA name<>+16(SB)/4, v; DATA name<>+20(SB)/4, v; DATA name<>+24(SB)/4, v; DATA name<>+28(SB)/4, v; GLOBL name<>(SB), RODATA|NOPTR, $32

SPLAT(attlog2e, $0x3fb8aa3b)
SPLAT(attc1, $0x3f318000)
SPLAT(attc2, $0xb95e8083)
SPLAT(attp0, $0x39506967)
SPLAT(attp1, $0x3ab743ce)
SPLAT(attp2, $0x3c088908)
SPLAT(attp3, $0x3d2aa9c1)
SPLAT(attp4, $0x3e2aaaaa)
SPLAT(attp5, $0x3f000000)
SPLAT(atthi, $0x42b00000)
SPLAT(attlo, $0xc2aeac4f)
SPLAT(attone, $0x3f800000)
SPLAT(attninf, $0xff800000)
SPLAT(attmagic, $0x4b400000) // 1.5·2²³
SPLAT(att127s, $0x3f800000) // 127 << 23

// AEXP2(x, t, m, p, q, y, t2, m2, p2, q2, CLAMP): x = exp(x) and
// y = exp(y), two independent vectors with their instructions
// interleaved; the other registers are scratch. EXP8's arithmetic
// (simd_amd64.s) with two fewer operations:
//
//   - n = round(x·log2 e) by one FMA with 1.5·2²³ (its low bits are n,
//     rounded once, to nearest even), with no VROUNDPS / VCVTTPS2DQ;
//   - r = x − n·ln2 (Cody–Waite, two FMAs) and Cephes' polynomial
//     1 + r + r²·p(r) (Horner), as EXP8;
//   - times 2ⁿ, built by shifting t's bits (n is in its low bits);
//   - zero unless x ≥ −87.33654 (the smallest normal result), which also
//     zeroes −Inf and NaN, whatever the arithmetic made of them, so no
//     lower clamp is needed.
//
// The result is within 1 ulp of exp (TestAttnExpAccuracy). The loops
// here are bound by the FMA pipes, which take 11 of its 17 operations per
// vector. CLAMP applies the upper clamp x ≤ 88 where an input may exceed
// it (the forward's s − max ≤ 0 never does).
#define AEXP2(x, t, m, p, q, y, t2, m2, p2, q2, CLAMP) \
	CLAMP; \
	VCMPPS       $0x1d, attlo<>(SB), x, m; \
	VCMPPS       $0x1d, attlo<>(SB), y, m2; \
	VMOVUPS      attmagic<>(SB), t; \
	VMOVUPS      attmagic<>(SB), t2; \
	VFMADD231PS  attlog2e<>(SB), x, t; \
	VFMADD231PS  attlog2e<>(SB), y, t2; \
	VSUBPS       attmagic<>(SB), t, p; \
	VSUBPS       attmagic<>(SB), t2, p2; \
	VFNMADD231PS attc1<>(SB), p, x; \
	VFNMADD231PS attc1<>(SB), p2, y; \
	VFNMADD231PS attc2<>(SB), p, x; \
	VFNMADD231PS attc2<>(SB), p2, y; \
	VMULPS       x, x, p; \
	VMULPS       y, y, p2; \
	VMOVUPS      attp0<>(SB), q; \
	VMOVUPS      attp0<>(SB), q2; \
	VFMADD213PS  attp1<>(SB), x, q; \
	VFMADD213PS  attp1<>(SB), y, q2; \
	VFMADD213PS  attp2<>(SB), x, q; \
	VFMADD213PS  attp2<>(SB), y, q2; \
	VFMADD213PS  attp3<>(SB), x, q; \
	VFMADD213PS  attp3<>(SB), y, q2; \
	VFMADD213PS  attp4<>(SB), x, q; \
	VFMADD213PS  attp4<>(SB), y, q2; \
	VFMADD213PS  attp5<>(SB), x, q; \
	VFMADD213PS  attp5<>(SB), y, q2; \
	VFMADD213PS  x, p, q; \
	VFMADD213PS  y, p2, q2; \
	VADDPS       attone<>(SB), q, q; \
	VADDPS       attone<>(SB), q2, q2; \
	VPSLLD       $23, t, t; \
	VPSLLD       $23, t2, t2; \
	VPADDD       att127s<>(SB), t, t; \
	VPADDD       att127s<>(SB), t2, t2; \
	VMULPS       t, q, x; \
	VMULPS       t2, q2, y; \
	VANDPS       m, x, x; \
	VANDPS       m2, y, y

#define NOCLAMP
#define HICLAMP VMINPS atthi<>(SB), Y0, Y0; VMINPS atthi<>(SB), Y7, Y7
#define EXPA AEXP2(Y0, Y1, Y2, Y3, Y4, Y7, Y8, Y9, Y10, Y11, NOCLAMP)
#define EXPB AEXP2(Y0, Y1, Y2, Y3, Y4, Y7, Y8, Y9, Y10, Y11, HICLAMP)

// attSoftmaxAVX2: per strip of 8 query rows, pass 1 masks the scores
// (j0+j > lim → −Inf, written back) and takes the running max in Y15 (or,
// when all != 0, only takes the max: no key is masked in the block);
// then alpha and the new max; pass 2 replaces each score by its exp, two
// keys at a time (an odd first key with a dummy partner), summing in Y14
// in key order. The exps use Y0–Y4, Y7–Y11.
//
// func attSoftmaxAVX2(nb, w int, s *float32, lds int, lim *float32, j0 float32, mx, l, alpha *float32, all int)
TEXT ·attSoftmaxAVX2(SB), NOSPLIT, $0-80
	MOVQ nb+0(FP), BX
	MOVQ w+8(FP), CX
	MOVQ s+16(FP), SI
	MOVQ lds+24(FP), R8
	SHLQ $2, R8
	MOVQ lim+32(FP), R9
	MOVQ mx+48(FP), R10
	MOVQ l+56(FP), R11
	MOVQ alpha+64(FP), R12

smstrip:
	VMOVUPS      (R9), Y7
	VBROADCASTSS j0+40(FP), Y14
	VMOVUPS      (R10), Y15
	MOVQ         SI, DI
	MOVQ         BX, DX
	CMPQ         all+72(FP), $0
	JEQ          smmax

	// Every row sees every key: the max alone.
smmaxall:
	VMAXPS (DI), Y15, Y15
	ADDQ   R8, DI
	DECQ   DX
	JNZ    smmaxall
	JMP    smalpha

smmax:
	VMOVUPS   (DI), Y0
	VCMPPS    $0x1e, Y7, Y14, Y1         // j0+j > lim
	VBLENDVPS Y1, attninf<>(SB), Y0, Y0
	VMOVUPS   Y0, (DI)
	VMAXPS    Y0, Y15, Y15
	VADDPS    attone<>(SB), Y14, Y14
	ADDQ      R8, DI
	DECQ      DX
	JNZ       smmax

smalpha:
	// alpha = exp(m_old − m_new); the new max stays in Y15.
	VMOVUPS (R10), Y0
	VMOVUPS Y15, (R10)
	VSUBPS  Y15, Y0, Y0
	VXORPS  Y7, Y7, Y7
	EXPA
	VMOVUPS Y0, (R12)
	VXORPS  Y14, Y14, Y14
	MOVQ    SI, DI
	MOVQ    BX, DX
	TESTQ   $1, DX
	JZ      smpairs

	VMOVUPS (DI), Y0
	VSUBPS  Y15, Y0, Y0
	VXORPS  Y7, Y7, Y7
	EXPA
	VADDPS  Y0, Y14, Y14
	VMOVUPS Y0, (DI)
	ADDQ    R8, DI
	DECQ    DX
	JZ      smsum

smpairs:
	VMOVUPS (DI), Y0
	VMOVUPS (DI)(R8*1), Y7
	VSUBPS  Y15, Y0, Y0
	VSUBPS  Y15, Y7, Y7
	EXPA
	VADDPS  Y0, Y14, Y14
	VADDPS  Y7, Y14, Y14
	VMOVUPS Y0, (DI)
	VMOVUPS Y7, (DI)(R8*1)
	LEAQ    (DI)(R8*2), DI
	SUBQ    $2, DX
	JNZ     smpairs

smsum:
	// l = l·alpha + Σ p
	VMOVUPS (R12), Y0
	VMULPS  (R11), Y0, Y0
	VADDPS  Y14, Y0, Y0
	VMOVUPS Y0, (R11)

	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	ADDQ $32, R12
	SUBQ $8, CX
	JNZ  smstrip
	VZEROUPPER
	RET

// attSoftmaxBackAVX2: per strip of 8 query rows, with the key index in
// Y15 and lim, lse, D read from memory; two keys at a time (an odd last
// key with a dummy partner), each score becomes p = exp(s − lse) (0 where
// masked) and dp becomes p·(dp − D). dp is addressed from s's pointer
// (same layout), R13 = dp − s. The exps use Y0–Y4, Y7–Y11.
//
// func attSoftmaxBackAVX2(nb, w int, s, dp *float32, lds int, lim *float32, j0 float32, lse, d *float32)
TEXT ·attSoftmaxBackAVX2(SB), NOSPLIT, $0-72
	MOVQ nb+0(FP), BX
	MOVQ w+8(FP), CX
	MOVQ s+16(FP), SI
	MOVQ dp+24(FP), R13
	SUBQ SI, R13
	MOVQ lds+32(FP), R8
	SHLQ $2, R8
	MOVQ lim+40(FP), R9
	MOVQ lse+56(FP), R10
	MOVQ d+64(FP), R11

sbstrip:
	VBROADCASTSS j0+48(FP), Y15
	MOVQ         SI, DI
	MOVQ         BX, DX

sbpair:
	CMPQ DX, $1
	JEQ  sblast

	// Keys j, j+1: mask, subtract lse, exp.
	VMOVUPS   (DI), Y0
	VMOVUPS   (DI)(R8*1), Y7
	VCMPPS    $0x1e, (R9), Y15, Y1        // j0+j > lim
	VADDPS    attone<>(SB), Y15, Y8
	VCMPPS    $0x1e, (R9), Y8, Y8
	VBLENDVPS Y1, attninf<>(SB), Y0, Y0
	VBLENDVPS Y8, attninf<>(SB), Y7, Y7
	VSUBPS    (R10), Y0, Y0
	VSUBPS    (R10), Y7, Y7
	EXPB
	VMOVUPS   Y0, (DI)
	VMOVUPS   Y7, (DI)(R8*1)
	LEAQ      (DI)(R13*1), AX
	VMOVUPS   (AX), Y1
	VMOVUPS   (AX)(R8*1), Y8
	VSUBPS    (R11), Y1, Y1
	VSUBPS    (R11), Y8, Y8
	VMULPS    Y1, Y0, Y1
	VMULPS    Y8, Y7, Y8
	VMOVUPS   Y1, (AX)
	VMOVUPS   Y8, (AX)(R8*1)
	VADDPS    attone<>(SB), Y15, Y15
	VADDPS    attone<>(SB), Y15, Y15
	LEAQ      (DI)(R8*2), DI
	SUBQ      $2, DX
	JNZ       sbpair
	JMP       sbnext

sblast:
	VMOVUPS   (DI), Y0
	VCMPPS    $0x1e, (R9), Y15, Y1
	VBLENDVPS Y1, attninf<>(SB), Y0, Y0
	VSUBPS    (R10), Y0, Y0
	VXORPS    Y7, Y7, Y7
	EXPB
	VMOVUPS   Y0, (DI)
	VMOVUPS   (DI)(R13*1), Y1
	VSUBPS    (R11), Y1, Y1
	VMULPS    Y1, Y0, Y1
	VMOVUPS   Y1, (DI)(R13*1)

sbnext:
	ADDQ $32, SI
	ADDQ $32, R9
	ADDQ $32, R10
	ADDQ $32, R11
	SUBQ $8, CX
	JNZ  sbstrip
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// attPanelAVX2: C[i*ldc+j] (mode 0) = , (1) +=, or (2) = sc[i]·C +
// Σ_{p<kd} a[i*ars+p*acs]·b[p*ldb+j] for i < rows, j < n: the GEMM's
// 6×16 FMA tile, with A read through two strides (so a transpose serves
// in place), over every 6-row panel and 16-column tile of a product in
// one call, so short products (kd 48–64) do not pay a Go call
// per tile. Mode 2 folds the online softmax's rescale of O into the store.
// Each tile's C lines are prefetched before its k loop (C may be dK, dV
// rows in L2), and when A is row-major (acs = 1: key or value rows) the
// next panel's A rows are prefetched before a panel starts.
//
// SI, R9 = a rows 0 and 3; DI = b; DX = c; BX = the tile's byte offset
// into b and c rows; AX = columns left; CX = k counter. The panel's a, c,
// sc and the rows left live in the frame.
//
// func attPanelAVX2(kd int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, rows, n int, sc *float32, mode int)
TEXT ·attPanelAVX2(SB), NOSPLIT, $32-96
	MOVQ ars+16(FP), R8
	SHLQ $2, R8
	MOVQ acs+24(FP), R10
	SHLQ $2, R10
	MOVQ ldb+40(FP), R11
	SHLQ $2, R11
	MOVQ ldc+56(FP), R12
	SHLQ $2, R12
	MOVQ a+8(FP), AX
	MOVQ AX, pa-8(SP)
	MOVQ c+48(FP), AX
	MOVQ AX, pc-16(SP)
	MOVQ sc+80(FP), AX
	MOVQ AX, ps-24(SP)
	MOVQ rows+64(FP), AX
	MOVQ AX, pr-32(SP)

pnpanel:
	CMPQ R10, $4
	JNE  pnnopf
	MOVQ pa-8(SP), R13
	LEAQ (R8)(R8*2), AX
	LEAQ (R13)(AX*2), R13     // the next panel's row 0
#define PFROW PREFETCHT0 (R13); PREFETCHT0 64(R13); PREFETCHT0 128(R13); PREFETCHT0 192(R13); ADDQ R8, R13
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW
	PFROW

pnnopf:
	MOVQ n+72(FP), AX
	XORQ BX, BX

pntile:
	MOVQ pa-8(SP), SI
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9
	MOVQ b+32(FP), DI
	ADDQ BX, DI
	MOVQ pc-16(SP), DX
	ADDQ BX, DX
	MOVQ kd+0(FP), CX

	MOVQ       DX, R13
	PREFETCHT0 (R13)
	PREFETCHT0 60(R13)
	ADDQ       R12, R13
	PREFETCHT0 (R13)
	PREFETCHT0 60(R13)
	ADDQ       R12, R13
	PREFETCHT0 (R13)
	PREFETCHT0 60(R13)
	ADDQ       R12, R13
	PREFETCHT0 (R13)
	PREFETCHT0 60(R13)
	ADDQ       R12, R13
	PREFETCHT0 (R13)
	PREFETCHT0 60(R13)
	ADDQ       R12, R13
	PREFETCHT0 (R13)
	PREFETCHT0 60(R13)

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

pnloop:
	VMOVUPS      (DI), Y12
	VMOVUPS      32(DI), Y13
	VBROADCASTSS (SI), Y14
	VBROADCASTSS (SI)(R8*1), Y15
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (SI)(R8*2), Y14
	VBROADCASTSS (R9), Y15
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS (R9)(R8*1), Y14
	VBROADCASTSS (R9)(R8*2), Y15
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         R10, SI
	ADDQ         R10, R9
	ADDQ         R11, DI
	DECQ         CX
	JNZ          pnloop

	MOVQ mode+88(FP), R13
	CMPQ R13, $1
	JEQ  pnadd
	JGT  pnscale

#define PNSET(r0, r1) VMOVUPS r0, (DX); VMOVUPS r1, 32(DX); ADDQ R12, DX
	PNSET(Y0, Y1)
	PNSET(Y2, Y3)
	PNSET(Y4, Y5)
	PNSET(Y6, Y7)
	PNSET(Y8, Y9)
	PNSET(Y10, Y11)
	JMP pnnext

pnadd:
#define PNADD(r0, r1) VADDPS (DX), r0, r0; VADDPS 32(DX), r1, r1; VMOVUPS r0, (DX); VMOVUPS r1, 32(DX); ADDQ R12, DX
	PNADD(Y0, Y1)
	PNADD(Y2, Y3)
	PNADD(Y4, Y5)
	PNADD(Y6, Y7)
	PNADD(Y8, Y9)
	PNADD(Y10, Y11)
	JMP pnnext

pnscale:
	MOVQ ps-24(SP), R13
#define PNSCALE(r0, r1, off) VBROADCASTSS off(R13), Y12; VFMADD231PS (DX), Y12, r0; VFMADD231PS 32(DX), Y12, r1; VMOVUPS r0, (DX); VMOVUPS r1, 32(DX); ADDQ R12, DX
	PNSCALE(Y0, Y1, 0)
	PNSCALE(Y2, Y3, 4)
	PNSCALE(Y4, Y5, 8)
	PNSCALE(Y6, Y7, 12)
	PNSCALE(Y8, Y9, 16)
	PNSCALE(Y10, Y11, 20)

pnnext:
	ADDQ $64, BX
	SUBQ $16, AX
	JNZ  pntile

	// Next panel: a, c move 6 rows, sc 6 floats.
	LEAQ (R8)(R8*2), AX
	SHLQ $1, AX
	ADDQ AX, pa-8(SP)
	LEAQ (R12)(R12*2), AX
	SHLQ $1, AX
	ADDQ AX, pc-16(SP)
	ADDQ $24, ps-24(SP)
	SUBQ $6, pr-32(SP)
	JNZ  pnpanel
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// attTransposeAVX2: dst[c*ldd + r] = src[r*lds + c] for r < rows, c < cols
// (both multiples of 8), in 8×8 blocks: 8 row loads, unpack pairs of rows
// (Y8–Y15), shuffle pairs of pairs (Y0–Y7), swap 128-bit halves, 8 stores.
//
// func attTransposeAVX2(rows, cols int, src *float32, lds int, dst *float32, ldd int)
TEXT ·attTransposeAVX2(SB), NOSPLIT, $0-48
	MOVQ rows+0(FP), CX
	MOVQ src+16(FP), SI
	MOVQ lds+24(FP), R8
	SHLQ $2, R8
	MOVQ dst+32(FP), DI
	MOVQ ldd+40(FP), R9
	SHLQ $2, R9

trrows:
	MOVQ cols+8(FP), DX
	MOVQ SI, R10
	MOVQ DI, R11

trblock:
	MOVQ    R10, R12
	VMOVUPS (R12), Y0
	ADDQ    R8, R12
	VMOVUPS (R12), Y1
	ADDQ    R8, R12
	VMOVUPS (R12), Y2
	ADDQ    R8, R12
	VMOVUPS (R12), Y3
	ADDQ    R8, R12
	VMOVUPS (R12), Y4
	ADDQ    R8, R12
	VMOVUPS (R12), Y5
	ADDQ    R8, R12
	VMOVUPS (R12), Y6
	ADDQ    R8, R12
	VMOVUPS (R12), Y7

	VUNPCKLPS Y1, Y0, Y8
	VUNPCKHPS Y1, Y0, Y9
	VUNPCKLPS Y3, Y2, Y10
	VUNPCKHPS Y3, Y2, Y11
	VUNPCKLPS Y5, Y4, Y12
	VUNPCKHPS Y5, Y4, Y13
	VUNPCKLPS Y7, Y6, Y14
	VUNPCKHPS Y7, Y6, Y15
	VSHUFPS   $0x44, Y10, Y8, Y0
	VSHUFPS   $0xee, Y10, Y8, Y1
	VSHUFPS   $0x44, Y11, Y9, Y2
	VSHUFPS   $0xee, Y11, Y9, Y3
	VSHUFPS   $0x44, Y14, Y12, Y4
	VSHUFPS   $0xee, Y14, Y12, Y5
	VSHUFPS   $0x44, Y15, Y13, Y6
	VSHUFPS   $0xee, Y15, Y13, Y7

	MOVQ       R11, R12
	VPERM2F128 $0x20, Y4, Y0, Y8
	VMOVUPS    Y8, (R12)
	ADDQ       R9, R12
	VPERM2F128 $0x20, Y5, Y1, Y8
	VMOVUPS    Y8, (R12)
	ADDQ       R9, R12
	VPERM2F128 $0x20, Y6, Y2, Y8
	VMOVUPS    Y8, (R12)
	ADDQ       R9, R12
	VPERM2F128 $0x20, Y7, Y3, Y8
	VMOVUPS    Y8, (R12)
	ADDQ       R9, R12
	VPERM2F128 $0x31, Y4, Y0, Y8
	VMOVUPS    Y8, (R12)
	ADDQ       R9, R12
	VPERM2F128 $0x31, Y5, Y1, Y8
	VMOVUPS    Y8, (R12)
	ADDQ       R9, R12
	VPERM2F128 $0x31, Y6, Y2, Y8
	VMOVUPS    Y8, (R12)
	ADDQ       R9, R12
	VPERM2F128 $0x31, Y7, Y3, Y8
	VMOVUPS    Y8, (R12)

	ADDQ $32, R10
	LEAQ (R11)(R9*8), R11
	SUBQ $8, DX
	JNZ  trblock

	LEAQ (SI)(R8*8), SI
	ADDQ $32, DI
	SUBQ $8, CX
	JNZ  trrows
	VZEROUPPER
	RET

// ---------------------------------------------------------------------------
// attPrefetch (SSE's PREFETCHT1, on every amd64): asks for rows runs of
// bytes bytes (> 0), ld bytes apart from p, to be brought into L2, one
// PREFETCHT1 per 64 bytes.
//
// func attPrefetch(p *float32, rows, bytes, ld int)
TEXT ·attPrefetch(SB), NOSPLIT, $0-32
	MOVQ p+0(FP), SI
	MOVQ rows+8(FP), CX
	MOVQ ld+24(FP), R8
	TESTQ CX, CX
	JZ   pfdone

pfrow:
	MOVQ bytes+16(FP), DX
	MOVQ SI, DI

pfline:
	PREFETCHT1 (DI)
	ADDQ       $64, DI
	SUBQ       $64, DX
	JGT        pfline
	ADDQ       R8, SI
	DECQ       CX
	JNZ        pfrow

pfdone:
	RET

// ---------------------------------------------------------------------------
// attRowDotsAVX2: out[i] = Σ_{p<hs} a[i*lda+p]·b[i*ldb+p] for i < rows,
// hs a positive multiple of 8: two accumulators (16 floats a step, then
// an odd 8), summed and reduced across lanes at the end of each row.
//
// func attRowDotsAVX2(rows, hs int, a *float32, lda int, b *float32, ldb int, out *float32)
TEXT ·attRowDotsAVX2(SB), NOSPLIT, $0-56
	MOVQ rows+0(FP), CX
	MOVQ a+16(FP), SI
	MOVQ lda+24(FP), R8
	SHLQ $2, R8
	MOVQ b+32(FP), DI
	MOVQ ldb+40(FP), R9
	SHLQ $2, R9
	MOVQ out+48(FP), R10

rdrow:
	MOVQ   hs+8(FP), DX
	XORQ   AX, AX
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1

rd16:
	CMPQ        DX, $16
	JLT         rd8
	VMOVUPS     (SI)(AX*1), Y2
	VMOVUPS     32(SI)(AX*1), Y3
	VFMADD231PS (DI)(AX*1), Y2, Y0
	VFMADD231PS 32(DI)(AX*1), Y3, Y1
	ADDQ        $64, AX
	SUBQ        $16, DX
	JMP         rd16

rd8:
	TESTQ       DX, DX
	JZ          rdsum
	VMOVUPS     (SI)(AX*1), Y2
	VFMADD231PS (DI)(AX*1), Y2, Y0

rdsum:
	VADDPS       Y1, Y0, Y0
	VEXTRACTF128 $1, Y0, X1
	VADDPS       X1, X0, X0
	VHADDPS      X0, X0, X0
	VHADDPS      X0, X0, X0
	VMOVSS       X0, (R10)
	ADDQ         R8, SI
	ADDQ         R9, DI
	ADDQ         $4, R10
	DECQ         CX
	JNZ          rdrow
	VZEROUPPER
	RET
