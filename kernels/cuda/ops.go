package cuda

// kernels.Backend over host slices: each method checks shapes, copies its
// inputs into per-slot staging buffers on the GPU, runs the device kernel
// (ops_device.go) and copies the outputs back. Correct, and slow by the
// cost of those copies; see README.md for the device-resident plan.

// Staging slots. Inputs of one call use distinct slots; the bf16 and
// partial-sum scratch have their own so a GEMM never overwrites an input.
const (
	s0 = iota
	s1
	s2
	s3
	s4
	s5
	s6
	s7
	s8
	s9
	s10
	sBF16A
	sBF16B
	sPartial
	sNormPartial
)

// need panics with a kernel-shape message: a wrong length is a bug in
// the caller, as with an out-of-range index (kernels package policy).
func need(ok bool, what string) {
	if !ok {
		panic("kernels/cuda: " + what)
	}
}

// MatMul implements kernels.Backend.
func (b *Backend) MatMul(c, a, w []float32, m, n, k int, transA, transB, accumulate bool) {
	need(m >= 0 && n >= 0 && k >= 0, "MatMul: negative dimension")
	need(len(a) >= m*k && len(w) >= k*n && len(c) >= m*n, "MatMul: short slice")
	if m == 0 || n == 0 {
		return
	}
	if k == 0 { // an empty sum: cuBLAS would not touch c
		if !accumulate {
			clear(c[:m*n])
		}
		return
	}
	b.enter()
	defer b.leave()
	da, dw := b.up(s0, a[:m*k]), b.up(s1, w[:k*n])
	var dc dptr
	if accumulate {
		dc = b.up(s2, c[:m*n])
	} else {
		dc = b.stage(s2, 4*uint64(m*n))
	}
	b.dGemm(dc, da, dw, m, n, k, transA, transB, accumulate)
	b.down(c[:m*n], dc)
}

// MatMulHalf implements kernels.HalfMatMuler: the 16-bit weights are
// widened exactly on the GPU, then multiplied as in MatMul.
func (b *Backend) MatMulHalf(c, a []float32, w []uint16, m, n, k int, bf16, accumulate bool) {
	need(len(a) >= m*k && len(w) >= n*k && len(c) >= m*n, "MatMulHalf: short slice")
	if m == 0 || n == 0 || k == 0 {
		if !accumulate {
			clear(c[:m*n])
		}
		return
	}
	b.enter()
	defer b.leave()
	wh := b.upHalf(s3, w[:n*k])
	dw := b.stage(s1, 4*uint64(n*k))
	flag := 0
	if bf16 {
		flag = 1
	}
	b.launch(kHalf16ToF32, b.blocks1D(n*k, blockThread), blockThread, 0, dw, wh, i64(n*k), i32(flag))
	da := b.up(s0, a[:m*k])
	var dc dptr
	if accumulate {
		dc = b.up(s2, c[:m*n])
	} else {
		dc = b.stage(s2, 4*uint64(m*n))
	}
	b.dGemm(dc, da, dw, m, n, k, false, true, accumulate)
	b.down(c[:m*n], dc)
}

// EmbeddingForward implements kernels.Backend.
func (b *Backend) EmbeddingForward(out []float32, ids []int32, table []float32, N, C int) {
	need(len(out) >= N*C && len(ids) >= N, "EmbeddingForward: short slice")
	if N == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do := b.stage(s0, 4*uint64(N*C))
	di, dt := b.upInt(s1, ids[:N]), b.up(s2, table)
	b.launch(kEmbeddingForward, b.blocks1D(N*C, blockThread), blockThread, 0, do, di, dt, i32(N), i32(C))
	b.down(out[:N*C], do)
}

// EmbeddingBackward implements kernels.Backend (a deterministic
// scatter-add of dOut rows into dTable).
func (b *Backend) EmbeddingBackward(dTable []float32, ids []int32, dOut []float32, N, C int) {
	b.ScatterAdd(dTable, dOut, ids, nil, N, C)
}

// RMSNormForward implements kernels.Backend.
func (b *Backend) RMSNormForward(out, rstd, in, w []float32, N, C int, eps float32) {
	need(len(out) >= N*C && len(in) >= N*C && len(rstd) >= N && len(w) >= C, "RMSNormForward: short slice")
	if N == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do, dr := b.stage(s0, 4*uint64(N*C)), b.stage(s1, 4*uint64(N))
	b.dRMSNormForward(do, dr, b.up(s2, in[:N*C]), b.up(s3, w[:C]), N, C, eps)
	b.down(out[:N*C], do)
	b.down(rstd[:N], dr)
}

// RMSNormBackward implements kernels.Backend.
func (b *Backend) RMSNormBackward(dIn, dW, dOut, in, w, rstd []float32, N, C int) {
	need(len(dIn) >= N*C && len(dOut) >= N*C && len(in) >= N*C && len(rstd) >= N && len(w) >= C && len(dW) >= C, "RMSNormBackward: short slice")
	if N == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	ddi, ddw := b.up(s0, dIn[:N*C]), b.up(s1, dW[:C])
	b.dRMSNormBackward(ddi, ddw, b.up(s2, dOut[:N*C]), b.up(s3, in[:N*C]), b.up(s4, w[:C]), b.up(s5, rstd[:N]), N, C)
	b.down(dIn[:N*C], ddi)
	b.down(dW[:C], ddw)
}

func (b *Backend) rope(x []float32, pos []int32, cos, sin []float32, N, NH, HS int, sign float32) {
	need(HS%2 == 0, "RoPE: odd head size")
	need(len(x) >= N*NH*HS && len(pos) >= N, "RoPE: short slice")
	if N == 0 || NH == 0 || HS == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dx := b.up(s0, x[:N*NH*HS])
	b.dRoPE(dx, b.upInt(s1, pos[:N]), b.up(s2, cos), b.up(s3, sin), N, NH, HS, sign)
	b.down(x[:N*NH*HS], dx)
}

// RoPEForward implements kernels.Backend.
func (b *Backend) RoPEForward(x []float32, pos []int32, cos, sin []float32, N, NH, HS int) {
	b.rope(x, pos, cos, sin, N, NH, HS, 1)
}

// RoPEBackward implements kernels.Backend (the inverse rotation).
func (b *Backend) RoPEBackward(dx []float32, pos []int32, cos, sin []float32, N, NH, HS int) {
	b.rope(dx, pos, cos, sin, N, NH, HS, -1)
}

// checkAttention validates attention shapes; HS is bounded by the
// registers and shared memory the kernels reserve (src/common.cuh).
func checkAttention(B, T, S, NH, NKV, HS int) {
	need(B >= 0 && T >= 0 && S >= T && NH > 0 && NKV > 0 && HS > 0, "Attention: bad dimensions")
	need(NH%NKV == 0, "Attention: NH is not a multiple of NKV")
	need(HS <= attMaxHS, "Attention: head size above 128 is not supported by the CUDA kernels")
}

// AttentionForward implements kernels.Backend.
func (b *Backend) AttentionForward(out, lse, q, k, v, mask []float32, past []int32, B, T, S, NH, NKV, HS int) {
	checkAttention(B, T, S, NH, NKV, HS)
	nq, nkv := B*T*NH*HS, B*S*NKV*HS
	need(len(out) >= nq && len(q) >= nq && len(k) >= nkv && len(v) >= nkv && len(lse) >= B*NH*T, "AttentionForward: short slice")
	need(mask == nil || len(mask) >= B*S, "AttentionForward: short mask")
	need(past == nil || len(past) >= B, "AttentionForward: short past")
	for i := 0; past != nil && i < B; i++ {
		need(past[i] >= 0 && int(past[i])+T <= S, "AttentionForward: past+T > S")
	}
	if B == 0 || T == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do, dl := b.stage(s0, 4*uint64(nq)), b.stage(s1, 4*uint64(B*NH*T))
	var dm, dp dptr
	if mask != nil {
		dm = b.up(s5, mask[:B*S])
	}
	if past != nil {
		dp = b.upInt(s6, past[:B])
	}
	b.dAttentionForward(do, dl, b.up(s2, q[:nq]), b.up(s3, k[:nkv]), b.up(s4, v[:nkv]), dm, dp, B, T, S, NH, NKV, HS)
	b.down(out[:nq], do)
	b.down(lse[:B*NH*T], dl)
}

// AttentionBackward implements kernels.Backend.
func (b *Backend) AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v, mask []float32, B, T, NH, NKV, HS int) {
	checkAttention(B, T, T, NH, NKV, HS)
	nq, nkv := B*T*NH*HS, B*T*NKV*HS
	need(len(dq) >= nq && len(dOut) >= nq && len(out) >= nq && len(q) >= nq && len(lse) >= B*NH*T, "AttentionBackward: short slice")
	need(len(dk) >= nkv && len(dv) >= nkv && len(k) >= nkv && len(v) >= nkv, "AttentionBackward: short slice")
	need(mask == nil || len(mask) >= B*T, "AttentionBackward: short mask")
	if B == 0 || T == 0 {
		return
	}
	b.enter()
	defer b.leave()
	ddq, ddk, ddv := b.up(s0, dq[:nq]), b.up(s1, dk[:nkv]), b.up(s2, dv[:nkv])
	var dm dptr
	if mask != nil {
		dm = b.up(s9, mask[:B*T])
	}
	D := b.stage(s10, 4*uint64(B*T*NH))
	b.dAttentionBackward(ddq, ddk, ddv, b.up(s3, dOut[:nq]), b.up(s4, out[:nq]), b.up(s5, lse[:B*NH*T]),
		b.up(s6, q[:nq]), b.up(s7, k[:nkv]), b.up(s8, v[:nkv]), dm, D, B, T, NH, NKV, HS)
	b.down(dq[:nq], ddq)
	b.down(dk[:nkv], ddk)
	b.down(dv[:nkv], ddv)
}

// SwiGLUForward implements kernels.Backend.
func (b *Backend) SwiGLUForward(out, gate, up []float32, n int) {
	need(len(out) >= n && len(gate) >= n && len(up) >= n, "SwiGLUForward: short slice")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do := b.stage(s0, 4*uint64(n))
	b.launch(kSwiGLUForward, b.blocks1D(n, blockThread), blockThread, 0, do, b.up(s1, gate[:n]), b.up(s2, up[:n]), i64(n))
	b.down(out[:n], do)
}

// SwiGLUBackward implements kernels.Backend.
func (b *Backend) SwiGLUBackward(dGate, dUp, dOut, gate, up []float32, n int) {
	need(len(dGate) >= n && len(dUp) >= n && len(dOut) >= n && len(gate) >= n && len(up) >= n, "SwiGLUBackward: short slice")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dg, du := b.up(s0, dGate[:n]), b.up(s1, dUp[:n])
	b.launch(kSwiGLUBackward, b.blocks1D(n, blockThread), blockThread, 0, dg, du,
		b.up(s2, dOut[:n]), b.up(s3, gate[:n]), b.up(s4, up[:n]), i64(n))
	b.down(dGate[:n], dg)
	b.down(dUp[:n], du)
}

// Add implements kernels.Backend.
func (b *Backend) Add(out, a, c []float32, n int) {
	need(len(out) >= n && len(a) >= n && len(c) >= n, "Add: short slice")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do := b.stage(s0, 4*uint64(n))
	b.launch(kAdd, b.blocks1D(n, blockThread), blockThread, 0, do, b.up(s1, a[:n]), b.up(s2, c[:n]), i64(n))
	b.down(out[:n], do)
}

// CrossEntropyForward implements kernels.Backend.
func (b *Backend) CrossEntropyForward(losses, logits []float32, targets []int32, N, V int) {
	need(len(losses) >= N && len(logits) >= N*V && len(targets) >= N, "CrossEntropyForward: short slice")
	for i := 0; i < N; i++ {
		need(targets[i] < int32(V), "CrossEntropyForward: target out of range")
	}
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dl := b.stage(s0, 4*uint64(N))
	b.dCrossEntropyForward(dl, b.up(s1, logits[:N*V]), b.upInt(s2, targets[:N]), N, V)
	b.down(losses[:N], dl)
}

// CrossEntropyBackward implements kernels.Backend (it writes dLogits,
// which may alias logits).
func (b *Backend) CrossEntropyBackward(dLogits, logits []float32, targets []int32, dLoss []float32, N, V int) {
	need(len(dLogits) >= N*V && len(logits) >= N*V && len(targets) >= N && len(dLoss) >= N, "CrossEntropyBackward: short slice")
	for i := 0; i < N; i++ {
		need(targets[i] < int32(V), "CrossEntropyBackward: target out of range")
	}
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dx := b.up(s0, logits[:N*V]) // computed in place on the device copy
	b.dCrossEntropyBackward(dx, dx, b.upInt(s1, targets[:N]), b.up(s2, dLoss[:N]), N, V)
	b.down(dLogits[:N*V], dx)
}

// MoERoute implements kernels.Backend.
func (b *Backend) MoERoute(probs, topW []float32, topIdx []int32, logits []float32, N, E, K int, norm bool) {
	need(E > 0 && E <= moeMaxE && K > 0 && K <= E, "MoERoute: need 0 < K <= E <= 64")
	need(len(probs) >= N*E && len(logits) >= N*E && len(topW) >= N*K && len(topIdx) >= N*K, "MoERoute: short slice")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dp, dw, di := b.stage(s0, 4*uint64(N*E)), b.stage(s1, 4*uint64(N*K)), b.stage(s2, 4*uint64(N*K))
	b.launch(kMoERoute, [3]int{ceilDiv(N, 128), 1, 1}, 128, 0, dp, dw, di, b.up(s3, logits[:N*E]),
		i32(N), i32(E), i32(K), i32(boolInt(norm)))
	b.down(probs[:N*E], dp)
	b.down(topW[:N*K], dw)
	b.downInt(topIdx[:N*K], di)
}

// MoERouteBackward implements kernels.Backend.
func (b *Backend) MoERouteBackward(dLogits, dTopW, dProbs, probs, topW []float32, topIdx []int32, N, E, K int, norm bool) {
	need(E > 0 && E <= moeMaxE && K > 0 && K <= E, "MoERouteBackward: need 0 < K <= E <= 64")
	need(len(dLogits) >= N*E && len(probs) >= N*E && len(dTopW) >= N*K && len(topW) >= N*K && len(topIdx) >= N*K, "MoERouteBackward: short slice")
	need(dProbs == nil || len(dProbs) >= N*E, "MoERouteBackward: short dProbs")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dl := b.up(s0, dLogits[:N*E])
	var ddp dptr
	if dProbs != nil {
		ddp = b.up(s2, dProbs[:N*E])
	}
	b.launch(kMoERouteBackward, [3]int{ceilDiv(N, 128), 1, 1}, 128, 0, dl, b.up(s1, dTopW[:N*K]), ddp,
		b.up(s3, probs[:N*E]), b.up(s4, topW[:N*K]), b.upInt(s5, topIdx[:N*K]), i32(N), i32(E), i32(K), i32(boolInt(norm)))
	b.down(dLogits[:N*E], dl)
}

// Gather implements kernels.Backend.
func (b *Backend) Gather(out, in []float32, rows []int32, w []float32, M, C int) {
	need(len(out) >= M*C && len(rows) >= M && (w == nil || len(w) >= M), "Gather: short slice")
	if M == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do := b.stage(s0, 4*uint64(M*C))
	var dw dptr
	if w != nil {
		dw = b.up(s3, w[:M])
	}
	b.launch(kGather, b.blocks1D(M*C, blockThread), blockThread, 0, do, b.up(s1, in), b.upInt(s2, rows[:M]), dw, i32(M), i32(C))
	b.down(out[:M*C], do)
}

// ScatterAdd implements kernels.Backend; the sum over repeated rows runs
// in row order, so the result is deterministic.
func (b *Backend) ScatterAdd(out, in []float32, rows []int32, w []float32, M, C int) {
	need(len(in) >= M*C && len(rows) >= M && (w == nil || len(w) >= M), "ScatterAdd: short slice")
	if M == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do := b.up(s0, out)
	var dw dptr
	if w != nil {
		dw = b.up(s3, w[:M])
	}
	b.launch(kScatterAdd, [3]int{ceilDiv(C, 128), 1, 1}, 128, 0, do, b.up(s1, in[:M*C]), b.upInt(s2, rows[:M]), dw, i32(M), i32(C))
	b.down(out, do)
}

// RowDot implements kernels.Backend.
func (b *Backend) RowDot(out, a []float32, rows []int32, c []float32, M, C int) {
	need(len(out) >= M && len(rows) >= M && len(c) >= M*C, "RowDot: short slice")
	if M == 0 {
		return
	}
	b.enter()
	defer b.leave()
	do := b.up(s0, out[:M])
	b.launch(kRowDot, [3]int{ceilDiv(M, 8), 1, 1}, 256, 0, do, b.up(s1, a), b.upInt(s2, rows[:M]), b.up(s3, c[:M*C]), i32(M), i32(C))
	b.down(out[:M], do)
}

// SumSquares implements kernels.Backend (float64 partial sums, added in a
// fixed order).
func (b *Backend) SumSquares(x []float32) float64 {
	if len(x) == 0 {
		return 0
	}
	b.enter()
	defer b.leave()
	return b.dSumSquares(b.up(s0, x), len(x))
}

// Scale implements kernels.Backend.
func (b *Backend) Scale(x []float32, s float32) {
	if len(x) == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dx := b.up(s0, x)
	b.launch(kScale, b.blocks1D(len(x), blockThread), blockThread, 0, dx, f32(s), i64(len(x)))
	b.down(x, dx)
}

// Zero implements kernels.Backend. The slice lives in host memory, so
// clearing it there is the whole job; a device-resident buffer would use
// cuMemsetD32.
func (b *Backend) Zero(x []float32) { clear(x) }

// AdamW implements kernels.Backend (fused: one pass over p, g, m, v).
func (b *Backend) AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, wd float32, t int) {
	n := len(p)
	need(len(g) >= n && len(m) >= n && len(v) >= n, "AdamW: short slice")
	need(t >= 1, "AdamW: step t is 1-based")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	dp, dm, dv := b.up(s0, p), b.up(s1, m[:n]), b.up(s2, v[:n])
	b.dAdamW(dp, b.up(s3, g[:n]), dm, dv, n, lr, beta1, beta2, eps, wd, t)
	b.down(p, dp)
	b.down(m[:n], dm)
	b.down(v[:n], dv)
}

func boolInt(v bool) int {
	if v {
		return 1
	}
	return 0
}
