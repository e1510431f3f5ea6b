package cuda

import (
	"fmt"
	"unsafe"
)

// driverAPI holds the CUDA driver entry points used here (cuda.h). The _v2
// names are the 64-bit-size ABI every driver since CUDA 4 exports.
type driverAPI struct {
	cuInit                    func(flags uint32) int32
	cuDriverGetVersion        func(v *int32) int32
	cuDeviceGetCount          func(n *int32) int32
	cuDeviceGet               func(dev *int32, ordinal int32) int32
	cuDeviceGetAttribute      func(v *int32, attr int32, dev int32) int32
	cuDeviceGetName           func(name []byte, n int32, dev int32) int32
	cuDeviceTotalMem          func(bytes *uint64, dev int32) int32
	cuDevicePrimaryCtxRetain  func(ctx *uintptr, dev int32) int32
	cuDevicePrimaryCtxRelease func(dev int32) int32
	cuCtxSetCurrent           func(ctx uintptr) int32
	cuCtxSynchronize          func() int32
	cuMemAlloc                func(p *uint64, bytes uint64) int32
	cuMemFree                 func(p uint64) int32
	cuMemcpyHtoD              func(dst uint64, src unsafe.Pointer, bytes uint64) int32
	cuMemcpyDtoH              func(dst unsafe.Pointer, src uint64, bytes uint64) int32
	cuMemcpyDtoD              func(dst, src uint64, bytes uint64) int32
	cuMemsetD32               func(dst uint64, v uint32, n uint64) int32
	cuModuleLoadData          func(mod *uintptr, image []byte) int32
	cuModuleUnload            func(mod uintptr) int32
	cuModuleGetFunction       func(fn *uintptr, mod uintptr, name string) int32
	cuLaunchKernel            func(fn uintptr, gx, gy, gz, bx, by, bz, smem uint32, stream uintptr, params unsafe.Pointer, extra unsafe.Pointer) int32
	cuGetErrorString          func(code int32, s **byte) int32
	cuMemGetInfo              func(free, total *uint64) int32
}

func (d *driverAPI) symbols() map[string]any {
	return map[string]any{
		"cuInit":                       &d.cuInit,
		"cuDriverGetVersion":           &d.cuDriverGetVersion,
		"cuDeviceGetCount":             &d.cuDeviceGetCount,
		"cuDeviceGet":                  &d.cuDeviceGet,
		"cuDeviceGetAttribute":         &d.cuDeviceGetAttribute,
		"cuDeviceGetName":              &d.cuDeviceGetName,
		"cuDeviceTotalMem_v2":          &d.cuDeviceTotalMem,
		"cuDevicePrimaryCtxRetain":     &d.cuDevicePrimaryCtxRetain,
		"cuDevicePrimaryCtxRelease_v2": &d.cuDevicePrimaryCtxRelease,
		"cuCtxSetCurrent":              &d.cuCtxSetCurrent,
		"cuCtxSynchronize":             &d.cuCtxSynchronize,
		"cuMemAlloc_v2":                &d.cuMemAlloc,
		"cuMemFree_v2":                 &d.cuMemFree,
		"cuMemcpyHtoD_v2":              &d.cuMemcpyHtoD,
		"cuMemcpyDtoH_v2":              &d.cuMemcpyDtoH,
		"cuMemcpyDtoD_v2":              &d.cuMemcpyDtoD,
		"cuMemsetD32_v2":               &d.cuMemsetD32,
		"cuModuleLoadData":             &d.cuModuleLoadData,
		"cuModuleUnload":               &d.cuModuleUnload,
		"cuModuleGetFunction":          &d.cuModuleGetFunction,
		"cuLaunchKernel":               &d.cuLaunchKernel,
		"cuGetErrorString":             &d.cuGetErrorString,
		"cuMemGetInfo_v2":              &d.cuMemGetInfo,
	}
}

// Device attributes (CUdevice_attribute).
const (
	attrComputeCapabilityMajor = 75
	attrComputeCapabilityMinor = 76
	attrMultiprocessorCount    = 16
)

// Error is a failed CUDA driver, NVRTC or cuBLAS call.
type Error struct {
	Lib  string // "driver", "nvrtc" or "cublas"
	Call string // the function that failed
	Code int32
	Msg  string // the library's own description, when it has one
}

func (e *Error) Error() string {
	if e.Msg != "" {
		return fmt.Sprintf("cuda: %s: %s error %d (%s)", e.Call, e.Lib, e.Code, e.Msg)
	}
	return fmt.Sprintf("cuda: %s: %s error %d", e.Call, e.Lib, e.Code)
}

// check turns a CUresult into an error (nil for CUDA_SUCCESS).
func (d *driverAPI) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	e := &Error{Lib: "driver", Call: call, Code: code}
	var s *byte
	if d.cuGetErrorString != nil && d.cuGetErrorString(code, &s) == 0 && s != nil {
		e.Msg = cString(s)
	}
	if code == 201 {
		// CUDA_ERROR_INVALID_CONTEXT: the calling OS thread has no current
		// context, which in Go means a call escaped Backend's thread lock.
		e.Msg += "; the CUDA context is bound to an OS thread: call the backend only through its methods"
	}
	return e
}

// cString copies a NUL-terminated C string owned by a library.
func cString(p *byte) string {
	var b []byte
	for q := p; *q != 0; q = (*byte)(unsafe.Add(unsafe.Pointer(q), 1)) {
		b = append(b, *q)
	}
	return string(b)
}
