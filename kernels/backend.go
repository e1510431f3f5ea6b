package kernels

// Backend is every computation the model performs. Methods are grouped as
// forward/backward pairs; each doc comment gives the shapes.
type Backend interface {
	// Name identifies the implementation (and its GEMM path) for logs.
	Name() string

	// MatMul: c[m,n] = op(a)·op(b), or c += op(a)·op(b) when accumulate.
	// op(a) is [m,k]: a is [m,k], or [k,m] when transA. op(b) is [k,n]: b is
	// [k,n], or [n,k] when transB. All three are dense row-major.
	// The linear layer y = x·Wᵀ is MatMul(y, x, W, N, out, in, false, true, false);
	// its backward is dx += dy·W (no transposes) and dW += dyᵀ·x (transA).
	MatMul(c, a, b []float32, m, n, k int, transA, transB, accumulate bool)

	// EmbeddingForward: out[N,C] = table[ids[i]].
	EmbeddingForward(out []float32, ids []int32, table []float32, N, C int)
	// EmbeddingBackward: dTable[ids[i]] += dOut[i].
	EmbeddingBackward(dTable []float32, ids []int32, dOut []float32, N, C int)

	// RMSNormForward: out[N,C] = w ⊙ in / sqrt(mean(in²) + eps); rstd[N]
	// saves 1/sqrt(mean(in²)+eps) for backward.
	RMSNormForward(out, rstd, in, w []float32, N, C int, eps float32)
	// RMSNormBackward: dIn[N,C] += ∂, dW[C] += ∂.
	RMSNormBackward(dIn, dW, dOut, in, w, rstd []float32, N, C int)

	// RoPEForward rotates x[N,NH,HS] in place, row i at position pos[i]
	// ("rotate half" pairs (j, j+HS/2)). cos, sin are tables [*, HS/2].
	RoPEForward(x []float32, pos []int32, cos, sin []float32, N, NH, HS int)
	// RoPEBackward applies the inverse rotation to dx[N,NH,HS] in place.
	RoPEBackward(dx []float32, pos []int32, cos, sin []float32, N, NH, HS int)

	// AttentionForward: causal grouped-query attention.
	// q, out [B,T,NH,HS]; k, v [B,S,NKV,HS]. Row b has past[b] cached
	// positions (past nil means none): its query t sits at position
	// past[b]+t and sees keys 0..past[b]+t, so rows of a batch may be at
	// different lengths (continuous batching). lse[B,NH,T] saves each query's
	// log-sum-exp of the scaled scores for backward.
	// mask is nil or [B,S] with 1 = attend, 0 = padding: padding adds -1e9
	// to the score (a finite mask, as the original, so rows never become NaN).
	AttentionForward(out, lse, q, k, v, mask []float32, past []int32, B, T, S, NH, NKV, HS int)
	// AttentionBackward (P = 0, S = T): dq, dk, dv += ∂ of the forward above.
	AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v, mask []float32, B, T, NH, NKV, HS int)

	// SwiGLUForward: out[i] = silu(gate[i]) * up[i] over n elements.
	SwiGLUForward(out, gate, up []float32, n int)
	// SwiGLUBackward: dGate, dUp += ∂.
	SwiGLUBackward(dGate, dUp, dOut, gate, up []float32, n int)

	// Add: out[i] = a[i] + b[i]; out may alias a or b.
	Add(out, a, b []float32, n int)

	// CrossEntropyForward: losses[N] = logsumexp(logits[i]) - logits[i,targets[i]]
	// for logits[N,V]. A negative target gives loss 0.
	CrossEntropyForward(losses, logits []float32, targets []int32, N, V int)
	// CrossEntropyBackward WRITES dLogits[N,V] = dLoss[i]·(softmax(logits[i]) - onehot)
	// (zero rows for negative targets). dLogits may alias logits.
	CrossEntropyBackward(dLogits, logits []float32, targets []int32, dLoss []float32, N, V int)

	// MoERoute: probs[N,E] = softmax(logits[N,E]); topIdx/topW[N,K] = the K
	// largest probs (ties to the lower index, in descending order), renormalised
	// to sum to 1 (+1e-20 in the denominator) when norm and K > 1.
	MoERoute(probs, topW []float32, topIdx []int32, logits []float32, N, E, K int, norm bool)
	// MoERouteBackward: dLogits[N,E] += ∂ given dTopW[N,K] (the gradient of
	// the routing weights) and dProbs[N,E] (gradient reaching the softmax
	// probabilities directly, e.g. from the balance loss; may be nil).
	MoERouteBackward(dLogits, dTopW, dProbs, probs, topW []float32, topIdx []int32, N, E, K int, norm bool)

	// Gather: out[i,:] = w[i]·in[rows[i],:] for i < M (in is [*,C]; w nil means 1).
	Gather(out, in []float32, rows []int32, w []float32, M, C int)
	// ScatterAdd: out[rows[i],:] += w[i]·in[i,:] for i < M (w nil means 1).
	// rows may repeat; the result does not depend on thread count.
	ScatterAdd(out, in []float32, rows []int32, w []float32, M, C int)
	// RowDot: out[i] += dot(a[rows[i],:], b[i,:]) for i < M.
	RowDot(out, a []float32, rows []int32, b []float32, M, C int)

	// SumSquares returns Σ x² accumulated in float64.
	SumSquares(x []float32) float64
	// Scale: x *= s.
	Scale(x []float32, s float32)
	// Zero: x = 0.
	Zero(x []float32)

	// AdamW performs one torch.optim.AdamW step (decoupled weight decay) at
	// 1-based step t: p *= 1-lr·wd; m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²;
	// p -= lr/(1-β1^t) · m / (sqrt(v)/sqrt(1-β2^t) + eps).
	AdamW(p, g, m, v []float32, lr, beta1, beta2, eps, wd float32, t int)
}

// HalfMatMuler is an optional Backend extension (found by type assertion)
// for inference with 16-bit weights, which halves the bytes a decode step
// reads. MatMulHalf: c[m,n] = a[m,k]·wᵀ (c += when accumulate) where w is
// [n,k] stored as IEEE binary16 bits, or bfloat16 bits when bf16. The
// products use float32 arithmetic on the exactly widened weights, so the
// unfused equivalent is: widen w to float32, then
// MatMul(c, a, w32, m, n, k, false, true, accumulate).
// It is meant for few rows (decode, m ≤ 8).
type HalfMatMuler interface {
	MatMulHalf(c, a []float32, w []uint16, m, n, k int, bf16, accumulate bool)
}

// Q8MatMuler is an optional Backend extension (found by type assertion)
// for inference with 8-bit weights in GGUF's Q8_0 format (package quant:
// blocks of 32 int8 quants after one float16 scale, 34 bytes per 32
// weights), a quarter of float32's bytes.
//
// MatMulQ8: c[m,n] = a[m,k]·wᵀ (c += when accumulate) where w is [n,k] in
// Q8_0 blocks along k (row j is w[j·k/32·34:], k a multiple of 32). The
// unfused equivalent is to dequantize w to float32 and call
// MatMul(c, a, w', m, n, k, false, true, accumulate). For few rows
// (decode, m ≤ 8) an implementation may, like llama.cpp, also round each
// row of a to 8 bits per block of 32 (a float32 scale per block, half away
// from zero) and sum exact int8·int8 block products; the CPU backend does.
//
// EmbeddingQ8: out[N,C] = the rows ids[i] of the [*,C] Q8_0 table,
// dequantized (C a multiple of 32).
type Q8MatMuler interface {
	MatMulQ8(c, a []float32, w []byte, m, n, k int, accumulate bool)
	EmbeddingQ8(out []float32, ids []int32, table []byte, N, C int)
}
