package cuda

import (
	"fmt"
	"unsafe"
)

// The device-resident API (README.md, "device-resident plan"): one method
// per kernel on Buffers already on the GPU, launched on the default stream
// with no copy and no synchronisation, plus the int32 and float64 buffers
// a step needs (token ids, positions, expert indices; loss and norm
// scalars). package devmodel drives a whole training or decode step
// through these. Shapes are checked as in ops.go (a bad one panics).

// IntBuffer is int32 memory on the GPU.
type IntBuffer struct {
	ptr dptr
	n   int
}

// Len is the number of int32 elements.
func (d IntBuffer) Len() int { return d.n }

// Slice is the view [lo, hi) (no copy).
func (d IntBuffer) Slice(lo, hi int) IntBuffer {
	need(0 <= lo && lo <= hi && hi <= d.n, "IntBuffer.Slice: out of range")
	return IntBuffer{ptr: d.ptr + 4*uint64(lo), n: hi - lo}
}

// F64Buffer is float64 memory on the GPU (loss sums, the gradient norm,
// the MoE balance counts): what the reductions write in double.
type F64Buffer struct {
	ptr dptr
	n   int
}

// Len is the number of float64 elements.
func (d F64Buffer) Len() int { return d.n }

// Slice is the view [lo, hi) (no copy).
func (d F64Buffer) Slice(lo, hi int) F64Buffer {
	need(0 <= lo && lo <= hi && hi <= d.n, "F64Buffer.Slice: out of range")
	return F64Buffer{ptr: d.ptr + 8*uint64(lo), n: hi - lo}
}

// Traffic returns the bytes copied host→device and device→host since New,
// by every method (the staged kernels.Backend ones included).
func (b *Backend) Traffic() (h2d, d2h int64) { return b.h2d, b.d2h }

// allocBytes returns zeroed device memory (at least 4 bytes).
func (b *Backend) allocBytes(bytes uint64, what string) (dptr, error) {
	b.enter()
	defer b.leave()
	d := &b.lib.drv
	var p dptr
	if err := d.check("cuMemAlloc_v2", d.cuMemAlloc(&p, max(bytes, 4))); err != nil {
		return 0, fmt.Errorf("cuda: allocate %s (%d bytes): %w", what, bytes, err)
	}
	if err := d.check("cuMemsetD32_v2", d.cuMemsetD32(p, 0, max(bytes, 4)/4)); err != nil {
		d.cuMemFree(p)
		return 0, err
	}
	return p, nil
}

// AllocInts returns a zeroed device buffer of n int32s.
func (b *Backend) AllocInts(n int) (IntBuffer, error) {
	if n < 0 {
		return IntBuffer{}, fmt.Errorf("cuda: AllocInts(%d): negative length", n)
	}
	p, err := b.allocBytes(4*uint64(n), fmt.Sprintf("%d int32s", n))
	return IntBuffer{ptr: p, n: n}, err
}

// AllocF64 returns a zeroed device buffer of n float64s.
func (b *Backend) AllocF64(n int) (F64Buffer, error) {
	if n < 0 {
		return F64Buffer{}, fmt.Errorf("cuda: AllocF64(%d): negative length", n)
	}
	p, err := b.allocBytes(8*uint64(n), fmt.Sprintf("%d float64s", n))
	return F64Buffer{ptr: p, n: n}, err
}

// freePtr releases the allocation that starts at a buffer from Alloc,
// AllocInts or AllocF64 (pass the buffer itself, not a later slice).
func (b *Backend) freePtr(p dptr) error {
	if p == 0 {
		return nil
	}
	b.enter()
	defer b.leave()
	return b.lib.drv.check("cuMemFree_v2", b.lib.drv.cuMemFree(p))
}

// FreeInts releases a buffer from AllocInts.
func (b *Backend) FreeInts(x IntBuffer) error { return b.freePtr(x.ptr) }

// FreeF64 releases a buffer from AllocF64.
func (b *Backend) FreeF64(x F64Buffer) error { return b.freePtr(x.ptr) }

// UploadInts copies src into the start of dst.
func (b *Backend) UploadInts(dst IntBuffer, src []int32) error {
	if len(src) > dst.n {
		return fmt.Errorf("cuda: UploadInts of %d ints into a buffer of %d", len(src), dst.n)
	}
	if len(src) == 0 {
		return nil
	}
	b.enter()
	defer b.leave()
	b.h2d += 4 * int64(len(src))
	return b.lib.drv.check("cuMemcpyHtoD_v2", b.lib.drv.cuMemcpyHtoD(dst.ptr, unsafe.Pointer(&src[0]), 4*uint64(len(src))))
}

// DownloadInts copies the start of src into dst (synchronising).
func (b *Backend) DownloadInts(dst []int32, src IntBuffer) error {
	if len(dst) > src.n {
		return fmt.Errorf("cuda: DownloadInts of %d ints from a buffer of %d", len(dst), src.n)
	}
	if len(dst) == 0 {
		return nil
	}
	b.enter()
	defer b.leave()
	b.d2h += 4 * int64(len(dst))
	return b.lib.drv.check("cuMemcpyDtoH_v2", b.lib.drv.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), src.ptr, 4*uint64(len(dst))))
}

// DownloadF64 copies the start of src into dst (synchronising).
func (b *Backend) DownloadF64(dst []float64, src F64Buffer) error {
	if len(dst) > src.n {
		return fmt.Errorf("cuda: DownloadF64 of %d values from a buffer of %d", len(dst), src.n)
	}
	if len(dst) == 0 {
		return nil
	}
	b.enter()
	defer b.leave()
	b.d2h += 8 * int64(len(dst))
	return b.lib.drv.check("cuMemcpyDtoH_v2", b.lib.drv.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), src.ptr, 8*uint64(len(dst))))
}

// Synchronize waits for every queued kernel (for timing).
func (b *Backend) Synchronize() error {
	b.enter()
	defer b.leave()
	return b.lib.drv.check("cuCtxSynchronize", b.lib.drv.cuCtxSynchronize())
}

// MemoryInUse reports the device's used and total memory (cuMemGetInfo).
func (b *Backend) MemoryInUse() (used, total uint64, err error) {
	b.enter()
	defer b.leave()
	var free uint64
	if err := b.lib.drv.check("cuMemGetInfo_v2", b.lib.drv.cuMemGetInfo(&free, &total)); err != nil {
		return 0, 0, err
	}
	return total - free, total, nil
}

// ZeroDevice sets x to 0 (cuMemsetD32: 0.0f is all-zero bits).
func (b *Backend) ZeroDevice(x Buffer) {
	if x.n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.must(b.lib.drv.check("cuMemsetD32_v2", b.lib.drv.cuMemsetD32(x.ptr, 0, uint64(x.n))))
}

// ZeroF64Device sets x to 0.
func (b *Backend) ZeroF64Device(x F64Buffer) {
	if x.n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.must(b.lib.drv.check("cuMemsetD32_v2", b.lib.drv.cuMemsetD32(x.ptr, 0, 2*uint64(x.n))))
}

// FillDevice sets every element of x to v.
func (b *Backend) FillDevice(x Buffer, v float32) {
	if x.n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kFill, b.blocks1D(x.n, blockThread), blockThread, 0, x.ptr, f32(v), i64(x.n))
}

// CopyDevice copies src into the start of dst on the device.
func (b *Backend) CopyDevice(dst, src Buffer) {
	need(src.n <= dst.n, "CopyDevice: short destination")
	if src.n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.must(b.lib.drv.check("cuMemcpyDtoD_v2", b.lib.drv.cuMemcpyDtoD(dst.ptr, src.ptr, 4*uint64(src.n))))
}

// EmbeddingForwardDevice is EmbeddingForward on device buffers.
func (b *Backend) EmbeddingForwardDevice(out Buffer, ids IntBuffer, table Buffer, N, C int) {
	need(out.n >= N*C && ids.n >= N, "EmbeddingForwardDevice: short buffer")
	if N == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kEmbeddingForward, b.blocks1D(N*C, blockThread), blockThread, 0, out.ptr, ids.ptr, table.ptr, i32(N), i32(C))
}

// ScatterAddDevice is ScatterAdd on device buffers (w.Len() 0: weight 1).
func (b *Backend) ScatterAddDevice(out, in Buffer, rows IntBuffer, w Buffer, M, C int) {
	need(in.n >= M*C && rows.n >= M && (w.ptr == 0 || w.n >= M), "ScatterAddDevice: short buffer")
	if M == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kScatterAdd, [3]int{ceilDiv(C, 128), 1, 1}, 128, 0, out.ptr, in.ptr, rows.ptr, w.ptr, i32(M), i32(C))
}

// GatherDevice is Gather on device buffers (w.Len() 0: weight 1).
func (b *Backend) GatherDevice(out, in Buffer, rows IntBuffer, w Buffer, M, C int) {
	need(out.n >= M*C && rows.n >= M && (w.ptr == 0 || w.n >= M), "GatherDevice: short buffer")
	if M == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kGather, b.blocks1D(M*C, blockThread), blockThread, 0, out.ptr, in.ptr, rows.ptr, w.ptr, i32(M), i32(C))
}

// RowDotDevice is RowDot on device buffers.
func (b *Backend) RowDotDevice(out, a Buffer, rows IntBuffer, c Buffer, M, C int) {
	need(out.n >= M && rows.n >= M && c.n >= M*C, "RowDotDevice: short buffer")
	if M == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kRowDot, [3]int{ceilDiv(M, 8), 1, 1}, 256, 0, out.ptr, a.ptr, rows.ptr, c.ptr, i32(M), i32(C))
}

// RMSNormForwardDevice is RMSNormForward on device buffers.
func (b *Backend) RMSNormForwardDevice(out, rstd, in, w Buffer, N, C int, eps float32) {
	need(out.n >= N*C && in.n >= N*C && rstd.n >= N && w.n >= C, "RMSNormForwardDevice: short buffer")
	if N == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dRMSNormForward(out.ptr, rstd.ptr, in.ptr, w.ptr, N, C, eps)
}

// RMSNormBackwardDevice is RMSNormBackward on device buffers.
func (b *Backend) RMSNormBackwardDevice(dIn, dW, dOut, in, w, rstd Buffer, N, C int) {
	need(dIn.n >= N*C && dOut.n >= N*C && in.n >= N*C && rstd.n >= N && w.n >= C && dW.n >= C, "RMSNormBackwardDevice: short buffer")
	if N == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dRMSNormBackward(dIn.ptr, dW.ptr, dOut.ptr, in.ptr, w.ptr, rstd.ptr, N, C)
}

// RoPEDevice rotates x[N,NH,HS] in place: sign +1 is RoPEForward, -1
// RoPEBackward.
func (b *Backend) RoPEDevice(x Buffer, pos IntBuffer, cos, sin Buffer, N, NH, HS int, sign float32) {
	need(HS%2 == 0 && x.n >= N*NH*HS && pos.n >= N, "RoPEDevice: bad shape")
	if N == 0 || NH == 0 || HS == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dRoPE(x.ptr, pos.ptr, cos.ptr, sin.ptr, N, NH, HS, sign)
}

// AttentionForwardDevice is AttentionForward on device buffers (mask and
// past may be zero Buffers: none). past[b]+T ≤ S is the caller's duty: the
// lengths live on the device and are not checked here.
func (b *Backend) AttentionForwardDevice(out, lse, q, k, v, mask Buffer, past IntBuffer, B, T, S, NH, NKV, HS int) {
	checkAttention(B, T, S, NH, NKV, HS)
	nq, nkv := B*T*NH*HS, B*S*NKV*HS
	need(out.n >= nq && q.n >= nq && k.n >= nkv && v.n >= nkv && lse.n >= B*NH*T, "AttentionForwardDevice: short buffer")
	need(mask.ptr == 0 || mask.n >= B*S, "AttentionForwardDevice: short mask")
	need(past.ptr == 0 || past.n >= B, "AttentionForwardDevice: short past")
	if B == 0 || T == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dAttentionForward(out.ptr, lse.ptr, q.ptr, k.ptr, v.ptr, mask.ptr, past.ptr, B, T, S, NH, NKV, HS)
}

// AttentionBackwardDevice is AttentionBackward on device buffers; its
// scratch (B·T·NH floats) is a backend staging slot, allocated once.
func (b *Backend) AttentionBackwardDevice(dq, dk, dv, dOut, out, lse, q, k, v, mask Buffer, B, T, NH, NKV, HS int) {
	checkAttention(B, T, T, NH, NKV, HS)
	nq, nkv := B*T*NH*HS, B*T*NKV*HS
	need(dq.n >= nq && dOut.n >= nq && out.n >= nq && q.n >= nq && lse.n >= B*NH*T, "AttentionBackwardDevice: short buffer")
	need(dk.n >= nkv && dv.n >= nkv && k.n >= nkv && v.n >= nkv, "AttentionBackwardDevice: short buffer")
	if B == 0 || T == 0 {
		return
	}
	b.enter()
	defer b.leave()
	D := b.stage(s10, 4*uint64(B*T*NH))
	b.dAttentionBackward(dq.ptr, dk.ptr, dv.ptr, dOut.ptr, out.ptr, lse.ptr, q.ptr, k.ptr, v.ptr, mask.ptr, D, B, T, NH, NKV, HS)
}

// SwiGLUForwardDevice is SwiGLUForward on device buffers.
func (b *Backend) SwiGLUForwardDevice(out, gate, up Buffer, n int) {
	need(out.n >= n && gate.n >= n && up.n >= n, "SwiGLUForwardDevice: short buffer")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kSwiGLUForward, b.blocks1D(n, blockThread), blockThread, 0, out.ptr, gate.ptr, up.ptr, i64(n))
}

// SwiGLUBackwardDevice is SwiGLUBackward on device buffers.
func (b *Backend) SwiGLUBackwardDevice(dGate, dUp, dOut, gate, up Buffer, n int) {
	need(dGate.n >= n && dUp.n >= n && dOut.n >= n && gate.n >= n && up.n >= n, "SwiGLUBackwardDevice: short buffer")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kSwiGLUBackward, b.blocks1D(n, blockThread), blockThread, 0, dGate.ptr, dUp.ptr, dOut.ptr, gate.ptr, up.ptr, i64(n))
}

// AddDevice is Add on device buffers (out may alias a or c).
func (b *Backend) AddDevice(out, a, c Buffer, n int) {
	need(out.n >= n && a.n >= n && c.n >= n, "AddDevice: short buffer")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kAdd, b.blocks1D(n, blockThread), blockThread, 0, out.ptr, a.ptr, c.ptr, i64(n))
}

// ScaleDevice is Scale on a device buffer.
func (b *Backend) ScaleDevice(x Buffer, s float32) {
	if x.n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kScale, b.blocks1D(x.n, blockThread), blockThread, 0, x.ptr, f32(s), i64(x.n))
}

// CrossEntropyForwardDevice is CrossEntropyForward on device buffers.
// Targets are not range-checked here: the host checks them before upload.
func (b *Backend) CrossEntropyForwardDevice(losses, logits Buffer, targets IntBuffer, N, V int) {
	need(losses.n >= N && logits.n >= N*V && targets.n >= N, "CrossEntropyForwardDevice: short buffer")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dCrossEntropyForward(losses.ptr, logits.ptr, targets.ptr, N, V)
}

// CrossEntropyBackwardDevice is CrossEntropyBackward on device buffers
// (dLogits may alias logits).
func (b *Backend) CrossEntropyBackwardDevice(dLogits, logits Buffer, targets IntBuffer, dLoss Buffer, N, V int) {
	need(dLogits.n >= N*V && logits.n >= N*V && targets.n >= N && dLoss.n >= N, "CrossEntropyBackwardDevice: short buffer")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dCrossEntropyBackward(dLogits.ptr, logits.ptr, targets.ptr, dLoss.ptr, N, V)
}

// LossReduceDevice: out[0] = Σ losses·mask over targets ≥ 0 (double);
// dLoss[i] = scale·mask[i]/msum there, 0 elsewhere (model's pass.loss).
func (b *Backend) LossReduceDevice(out F64Buffer, dLoss, losses Buffer, targets IntBuffer, mask Buffer, N int, msum float64, scale float32) {
	need(out.n >= 1 && dLoss.n >= N && losses.n >= N && targets.n >= N && mask.n >= N, "LossReduceDevice: short buffer")
	b.enter()
	defer b.leave()
	b.launch(kLossReduce, [3]int{1, 1, 1}, 1024, 0, out.ptr, dLoss.ptr, losses.ptr, targets.ptr, mask.ptr, i32(N), f64(msum), f32(scale))
}

// SumSquaresToDevice writes Σ x² (double, fixed-order partials, then one
// block) to out[0] without synchronising.
func (b *Backend) SumSquaresToDevice(out F64Buffer, x Buffer) {
	need(out.n >= 1, "SumSquaresToDevice: short output")
	b.enter()
	defer b.leave()
	if x.n == 0 {
		b.must(b.lib.drv.check("cuMemsetD32_v2", b.lib.drv.cuMemsetD32(out.ptr, 0, 2)))
		return
	}
	g := b.blocks1D(x.n, blockThread)
	part := b.stage(sPartial, 8*uint64(g[0]))
	b.launch(kSumSquaresPartial, g, blockThread, 0, part, x.ptr, i64(x.n))
	b.launch(kSumDoubles, [3]int{1, 1, 1}, 1024, 0, out.ptr, part, i32(g[0]))
}

// MoERouteDevice is MoERoute on device buffers.
func (b *Backend) MoERouteDevice(probs, topW Buffer, topIdx IntBuffer, logits Buffer, N, E, K int, norm bool) {
	need(E > 0 && E <= moeMaxE && K > 0 && K <= E, "MoERouteDevice: need 0 < K <= E <= 64")
	need(probs.n >= N*E && logits.n >= N*E && topW.n >= N*K && topIdx.n >= N*K, "MoERouteDevice: short buffer")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kMoERoute, [3]int{ceilDiv(N, 128), 1, 1}, 128, 0, probs.ptr, topW.ptr, topIdx.ptr, logits.ptr,
		i32(N), i32(E), i32(K), i32(boolInt(norm)))
}

// MoERouteBackwardDevice is MoERouteBackward on device buffers (dProbs
// may be a zero Buffer: none).
func (b *Backend) MoERouteBackwardDevice(dLogits, dTopW, dProbs, probs, topW Buffer, topIdx IntBuffer, N, E, K int, norm bool) {
	need(E > 0 && E <= moeMaxE && K > 0 && K <= E, "MoERouteBackwardDevice: need 0 < K <= E <= 64")
	need(dLogits.n >= N*E && probs.n >= N*E && dTopW.n >= N*K && topW.n >= N*K && topIdx.n >= N*K, "MoERouteBackwardDevice: short buffer")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kMoERouteBackward, [3]int{ceilDiv(N, 128), 1, 1}, 128, 0, dLogits.ptr, dTopW.ptr, dProbs.ptr,
		probs.ptr, topW.ptr, topIdx.ptr, i32(N), i32(E), i32(K), i32(boolInt(norm)))
}

// MoEGroupDevice sorts the N·K (token, slot) pairs by expert, stably, as
// the CPU model's counting sort: off[E+1], tok, slot [NK], wSel [NK], and
// inv [NK], each pair's grouped row.
func (b *Backend) MoEGroupDevice(off, tok, slot, inv IntBuffer, wSel Buffer, topIdx IntBuffer, topW Buffer, NK, K, E int) {
	need(E > 0 && E <= moeMaxE && K > 0, "MoEGroupDevice: need 0 < E <= 64")
	need(off.n >= E+1 && tok.n >= NK && slot.n >= NK && inv.n >= NK && wSel.n >= NK && topIdx.n >= NK && topW.n >= NK, "MoEGroupDevice: short buffer")
	b.enter()
	defer b.leave()
	b.launch(kMoEGroup, [3]int{1, 1, 1}, groupThread, 0, off.ptr, tok.ptr, slot.ptr, inv.ptr, wSel.ptr, topIdx.ptr, topW.ptr, i32(NK), i32(K), i32(E))
}

// MoECombineDevice: out[n] += Σ_s w[r]·in[r] over token n's grouped rows
// r = inv[n·K+s] in increasing r (w zero: 1): ScatterAdd(out, in, tok, w,
// N·K, C) with one thread per output element.
func (b *Backend) MoECombineDevice(out, in Buffer, inv IntBuffer, w Buffer, N, K, C int) {
	need(K > 0 && K <= moeMaxE && out.n >= N*C && in.n >= N*K*C && inv.n >= N*K && (w.ptr == 0 || w.n >= N*K), "MoECombineDevice: bad shape")
	if N == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kMoECombine, b.blocks1D(N*C, blockThread), blockThread, 0, out.ptr, in.ptr, inv.ptr, w.ptr, i32(N), i32(K), i32(C))
}

// MoEBalanceDevice computes the balance loss into out[0] and the
// normalised counts [groups,E] its gradient needs (model.balanceLoss).
func (b *Backend) MoEBalanceDevice(out, counts F64Buffer, probs Buffer, topIdx IntBuffer, E, K, groups, per, kdiv int, coef float64) {
	need(out.n >= 1 && counts.n >= groups*E && probs.n >= groups*per*E && topIdx.n >= groups*per*K, "MoEBalanceDevice: short buffer")
	b.enter()
	defer b.leave()
	b.launch(kMoEBalance, [3]int{1, 1, 1}, 256, 0, out.ptr, counts.ptr, probs.ptr, topIdx.ptr, i32(E), i32(K),
		i32(groups), i32(per), i32(kdiv), f64(coef))
}

// MoEBalanceGradDevice: dProbs[n,e] = k·counts[n/per, e].
func (b *Backend) MoEBalanceGradDevice(dProbs Buffer, counts F64Buffer, N, E, per int, k float64) {
	need(dProbs.n >= N*E && per > 0 && counts.n >= ceilDiv(N, per)*E, "MoEBalanceGradDevice: short buffer")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kMoEBalanceGrad, b.blocks1D(N*E, blockThread), blockThread, 0, dProbs.ptr, counts.ptr, i32(N), i32(E), i32(per), f64(k))
}

// IndexSetDevice: out[idx[j]] = in[j] for j < n.
func (b *Backend) IndexSetDevice(out, in Buffer, idx IntBuffer, n int) {
	need(in.n >= n && idx.n >= n, "IndexSetDevice: short buffer")
	if n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kIndexSet, b.blocks1D(n, blockThread), blockThread, 0, out.ptr, in.ptr, idx.ptr, i32(n))
}

// KVStoreDevice appends x[B,T,W] to cache[B,S,W] at each row's length.
func (b *Backend) KVStoreDevice(cache, x Buffer, lens IntBuffer, B, T, S, W int) {
	need(cache.n >= B*S*W && x.n >= B*T*W && lens.n >= B, "KVStoreDevice: short buffer")
	if B*T*W == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kKVStore, b.blocks1D(B*T*W, blockThread), blockThread, 0, cache.ptr, x.ptr, lens.ptr, i32(B), i32(T), i32(S), i32(W))
}

// PositionsDevice: pos[i] = i%T + lens[i/T] (lens a zero IntBuffer: 0).
func (b *Backend) PositionsDevice(pos, lens IntBuffer, N, T int) {
	need(pos.n >= N && T > 0 && (lens.ptr == 0 || lens.n >= ceilDiv(N, T)), "PositionsDevice: short buffer")
	if N == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kPositions, b.blocks1D(N, blockThread), blockThread, 0, pos.ptr, lens.ptr, i32(N), i32(T))
}

// AdvanceDevice: lens[b] += T for b < B.
func (b *Backend) AdvanceDevice(lens IntBuffer, B, T int) {
	need(lens.n >= B, "AdvanceDevice: short buffer")
	if B == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kAdvance, b.blocks1D(B, blockThread), blockThread, 0, lens.ptr, i32(B), i32(T))
}

// Do runs f on an OS thread where the device's context is current, for
// libraries that work on the current context (NCCL).
func (b *Backend) Do(f func() error) error {
	b.enter()
	defer b.leave()
	return f()
}

// DevicePtr is the buffer's device address (for NCCL).
func (d Buffer) DevicePtr() uint64 { return d.ptr }

// EmbeddingBackwardDevice: dTable[tok] += Σ dOut[i] over each token's
// positions, given the positions sorted by token (order [N]) and seg =
// nseg+1 segment starts followed by the nseg token ids (built on the host,
// which has the ids). Bit-identical to a sequential ScatterAdd.
func (b *Backend) EmbeddingBackwardDevice(dTable, dOut Buffer, order, seg IntBuffer, N, nseg, C int) {
	need(dOut.n >= N*C && order.n >= N && seg.n >= 2*nseg+1, "EmbeddingBackwardDevice: short buffer")
	if nseg == 0 || C == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.launch(kEmbeddingBackward, [3]int{nseg, ceilDiv(C, 128), 1}, 128, 0, dTable.ptr, dOut.ptr, order.ptr, seg.ptr, i32(nseg), i32(C))
}
