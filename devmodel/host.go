package devmodel

import (
	"fmt"
	"slices"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/kernels/cuda"
)

// Host is a Device in host memory over any kernels.Backend: the resident
// model's code path, run on the CPU. Its bookkeeping kernels are the CPU
// model's own loops, so on the CPU backend in FP32 a resident step gives
// the same numbers as package model; BF16 and FP16 round both inputs of
// every matrix product as the GPU does (nearest even), which lets the
// mixed-precision training path, loss scaler included, be tested without
// a GPU. "Copies" are counted as the GPU would count them.
type Host struct {
	be       kernels.Backend
	prec     cuda.Precision
	h2d, d2h int64
	ra, rb   []float32 // rounded GEMM inputs (BF16, FP16)
}

var _ Device = (*Host)(nil)

// NewHost returns a Host device running be's kernels, with matrix-product
// inputs rounded to prec.
func NewHost(be kernels.Backend, prec cuda.Precision) *Host { return &Host{be: be, prec: prec} }

// Name implements Device.
func (d *Host) Name() string { return fmt.Sprintf("host(%s, %s)", d.be.Name(), d.prec) }

// Precision implements Device.
func (d *Host) Precision() cuda.Precision { return d.prec }

// Alloc implements Device.
func (d *Host) Alloc(n int) (Buf, error) {
	if n < 0 {
		return Buf{}, fmt.Errorf("devmodel: Alloc(%d): negative length", n)
	}
	return Buf{n: n, h: make([]float32, n)}, nil
}

// AllocInts implements Device.
func (d *Host) AllocInts(n int) (Ints, error) {
	if n < 0 {
		return Ints{}, fmt.Errorf("devmodel: AllocInts(%d): negative length", n)
	}
	return Ints{n: n, h: make([]int32, n)}, nil
}

// AllocF64 implements Device.
func (d *Host) AllocF64(n int) (F64, error) {
	if n < 0 {
		return F64{}, fmt.Errorf("devmodel: AllocF64(%d): negative length", n)
	}
	return F64{n: n, h: make([]float64, n)}, nil
}

// Upload implements Device.
func (d *Host) Upload(dst Buf, src []float32) error {
	if len(src) > dst.n {
		return fmt.Errorf("devmodel: Upload of %d floats into a buffer of %d", len(src), dst.n)
	}
	d.h2d += 4 * int64(len(src))
	copy(dst.h, src)
	return nil
}

// Download implements Device.
func (d *Host) Download(dst []float32, src Buf) error {
	if len(dst) > src.n {
		return fmt.Errorf("devmodel: Download of %d floats from a buffer of %d", len(dst), src.n)
	}
	d.d2h += 4 * int64(len(dst))
	copy(dst, src.h)
	return nil
}

// UploadInts implements Device.
func (d *Host) UploadInts(dst Ints, src []int32) error {
	if len(src) > dst.n {
		return fmt.Errorf("devmodel: UploadInts of %d ints into a buffer of %d", len(src), dst.n)
	}
	d.h2d += 4 * int64(len(src))
	copy(dst.h, src)
	return nil
}

// DownloadInts implements Device.
func (d *Host) DownloadInts(dst []int32, src Ints) error {
	if len(dst) > src.n {
		return fmt.Errorf("devmodel: DownloadInts of %d ints from a buffer of %d", len(dst), src.n)
	}
	d.d2h += 4 * int64(len(dst))
	copy(dst, src.h)
	return nil
}

// DownloadF64 implements Device.
func (d *Host) DownloadF64(dst []float64, src F64) error {
	if len(dst) > src.n {
		return fmt.Errorf("devmodel: DownloadF64 of %d values from a buffer of %d", len(dst), src.n)
	}
	d.d2h += 8 * int64(len(dst))
	copy(dst, src.h)
	return nil
}

// Traffic implements Device.
func (d *Host) Traffic() (h2d, d2h int64) { return d.h2d, d.d2h }

// Synchronize implements Device (host kernels are synchronous).
func (d *Host) Synchronize() error { return nil }

// MemoryUsed implements Device (not tracked on the host).
func (d *Host) MemoryUsed() int64 { return 0 }

// Close implements Device; the backend stays the caller's.
func (d *Host) Close() error { return nil }

// Zero implements Device.
func (d *Host) Zero(x Buf) { d.be.Zero(x.h) }

// ZeroF64 implements Device.
func (d *Host) ZeroF64(x F64) { clear(x.h) }

// Fill implements Device.
func (d *Host) Fill(x Buf, v float32) {
	for i := range x.h {
		x.h[i] = v
	}
}

// Copy implements Device.
func (d *Host) Copy(dst, src Buf) { copy(dst.h[:src.n], src.h) }

// round returns x rounded to the device's 16-bit format in scratch *buf.
func (d *Host) round(buf *[]float32, x []float32) []float32 {
	if cap(*buf) < len(x) {
		*buf = make([]float32, len(x))
	}
	r := (*buf)[:len(x)]
	for i, v := range x {
		if d.prec == cuda.FP16 {
			r[i] = half.F16ToFloat32(half.Float32ToF16(v))
		} else {
			r[i] = half.BF16ToFloat32(half.Float32ToBF16(v))
		}
	}
	return r
}

// MatMul implements Device.
func (d *Host) MatMul(c, a, b Buf, m, n, k int, transA, transB, accumulate bool) {
	x, y := a.h[:m*k], b.h[:k*n]
	if d.prec != cuda.FP32 {
		x, y = d.round(&d.ra, x), d.round(&d.rb, y)
	}
	d.be.MatMul(c.h, x, y, m, n, k, transA, transB, accumulate)
}

// EmbeddingForward implements Device.
func (d *Host) EmbeddingForward(out Buf, ids Ints, table Buf, N, C int) {
	d.be.EmbeddingForward(out.h, ids.h, table.h, N, C)
}

// ScatterAdd implements Device.
func (d *Host) ScatterAdd(out, in Buf, rows Ints, w Buf, M, C int) {
	d.be.ScatterAdd(out.h, in.h, rows.h, w.h, M, C)
}

// Gather implements Device.
func (d *Host) Gather(out, in Buf, rows Ints, w Buf, M, C int) {
	d.be.Gather(out.h, in.h, rows.h, w.h, M, C)
}

// RowDot implements Device.
func (d *Host) RowDot(out, a Buf, rows Ints, b Buf, M, C int) {
	d.be.RowDot(out.h, a.h, rows.h, b.h, M, C)
}

// RMSNormForward implements Device.
func (d *Host) RMSNormForward(out, rstd, in, w Buf, N, C int, eps float32) {
	d.be.RMSNormForward(out.h, rstd.h, in.h, w.h, N, C, eps)
}

// RMSNormBackward implements Device.
func (d *Host) RMSNormBackward(dIn, dW, dOut, in, w, rstd Buf, N, C int) {
	d.be.RMSNormBackward(dIn.h, dW.h, dOut.h, in.h, w.h, rstd.h, N, C)
}

// RoPE implements Device.
func (d *Host) RoPE(x Buf, pos Ints, cos, sin Buf, N, NH, HS int, sign float32) {
	if sign > 0 {
		d.be.RoPEForward(x.h, pos.h, cos.h, sin.h, N, NH, HS)
	} else {
		d.be.RoPEBackward(x.h, pos.h, cos.h, sin.h, N, NH, HS)
	}
}

// AttentionForward implements Device.
func (d *Host) AttentionForward(out, lse, q, k, v, mask Buf, past Ints, B, T, S, NH, NKV, HS int) {
	d.be.AttentionForward(out.h, lse.h, q.h, k.h, v.h, mask.h, past.h, B, T, S, NH, NKV, HS)
}

// AttentionBackward implements Device.
func (d *Host) AttentionBackward(dq, dk, dv, dOut, out, lse, q, k, v Buf, B, T, NH, NKV, HS int) {
	d.be.AttentionBackward(dq.h, dk.h, dv.h, dOut.h, out.h, lse.h, q.h, k.h, v.h, nil, B, T, NH, NKV, HS)
}

// SwiGLUForward implements Device.
func (d *Host) SwiGLUForward(out, gate, up Buf, n int) { d.be.SwiGLUForward(out.h, gate.h, up.h, n) }

// SwiGLUBackward implements Device.
func (d *Host) SwiGLUBackward(dGate, dUp, dOut, gate, up Buf, n int) {
	d.be.SwiGLUBackward(dGate.h, dUp.h, dOut.h, gate.h, up.h, n)
}

// Add implements Device.
func (d *Host) Add(out, a, b Buf, n int) { d.be.Add(out.h, a.h, b.h, n) }

// Scale implements Device.
func (d *Host) Scale(x Buf, s float32) { d.be.Scale(x.h, s) }

// CrossEntropyForward implements Device.
func (d *Host) CrossEntropyForward(losses, logits Buf, targets Ints, N, V int) {
	d.be.CrossEntropyForward(losses.h, logits.h, targets.h, N, V)
}

// CrossEntropyBackward implements Device.
func (d *Host) CrossEntropyBackward(dLogits, logits Buf, targets Ints, dLoss Buf, N, V int) {
	d.be.CrossEntropyBackward(dLogits.h, logits.h, targets.h, dLoss.h, N, V)
}

// MoERoute implements Device.
func (d *Host) MoERoute(probs, topW Buf, topIdx Ints, logits Buf, N, E, K int, norm bool) {
	d.be.MoERoute(probs.h, topW.h, topIdx.h, logits.h, N, E, K, norm)
}

// MoERouteBackward implements Device.
func (d *Host) MoERouteBackward(dLogits, dTopW, dProbs, probs, topW Buf, topIdx Ints, N, E, K int, norm bool) {
	d.be.MoERouteBackward(dLogits.h, dTopW.h, dProbs.h, probs.h, topW.h, topIdx.h, N, E, K, norm)
}

// AdamW implements Device.
func (d *Host) AdamW(p, g, m, v Buf, lr, beta1, beta2, eps, wd float32, t int) {
	d.be.AdamW(p.h, g.h, m.h, v.h, lr, beta1, beta2, eps, wd, t)
}

// LossReduce implements Device: model's pass.loss loops.
func (d *Host) LossReduce(out F64, dLoss, losses Buf, targets Ints, mask Buf, N int, msum float64, scale float32) {
	var sum float64
	for i := 0; i < N; i++ {
		dLoss.h[i] = 0
		if targets.h[i] < 0 {
			continue
		}
		sum += float64(losses.h[i]) * float64(mask.h[i])
		if msum > 0 {
			dLoss.h[i] = float32(float64(scale) * float64(mask.h[i]) / msum)
		}
	}
	out.h[0] = sum
}

// SumSquares implements Device.
func (d *Host) SumSquares(out F64, x Buf) { out.h[0] = d.be.SumSquares(x.h) }

// MoEGroup implements Device: model.moeForward's counting sort.
func (d *Host) MoEGroup(off, tok, slot, inv Ints, wSel Buf, topIdx Ints, topW Buf, NK, K, E int) {
	o := off.h[:E+1]
	clear(o)
	for _, e := range topIdx.h[:NK] {
		o[e+1]++
	}
	for e := 0; e < E; e++ {
		o[e+1] += o[e]
	}
	for j := 0; j < NK; j++ {
		e := topIdx.h[j]
		dst := o[e]
		o[e]++
		tok.h[dst] = int32(j / K)
		slot.h[dst] = int32(j)
		inv.h[j] = dst
		wSel.h[dst] = topW.h[j]
	}
	copy(o[1:], o[:E])
	o[0] = 0
}

// MoECombine implements Device as the GPU kernel does: per token, its
// grouped rows in increasing order, so the float operations on each
// element are those of the CPU's sequential ScatterAdd.
func (d *Host) MoECombine(out, in Buf, inv Ints, w Buf, N, K, C int) {
	r := make([]int32, K)
	for n := 0; n < N; n++ {
		copy(r, inv.h[n*K:(n+1)*K])
		slices.Sort(r)
		dst := out.h[n*C : (n+1)*C]
		for _, ri := range r {
			s := float32(1)
			if w.h != nil {
				s = w.h[ri]
			}
			src := in.h[int(ri)*C : int(ri+1)*C]
			for j := range dst {
				dst[j] += s * src[j]
			}
		}
	}
}

// MoEBalance implements Device: model.balanceLoss.
func (d *Host) MoEBalance(out, counts F64, probs Buf, topIdx Ints, E, K, groups, per, kdiv int, coef float64) {
	cs := counts.h[:groups*E]
	clear(cs)
	for j, e := range topIdx.h[:groups*per*K] {
		cs[j/K/per*E+int(e)]++
	}
	var aux float64
	for g := 0; g < groups; g++ {
		for e := 0; e < E; e++ {
			cs[g*E+e] *= float64(E) / float64(per*kdiv)
			var pm float64
			for t := 0; t < per; t++ {
				pm += float64(probs.h[(g*per+t)*E+e])
			}
			aux += cs[g*E+e] * pm / float64(per)
		}
	}
	out.h[0] = coef * aux / float64(groups)
}

// MoEBalanceGrad implements Device.
func (d *Host) MoEBalanceGrad(dProbs Buf, counts F64, N, E, per int, k float64) {
	for n := 0; n < N; n++ {
		g := n / per
		for e := 0; e < E; e++ {
			dProbs.h[n*E+e] = float32(k * counts.h[g*E+e])
		}
	}
}

// EmbeddingBackward implements Device: per token, its rows in position
// order (what a sequential scatter-add does to that token's row).
func (d *Host) EmbeddingBackward(dTable, dOut Buf, order, seg Ints, N, nseg, C int) {
	for s := 0; s < nseg; s++ {
		out := dTable.h[int(seg.h[nseg+1+s])*C:][:C]
		for _, i := range order.h[seg.h[s]:seg.h[s+1]] {
			in := dOut.h[int(i)*C:][:C]
			for j := range out {
				out[j] += in[j]
			}
		}
	}
}

// IndexSet implements Device.
func (d *Host) IndexSet(out, in Buf, idx Ints, n int) {
	for j := 0; j < n; j++ {
		out.h[idx.h[j]] = in.h[j]
	}
}

// KVStore implements Device: model's KVCache.store.
func (d *Host) KVStore(cache, x Buf, lens Ints, B, T, S, W int) {
	for b := 0; b < B; b++ {
		dst := (b*S + int(lens.h[b])) * W
		copy(cache.h[dst:dst+T*W], x.h[b*T*W:(b+1)*T*W])
	}
}

// Positions implements Device.
func (d *Host) Positions(pos, lens Ints, N, T int) {
	for i := 0; i < N; i++ {
		pos.h[i] = int32(i % T)
		if lens.n > 0 {
			pos.h[i] += lens.h[i/T]
		}
	}
}

// Advance implements Device.
func (d *Host) Advance(lens Ints, B, T int) {
	for b := 0; b < B; b++ {
		lens.h[b] += int32(T)
	}
}
