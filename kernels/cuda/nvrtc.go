package cuda

import (
	"fmt"
	"strings"
)

// nvrtcAPI holds the NVRTC entry points (nvrtc.h). nvrtcGetCUBIN and the
// supported-architecture queries exist since CUDA 11.2, the oldest NVRTC
// searched for.
type nvrtcAPI struct {
	nvrtcVersion              func(major, minor *int32) int32
	nvrtcGetErrorString       func(code int32) string
	nvrtcCreateProgram        func(prog *uintptr, src string, name string, nHeaders int32, headers []*byte, includeNames []*byte) int32
	nvrtcCompileProgram       func(prog uintptr, nOptions int32, options []*byte) int32
	nvrtcGetProgramLogSize    func(prog uintptr, n *uint64) int32
	nvrtcGetProgramLog        func(prog uintptr, log []byte) int32
	nvrtcGetCUBINSize         func(prog uintptr, n *uint64) int32
	nvrtcGetCUBIN             func(prog uintptr, out []byte) int32
	nvrtcGetPTXSize           func(prog uintptr, n *uint64) int32
	nvrtcGetPTX               func(prog uintptr, out []byte) int32
	nvrtcDestroyProgram       func(prog *uintptr) int32
	nvrtcGetNumSupportedArchs func(n *int32) int32
	nvrtcGetSupportedArchs    func(archs []int32) int32
}

func (r *nvrtcAPI) symbols() map[string]any {
	return map[string]any{
		"nvrtcVersion":              &r.nvrtcVersion,
		"nvrtcGetErrorString":       &r.nvrtcGetErrorString,
		"nvrtcCreateProgram":        &r.nvrtcCreateProgram,
		"nvrtcCompileProgram":       &r.nvrtcCompileProgram,
		"nvrtcGetProgramLogSize":    &r.nvrtcGetProgramLogSize,
		"nvrtcGetProgramLog":        &r.nvrtcGetProgramLog,
		"nvrtcGetCUBINSize":         &r.nvrtcGetCUBINSize,
		"nvrtcGetCUBIN":             &r.nvrtcGetCUBIN,
		"nvrtcGetPTXSize":           &r.nvrtcGetPTXSize,
		"nvrtcGetPTX":               &r.nvrtcGetPTX,
		"nvrtcDestroyProgram":       &r.nvrtcDestroyProgram,
		"nvrtcGetNumSupportedArchs": &r.nvrtcGetNumSupportedArchs,
		"nvrtcGetSupportedArchs":    &r.nvrtcGetSupportedArchs,
	}
}

func (r *nvrtcAPI) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &Error{Lib: "nvrtc", Call: call, Code: code, Msg: r.nvrtcGetErrorString(code)}
}

// version returns NVRTC's "major.minor", part of the cache key: a new
// compiler must not reuse an old compiler's binary.
func (r *nvrtcAPI) version() string {
	var maj, min int32
	if r.nvrtcVersion(&maj, &min) != 0 {
		return "unknown"
	}
	return fmt.Sprintf("%d.%d", maj, min)
}

// target picks what to compile for a device of compute capability cc
// (e.g. 90): a cubin for cc itself when NVRTC supports it, otherwise PTX
// for the newest architecture NVRTC knows below cc, which the driver
// compiles on load (a GPU newer than the toolkit still works).
func (r *nvrtcAPI) target(cc int) (arch int, ptx bool, err error) {
	var n int32
	if err := r.check("nvrtcGetNumSupportedArchs", r.nvrtcGetNumSupportedArchs(&n)); err != nil {
		return 0, false, err
	}
	archs := make([]int32, n)
	if n > 0 {
		if err := r.check("nvrtcGetSupportedArchs", r.nvrtcGetSupportedArchs(archs)); err != nil {
			return 0, false, err
		}
	}
	return pickTarget(cc, archs)
}

// pickTarget is target's decision, separated for tests.
func pickTarget(cc int, archs []int32) (arch int, ptx bool, err error) {
	best := -1
	for _, a := range archs {
		if int(a) == cc {
			return cc, false, nil
		}
		if int(a) < cc && int(a) > best {
			best = int(a)
		}
	}
	if best < 0 {
		return 0, false, fmt.Errorf("cuda: NVRTC supports none of the architectures up to sm_%d (it knows %v)", cc, archs)
	}
	return best, true, nil
}

// compileOptions are the NVRTC flags for a target. Precise division,
// square root and denormals are NVRTC's defaults and are what the fp32
// conformance tolerances assume: never add --use_fast_math here.
func compileOptions(arch int, ptx bool) []string {
	a := fmt.Sprintf("--gpu-architecture=sm_%d", arch)
	if ptx {
		a = fmt.Sprintf("--gpu-architecture=compute_%d", arch)
	}
	return []string{a, "--std=c++14", "-default-device"}
}

// compile builds src (with its headers) into a cubin, or PTX when ptx.
// A compile error carries NVRTC's log.
func (r *nvrtcAPI) compile(src string, headers map[string]string, name string, opts []string, ptx bool) ([]byte, error) {
	var hdrs, names []*byte
	for n, h := range headers {
		hdrs = append(hdrs, cbytes(h))
		names = append(names, cbytes(n))
	}
	var prog uintptr
	if err := r.check("nvrtcCreateProgram", r.nvrtcCreateProgram(&prog, src, name, int32(len(hdrs)), hdrs, names)); err != nil {
		return nil, err
	}
	defer r.nvrtcDestroyProgram(&prog)
	copts := make([]*byte, len(opts))
	for i, o := range opts {
		copts[i] = cbytes(o)
	}
	if code := r.nvrtcCompileProgram(prog, int32(len(copts)), copts); code != 0 {
		err := r.check("nvrtcCompileProgram", code)
		return nil, fmt.Errorf("%w\n%s", err, r.log(prog))
	}
	getSize, get, what := r.nvrtcGetCUBINSize, r.nvrtcGetCUBIN, "CUBIN"
	if ptx {
		getSize, get, what = r.nvrtcGetPTXSize, r.nvrtcGetPTX, "PTX"
	}
	var n uint64
	if err := r.check("nvrtcGet"+what+"Size", getSize(prog, &n)); err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if err := r.check("nvrtcGet"+what, get(prog, out)); err != nil {
		return nil, err
	}
	return out, nil
}

func (r *nvrtcAPI) log(prog uintptr) string {
	var n uint64
	if r.nvrtcGetProgramLogSize(prog, &n) != 0 || n == 0 {
		return ""
	}
	b := make([]byte, n)
	if r.nvrtcGetProgramLog(prog, b) != 0 {
		return ""
	}
	return strings.TrimRight(string(b), "\x00\n")
}

// cbytes returns a pointer to a NUL-terminated copy of s. The Go slice
// stays reachable through the returned pointer for the duration of a call.
func cbytes(s string) *byte {
	b := append([]byte(s), 0)
	return &b[0]
}
