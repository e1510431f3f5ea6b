//go:build !amd64

package cpu

func attSoftmaxAVX2(nb, w int, s *float32, lds int, lim *float32, j0 float32, mx, l, alpha *float32, all int) {
	panic("cpu: AVX2 on non-amd64")
}

func attSoftmaxBackAVX2(nb, w int, s, dp *float32, lds int, lim *float32, j0 float32, lse, d *float32) {
	panic("cpu: AVX2 on non-amd64")
}

func attPanelAVX2(kd int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, rows, n int, sc *float32, mode int) {
	panic("cpu: AVX2 on non-amd64")
}

func attTransposeAVX2(rows, cols int, src *float32, lds int, dst *float32, ldd int) {
	panic("cpu: AVX2 on non-amd64")
}

func attPanelAVX512(kd int, a *float32, ars, acs int, b *float32, ldb int, c *float32, ldc int, rows, n int, sc *float32, mode int) {
	panic("cpu: AVX-512 on non-amd64")
}

// attPrefetch is a no-op without the amd64 prefetch instruction.
func attPrefetch(p *float32, rows, bytes, ld int) {}

func attSoftmaxAVX512(nb, w int, s *float32, lds int, lim *float32, j0 float32, mx, l, alpha *float32, all int) {
	panic("cpu: AVX-512 on non-amd64")
}

func attSoftmaxBackAVX512(nb, w int, s, dp *float32, lds int, lim *float32, j0 float32, lse, d *float32) {
	panic("cpu: AVX-512 on non-amd64")
}

func attRowDotsAVX2(rows, hs int, a *float32, lda int, b *float32, ldb int, out *float32) {
	panic("cpu: AVX2 on non-amd64")
}
