package cuda

import (
	"math"
	"unsafe"
)

// Device-pointer kernels: each launches on addresses already on the GPU
// and neither copies nor synchronises. The kernels.Backend methods in
// ops.go are these plus staging copies; a device-resident model (see
// README.md) would call these directly on its Buffers.

// dGemm: c = op(a)·op(b) (+= when accumulate), row-major, in the
// Backend's precision. In BF16 (FP16) mode both inputs are rounded into
// 16-bit staging slots sBF16A/sBF16B first.
func (b *Backend) dGemm(c, a, w dptr, m, n, k int, transA, transB, accumulate bool) {
	g := gemmArgs(m, n, k, transA, transB)
	beta := &b.zero
	if accumulate {
		beta = &b.one
	}
	bl := &b.lib.blas
	if b.prec == FP32 {
		b.must(bl.check("cublasSgemm_v2", bl.cublasSgemm(b.blas, g.opA, g.opB, g.M, g.N, g.K,
			&b.one, w, g.lda, a, g.ldb, beta, c, g.ldc)))
		return
	}
	conv, typ := kF32ToBF16, int32(cudaR16BF)
	if b.prec == FP16 {
		conv, typ = kF32ToF16, cudaR16F
	}
	wb := b.stage(sBF16B, 2*uint64(k*n))
	ab := b.stage(sBF16A, 2*uint64(m*k))
	b.launch(conv, b.blocks1D(k*n, blockThread), blockThread, 0, wb, w, i64(k*n))
	b.launch(conv, b.blocks1D(m*k, blockThread), blockThread, 0, ab, a, i64(m*k))
	b.must(bl.check("cublasGemmEx", bl.cublasGemmEx(b.blas, g.opA, g.opB, g.M, g.N, g.K,
		ptrOf(&b.one), wb, typ, g.lda, ab, typ, g.ldb, ptrOf(beta), c, cudaR32F, g.ldc,
		cublasCompute32F, cublasGemmDefault)))
}

func (b *Backend) dRMSNormForward(out, rstd, in, w dptr, N, C int, eps float32) {
	b.launch(kRMSNormForward, [3]int{N, 1, 1}, rowThreads(C), 0, out, rstd, in, w, i32(N), i32(C), f32(eps))
}

func (b *Backend) dRMSNormBackward(dIn, dW, dOut, in, w, rstd dptr, N, C int) {
	b.launch(kRMSNormBackwardDx, [3]int{N, 1, 1}, rowThreads(C), 0, dIn, dOut, in, w, rstd, i32(N), i32(C))
	rows, P := dwChunks(N)
	part := b.stage(sNormPartial, 8*uint64(P*C))
	b.launch(kRMSNormBackwardDwPartial, [3]int{ceilDiv(C, 128), P, 1}, 128, 0, part, dOut, in, rstd, i32(N), i32(C), i32(rows))
	b.launch(kRMSNormBackwardDw, [3]int{ceilDiv(C, 128), 1, 1}, 128, 0, dW, part, i32(P), i32(C))
}

// dwChunks splits N rows into P chunks of rows each for the dW partial
// sums: chunks of at least 64 rows, at most 256 of them. The split
// depends on N only, so results are the same run to run.
func dwChunks(N int) (rows, P int) {
	rows = max(64, ceilDiv(N, 256))
	return rows, max(1, ceilDiv(N, rows))
}

func (b *Backend) dRoPE(x, pos, cos, sin dptr, N, NH, HS int, sign float32) {
	n := N * NH * (HS / 2)
	b.launch(kRoPE, b.blocks1D(n, blockThread), blockThread, 0, x, pos, cos, sin, i32(N), i32(NH), i32(HS), f32(sign))
}

func (b *Backend) dAttentionForward(out, lse, q, k, v, mask, past dptr, B, T, S, NH, NKV, HS int) {
	fwd, _, _ := attSmem(HS)
	b.launch(kAttentionForward, [3]int{ceilDiv(T, attWarps), NH, B}, 32*attWarps, fwd,
		out, lse, q, k, v, mask, past, i32(B), i32(T), i32(S), i32(NH), i32(NKV), i32(HS), f32(attScale(HS)))
}

// dAttentionBackward needs a scratch D[B,T,NH] (dOut·out per query).
func (b *Backend) dAttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v, mask, D dptr, B, T, NH, NKV, HS int) {
	_, dqs, dkvs := attSmem(HS)
	rows := B * T * NH
	b.launch(kAttentionBackwardD, [3]int{ceilDiv(rows, 8), 1, 1}, 256, 0, D, dOut, out, i32(rows), i32(HS))
	sc := f32(attScale(HS))
	b.launch(kAttentionBackwardDq, [3]int{ceilDiv(T, attWarps), NH, B}, 32*attWarps, dqs,
		dq, dOut, lse, D, q, k, v, mask, i32(B), i32(T), i32(NH), i32(NKV), i32(HS), sc)
	b.launch(kAttentionBackwardDkv, [3]int{ceilDiv(T, attWarps), NKV, B}, 32*attWarps, dkvs,
		dk, dv, dOut, lse, D, q, k, v, mask, i32(B), i32(T), i32(NH), i32(NKV), i32(HS), sc)
}

func (b *Backend) dCrossEntropyForward(losses, logits, targets dptr, N, V int) {
	b.launch(kCrossEntropyForward, [3]int{N, 1, 1}, rowThreads(V), 0, losses, logits, targets, i32(N), i32(V))
}

func (b *Backend) dCrossEntropyBackward(dLogits, logits, targets, dLoss dptr, N, V int) {
	b.launch(kCrossEntropyBackward, [3]int{N, 1, 1}, rowThreads(V), 0, dLogits, logits, targets, dLoss, i32(N), i32(V))
}

func (b *Backend) dSumSquares(x dptr, n int) float64 {
	g := b.blocks1D(n, blockThread)
	part := b.stage(sPartial, 8*uint64(g[0]))
	b.launch(kSumSquaresPartial, g, blockThread, 0, part, x, i64(n))
	if cap(b.part) < g[0] {
		b.part = make([]float64, g[0])
	}
	b.part = b.part[:g[0]]
	d := &b.lib.drv
	b.must(d.check("cuMemcpyDtoH_v2", d.cuMemcpyDtoH(unsafe.Pointer(&b.part[0]), part, 8*uint64(g[0]))))
	b.d2h += 8 * int64(g[0])
	var s float64
	for _, v := range b.part { // fixed order: deterministic
		s += v
	}
	return s
}

// dAdamW takes the step's scalars already reduced to float32 exactly as
// kernels/ref computes them.
func (b *Backend) dAdamW(p, g, m, v dptr, n int, lr, beta1, beta2, eps, wd float32, t int) {
	stepSize, bc2Sqrt := adamBias(lr, beta1, beta2, t)
	b.launch(kAdamW, b.blocks1D(n, blockThread), blockThread, 0, p, g, m, v, i64(n),
		f32(1-lr*wd), f32(beta1), f32(1-beta1), f32(beta2), f32(1-beta2), f32(eps), f32(stepSize), f32(bc2Sqrt))
}

// rowThreads is the block size of a one-block-per-row kernel: a multiple
// of 32 (the reductions need whole warps), at most 256.
func rowThreads(C int) int { return min(256, max(32, ceilDiv(C, 32)*32)) }

func ceilDiv(a, b int) int { return (a + b - 1) / b }

// adamBias returns lr/(1−β1^t) and sqrt(1−β2^t), computed in float64 and
// rounded as kernels/ref does.
func adamBias(lr, beta1, beta2 float32, t int) (stepSize, bc2Sqrt float32) {
	bc1 := 1 - math.Pow(float64(beta1), float64(t))
	bc2 := 1 - math.Pow(float64(beta2), float64(t))
	return float32(float64(lr) / bc1), float32(math.Sqrt(bc2))
}

// attScale is 1/sqrt(HS), the softmax temperature.
func attScale(HS int) float32 { return float32(1 / math.Sqrt(float64(HS))) }

func ptrOf(f *float32) unsafe.Pointer { return unsafe.Pointer(f) }
