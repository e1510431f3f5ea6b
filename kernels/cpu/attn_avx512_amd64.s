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
// spent on padding. Register and frame use as in attPanelAVX2.

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

// One C row's tile lines, prefetched before the k loop (R13 walks the rows).
#define PFC PREFETCHT0 (R13); PREFETCHT0 64(R13); PREFETCHT0 128(R13); PREFETCHT0 192(R13); ADDQ R12, R13

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
	MOVQ DX, R13
	PFC
	PFC
	PFC
	PFC
	PFC
	PFC
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
