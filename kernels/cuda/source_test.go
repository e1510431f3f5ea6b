package cuda

import (
	"bytes"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/kernels/ref"
)

// TestKernelNamesInSource: every kernel the Go side launches is defined,
// unmangled, in the embedded program (cuModuleGetFunction would fail).
func TestKernelNamesInSource(t *testing.T) {
	t.Parallel()
	src, hdrs, err := programSource()
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := hdrs[commonHeader]; !ok {
		t.Fatalf("headers lack %s", commonHeader)
	}
	for _, name := range kernelNames {
		if name == "" {
			t.Fatal("a kernelID has no name")
		}
		if !strings.Contains(src, `extern "C" __global__ void `+name+"(") {
			t.Errorf("kernel %s is not defined in src/*.cu", name)
		}
	}
	for _, bad := range []string{"#include <", "__half", "cuda_bf16.h"} {
		if strings.Contains(src, bad) {
			t.Errorf("source uses %q, which NVRTC cannot resolve without the toolkit headers", bad)
		}
	}
}

// TestLimitsMatchHeader: the launch limits in Go match src/common.cuh.
func TestLimitsMatchHeader(t *testing.T) {
	t.Parallel()
	_, hdrs, err := programSource()
	if err != nil {
		t.Fatal(err)
	}
	h := hdrs[commonHeader]
	for _, c := range []struct {
		def  string
		want int
	}{{"ATT_TILE", attTile}, {"ATT_WARPS", attWarps}, {"ATT_MAXD", attMaxHS / 32}, {"MOE_MAXE", moeMaxE}} {
		if !strings.Contains(h, fmt.Sprintf("#define %s %d\n", c.def, c.want)) {
			t.Errorf("common.cuh: want #define %s %d", c.def, c.want)
		}
	}
}

func TestAttentionSharedMemoryFits(t *testing.T) {
	t.Parallel()
	for HS := 2; HS <= attMaxHS; HS += 2 {
		f, q, kv := attSmem(HS)
		if m := max(f, q, kv); m > 48*1024 {
			t.Fatalf("HS %d needs %d bytes of shared memory, above the 48 KiB default", HS, m)
		}
	}
}

func TestCacheKey(t *testing.T) {
	t.Parallel()
	h := map[string]string{"common.cuh": "x"}
	base := cacheKey("src", h, []string{"-a"}, "12.4")
	for name, k := range map[string]string{
		"source":  cacheKey("src2", h, []string{"-a"}, "12.4"),
		"header":  cacheKey("src", map[string]string{"common.cuh": "y"}, []string{"-a"}, "12.4"),
		"options": cacheKey("src", h, []string{"-b"}, "12.4"),
		"nvrtc":   cacheKey("src", h, []string{"-a"}, "13.0"),
		// Length-prefixing keeps field boundaries: "ab"+"c" ≠ "a"+"bc".
		"boundary": cacheKey("sr", h, []string{"c-a"}, "12.4"),
	} {
		if k == base {
			t.Errorf("changing the %s keeps the cache key %s", name, k)
		}
	}
	if again := cacheKey("src", h, []string{"-a"}, "12.4"); again != base {
		t.Errorf("cache key not stable: %s then %s", base, again)
	}
}

func TestCachePath(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("XDG_CACHE_HOME", dir)
	tests := []struct {
		name, dir string
		arch      int
		ptx       bool
		want      string
	}{
		{"xdg default", "", 90, false, filepath.Join(dir, "minimind", "cuda", "abc-sm_90.cubin")},
		{"explicit dir", "/tmp/kc", 80, false, "/tmp/kc/minimind/cuda/abc-sm_80.cubin"},
		{"ptx fallback", "/tmp/kc", 90, true, "/tmp/kc/minimind/cuda/abc-sm_90.ptx"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := cachePath(tt.dir, "abc", tt.arch, tt.ptx)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("cachePath = %s, want %s", got, tt.want)
			}
		})
	}
}

func TestCacheRoundTrip(t *testing.T) {
	t.Parallel()
	p := filepath.Join(t.TempDir(), "minimind", "cuda", "k-sm_90.cubin")
	if readCache(p) != nil {
		t.Fatal("readCache of a missing file returned data")
	}
	img := []byte("\x7fELF fake cubin")
	if err := writeCache(p, img); err != nil {
		t.Fatal(err)
	}
	if got := readCache(p); !bytes.Equal(got, img) {
		t.Fatalf("readCache = %q, want %q", got, img)
	}
	if err := os.WriteFile(p, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if readCache(p) != nil {
		t.Error("an empty cache file must count as missing")
	}
}

func TestPickTarget(t *testing.T) {
	t.Parallel()
	archs := []int32{50, 60, 70, 75, 80, 86, 89, 90}
	tests := []struct {
		name    string
		cc      int
		arch    int
		ptx     bool
		wantErr bool
	}{
		{"exact H100", 90, 90, false, false},
		{"exact A100", 80, 80, false, false},
		{"newer GPU than NVRTC: PTX for the newest known", 100, 90, true, false},
		{"between: PTX", 87, 86, true, false},
		{"older than all", 35, 0, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			arch, ptx, err := pickTarget(tt.cc, archs)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if err == nil && (arch != tt.arch || ptx != tt.ptx) {
				t.Errorf("pickTarget(%d) = sm_%d ptx=%v, want sm_%d ptx=%v", tt.cc, arch, ptx, tt.arch, tt.ptx)
			}
		})
	}
}

// colMajorGemm is what cuBLAS computes: C = op(A)·op(B), column-major.
func colMajorGemm(g gemmCall, a, b, c []float32, beta float32) {
	at := func(x []float32, op int32, ld int32, i, j int) float32 { // op(X)[i,j]
		if op == cublasOpT {
			return x[i*int(ld)+j]
		}
		return x[j*int(ld)+i]
	}
	for i := 0; i < int(g.M); i++ {
		for j := 0; j < int(g.N); j++ {
			var s float64
			for p := 0; p < int(g.K); p++ {
				s += float64(at(a, g.opA, g.lda, i, p)) * float64(at(b, g.opB, g.ldb, p, j))
			}
			c[j*int(g.ldc)+i] = float32(s) + beta*c[j*int(g.ldc)+i]
		}
	}
}

// TestGemmArgs checks the row-major → column-major mapping against the
// reference MatMul, for every transpose combination, without a GPU.
func TestGemmArgs(t *testing.T) {
	t.Parallel()
	r := ref.New()
	m, n, k := 5, 7, 3
	seq := func(n int, s float32) []float32 {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(math.Sin(float64(i)*1.3)) * s
		}
		return x
	}
	for _, ta := range []bool{false, true} {
		for _, tb := range []bool{false, true} {
			a, b := seq(m*k, 1), seq(k*n, 2)
			want, got := seq(m*n, 3), seq(m*n, 3)
			r.MatMul(want, a, b, m, n, k, ta, tb, true)
			// cuBLAS's A is our b, its B our a.
			colMajorGemm(gemmArgs(m, n, k, ta, tb), b, a, got, 1)
			for i := range want {
				if math.Abs(float64(got[i]-want[i])) > 1e-5 {
					t.Fatalf("transA=%v transB=%v: c[%d] = %v, want %v", ta, tb, i, got[i], want[i])
				}
			}
		}
	}
}

func TestArgEncoding(t *testing.T) {
	t.Parallel()
	if got := i32(-1); got != 0xffffffff {
		t.Errorf("i32(-1) = %#x, want 0xffffffff (low 4 bytes only)", got)
	}
	if got := f32(1); got != 0x3f800000 {
		t.Errorf("f32(1) = %#x", got)
	}
	if got := i64(1 << 40); got != 1<<40 {
		t.Errorf("i64 lost bits: %#x", got)
	}
}

// TestAdamBiasMatchesRef: the step scalars are rounded exactly as
// kernels/ref rounds them, so fp32 AdamW can match it to the ulp.
func TestAdamBiasMatchesRef(t *testing.T) {
	t.Parallel()
	lr, b1, b2 := float32(1e-3), float32(0.9), float32(0.999)
	s, q := adamBias(lr, b1, b2, 3)
	wantS := float32(float64(lr) / (1 - math.Pow(float64(b1), 3)))
	wantQ := float32(math.Sqrt(1 - math.Pow(float64(b2), 3)))
	if s != wantS || q != wantQ {
		t.Errorf("adamBias = %v, %v; want %v, %v", s, q, wantS, wantQ)
	}
}

func TestRowThreads(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ C, want int }{{1, 32}, {33, 64}, {256, 256}, {6400, 256}} {
		if got := rowThreads(c.C); got != c.want {
			t.Errorf("rowThreads(%d) = %d, want %d", c.C, got, c.want)
		}
	}
}

func TestCheckAttentionPanics(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name                 string
		B, T, S, NH, NKV, HS int
		wantPanic            bool
	}{
		{"model shape", 2, 64, 64, 8, 2, 64, false},
		{"largest head", 1, 1, 1, 1, 1, 128, false},
		{"head too large", 1, 1, 1, 1, 1, 130, true},
		{"NH not multiple of NKV", 1, 1, 1, 6, 4, 8, true},
		{"S < T", 1, 4, 3, 1, 1, 8, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			defer func() {
				if r := recover(); (r != nil) != tt.wantPanic {
					t.Errorf("panic = %v, want panic %v", r, tt.wantPanic)
				}
			}()
			checkAttention(tt.B, tt.T, tt.S, tt.NH, tt.NKV, tt.HS)
		})
	}
}

func TestParsePrecision(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]Precision{"fp32": FP32, "f32": FP32, "float32": FP32, "bf16": BF16, "bfloat16": BF16,
		"fp16": FP16, "f16": FP16, "float16": FP16} {
		if got, err := ParsePrecision(s); err != nil || got != want {
			t.Errorf("ParsePrecision(%q) = %v, %v", s, got, err)
		}
		if got, _ := ParsePrecision(want.String()); got != want {
			t.Errorf("ParsePrecision(%v.String()) = %v", want, got)
		}
	}
	for _, s := range []string{"fp8", "", "FP32"} {
		if _, err := ParsePrecision(s); err == nil {
			t.Errorf("ParsePrecision(%q) must fail", s)
		}
	}
}
