package devmodel

import "github.com/minimind-go/minimind/kernels/cuda"

// Buf is a float32 tensor in a Device's memory, or a view of one: host
// memory for the Host device, GPU memory for the CUDA device. The zero Buf
// is "none" (an absent mask, an unweighted gather).
type Buf struct {
	n int
	h []float32   // Host
	g cuda.Buffer // CUDA
}

// Len is the number of elements.
func (b Buf) Len() int { return b.n }

// Slice is the view [lo, hi) (no copy).
func (b Buf) Slice(lo, hi int) Buf {
	if lo < 0 || lo > hi || hi > b.n {
		panic("devmodel: Buf.Slice out of range")
	}
	s := Buf{n: hi - lo}
	if b.h != nil {
		s.h = b.h[lo:hi:hi]
	} else {
		s.g = b.g.Slice(lo, hi)
	}
	return s
}

// Ints is an int32 tensor in a Device's memory (ids, targets, positions,
// expert indices).
type Ints struct {
	n int
	h []int32
	g cuda.IntBuffer
}

// Len is the number of elements.
func (b Ints) Len() int { return b.n }

// Slice is the view [lo, hi) (no copy).
func (b Ints) Slice(lo, hi int) Ints {
	if lo < 0 || lo > hi || hi > b.n {
		panic("devmodel: Ints.Slice out of range")
	}
	s := Ints{n: hi - lo}
	if b.h != nil {
		s.h = b.h[lo:hi:hi]
	} else {
		s.g = b.g.Slice(lo, hi)
	}
	return s
}

// F64 is a float64 tensor in a Device's memory: the scalars a step
// reduces in double (loss sum, balance loss, squared gradient norm) and
// the MoE balance counts.
type F64 struct {
	n int
	h []float64
	g cuda.F64Buffer
}

// Len is the number of elements.
func (b F64) Len() int { return b.n }

// Slice is the view [lo, hi) (no copy).
func (b F64) Slice(lo, hi int) F64 {
	if lo < 0 || lo > hi || hi > b.n {
		panic("devmodel: F64.Slice out of range")
	}
	s := F64{n: hi - lo}
	if b.h != nil {
		s.h = b.h[lo:hi:hi]
	} else {
		s.g = b.g.Slice(lo, hi)
	}
	return s
}

// Device is the memory and kernels a resident Model runs on. Its kernels
// are those of kernels.Backend (same names, shapes and accumulate rules,
// see kernels/backend.go) on buffers in the device's memory, plus the
// bookkeeping that the CPU model does on the host (loss reduction, MoE
// grouping and balance loss, KV-cache append), so a step needs no copy
// but the token ids up and a few scalars down.
//
// Two implementations: CUDA (kernels/cuda's device-resident API) and Host
// (host memory, any kernels.Backend), which runs the very same model code
// on the CPU: the tests compare it with package model, and it emulates
// the GPU's 16-bit matrix-product inputs. A Device is used by one
// goroutine at a time. Kernels panic on shape errors and device failures
// as kernels.Backend does; allocation and copies return errors.
type Device interface {
	// Name identifies the device and its precision for logs.
	Name() string
	// Precision of matrix products: FP32, or BF16/FP16 inputs with fp32
	// accumulation.
	Precision() cuda.Precision

	// Alloc, AllocInts and AllocF64 return zeroed buffers; Close frees
	// every buffer allocated.
	Alloc(n int) (Buf, error)
	AllocInts(n int) (Ints, error)
	AllocF64(n int) (F64, error)
	// Uploads and downloads copy into or from the start of a buffer;
	// downloads wait for the kernels queued before them.
	Upload(dst Buf, src []float32) error
	Download(dst []float32, src Buf) error
	UploadInts(dst Ints, src []int32) error
	DownloadInts(dst []int32, src Ints) error
	DownloadF64(dst []float64, src F64) error
	// Traffic is the bytes copied host→device and device→host so far.
	Traffic() (h2d, d2h int64)
	// Synchronize waits for every queued kernel.
	Synchronize() error
	// MemoryUsed reports the device memory in use (0 when unknown).
	MemoryUsed() int64
	// Close frees every buffer and the device.
	Close() error

	Zero(x Buf)
	ZeroF64(x F64)
	Fill(x Buf, v float32)
	Copy(dst, src Buf)
	MatMul(c, a, b Buf, m, n, k int, transA, transB, accumulate bool)
	EmbeddingForward(out Buf, ids Ints, table Buf, N, C int)
	ScatterAdd(out, in Buf, rows Ints, w Buf, M, C int)
	Gather(out, in Buf, rows Ints, w Buf, M, C int)
	RowDot(out, a Buf, rows Ints, b Buf, M, C int)
	RMSNormForward(out, rstd, in, w Buf, N, C int, eps float32)
	RMSNormBackward(dIn, dW, dOut, in, w, rstd Buf, N, C int)
	// RoPE rotates x in place: sign +1 is RoPEForward, -1 RoPEBackward.
	RoPE(x Buf, pos Ints, cos, sin Buf, N, NH, HS int, sign float32)
	AttentionForward(out, lse, q, k, v, mask Buf, past Ints, B, T, S, NH, NKV, HS int)
	AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v Buf, B, T, NH, NKV, HS int)
	SwiGLUForward(out, gate, up Buf, n int)
	SwiGLUBackward(dGate, dUp, dOut, gate, up Buf, n int)
	Add(out, a, b Buf, n int)
	Scale(x Buf, s float32)
	CrossEntropyForward(losses, logits Buf, targets Ints, N, V int)
	CrossEntropyBackward(dLogits, logits Buf, targets Ints, dLoss Buf, N, V int)
	MoERoute(probs, topW Buf, topIdx Ints, logits Buf, N, E, K int, norm bool)
	MoERouteBackward(dLogits, dTopW, dProbs, probs, topW Buf, topIdx Ints, N, E, K int, norm bool)
	AdamW(p, g, m, v Buf, lr, beta1, beta2, eps, wd float32, t int)

	// LossReduce: out[0] = Σ losses[i]·mask[i] over targets[i] ≥ 0 (in
	// float64); dLoss[i] = float32(scale·mask[i]/msum) there, 0 elsewhere
	// (and everywhere when msum is 0).
	LossReduce(out F64, dLoss, losses Buf, targets Ints, mask Buf, N int, msum float64, scale float32)
	// SumSquares: out[0] = Σ x² in float64.
	SumSquares(out F64, x Buf)
	// MoEGroup: the stable counting sort of the NK (token, slot) pairs by
	// expert (off [E+1], tok, slot, wSel [NK]), as model.moeForward.
	// inv [NK] is each pair's grouped row (for MoECombine).
	MoEGroup(off, tok, slot, inv Ints, wSel Buf, topIdx Ints, topW Buf, NK, K, E int)
	// MoECombine: out[n] += Σ_s w[r]·in[r] over token n's grouped rows
	// r = inv[n·K+s], in increasing r (w none: 1) — per element the float
	// operations of ScatterAdd(out, in, tok, w, N·K, C), in its order.
	MoECombine(out, in Buf, inv Ints, w Buf, N, K, C int)
	// MoEBalance: out[0] = the balance loss, counts [groups,E] the
	// normalised assignment counts (model.balanceLoss).
	MoEBalance(out, counts F64, probs Buf, topIdx Ints, E, K, groups, per, kdiv int, coef float64)
	// MoEBalanceGrad: dProbs[n,e] = float32(k·counts[n/per, e]).
	MoEBalanceGrad(dProbs Buf, counts F64, N, E, per int, k float64)
	// EmbeddingBackward: dTable[tok] += Σ dOut[i] over each token's
	// positions, given them sorted by token: order [N] the positions,
	// seg the nseg+1 segment starts then the nseg token ids (built on the
	// host from the ids). The same float additions, in the same order, as
	// EmbeddingBackward/ScatterAdd over the ids.
	EmbeddingBackward(dTable, dOut Buf, order, seg Ints, N, nseg, C int)
	// IndexSet: out[idx[j]] = in[j] for j < n.
	IndexSet(out, in Buf, idx Ints, n int)
	// KVStore appends x [B,T,W] to cache [B,S,W] at each row's lens[b].
	KVStore(cache, x Buf, lens Ints, B, T, S, W int)
	// Positions: pos[i] = i%T + lens[i/T] (lens of length 0: none).
	Positions(pos, lens Ints, N, T int)
	// Advance: lens[b] += T.
	Advance(lens Ints, B, T int)
}
