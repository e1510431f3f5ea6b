#include "textflag.h"

// Q8_0 dot kernels (q8.go): four weight rows of nb Q8_0 blocks (34 bytes:
// f16 scale, 32 int8 quants) against one quantized activation row (int8
// quants, float32 block scales). Per block and row: d = dx·dw; the 32
// products are summed exactly into 8 int32 lanes (4 adjacent products
// each); acc += float32(lanes)·d (multiply, then add: the pure-Go twin's
// order, so every kind gives the same bits).
//
// Each block step prefetches the same place in the next group of 4 rows
// (4·ldw bytes on, where the next call reads): with ~10 instructions per
// 34 bytes, out-of-order execution alone keeps too few cache misses in
// flight, and decode, streaming the weights from memory, ran at half the
// bandwidth the float32 kernel reaches.
//
// Registers: SI xq, DX xd, DI R9 R10 R11 the 4 weight rows, CX blocks left,
// Y0-Y3 accumulators, Y4 int16 ones (AVX2), Y14 the activation quants,
// Y15 dx broadcast.
//
// The int8·int8 product uses the sign trick (as llama.cpp): |w| is
// unsigned and x·sign(w) signed, so vpmaddubsw (or vpdpbusd) multiplies
// them; |w| ≤ 128 and |x| ≤ 127 keep vpmaddubsw's int16 pair sums below
// saturation (2·128·127 = 32512).

// Q8ROWAVX2(W, acc): acc += float32(Σ4 x·w)·(dx·dw) for the block at W.
#define Q8ROWAVX2(W, acc) \
	PREFETCHT0   (W)(R8*4); \
	VPBROADCASTW (W), X13; \
	VCVTPH2PS    X13, Y13; \
	VMULPS       Y15, Y13, Y13; \
	VPABSB       2(W), Y12; \
	VPSIGNB      2(W), Y14, Y11; \
	VPMADDUBSW   Y11, Y12, Y12; \
	VPMADDWD     Y4, Y12, Y12; \
	VCVTDQ2PS    Y12, Y12; \
	VMULPS       Y13, Y12, Y12; \
	VADDPS       Y12, acc, acc

// Q8ROWVNNI is Q8ROWAVX2 with one vpdpbusd (u8·s8, 4 products per int32
// lane) in place of vpmaddubsw + vpmaddwd.
#define Q8ROWVNNI(W, acc) \
	PREFETCHT0   (W)(R8*4); \
	VPBROADCASTW (W), X13; \
	VCVTPH2PS    X13, Y13; \
	VMULPS       Y15, Y13, Y13; \
	VPABSB       2(W), Y12; \
	VPSIGNB      2(W), Y14, Y11; \
	VPXOR        Y10, Y10, Y10; \
	VPDPBUSD     Y11, Y12, Y10; \
	VCVTDQ2PS    Y10, Y10; \
	VMULPS       Y13, Y10, Y10; \
	VADDPS       Y10, acc, acc

#define Q8PROLOGUE \
	MOVQ   nb+0(FP), CX; \
	MOVQ   xq+8(FP), SI; \
	MOVQ   xd+16(FP), DX; \
	MOVQ   w+24(FP), DI; \
	MOVQ   ldw+32(FP), R8; \
	LEAQ   (DI)(R8*1), R9; \
	LEAQ   (DI)(R8*2), R10; \
	LEAQ   (R9)(R8*2), R11; \
	VXORPS Y0, Y0, Y0; \
	VXORPS Y1, Y1, Y1; \
	VXORPS Y2, Y2, Y2; \
	VXORPS Y3, Y3, Y3

#define Q8NEXT \
	ADDQ $32, SI; \
	ADDQ $4, DX; \
	ADDQ $34, DI; \
	ADDQ $34, R9; \
	ADDQ $34, R10; \
	ADDQ $34, R11; \
	DECQ CX

// Q8REDUCE stores ((l0+l1)+(l2+l3))+((l4+l5)+(l6+l7)) of Y0..Y3 to out.
#define Q8REDUCE \
	MOVQ         out+40(FP), DX; \
	VHADDPS      Y1, Y0, Y0; \
	VHADDPS      Y3, Y2, Y2; \
	VHADDPS      Y2, Y0, Y0; \
	VEXTRACTF128 $1, Y0, X1; \
	VADDPS       X1, X0, X0; \
	VMOVUPS      X0, (DX); \
	VZEROUPPER

// func q8Dot4AVX2(nb int, xq *int8, xd *float32, w *byte, ldw int, out *[4]float32)
TEXT ·q8Dot4AVX2(SB), NOSPLIT, $0-48
	Q8PROLOGUE
	VPCMPEQW Y4, Y4, Y4 // int16 ones: all bits set, shifted right by 15
	VPSRLW   $15, Y4, Y4

avx2loop:
	VBROADCASTSS (DX), Y15
	VMOVDQU      (SI), Y14
	Q8ROWAVX2(DI, Y0)
	Q8ROWAVX2(R9, Y1)
	Q8ROWAVX2(R10, Y2)
	Q8ROWAVX2(R11, Y3)
	Q8NEXT
	JNZ avx2loop
	Q8REDUCE
	RET

// func q8Dot4VNNI(nb int, xq *int8, xd *float32, w *byte, ldw int, out *[4]float32)
TEXT ·q8Dot4VNNI(SB), NOSPLIT, $0-48
	Q8PROLOGUE

vnniloop:
	VBROADCASTSS (DX), Y15
	VMOVDQU      (SI), Y14
	Q8ROWVNNI(DI, Y0)
	Q8ROWVNNI(R9, Y1)
	Q8ROWVNNI(R10, Y2)
	Q8ROWVNNI(R11, Y3)
	Q8NEXT
	JNZ vnniloop
	Q8REDUCE
	RET
