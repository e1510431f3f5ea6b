package cuda

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// writeSources writes the embedded kernel files into a directory, plus the
// concatenated NVRTC program as all.cu, for nvcc.
func writeSources(t *testing.T) (dir string, files []string) {
	t.Helper()
	dir = t.TempDir()
	names, err := fs.Glob(sources, "src/*")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		b, err := sources.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.Base(n))
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if filepath.Ext(p) == ".cu" {
			files = append(files, p)
		}
	}
	src, _, err := programSource()
	if err != nil {
		t.Fatal(err)
	}
	all := filepath.Join(dir, "all.cu")
	if err := os.WriteFile(all, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, append(files, all)
}

// TestNVCCCompiles compile-checks every embedded kernel file, and the
// program exactly as NVRTC receives it, with the CUDA toolkit's offline
// compiler for sm_75 (T4: the fp16 path), sm_80 and sm_90, using the same
// language flags NVRTC gets.
// It needs no GPU; it skips when nvcc is not installed.
func TestNVCCCompiles(t *testing.T) {
	nvcc, err := exec.LookPath("nvcc")
	if err != nil {
		t.Skip("nvcc not installed (Debian: nvidia-cuda-toolkit from contrib/non-free)")
	}
	dir, files := writeSources(t)
	for _, arch := range []string{"sm_75", "sm_80", "sm_90"} {
		for _, f := range files {
			t.Run(arch+"/"+filepath.Base(f), func(t *testing.T) {
				t.Parallel()
				out := filepath.Join(dir, filepath.Base(f)+"."+arch+".cubin")
				cmd := exec.Command(nvcc, "-arch="+arch, "-cubin", "--std=c++14", "-Werror", "all-warnings", "-o", out, f)
				cmd.Dir = dir
				if msg, err := cmd.CombinedOutput(); err != nil {
					t.Fatalf("%s: %v\n%s", cmd, err, msg)
				}
			})
		}
	}
}

// TestNVRTCCompiles compiles the embedded program with NVRTC, exactly as
// New does, for sm_75, sm_80 and sm_90 cubins and a PTX fallback. NVRTC needs no
// GPU, so this runs wherever the toolkit's libnvrtc is installed.
func TestNVRTCCompiles(t *testing.T) {
	lib, err := loadLibraries()
	if err != nil {
		t.Skipf("CUDA libraries not loadable: %v", err)
	}
	src, hdrs, err := programSource()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("NVRTC %s from %s", lib.rtc.version(), lib.paths[1])
	for _, tc := range []struct {
		arch int
		ptx  bool
	}{{75, false}, {80, false}, {90, false}, {80, true}} {
		img, err := lib.rtc.compile(src, hdrs, "minimind.cu", compileOptions(tc.arch, tc.ptx), tc.ptx)
		if err != nil {
			t.Fatalf("sm_%d ptx=%v: %v", tc.arch, tc.ptx, err)
		}
		if tc.ptx {
			if !bytes.Contains(img, []byte(".entry attention_forward")) {
				t.Errorf("compute_%d PTX lacks attention_forward", tc.arch)
			}
			continue
		}
		if !bytes.HasPrefix(img, []byte("\x7fELF")) {
			t.Errorf("sm_%d: NVRTC output is not an ELF cubin", tc.arch)
		}
	}
	// A broken source reports NVRTC's log, naming the line.
	_, err = lib.rtc.compile(src+"\nextern \"C\" __global__ void broken() { undefined_symbol(); }\n", hdrs, "minimind.cu", compileOptions(80, false), false)
	var ce *Error
	if !errors.As(err, &ce) || !bytes.Contains([]byte(err.Error()), []byte("undefined_symbol")) {
		t.Errorf("compile error = %v, want an *Error carrying the NVRTC log", err)
	}
}
