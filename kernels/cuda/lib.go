package cuda

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// Sentinels for a machine that cannot run the CUDA backend; New wraps one
// of them, so callers can fall back to the CPU with errors.Is.
var (
	// ErrNoDriver: libcuda (the NVIDIA driver) is not installed.
	ErrNoDriver = errors.New("cuda: NVIDIA driver library libcuda not found")
	// ErrNoNVRTC: the CUDA run-time compiler library is not installed.
	ErrNoNVRTC = errors.New("cuda: NVRTC library libnvrtc not found (install the CUDA toolkit, 11.2 or newer)")
	// ErrNoCUBLAS: cuBLAS is not installed.
	ErrNoCUBLAS = errors.New("cuda: cuBLAS library libcublas not found (install the CUDA toolkit)")
	// ErrNoDevice: the driver loaded but reports no usable GPU.
	ErrNoDevice = errors.New("cuda: no CUDA device")
	// ErrUnsupportedPlatform: purego cannot load libraries on this OS/arch.
	ErrUnsupportedPlatform = errors.New("cuda: the CUDA backend runs on linux/amd64 and linux/arm64 only")
)

// Library names, newest first. Distributions ship the versioned soname;
// the plain name exists only with the -dev packages.
var (
	driverNames = []string{"libcuda.so.1", "libcuda.so"}
	nvrtcNames  = []string{"libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so.11.2", "libnvrtc.so"}
	cublasNames = []string{"libcublas.so.13", "libcublas.so.12", "libcublas.so.11", "libcublas.so"}
)

// libDirs are searched after the dynamic loader's own path (which honours
// LD_LIBRARY_PATH and ld.so.conf): the toolkit's usual install locations,
// then versioned toolkits, newest last in glob order (tried in reverse).
func libDirs() []string {
	arch := "x86_64-linux"
	if runtime.GOARCH == "arm64" {
		arch = "sbsa-linux"
	}
	dirs := []string{
		"/usr/local/cuda/lib64",
		"/usr/local/cuda/targets/" + arch + "/lib",
	}
	for _, pat := range []string{"/usr/local/cuda-*/targets/" + arch + "/lib", "/usr/local/cuda-*/lib64"} {
		m, _ := filepath.Glob(pat) // the patterns are valid; a glob error is impossible
		for i := len(m) - 1; i >= 0; i-- {
			dirs = append(dirs, m[i])
		}
	}
	return append(dirs, "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib/wsl/lib")
}

// candidates lists what dlopen is asked for, in order: each bare name (the
// loader's search path), then each name in each directory.
func candidates(names, dirs []string) []string {
	out := append([]string(nil), names...)
	for _, d := range dirs {
		for _, n := range names {
			out = append(out, filepath.Join(d, n))
		}
	}
	return out
}

// open dlopens the first candidate that loads. The error lists every
// attempt so a user can see which paths were searched.
func open(names []string, sentinel error) (uintptr, string, error) {
	var tried []string
	for _, c := range candidates(names, libDirs()) {
		if filepath.IsAbs(c) && !exists(c) {
			continue // keep the message to paths that exist or loader lookups
		}
		if filepath.IsAbs(c) && strings.HasPrefix(filepath.Base(c), "libnvrtc.so") {
			preloadNVRTCBuiltins(filepath.Dir(c))
		}
		h, err := purego.Dlopen(c, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			return h, c, nil
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", c, err))
	}
	return 0, "", fmt.Errorf("%w; tried: %s", sentinel, strings.Join(tried, "; "))
}

// preloadNVRTCBuiltins loads libnvrtc-builtins from dir before libnvrtc
// itself: NVRTC dlopens its builtins by soname at compile time, which
// fails when the toolkit directory is not on the loader's path. A library
// already loaded under that soname satisfies the later lookup.
func preloadNVRTCBuiltins(dir string) {
	m, _ := filepath.Glob(filepath.Join(dir, "libnvrtc-builtins.so.*"))
	for _, p := range m {
		if _, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
			return
		}
	}
}

// bind resolves each symbol of a library into the Go function pointer next
// to it. A missing symbol is an error (an old library), not a panic.
func bind(h uintptr, lib string, syms map[string]any) error {
	for name, fptr := range syms {
		addr, err := purego.Dlsym(h, name)
		if err != nil {
			return fmt.Errorf("cuda: %s lacks %s: %w", lib, name, err)
		}
		purego.RegisterFunc(fptr, addr)
	}
	return nil
}

// libraries is the process-wide set of loaded CUDA libraries.
type libraries struct {
	drv   driverAPI
	rtc   nvrtcAPI
	blas  cublasAPI
	paths [3]string // the files that loaded: driver, nvrtc, cublas
}

// Loading is the one piece of process-wide state in this package: dlopen
// handles are process-wide anyway, and loading twice would only repeat the
// same work. The result (or the error) is computed once and then read-only.
var (
	libsOnce sync.Once
	libsVal  *libraries
	libsErr  error
)

// loadLibraries loads libcuda, NVRTC and cuBLAS once per process.
func loadLibraries() (*libraries, error) {
	libsOnce.Do(func() { libsVal, libsErr = doLoad() })
	return libsVal, libsErr
}

func doLoad() (*libraries, error) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		return nil, ErrUnsupportedPlatform
	}
	l := &libraries{}
	h, p, err := open(driverNames, ErrNoDriver)
	if err != nil {
		return nil, err
	}
	l.paths[0] = p
	if err := bind(h, p, l.drv.symbols()); err != nil {
		return nil, err
	}
	if h, p, err = open(nvrtcNames, ErrNoNVRTC); err != nil {
		return nil, err
	}
	l.paths[1] = p
	if err := bind(h, p, l.rtc.symbols()); err != nil {
		return nil, err
	}
	if h, p, err = open(cublasNames, ErrNoCUBLAS); err != nil {
		return nil, err
	}
	l.paths[2] = p
	if err := bind(h, p, l.blas.symbols()); err != nil {
		return nil, err
	}
	return l, nil
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
