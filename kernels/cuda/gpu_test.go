package cuda_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/kernels/cuda"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/kernels/ref"
)

// gpu returns a CUDA backend, or skips the test naming what is missing
// (driver, NVRTC, cuBLAS or a device).
func gpu(t testing.TB, p cuda.Precision, cacheDir string) *cuda.Backend {
	t.Helper()
	b, err := cuda.New(cuda.Options{Precision: p, CacheDir: cacheDir})
	if err != nil {
		t.Skipf("no usable GPU: %v", err)
	}
	t.Cleanup(func() {
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	i := b.Info()
	t.Logf("%s: %d SMs, %.1f GiB, driver %d, NVRTC %s, kernels %s (cache hit %v, compiled in %v)",
		b.Name(), i.SMs, float64(i.Memory)/(1<<30), i.DriverVersion, i.NVRTC, i.Kernels, i.CacheHit, i.CompileTime)
	return b
}

// TestConformance runs the CPU backend's suite, unchanged, in fp32 mode:
// every kernel against ref and finite differences (the model against the
// PyTorch fixtures is TestParity, in model_test.go).
func TestConformance(t *testing.T) {
	kerneltest.Run(t, gpu(t, cuda.FP32, t.TempDir()))
}

// bf16 tolerances, documented in README.md: a bf16 input carries a
// relative rounding error of up to 2^-9, so a k-term product with O(1)
// inputs is off by about 2^-9·sqrt(k) (random signs) — we allow 4×.
func bf16Tol(k int) float64 { return 4 * math.Sqrt(float64(k)) / 512 }

// TestBF16MatMul checks the mixed-precision GEMM (cublasGemmEx, bf16
// inputs, fp32 accumulation) against the fp32 reference within bf16
// tolerance, for every transpose and accumulate combination.
func TestBF16MatMul(t *testing.T) {
	b := gpu(t, cuda.BF16, t.TempDir())
	r := ref.New()
	g := rand.New(rand.NewPCG(5, 5))
	vec := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(g.NormFloat64())
		}
		return v
	}
	for _, sz := range [][3]int{{1, 1, 1}, {7, 17, 33}, {65, 129, 31}, {128, 96, 512}} {
		m, n, k := sz[0], sz[1], sz[2]
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, acc := range []bool{false, true} {
					a, w, c0 := vec(m*k), vec(k*n), vec(m*n)
					want, got := append([]float32(nil), c0...), append([]float32(nil), c0...)
					r.MatMul(want, a, w, m, n, k, ta, tb, acc)
					b.MatMul(got, a, w, m, n, k, ta, tb, acc)
					kerneltest.AllClose(t, fmt.Sprintf("%dx%dx%d_tA%v_tB%v_acc%v", m, n, k, ta, tb, acc), got, want, bf16Tol(k), 1e-2)
				}
			}
		}
	}
}

// TestBF16NonGEMMExact: in bf16 mode only matrix products change; the
// other kernels are the fp32 ones (spot check: RMSNorm, cross-entropy).
func TestBF16NonGEMMExact(t *testing.T) {
	b := gpu(t, cuda.BF16, t.TempDir())
	r := ref.New()
	N, C := 9, 100
	in, w := make([]float32, N*C), make([]float32, C)
	for i := range in {
		in[i] = float32(math.Sin(float64(i)))
	}
	for i := range w {
		w[i] = 1 + float32(i)/float32(C)
	}
	o1, o2, r1, r2 := make([]float32, N*C), make([]float32, N*C), make([]float32, N), make([]float32, N)
	r.RMSNormForward(o1, r1, in, w, N, C, 1e-5)
	b.RMSNormForward(o2, r2, in, w, N, C, 1e-5)
	kerneltest.AllClose(t, "rmsnorm", o2, o1, 2e-5, 2e-5)
	tg := []int32{1, 2, 3, 4, 5, 6, 7, 8, -100}
	l1, l2 := make([]float32, N), make([]float32, N)
	r.CrossEntropyForward(l1, in, tg, N, C)
	b.CrossEntropyForward(l2, in, tg, N, C)
	kerneltest.AllClose(t, "ce", l2, l1, 1e-5, 1e-5)
}

// TestDeviceBuffers exercises the device-resident API: upload once, run
// on device buffers, download once.
func TestDeviceBuffers(t *testing.T) {
	b := gpu(t, cuda.FP32, t.TempDir())
	m, n, k := 33, 17, 65
	a, w := make([]float32, m*k), make([]float32, n*k)
	for i := range a {
		a[i] = float32(i%7) - 3
	}
	for i := range w {
		w[i] = float32(i%5) - 2
	}
	want := make([]float32, m*n)
	ref.New().MatMul(want, a, w, m, n, k, false, true, false)
	bufs := make([]cuda.Buffer, 3)
	for i, sz := range []int{m * k, n * k, m * n} {
		var err error
		if bufs[i], err = b.Alloc(sz); err != nil {
			t.Fatal(err)
		}
		defer b.Free(bufs[i])
	}
	if err := b.Upload(bufs[0], a); err != nil {
		t.Fatal(err)
	}
	if err := b.Upload(bufs[1], w); err != nil {
		t.Fatal(err)
	}
	b.MatMulDevice(bufs[2], bufs[0], bufs[1], m, n, k, false, true, false)
	got := make([]float32, m*n)
	if err := b.Download(got, bufs[2]); err != nil {
		t.Fatal(err)
	}
	kerneltest.AllClose(t, "matmul", got, want, 1e-4, 1e-4)
	if s, want := b.SumSquaresDevice(bufs[0]), ref.New().SumSquares(a); math.Abs(s-want) > 1e-9*want {
		t.Errorf("SumSquaresDevice = %v, want %v", s, want)
	}
}

// TestKernelCache: a second backend with the same cache directory loads
// the cubin the first one compiled.
func TestKernelCache(t *testing.T) {
	dir := t.TempDir()
	first := gpu(t, cuda.FP32, dir)
	if first.Info().CacheErr != nil {
		t.Fatalf("writing the kernel cache: %v", first.Info().CacheErr)
	}
	second := gpu(t, cuda.FP32, dir)
	if !second.Info().CacheHit || second.Info().Kernels != first.Info().Kernels {
		t.Errorf("second backend: cache hit %v (%s), want a hit on %s", second.Info().CacheHit, second.Info().Kernels, first.Info().Kernels)
	}
}

// TestAnyGoroutine: the backend binds its context per call, so calls from
// goroutines on other OS threads work (no CUDA_ERROR_INVALID_CONTEXT).
func TestAnyGoroutine(t *testing.T) {
	b := gpu(t, cuda.FP32, t.TempDir())
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.Gosched()
			x := []float32{1, 2, 3}
			mu.Lock() // one caller at a time, as for every Backend
			b.Scale(x, 2)
			mu.Unlock()
			if x[2] != 6 {
				t.Errorf("Scale on goroutine: %v", x)
			}
		}()
	}
	wg.Wait()
}

// BenchmarkMatMul reports GFLOP/s of the copying MatMul (host slices, so
// it includes both transfers) at the model's FFN shape.
func BenchmarkMatMul(b *testing.B) {
	for _, p := range []cuda.Precision{cuda.FP32, cuda.BF16} {
		b.Run(p.String(), func(b *testing.B) {
			be := gpu(b, p, b.TempDir())
			m, n, k := 4096, 1536, 512
			x, w, y := make([]float32, m*k), make([]float32, n*k), make([]float32, m*n)
			b.ReportAllocs()
			for b.Loop() {
				be.MatMul(y, x, w, m, n, k, false, true, false)
			}
			b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
