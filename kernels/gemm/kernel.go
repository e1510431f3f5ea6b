package gemm

// configFor returns kind's register tile and cache blocking (kind resolved,
// supported). The cache sizes assumed are those of current x86 server
// cores: L1d 32–48 KiB, L2 ≥ 512 KiB per core, L3 ≥ 16 MiB shared.
//
//   - kc×nr×4 bytes (the B micro-panel, reused by every A micro-panel of
//     an item) must stay in L1 next to the streaming A micro-panel: AVX2
//     256×16×4 = 16 KiB; AVX-512 192×32×4 = 24 KiB.
//   - mc×kc×4 bytes (the A block of an item, reused by every B micro-panel)
//     must stay in L2: AVX2 144×256×4 = 144 KiB, AVX-512 144×192×4 =
//     108 KiB, under half of a 512 KiB L2 so B panels and C lines fit too.
//   - kc×nc×4 bytes (the packed B block, shared by both cores) plus m×kc×4
//     bytes (all of packed A) sit in L3: 256×4096×4 = 4 MiB + 4 MiB for
//     m = 4096.
//
// mc is a multiple of mr; nc a multiple of nr.
func configFor(k Kind) config {
	switch k {
	case AVX512:
		return config{mr: 12, nr: 32, kc: 192, mc: 144, nc: 4096, vec: 16}
	case AVX2:
		return config{mr: 6, nr: 16, kc: 256, mc: 144, nc: 4096, vec: 8}
	}
	// Generic: a 4×4 tile of scalars is what the Go compiler keeps in
	// registers (16 accumulators + 8 operands ≈ the 16 XMM registers).
	return config{mr: 4, nr: 4, kc: 256, mc: 64, nc: 4096, vec: 1}
}

// kernel runs g's micro-kernel on one tile: T[i][j] = Σ_{p<kc}
// a[p*mr+i]·b[p*nr+j] from packed panels, stored at c with row stride ldc
// (elements): c[i*ldc+j] = T, or += T when accum != 0. A switch rather than
// a func value so that escape analysis sees direct calls and the callers'
// stack tiles stay on the stack.
func (g *Gemm) kernel(kc int, a, b, c *float32, ldc int, accum int) {
	switch g.kind {
	case AVX512:
		kernAVX512(kc, a, b, c, ldc, accum)
	case AVX2:
		kernAVX2(kc, a, b, c, ldc, accum)
	default:
		kernGeneric(kc, a, b, c, ldc, accum)
	}
}

// dot4 computes out[r] = Σ_{p<k} a[p]·b[r*ldb+p] for r < 4. k must be a
// multiple of g.cfg.vec.
func (g *Gemm) dot4(k int, a, b *float32, ldb int, out *[4]float32) {
	switch g.kind {
	case AVX512:
		dot4AVX512(k, a, b, ldb, out)
	case AVX2:
		dot4AVX2(k, a, b, ldb, out)
	default:
		dot4Generic(k, a, b, ldb, out)
	}
}

// dot4x2 computes out[2i+r] = Σ_{p<k} a[i*lda+p]·b[r*ldb+p] for i < 4,
// r < 2. k must be a positive multiple of g.cfg.vec.
func (g *Gemm) dot4x2(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32) {
	switch g.kind {
	case AVX512:
		dot4x2AVX512(k, a, lda, b, ldb, out)
	case AVX2:
		dot4x2AVX2(k, a, lda, b, ldb, out)
	default:
		dot4x2Generic(k, a, lda, b, ldb, out)
	}
}
