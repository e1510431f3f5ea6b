package cuda

import (
	"fmt"
	"unsafe"
)

// Buffer is float32 memory on the GPU: the unit of the device-resident
// design (README.md), in which the model's parameter, gradient, moment
// and activation slabs are allocated through the backend and stay on the
// device, and only token ids, losses and sampled tokens cross the bus.
type Buffer struct {
	ptr dptr
	n   int
}

// Len is the number of float32 elements.
func (d Buffer) Len() int { return d.n }

// Alloc returns a zeroed device buffer of n float32s.
func (b *Backend) Alloc(n int) (Buffer, error) {
	if n < 0 {
		return Buffer{}, fmt.Errorf("cuda: Alloc(%d): negative length", n)
	}
	b.enter()
	defer b.leave()
	d := &b.lib.drv
	var p dptr
	if err := d.check("cuMemAlloc_v2", d.cuMemAlloc(&p, 4*uint64(max(n, 1)))); err != nil {
		return Buffer{}, fmt.Errorf("cuda: Alloc(%d floats): %w", n, err)
	}
	if err := d.check("cuMemsetD32_v2", d.cuMemsetD32(p, 0, uint64(n))); err != nil {
		d.cuMemFree(p)
		return Buffer{}, err
	}
	return Buffer{ptr: p, n: n}, nil
}

// Free releases a buffer from Alloc.
func (b *Backend) Free(buf Buffer) error {
	if buf.ptr == 0 {
		return nil
	}
	b.enter()
	defer b.leave()
	return b.lib.drv.check("cuMemFree_v2", b.lib.drv.cuMemFree(buf.ptr))
}

// Upload copies src into the start of dst.
func (b *Backend) Upload(dst Buffer, src []float32) error {
	if len(src) > dst.n {
		return fmt.Errorf("cuda: Upload of %d floats into a buffer of %d", len(src), dst.n)
	}
	if len(src) == 0 {
		return nil
	}
	b.enter()
	defer b.leave()
	b.h2d += 4 * int64(len(src))
	return b.lib.drv.check("cuMemcpyHtoD_v2", b.lib.drv.cuMemcpyHtoD(dst.ptr, unsafe.Pointer(&src[0]), 4*uint64(len(src))))
}

// Download copies the start of src into dst, waiting for the kernels
// queued before it.
func (b *Backend) Download(dst []float32, src Buffer) error {
	if len(dst) > src.n {
		return fmt.Errorf("cuda: Download of %d floats from a buffer of %d", len(dst), src.n)
	}
	if len(dst) == 0 {
		return nil
	}
	b.enter()
	defer b.leave()
	b.d2h += 4 * int64(len(dst))
	return b.lib.drv.check("cuMemcpyDtoH_v2", b.lib.drv.cuMemcpyDtoH(unsafe.Pointer(&dst[0]), src.ptr, 4*uint64(len(dst))))
}

// Slice is the view [lo, hi) of a buffer (no copy), like a slab view.
func (d Buffer) Slice(lo, hi int) Buffer {
	need(0 <= lo && lo <= hi && hi <= d.n, "Buffer.Slice: out of range")
	return Buffer{ptr: d.ptr + 4*uint64(lo), n: hi - lo}
}

// MatMulDevice is MatMul on device buffers: no copies, no
// synchronisation. It is the first method of the device-resident API
// (README.md); the others follow the same pattern over ops_device.go.
func (b *Backend) MatMulDevice(c, a, w Buffer, m, n, k int, transA, transB, accumulate bool) {
	need(a.n >= m*k && w.n >= k*n && c.n >= m*n, "MatMulDevice: short buffer")
	if m == 0 || n == 0 || k == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dGemm(c.ptr, a.ptr, w.ptr, m, n, k, transA, transB, accumulate)
}

// AdamWDevice is the fused AdamW step on device-resident slabs.
func (b *Backend) AdamWDevice(p, g, m, v Buffer, lr, beta1, beta2, eps, wd float32, t int) {
	need(g.n >= p.n && m.n >= p.n && v.n >= p.n && t >= 1, "AdamWDevice: bad arguments")
	if p.n == 0 {
		return
	}
	b.enter()
	defer b.leave()
	b.dAdamW(p.ptr, g.ptr, m.ptr, v.ptr, p.n, lr, beta1, beta2, eps, wd, t)
}

// SumSquaresDevice is the gradient-norm reduction on a device slab.
func (b *Backend) SumSquaresDevice(x Buffer) float64 {
	if x.n == 0 {
		return 0
	}
	b.enter()
	defer b.leave()
	return b.dSumSquares(x.ptr, x.n)
}
