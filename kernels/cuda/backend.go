package cuda

import (
	"errors"
	"fmt"
	"math"
	"runtime"
	"time"
	"unsafe"

	"github.com/minimind-go/minimind/kernels"
)

// Precision selects the arithmetic of matrix products.
type Precision int

const (
	// FP32: every product in float32 (cublasSgemm, TF32 off). Meets the
	// CPU backend's conformance tolerances.
	FP32 Precision = iota
	// BF16: mixed precision, as the seed's autocast: matrix-product inputs
	// are rounded to bfloat16 and multiplied on tensor cores with float32
	// accumulation (cublasGemmEx); every other kernel, the loss, the
	// master weights and the AdamW moments stay float32.
	BF16
	// FP16: as BF16 with IEEE binary16 inputs (cublasGemmEx, CUDA_R_16F,
	// float32 accumulation): the seed's float16 autocast for GPUs without
	// bf16 (T4, sm_75). Its 5-bit exponent needs dynamic loss scaling
	// when training (devmodel.GradScaler).
	FP16
)

func (p Precision) String() string {
	switch p {
	case BF16:
		return "bf16"
	case FP16:
		return "fp16"
	}
	return "fp32"
}

// ParsePrecision reads fp32, bf16 or fp16, also spelled as torch's dtypes
// (float32, bfloat16, float16: the seed's --dtype).
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "fp32", "f32", "float32":
		return FP32, nil
	case "bf16", "bfloat16":
		return BF16, nil
	case "fp16", "f16", "float16", "half":
		return FP16, nil
	}
	return FP32, fmt.Errorf("cuda: precision %q: want fp32, bf16 or fp16 (float32, bfloat16, float16)", s)
}

// Options configures a Backend.
type Options struct {
	// Device is the CUDA device ordinal (0 = first GPU).
	Device int
	// Precision of matrix products (FP32 or BF16).
	Precision Precision
	// CacheDir holds compiled kernels ("" = os.UserCacheDir(), i.e.
	// $XDG_CACHE_HOME or ~/.cache; files go under minimind/cuda/).
	CacheDir string
}

// DeviceInfo describes the GPU and libraries a Backend runs on.
type DeviceInfo struct {
	Name          string
	Capability    int // compute capability ×10, e.g. 90 for sm_90
	Memory        uint64
	SMs           int
	DriverVersion int    // e.g. 13000
	NVRTC         string // "major.minor"
	Libraries     [3]string
	Kernels       string        // the cubin/PTX cache file
	CacheHit      bool          // kernels loaded from the cache, not compiled
	CompileTime   time.Duration // NVRTC time when compiled
	CacheErr      error         // the cache could not be written (non-fatal)
}

// dptr is a CUDA device address (CUdeviceptr); 0 is a null pointer.
type dptr = uint64

// maxParams bounds the arguments of any kernel here.
const maxParams = 20

// Backend is the CUDA implementation of kernels.Backend.
type Backend struct {
	lib  *libraries
	info DeviceInfo
	prec Precision
	dev  int32
	ctx  uintptr // the device's primary context
	blas uintptr // cuBLAS handle
	mod  uintptr
	fn   [numKernels]uintptr

	// Staging buffers for the host-slice interface: slot i is reused by
	// every call, grown when too small (see stage).
	slots []devBuf

	// Kernel arguments: cuLaunchKernel takes an array of pointers to the
	// values; both arrays live in the (heap) Backend so a launch does not
	// allocate.
	params [maxParams]uint64
	pptr   [maxParams]unsafe.Pointer
	one    float32
	zero   float32
	part   []float64 // host copy of sum-of-squares partials
	closed bool

	// Bytes copied host→device and device→host since New: the
	// device-resident path asserts that a step moves only ids and scalars.
	h2d, d2h int64
}

var (
	_ kernels.Backend      = (*Backend)(nil)
	_ kernels.HalfMatMuler = (*Backend)(nil)
)

type devBuf struct {
	ptr   dptr
	bytes uint64
}

// New loads the CUDA libraries (once per process), opens the device,
// compiles or loads the kernels and creates a cuBLAS handle. On a machine
// without a usable GPU it returns an error wrapping ErrNoDriver,
// ErrNoNVRTC, ErrNoCUBLAS or ErrNoDevice.
func New(o Options) (*Backend, error) {
	lib, err := loadLibraries()
	if err != nil {
		return nil, err
	}
	b := &Backend{lib: lib, prec: o.Precision, one: 1}
	for i := range b.pptr {
		b.pptr[i] = unsafe.Pointer(&b.params[i])
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if err := b.open(o); err != nil {
		b.release()
		return nil, err
	}
	return b, nil
}

func (b *Backend) open(o Options) error {
	d := &b.lib.drv
	if err := d.check("cuInit", d.cuInit(0)); err != nil {
		return fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	var count int32
	if err := d.check("cuDeviceGetCount", d.cuDeviceGetCount(&count)); err != nil {
		return fmt.Errorf("%w: %w", ErrNoDevice, err)
	}
	if o.Device < 0 || int32(o.Device) >= count {
		return fmt.Errorf("%w: device %d requested, %d present", ErrNoDevice, o.Device, count)
	}
	if err := d.check("cuDeviceGet", d.cuDeviceGet(&b.dev, int32(o.Device))); err != nil {
		return err
	}
	if err := b.describe(); err != nil {
		return err
	}
	if err := d.check("cuDevicePrimaryCtxRetain", d.cuDevicePrimaryCtxRetain(&b.ctx, b.dev)); err != nil {
		return err
	}
	if err := d.check("cuCtxSetCurrent", d.cuCtxSetCurrent(b.ctx)); err != nil {
		return err
	}
	if err := b.loadKernels(o.CacheDir); err != nil {
		return err
	}
	bl := &b.lib.blas
	if err := bl.check("cublasCreate_v2", bl.cublasCreate(&b.blas)); err != nil {
		return err
	}
	return bl.check("cublasSetMathMode", bl.cublasSetMathMode(b.blas, cublasDefaultMath))
}

func (b *Backend) describe() error {
	d := &b.lib.drv
	var maj, min, sms, ver int32
	name := make([]byte, 256)
	var mem uint64
	for _, c := range []struct {
		call string
		code int32
	}{
		{"cuDeviceGetAttribute", d.cuDeviceGetAttribute(&maj, attrComputeCapabilityMajor, b.dev)},
		{"cuDeviceGetAttribute", d.cuDeviceGetAttribute(&min, attrComputeCapabilityMinor, b.dev)},
		{"cuDeviceGetAttribute", d.cuDeviceGetAttribute(&sms, attrMultiprocessorCount, b.dev)},
		{"cuDeviceGetName", d.cuDeviceGetName(name, int32(len(name)), b.dev)},
		{"cuDeviceTotalMem_v2", d.cuDeviceTotalMem(&mem, b.dev)},
		{"cuDriverGetVersion", d.cuDriverGetVersion(&ver)},
	} {
		if err := d.check(c.call, c.code); err != nil {
			return err
		}
	}
	n := 0
	for n < len(name) && name[n] != 0 {
		n++
	}
	b.info = DeviceInfo{Name: string(name[:n]), Capability: int(maj*10 + min), Memory: mem, SMs: int(sms),
		DriverVersion: int(ver), NVRTC: b.lib.rtc.version(), Libraries: b.lib.paths}
	return nil
}

// loadKernels loads the cached module for this GPU, or compiles the
// embedded sources with NVRTC and caches the result.
func (b *Backend) loadKernels(cacheDir string) error {
	src, hdrs, err := programSource()
	if err != nil {
		return err
	}
	arch, ptx, err := b.lib.rtc.target(b.info.Capability)
	if err != nil {
		return err
	}
	opts := compileOptions(arch, ptx)
	path, err := cachePath(cacheDir, cacheKey(src, hdrs, opts, b.info.NVRTC), arch, ptx)
	if err != nil {
		return err
	}
	b.info.Kernels = path
	d := &b.lib.drv
	if img := readCache(path); img != nil {
		if d.cuModuleLoadData(&b.mod, img) == 0 {
			b.info.CacheHit = true
			return b.getFunctions()
		}
		// A stale or corrupt cache file: fall through and rebuild it.
	}
	t0 := time.Now()
	img, err := b.lib.rtc.compile(src, hdrs, "minimind.cu", opts, ptx)
	if err != nil {
		return fmt.Errorf("cuda: compile kernels for sm_%d: %w", arch, err)
	}
	b.info.CompileTime = time.Since(t0)
	if err := d.check("cuModuleLoadData", d.cuModuleLoadData(&b.mod, img)); err != nil {
		return err
	}
	b.info.CacheErr = writeCache(path, img)
	return b.getFunctions()
}

func (b *Backend) getFunctions() error {
	d := &b.lib.drv
	for i, name := range kernelNames {
		if err := d.check("cuModuleGetFunction("+name+")", d.cuModuleGetFunction(&b.fn[i], b.mod, name)); err != nil {
			return err
		}
	}
	return nil
}

// Info describes the device, libraries and kernel cache in use.
func (b *Backend) Info() DeviceInfo { return b.info }

// Precision reports the matrix-product precision.
func (b *Backend) Precision() Precision { return b.prec }

// Name implements kernels.Backend.
func (b *Backend) Name() string {
	return fmt.Sprintf("cuda(%s, sm_%d, %s)", b.info.Name, b.info.Capability, b.prec)
}

// Close frees the device memory, the cuBLAS handle and the module, and
// releases the context. The Backend must not be used afterwards.
func (b *Backend) Close() error {
	if b.closed {
		return nil
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	return b.release()
}

func (b *Backend) release() error {
	b.closed = true
	d := &b.lib.drv
	if b.ctx == 0 {
		return nil
	}
	var errs []error
	errs = append(errs, d.check("cuCtxSetCurrent", d.cuCtxSetCurrent(b.ctx)))
	for _, s := range b.slots {
		if s.ptr != 0 {
			errs = append(errs, d.check("cuMemFree_v2", d.cuMemFree(s.ptr)))
		}
	}
	b.slots = nil
	if b.blas != 0 {
		errs = append(errs, b.lib.blas.check("cublasDestroy_v2", b.lib.blas.cublasDestroy(b.blas)))
	}
	if b.mod != 0 {
		errs = append(errs, d.check("cuModuleUnload", d.cuModuleUnload(b.mod)))
	}
	errs = append(errs, d.check("cuDevicePrimaryCtxRelease_v2", d.cuDevicePrimaryCtxRelease(b.dev)))
	b.ctx = 0
	return errors.Join(errs...)
}

// enter pins the calling goroutine to its OS thread and makes the device
// context current there: a CUDA context is per thread, and the Go
// scheduler may otherwise move the goroutine between two driver calls
// (CUDA_ERROR_INVALID_CONTEXT, 201). Every method brackets its driver
// calls with enter/leave; LockOSThread nests, so a caller that already
// locked its thread is unaffected.
func (b *Backend) enter() {
	if b.closed {
		panic("cuda: Backend used after Close")
	}
	runtime.LockOSThread()
	b.must(b.lib.drv.check("cuCtxSetCurrent", b.lib.drv.cuCtxSetCurrent(b.ctx)))
}

func (b *Backend) leave() { runtime.UnlockOSThread() }

// must panics on a device error. kernels.Backend methods return nothing
// (a kernel call cannot fail on the CPU), so a failure of the GPU inside
// one — out of memory, a launch failure — panics with the *Error, like
// the shape checks; callers that must survive it recover at the step.
func (b *Backend) must(err error) {
	if err != nil {
		panic(err)
	}
}

// stage returns slot i's device buffer, grown to at least bytes. Slots are
// never shrunk: the model calls the same shapes every step.
func (b *Backend) stage(i int, bytes uint64) dptr {
	for len(b.slots) <= i {
		b.slots = append(b.slots, devBuf{})
	}
	s := &b.slots[i]
	if s.bytes < bytes || s.ptr == 0 {
		d := &b.lib.drv
		if s.ptr != 0 {
			b.must(d.check("cuMemFree_v2", d.cuMemFree(s.ptr)))
			s.ptr, s.bytes = 0, 0
		}
		n := max(bytes, 256)
		b.must(d.check("cuMemAlloc_v2", d.cuMemAlloc(&s.ptr, n)))
		s.bytes = n
	}
	return s.ptr
}

// up copies host x into slot i and returns its device address; a nil
// slice gives a null pointer (the optional mask, past, weights).
func (b *Backend) up(i int, x []float32) dptr {
	if x == nil {
		return 0
	}
	p := b.stage(i, 4*uint64(len(x)))
	if len(x) > 0 {
		b.must(b.lib.drv.check("cuMemcpyHtoD_v2", b.lib.drv.cuMemcpyHtoD(p, unsafe.Pointer(&x[0]), 4*uint64(len(x)))))
		b.h2d += 4 * int64(len(x))
	}
	return p
}

func (b *Backend) upInt(i int, x []int32) dptr {
	if x == nil {
		return 0
	}
	p := b.stage(i, 4*uint64(len(x)))
	if len(x) > 0 {
		b.must(b.lib.drv.check("cuMemcpyHtoD_v2", b.lib.drv.cuMemcpyHtoD(p, unsafe.Pointer(&x[0]), 4*uint64(len(x)))))
		b.h2d += 4 * int64(len(x))
	}
	return p
}

func (b *Backend) upHalf(i int, x []uint16) dptr {
	p := b.stage(i, 2*uint64(len(x)))
	if len(x) > 0 {
		b.must(b.lib.drv.check("cuMemcpyHtoD_v2", b.lib.drv.cuMemcpyHtoD(p, unsafe.Pointer(&x[0]), 2*uint64(len(x)))))
		b.h2d += 2 * int64(len(x))
	}
	return p
}

// down copies n = len(x) floats from device p into x. It synchronises:
// a device-to-host copy from the default stream waits for every kernel
// launched before it.
func (b *Backend) down(x []float32, p dptr) {
	if len(x) > 0 {
		b.must(b.lib.drv.check("cuMemcpyDtoH_v2", b.lib.drv.cuMemcpyDtoH(unsafe.Pointer(&x[0]), p, 4*uint64(len(x)))))
		b.d2h += 4 * int64(len(x))
	}
}

func (b *Backend) downInt(x []int32, p dptr) {
	if len(x) > 0 {
		b.must(b.lib.drv.check("cuMemcpyDtoH_v2", b.lib.drv.cuMemcpyDtoH(unsafe.Pointer(&x[0]), p, 4*uint64(len(x)))))
		b.d2h += 4 * int64(len(x))
	}
}

// Kernel argument encoders. CUDA reads each parameter with the size the
// kernel declares, from the address we give; on little-endian hosts the
// low bytes of a uint64 slot are the int32 or float32 value.
func i32(v int) uint64     { return uint64(uint32(int32(v))) }
func i64(v int) uint64     { return uint64(int64(v)) }
func f32(v float32) uint64 { return uint64(math.Float32bits(v)) }
func f64(v float64) uint64 { return math.Float64bits(v) }

// launch runs kernel k on the default stream with a 1-D or 3-D grid.
func (b *Backend) launch(k kernelID, grid [3]int, block, smem int, args ...uint64) {
	if len(args) > maxParams {
		panic("cuda: too many kernel arguments")
	}
	copy(b.params[:], args)
	for i, g := range grid {
		if g <= 0 {
			grid[i] = 1
		}
	}
	d := &b.lib.drv
	b.must(d.check("cuLaunchKernel("+kernelNames[k]+")", d.cuLaunchKernel(b.fn[k],
		uint32(grid[0]), uint32(grid[1]), uint32(grid[2]), uint32(block), 1, 1, uint32(smem), 0,
		unsafe.Pointer(&b.pptr[0]), nil)))
}

// blocks1D is the grid for a grid-stride loop over n elements: enough
// blocks to fill the GPU several times over, never more than needed.
func (b *Backend) blocks1D(n, threads int) [3]int {
	g := (n + threads - 1) / threads
	return [3]int{min(max(g, 1), max(b.info.SMs, 1)*16), 1, 1}
}
