package devmodel

import (
	"errors"
	"fmt"

	"github.com/minimind-go/minimind/kernels/cuda"
)

// CUDA is the GPU Device: kernels/cuda's device-resident API. It owns its
// cuda.Backend (closed by Close).
type CUDA struct {
	be     *cuda.Backend
	floats []cuda.Buffer
	ints   []cuda.IntBuffer
	f64s   []cuda.F64Buffer
}

var _ Device = (*CUDA)(nil)

// NewCUDA opens the GPU (see cuda.New; a machine without one gives an
// error wrapping cuda.ErrNoDriver, ErrNoNVRTC, ErrNoCUBLAS or ErrNoDevice).
func NewCUDA(o cuda.Options) (*CUDA, error) {
	be, err := cuda.New(o)
	if err != nil {
		return nil, err
	}
	return &CUDA{be: be}, nil
}

// Backend is the underlying cuda.Backend (for its Info).
func (d *CUDA) Backend() *cuda.Backend { return d.be }

// Name implements Device.
func (d *CUDA) Name() string { return d.be.Name() }

// Precision implements Device.
func (d *CUDA) Precision() cuda.Precision { return d.be.Precision() }

// Alloc implements Device.
func (d *CUDA) Alloc(n int) (Buf, error) {
	g, err := d.be.Alloc(n)
	if err != nil {
		return Buf{}, err
	}
	d.floats = append(d.floats, g)
	return Buf{n: n, g: g}, nil
}

// AllocInts implements Device.
func (d *CUDA) AllocInts(n int) (Ints, error) {
	g, err := d.be.AllocInts(n)
	if err != nil {
		return Ints{}, err
	}
	d.ints = append(d.ints, g)
	return Ints{n: n, g: g}, nil
}

// AllocF64 implements Device.
func (d *CUDA) AllocF64(n int) (F64, error) {
	g, err := d.be.AllocF64(n)
	if err != nil {
		return F64{}, err
	}
	d.f64s = append(d.f64s, g)
	return F64{n: n, g: g}, nil
}

// Upload implements Device.
func (d *CUDA) Upload(dst Buf, src []float32) error { return d.be.Upload(dst.g, src) }

// Download implements Device.
func (d *CUDA) Download(dst []float32, src Buf) error { return d.be.Download(dst, src.g) }

// UploadInts implements Device.
func (d *CUDA) UploadInts(dst Ints, src []int32) error { return d.be.UploadInts(dst.g, src) }

// DownloadInts implements Device.
func (d *CUDA) DownloadInts(dst []int32, src Ints) error { return d.be.DownloadInts(dst, src.g) }

// DownloadF64 implements Device.
func (d *CUDA) DownloadF64(dst []float64, src F64) error { return d.be.DownloadF64(dst, src.g) }

// Traffic implements Device.
func (d *CUDA) Traffic() (h2d, d2h int64) { return d.be.Traffic() }

// Synchronize implements Device.
func (d *CUDA) Synchronize() error { return d.be.Synchronize() }

// MemoryUsed implements Device: the whole device's use (cuMemGetInfo),
// which includes the context and cuBLAS workspace.
func (d *CUDA) MemoryUsed() int64 {
	used, _, err := d.be.MemoryInUse()
	if err != nil {
		return 0
	}
	return int64(used)
}

// Close implements Device.
func (d *CUDA) Close() error {
	var errs []error
	for _, b := range d.floats {
		errs = append(errs, d.be.Free(b))
	}
	for _, b := range d.ints {
		errs = append(errs, d.be.FreeInts(b))
	}
	for _, b := range d.f64s {
		errs = append(errs, d.be.FreeF64(b))
	}
	d.floats, d.ints, d.f64s = nil, nil, nil
	errs = append(errs, d.be.Close())
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("devmodel: close CUDA device: %w", err)
	}
	return nil
}

// Zero implements Device.
func (d *CUDA) Zero(x Buf) { d.be.ZeroDevice(x.g) }

// ZeroF64 implements Device.
func (d *CUDA) ZeroF64(x F64) { d.be.ZeroF64Device(x.g) }

// Fill implements Device.
func (d *CUDA) Fill(x Buf, v float32) { d.be.FillDevice(x.g, v) }

// Copy implements Device.
func (d *CUDA) Copy(dst, src Buf) { d.be.CopyDevice(dst.g, src.g) }

// MatMul implements Device.
func (d *CUDA) MatMul(c, a, b Buf, m, n, k int, transA, transB, accumulate bool) {
	d.be.MatMulDevice(c.g, a.g, b.g, m, n, k, transA, transB, accumulate)
}

// EmbeddingForward implements Device.
func (d *CUDA) EmbeddingForward(out Buf, ids Ints, table Buf, N, C int) {
	d.be.EmbeddingForwardDevice(out.g, ids.g, table.g, N, C)
}

// ScatterAdd implements Device.
func (d *CUDA) ScatterAdd(out, in Buf, rows Ints, w Buf, M, C int) {
	d.be.ScatterAddDevice(out.g, in.g, rows.g, w.g, M, C)
}

// Gather implements Device.
func (d *CUDA) Gather(out, in Buf, rows Ints, w Buf, M, C int) {
	d.be.GatherDevice(out.g, in.g, rows.g, w.g, M, C)
}

// RowDot implements Device.
func (d *CUDA) RowDot(out, a Buf, rows Ints, b Buf, M, C int) {
	d.be.RowDotDevice(out.g, a.g, rows.g, b.g, M, C)
}

// RMSNormForward implements Device.
func (d *CUDA) RMSNormForward(out, rstd, in, w Buf, N, C int, eps float32) {
	d.be.RMSNormForwardDevice(out.g, rstd.g, in.g, w.g, N, C, eps)
}

// RMSNormBackward implements Device.
func (d *CUDA) RMSNormBackward(dIn, dW, dOut, in, w, rstd Buf, N, C int) {
	d.be.RMSNormBackwardDevice(dIn.g, dW.g, dOut.g, in.g, w.g, rstd.g, N, C)
}

// RoPE implements Device.
func (d *CUDA) RoPE(x Buf, pos Ints, cos, sin Buf, N, NH, HS int, sign float32) {
	d.be.RoPEDevice(x.g, pos.g, cos.g, sin.g, N, NH, HS, sign)
}

// AttentionForward implements Device.
func (d *CUDA) AttentionForward(out, lse, q, k, v, mask Buf, past Ints, B, T, S, NH, NKV, HS int) {
	d.be.AttentionForwardDevice(out.g, lse.g, q.g, k.g, v.g, mask.g, past.g, B, T, S, NH, NKV, HS)
}

// AttentionBackward implements Device.
func (d *CUDA) AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v Buf, B, T, NH, NKV, HS int) {
	d.be.AttentionBackwardDevice(dq.g, dk.g, dv.g, dOut.g, out.g, lse.g, q.g, k.g, v.g, cuda.Buffer{}, B, T, NH, NKV, HS)
}

// SwiGLUForward implements Device.
func (d *CUDA) SwiGLUForward(out, gate, up Buf, n int) {
	d.be.SwiGLUForwardDevice(out.g, gate.g, up.g, n)
}

// SwiGLUBackward implements Device.
func (d *CUDA) SwiGLUBackward(dGate, dUp, dOut, gate, up Buf, n int) {
	d.be.SwiGLUBackwardDevice(dGate.g, dUp.g, dOut.g, gate.g, up.g, n)
}

// Add implements Device.
func (d *CUDA) Add(out, a, b Buf, n int) { d.be.AddDevice(out.g, a.g, b.g, n) }

// Scale implements Device.
func (d *CUDA) Scale(x Buf, s float32) { d.be.ScaleDevice(x.g, s) }

// CrossEntropyForward implements Device.
func (d *CUDA) CrossEntropyForward(losses, logits Buf, targets Ints, N, V int) {
	d.be.CrossEntropyForwardDevice(losses.g, logits.g, targets.g, N, V)
}

// CrossEntropyBackward implements Device.
func (d *CUDA) CrossEntropyBackward(dLogits, logits Buf, targets Ints, dLoss Buf, N, V int) {
	d.be.CrossEntropyBackwardDevice(dLogits.g, logits.g, targets.g, dLoss.g, N, V)
}

// MoERoute implements Device.
func (d *CUDA) MoERoute(probs, topW Buf, topIdx Ints, logits Buf, N, E, K int, norm bool) {
	d.be.MoERouteDevice(probs.g, topW.g, topIdx.g, logits.g, N, E, K, norm)
}

// MoERouteBackward implements Device.
func (d *CUDA) MoERouteBackward(dLogits, dTopW, dProbs, probs, topW Buf, topIdx Ints, N, E, K int, norm bool) {
	d.be.MoERouteBackwardDevice(dLogits.g, dTopW.g, dProbs.g, probs.g, topW.g, topIdx.g, N, E, K, norm)
}

// AdamW implements Device.
func (d *CUDA) AdamW(p, g, m, v Buf, lr, beta1, beta2, eps, wd float32, t int) {
	d.be.AdamWDevice(p.g, g.g, m.g, v.g, lr, beta1, beta2, eps, wd, t)
}

// LossReduce implements Device.
func (d *CUDA) LossReduce(out F64, dLoss, losses Buf, targets Ints, mask Buf, N int, msum float64, scale float32) {
	d.be.LossReduceDevice(out.g, dLoss.g, losses.g, targets.g, mask.g, N, msum, scale)
}

// SumSquares implements Device.
func (d *CUDA) SumSquares(out F64, x Buf) { d.be.SumSquaresToDevice(out.g, x.g) }

// MoEGroup implements Device.
func (d *CUDA) MoEGroup(off, tok, slot, inv Ints, wSel Buf, topIdx Ints, topW Buf, NK, K, E int) {
	d.be.MoEGroupDevice(off.g, tok.g, slot.g, inv.g, wSel.g, topIdx.g, topW.g, NK, K, E)
}

// MoECombine implements Device.
func (d *CUDA) MoECombine(out, in Buf, inv Ints, w Buf, N, K, C int) {
	d.be.MoECombineDevice(out.g, in.g, inv.g, w.g, N, K, C)
}

// MoEBalance implements Device.
func (d *CUDA) MoEBalance(out, counts F64, probs Buf, topIdx Ints, E, K, groups, per, kdiv int, coef float64) {
	d.be.MoEBalanceDevice(out.g, counts.g, probs.g, topIdx.g, E, K, groups, per, kdiv, coef)
}

// MoEBalanceGrad implements Device.
func (d *CUDA) MoEBalanceGrad(dProbs Buf, counts F64, N, E, per int, k float64) {
	d.be.MoEBalanceGradDevice(dProbs.g, counts.g, N, E, per, k)
}

// EmbeddingBackward implements Device.
func (d *CUDA) EmbeddingBackward(dTable, dOut Buf, order, seg Ints, N, nseg, C int) {
	d.be.EmbeddingBackwardDevice(dTable.g, dOut.g, order.g, seg.g, N, nseg, C)
}

// IndexSet implements Device.
func (d *CUDA) IndexSet(out, in Buf, idx Ints, n int) { d.be.IndexSetDevice(out.g, in.g, idx.g, n) }

// KVStore implements Device.
func (d *CUDA) KVStore(cache, x Buf, lens Ints, B, T, S, W int) {
	d.be.KVStoreDevice(cache.g, x.g, lens.g, B, T, S, W)
}

// Positions implements Device.
func (d *CUDA) Positions(pos, lens Ints, N, T int) { d.be.PositionsDevice(pos.g, lens.g, N, T) }

// Advance implements Device.
func (d *CUDA) Advance(lens Ints, B, T int) { d.be.AdvanceDevice(lens.g, B, T) }
