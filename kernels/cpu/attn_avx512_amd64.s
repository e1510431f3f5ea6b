//go:build amd64

#include "textflag.h"

// AVX-512F kernels of the tiled attention (attention.go), the 512-bit
// twins of attn_amd64.s, used when the Backend's GEMM kind is AVX512.
// Only AVX-512F instructions are used (VPXORD, not VXORPS, for zeroing),
// which is what gemm.Supported(gemm.AVX512) checks.

// ---------------------------------------------------------------------------
// attPanelAVX512: attPanelAVX2's product (same arguments, same modes) on
// 6 × 64-column tiles: 24 accumulators Z0–Z23, B's row of the tile in
// Z24–Z27, A's broadcasts in Z28–Z31 (two rows at a time). A last tile
// narrower than 64 columns (n mod 64 = 16, 32, 48: the score products'
// 48 query rows) runs its own loop on 1–3 vectors per row, so no FMA is
// spent on padding. Register and frame use as in attPanelAVX2; unlike it,
// C is not prefetched (measured no faster: C is mostly scratch in L1).

#define BC01 VBROADCASTSS (SI), Z28; VBROADCASTSS (SI)(R8*1), Z29
#define BC23 VBROADCASTSS (SI)(R8*2), Z30; VBROADCASTSS (R9), Z31
#define BC45 VBROADCASTSS (R9)(R8*1), Z28; VBROADCASTSS (R9)(R8*2), Z29

#define F4(bc, a0, a1, a2, a3) VFMADD231PS Z24, bc, a0; VFMADD231PS Z25, bc, a1; VFMADD231PS Z26, bc, a2; VFMADD231PS Z27, bc, a3
#define F3(bc, a0, a1, a2) VFMADD231PS Z24, bc, a0; VFMADD231PS Z25, bc, a1; VFMADD231PS Z26, bc, a2
#define F2(bc, a0, a1) VFMADD231PS Z24, bc, a0; VFMADD231PS Z25, bc, a1
#define F1(bc, a0) VFMADD231PS Z24, bc, a0

#define KSTEP4 VMOVUPS (DI), Z24; VMOVUPS 64(DI), Z25; VMOVUPS 128(DI), Z26; VMOVUPS 192(DI), Z27; \
	BC01; F4(Z28, Z0, Z1, Z2, Z3); F4(Z29, Z4, Z5, Z6, Z7); \
	BC23; F4(Z30, Z8, Z9, Z10, Z11); F4(Z31, Z12, Z13, Z14, Z15); \
	BC45; F4(Z28, Z16, Z17, Z18, Z19); F4(Z29, Z20, Z21, Z22, Z23)
#define KSTEP3 VMOVUPS (DI), Z24; VMOVUPS 64(DI), Z25; VMOVUPS 128(DI), Z26; \
	BC01; F3(Z28, Z0, Z1, Z2); F3(Z29, Z3, Z4, Z5); \
	BC23; F3(Z30, Z6, Z7, Z8); F3(Z31, Z9, Z10, Z11); \
	BC45; F3(Z28, Z12, Z13, Z14); F3(Z29, Z15, Z16, Z17)
#define KSTEP2 VMOVUPS (DI), Z24; VMOVUPS 64(DI), Z25; \
	BC01; F2(Z28, Z0, Z1); F2(Z29, Z2, Z3); \
	BC23; F2(Z30, Z4, Z5); F2(Z31, Z6, Z7); \
	BC45; F2(Z28, Z8, Z9); F2(Z29, Z10, Z11)
#define KSTEP1 VMOVUPS (DI), Z24; \
	BC01; F1(Z28, Z0); F1(Z29, Z1); \
	BC23; F1(Z30, Z2); F1(Z31, Z3); \
	BC45; F1(Z28, Z4); F1(Z29, Z5)

#define ZERO6(a, b, c, d, e, f) VPXORD a, a, a; VPXORD b, b, b; VPXORD c, c, c; VPXORD d, d, d; VPXORD e, e, e; VPXORD f, f, f
#define ZERO1 ZERO6(Z0, Z1, Z2, Z3, Z4, Z5)
#define ZERO2 ZERO1; ZERO6(Z6, Z7, Z8, Z9, Z10, Z11)
#define ZERO3 ZERO2; ZERO6(Z12, Z13, Z14, Z15, Z16, Z17)
#define ZERO4 ZERO3; ZERO6(Z18, Z19, Z20, Z21, Z22, Z23)

// Stores of one row of C (DX, then the next row): set, add, and scale by
// sc[i] (at off(R13)).
#define SET4(a0, a1, a2, a3) VMOVUPS a0, (DX); VMOVUPS a1, 64(DX); VMOVUPS a2, 128(DX); VMOVUPS a3, 192(DX); ADDQ R12, DX
#define SET3(a0, a1, a2) VMOVUPS a0, (DX); VMOVUPS a1, 64(DX); VMOVUPS a2, 128(DX); ADDQ R12, DX
#define SET2(a0, a1) VMOVUPS a0, (DX); VMOVUPS a1, 64(DX); ADDQ R12, DX
#define SET1(a0) VMOVUPS a0, (DX); ADDQ R12, DX
#define ADD4(a0, a1, a2, a3) VADDPS (DX), a0, a0; VADDPS 64(DX), a1, a1; VADDPS 128(DX), a2, a2; VADDPS 192(DX), a3, a3; SET4(a0, a1, a2, a3)
#define ADD3(a0, a1, a2) VADDPS (DX), a0, a0; VADDPS 64(DX), a1, a1; VADDPS 128(DX), a2, a2; SET3(a0, a1, a2)
#define ADD2(a0, a1) VADDPS (DX), a0, a0; VADDPS 64(DX), a1, a1; SET2(a0, a1)
#define ADD1(a0) VADDPS (DX), a0, a0; SET1(a0)
#define SCL4(off, a0, a1, a2, a3) VBROADCASTSS off(R13), Z24; VFMADD231PS (DX), Z24, a0; VFMADD231PS 64(DX), Z24, a1; VFMADD231PS 128(DX), Z24, a2; VFMADD231PS 192(DX), Z24, a3; SET4(a0, a1, a2, a3)
#define SCL3(off, a0, a1, a2) VBROADCASTSS off(R13), Z24; VFMADD231PS (DX), Z24, a0; VFMADD231PS 64(DX), Z24, a1; VFMADD231PS 128(DX), Z24, a2; SET3(a0, a1, a2)
#define SCL2(off, a0, a1) VBROADCASTSS off(R13), Z24; VFMADD231PS (DX), Z24, a0; VFMADD231PS 64(DX), Z24, a1; SET2(a0, a1)
#define SCL1(off, a0) VBROADCASTSS off(R13), Z24; VFMADD231PS (DX), Z24, a0; SET1(a0)

// func attPanelAVX512(kd int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, rows, n int, sc *float32, mode int)
TEXT ·attPanelAVX512(SB), NOSPLIT, $32-96
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
	CMPQ AX, $64
	JGE  pnw4
	CMPQ AX, $32
	JGT  pnw3
	JEQ  pnw2
	JMP  pnw1

pnw4:
	ZERO4
pnk4:
	KSTEP4
	ADDQ R10, SI
	ADDQ R10, R9
	ADDQ R11, DI
	DECQ CX
	JNZ  pnk4
	MOVQ mode+88(FP), R13
	CMPQ R13, $1
	JEQ  pnadd4
	JGT  pnscale4
	SET4(Z0, Z1, Z2, Z3)
	SET4(Z4, Z5, Z6, Z7)
	SET4(Z8, Z9, Z10, Z11)
	SET4(Z12, Z13, Z14, Z15)
	SET4(Z16, Z17, Z18, Z19)
	SET4(Z20, Z21, Z22, Z23)
	JMP  pnnext4
pnadd4:
	ADD4(Z0, Z1, Z2, Z3)
	ADD4(Z4, Z5, Z6, Z7)
	ADD4(Z8, Z9, Z10, Z11)
	ADD4(Z12, Z13, Z14, Z15)
	ADD4(Z16, Z17, Z18, Z19)
	ADD4(Z20, Z21, Z22, Z23)
	JMP  pnnext4
pnscale4:
	MOVQ ps-24(SP), R13
	SCL4(0, Z0, Z1, Z2, Z3)
	SCL4(4, Z4, Z5, Z6, Z7)
	SCL4(8, Z8, Z9, Z10, Z11)
	SCL4(12, Z12, Z13, Z14, Z15)
	SCL4(16, Z16, Z17, Z18, Z19)
	SCL4(20, Z20, Z21, Z22, Z23)
pnnext4:
	ADDQ $256, BX
	SUBQ $64, AX
	JNZ  pntile
	JMP  pnpanelend

pnw3:
	ZERO3
pnk3:
	KSTEP3
	ADDQ R10, SI
	ADDQ R10, R9
	ADDQ R11, DI
	DECQ CX
	JNZ  pnk3
	MOVQ mode+88(FP), R13
	CMPQ R13, $1
	JEQ  pnadd3
	JGT  pnscale3
	SET3(Z0, Z1, Z2)
	SET3(Z3, Z4, Z5)
	SET3(Z6, Z7, Z8)
	SET3(Z9, Z10, Z11)
	SET3(Z12, Z13, Z14)
	SET3(Z15, Z16, Z17)
	JMP  pnnext3
pnadd3:
	ADD3(Z0, Z1, Z2)
	ADD3(Z3, Z4, Z5)
	ADD3(Z6, Z7, Z8)
	ADD3(Z9, Z10, Z11)
	ADD3(Z12, Z13, Z14)
	ADD3(Z15, Z16, Z17)
	JMP  pnnext3
pnscale3:
	MOVQ ps-24(SP), R13
	SCL3(0, Z0, Z1, Z2)
	SCL3(4, Z3, Z4, Z5)
	SCL3(8, Z6, Z7, Z8)
	SCL3(12, Z9, Z10, Z11)
	SCL3(16, Z12, Z13, Z14)
	SCL3(20, Z15, Z16, Z17)
pnnext3:
	ADDQ $192, BX
	SUBQ $48, AX
	JNZ  pntile
	JMP  pnpanelend

pnw2:
	ZERO2
pnk2:
	KSTEP2
	ADDQ R10, SI
	ADDQ R10, R9
	ADDQ R11, DI
	DECQ CX
	JNZ  pnk2
	MOVQ mode+88(FP), R13
	CMPQ R13, $1
	JEQ  pnadd2
	JGT  pnscale2
	SET2(Z0, Z1)
	SET2(Z2, Z3)
	SET2(Z4, Z5)
	SET2(Z6, Z7)
	SET2(Z8, Z9)
	SET2(Z10, Z11)
	JMP  pnnext2
pnadd2:
	ADD2(Z0, Z1)
	ADD2(Z2, Z3)
	ADD2(Z4, Z5)
	ADD2(Z6, Z7)
	ADD2(Z8, Z9)
	ADD2(Z10, Z11)
	JMP  pnnext2
pnscale2:
	MOVQ ps-24(SP), R13
	SCL2(0, Z0, Z1)
	SCL2(4, Z2, Z3)
	SCL2(8, Z4, Z5)
	SCL2(12, Z6, Z7)
	SCL2(16, Z8, Z9)
	SCL2(20, Z10, Z11)
pnnext2:
	ADDQ $128, BX
	SUBQ $32, AX
	JNZ  pntile
	JMP  pnpanelend

pnw1:
	ZERO1
pnk1:
	KSTEP1
	ADDQ R10, SI
	ADDQ R10, R9
	ADDQ R11, DI
	DECQ CX
	JNZ  pnk1
	MOVQ mode+88(FP), R13
	CMPQ R13, $1
	JEQ  pnadd1
	JGT  pnscale1
	SET1(Z0)
	SET1(Z1)
	SET1(Z2)
	SET1(Z3)
	SET1(Z4)
	SET1(Z5)
	JMP  pnnext1
pnadd1:
	ADD1(Z0)
	ADD1(Z1)
	ADD1(Z2)
	ADD1(Z3)
	ADD1(Z4)
	ADD1(Z5)
	JMP  pnnext1
pnscale1:
	MOVQ ps-24(SP), R13
	SCL1(0, Z0)
	SCL1(4, Z1)
	SCL1(8, Z2)
	SCL1(12, Z3)
	SCL1(16, Z4)
	SCL1(20, Z5)
pnnext1:
	ADDQ $64, BX
	SUBQ $16, AX
	JNZ  pntile

pnpanelend:
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
// The softmax steps, attSoftmaxAVX2 and attSoftmaxBackAVX2 on strips of
// 16 query rows, with the same exp arithmetic (AEXP2 in attn_amd64.s):
// the constants live in Z16–Z29, and the final "zero below the normal
// range" is a zero-masked multiply instead of an AND. The causal mask
// is a merge-masked move of −Inf (K3, K4).

// The constants of attn_amd64.s's AEXP2 (file-local there), one float
// each, broadcast once per call.
#define CONST(name, v) DATA name<>+0(SB)/4, v; GLOBL name<>(SB), RODATA|NOPTR, $4

CONST(zlog2e, $0x3fb8aa3b)
CONST(zc1, $0x3f318000)
CONST(zc2, $0xb95e8083)
CONST(zp0, $0x39506967)
CONST(zp1, $0x3ab743ce)
CONST(zp2, $0x3c088908)
CONST(zp3, $0x3d2aa9c1)
CONST(zp4, $0x3e2aaaaa)
CONST(zp5, $0x3f000000)
CONST(zhi, $0x42b00000)
CONST(zlo, $0xc2aeac4f)
CONST(zone, $0x3f800000)
CONST(zninf, $0xff800000)
CONST(zmagic, $0x4b400000)
CONST(z127s, $0x3f800000)

#define BCAST(sym, reg) VBROADCASTSS sym<>(SB), reg
#define EXPCONSTS \
	BCAST(zlog2e, Z16); BCAST(zc1, Z17); BCAST(zc2, Z18); BCAST(zp0, Z19); \
	BCAST(zp1, Z20); BCAST(zp2, Z21); BCAST(zp3, Z22); BCAST(zp4, Z23); \
	BCAST(zp5, Z24); BCAST(zone, Z25); BCAST(zlo, Z26); BCAST(zmagic, Z27); \
	BCAST(zninf, Z28); BCAST(z127s, Z29); BCAST(zhi, Z30)

// ZEXP2(x, t, p, q, k, y, t2, p2, q2, k2): x = exp(x), y = exp(y).
#define ZEXP2(x, t, p, q, k, y, t2, p2, q2, k2) \
	VCMPPS       $0x1d, Z26, x, k; \
	VCMPPS       $0x1d, Z26, y, k2; \
	VMOVAPS      Z27, t; \
	VMOVAPS      Z27, t2; \
	VFMADD231PS  Z16, x, t; \
	VFMADD231PS  Z16, y, t2; \
	VSUBPS       Z27, t, p; \
	VSUBPS       Z27, t2, p2; \
	VFNMADD231PS Z17, p, x; \
	VFNMADD231PS Z17, p2, y; \
	VFNMADD231PS Z18, p, x; \
	VFNMADD231PS Z18, p2, y; \
	VMULPS       x, x, p; \
	VMULPS       y, y, p2; \
	VMOVAPS      Z19, q; \
	VMOVAPS      Z19, q2; \
	VFMADD213PS  Z20, x, q; \
	VFMADD213PS  Z20, y, q2; \
	VFMADD213PS  Z21, x, q; \
	VFMADD213PS  Z21, y, q2; \
	VFMADD213PS  Z22, x, q; \
	VFMADD213PS  Z22, y, q2; \
	VFMADD213PS  Z23, x, q; \
	VFMADD213PS  Z23, y, q2; \
	VFMADD213PS  Z24, x, q; \
	VFMADD213PS  Z24, y, q2; \
	VFMADD213PS  x, p, q; \
	VFMADD213PS  y, p2, q2; \
	VADDPS       Z25, q, q; \
	VADDPS       Z25, q2, q2; \
	VPSLLD       $23, t, t; \
	VPSLLD       $23, t2, t2; \
	VPADDD       Z29, t, t; \
	VPADDD       Z29, t2, t2; \
	VMULPS.Z     t, q, k, x; \
	VMULPS.Z     t2, q2, k2, y

#define ZEXPA ZEXP2(Z0, Z1, Z2, Z3, K1, Z7, Z8, Z9, Z10, K2)

// attSoftmaxAVX512: attSoftmaxAVX2 for w a positive multiple of 16; the
// strip's limits in Z5, the key index in Z14, the running max in Z15, the
// sum in Z12.
//
// func attSoftmaxAVX512(nb, w int, s *float32, lds int, lim *float32, j0 float32, mx, l, alpha *float32, all int)
TEXT ·attSoftmaxAVX512(SB), NOSPLIT, $0-80
	MOVQ nb+0(FP), BX
	MOVQ w+8(FP), CX
	MOVQ s+16(FP), SI
	MOVQ lds+24(FP), R8
	SHLQ $2, R8
	MOVQ lim+32(FP), R9
	MOVQ mx+48(FP), R10
	MOVQ l+56(FP), R11
	MOVQ alpha+64(FP), R12
	EXPCONSTS

zsstrip:
	VMOVUPS      (R9), Z5
	VBROADCASTSS j0+40(FP), Z14
	VMOVUPS      (R10), Z15
	MOVQ         SI, DI
	MOVQ         BX, DX
	CMPQ         all+72(FP), $0
	JEQ          zsmax

zsmaxall:
	VMAXPS (DI), Z15, Z15
	ADDQ   R8, DI
	DECQ   DX
	JNZ    zsmaxall
	JMP    zsalpha

zsmax:
	VMOVUPS (DI), Z0
	VCMPPS  $0x1e, Z5, Z14, K3       // j0+j > lim
	VMOVAPS Z28, K3, Z0
	VMOVUPS Z0, (DI)
	VMAXPS  Z0, Z15, Z15
	VADDPS  Z25, Z14, Z14
	ADDQ    R8, DI
	DECQ    DX
	JNZ     zsmax

zsalpha:
	VMOVUPS (R10), Z0
	VMOVUPS Z15, (R10)
	VSUBPS  Z15, Z0, Z0
	VPXORD  Z7, Z7, Z7
	ZEXPA
	VMOVUPS Z0, (R12)
	VPXORD  Z12, Z12, Z12
	MOVQ    SI, DI
	MOVQ    BX, DX
	TESTQ   $1, DX
	JZ      zspairs

	VMOVUPS (DI), Z0
	VSUBPS  Z15, Z0, Z0
	VPXORD  Z7, Z7, Z7
	ZEXPA
	VADDPS  Z0, Z12, Z12
	VMOVUPS Z0, (DI)
	ADDQ    R8, DI
	DECQ    DX
	JZ      zssum

zspairs:
	VMOVUPS (DI), Z0
	VMOVUPS (DI)(R8*1), Z7
	VSUBPS  Z15, Z0, Z0
	VSUBPS  Z15, Z7, Z7
	ZEXPA
	VADDPS  Z0, Z12, Z12
	VADDPS  Z7, Z12, Z12
	VMOVUPS Z0, (DI)
	VMOVUPS Z7, (DI)(R8*1)
	LEAQ    (DI)(R8*2), DI
	SUBQ    $2, DX
	JNZ     zspairs

zssum:
	VMOVUPS (R12), Z0
	VMULPS  (R11), Z0, Z0
	VADDPS  Z12, Z0, Z0
	VMOVUPS Z0, (R11)

	ADDQ $64, SI
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	ADDQ $64, R12
	SUBQ $16, CX
	JNZ  zsstrip
	VZEROUPPER
	RET

// attSoftmaxBackAVX512: attSoftmaxBackAVX2 for w a positive multiple of
// 16; the strip's lim, lse and D in Z5, Z6, Z13, the key index in Z15;
// R13 = dp − s.
//
// func attSoftmaxBackAVX512(nb, w int, s, dp *float32, lds int, lim *float32, j0 float32, lse, d *float32)
TEXT ·attSoftmaxBackAVX512(SB), NOSPLIT, $0-72
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
	EXPCONSTS

zbstrip:
	VBROADCASTSS j0+48(FP), Z15
	VMOVUPS      (R9), Z5
	VMOVUPS      (R10), Z6
	VMOVUPS      (R11), Z13
	MOVQ         SI, DI
	MOVQ         BX, DX

zbpair:
	CMPQ DX, $1
	JEQ  zblast

	VMOVUPS  (DI), Z0
	VMOVUPS  (DI)(R8*1), Z7
	VCMPPS   $0x1e, Z5, Z15, K3      // j0+j > lim
	VADDPS   Z25, Z15, Z8
	VCMPPS   $0x1e, Z5, Z8, K4
	VMOVAPS  Z28, K3, Z0
	VMOVAPS  Z28, K4, Z7
	VSUBPS   Z6, Z0, Z0
	VSUBPS   Z6, Z7, Z7
	VMINPS   Z30, Z0, Z0
	VMINPS   Z30, Z7, Z7
	ZEXPA
	VMOVUPS  Z0, (DI)
	VMOVUPS  Z7, (DI)(R8*1)
	LEAQ     (DI)(R13*1), AX
	VMOVUPS  (AX), Z1
	VMOVUPS  (AX)(R8*1), Z8
	VSUBPS   Z13, Z1, Z1
	VSUBPS   Z13, Z8, Z8
	VMULPS   Z1, Z0, Z1
	VMULPS   Z8, Z7, Z8
	VMOVUPS  Z1, (AX)
	VMOVUPS  Z8, (AX)(R8*1)
	VADDPS   Z25, Z15, Z15
	VADDPS   Z25, Z15, Z15
	LEAQ     (DI)(R8*2), DI
	SUBQ     $2, DX
	JNZ      zbpair
	JMP      zbnext

zblast:
	VMOVUPS (DI), Z0
	VCMPPS  $0x1e, Z5, Z15, K3
	VMOVAPS Z28, K3, Z0
	VSUBPS  Z6, Z0, Z0
	VMINPS  Z30, Z0, Z0
	VPXORD  Z7, Z7, Z7
	ZEXPA
	VMOVUPS Z0, (DI)
	VMOVUPS (DI)(R13*1), Z1
	VSUBPS  Z13, Z1, Z1
	VMULPS  Z1, Z0, Z1
	VMOVUPS Z1, (DI)(R13*1)

zbnext:
	ADDQ $64, SI
	ADDQ $64, R9
	ADDQ $64, R10
	ADDQ $64, R11
	SUBQ $16, CX
	JNZ  zbstrip
	VZEROUPPER
	RET
