package cpu_test

import (
	"testing"

	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/kernels/gemm"
	"github.com/minimind-go/minimind/kernels/kerneltest"
)

// TestConformance runs the whole suite for every GEMM path this CPU
// supports, and with 1 and 3 threads (shares that do not divide evenly).
func TestConformance(t *testing.T) {
	for _, k := range []gemm.Kind{gemm.Generic, gemm.AVX2, gemm.AVX512} {
		for _, threads := range []int{1, 3} {
			name := k.String() + "/" + map[int]string{1: "1thread", 3: "3threads"}[threads]
			t.Run(name, func(t *testing.T) {
				if !gemm.Supported(k) {
					t.Skipf("CPU lacks %v", k)
				}
				b := cpu.New(cpu.Options{GEMM: k, Threads: threads})
				defer b.Close()
				kerneltest.Run(t, b)
			})
		}
	}
}
