//go:build amd64

package gemm

import "golang.org/x/sys/cpu"

// CPU features, detected once at start-up and read-only afterwards. The
// assembly uses FMA3 with AVX2, and AVX-512F only (no BW/DQ/VL needed) for
// AVX512; x/sys/cpu also checks that the OS saves the wide registers.
var (
	hasAVX2   = cpu.X86.HasAVX2 && cpu.X86.HasFMA
	hasAVX512 = hasAVX2 && cpu.X86.HasAVX512F
)

// kernAVX2 is the 6×16 AVX2+FMA micro-kernel (kernels_amd64.s).
//
//go:noescape
func kernAVX2(kc int, a, b, c *float32, ldc int, accum int)

// kernAVX512 is the 12×32 AVX-512F micro-kernel (kernels_amd64.s).
//
//go:noescape
func kernAVX512(kc int, a, b, c *float32, ldc int, accum int)

// dot4AVX2 is the skinny-path dot kernel, k a multiple of 8.
//
//go:noescape
func dot4AVX2(k int, a, b *float32, ldb int, out *[4]float32)

// dot4AVX512 is the skinny-path dot kernel, k a multiple of 16.
//
//go:noescape
func dot4AVX512(k int, a, b *float32, ldb int, out *[4]float32)
