package gemm

// configFor returns kind's register tile and cache blocking (kind resolved,
// supported). The cache sizes assumed are those of current x86 server
// cores: L1d 32–48 KiB, L2 ≥ 512 KiB per core (AVX-512 parts: ≥ 1 MiB),
// L3 ≥ 16 MiB shared.
//
//   - kc×nr×4 bytes (the B micro-panel, reused by every A micro-panel of
//     an item) must stay in L1 next to the streaming A micro-panel: AVX2
//     256×16×4 = 16 KiB; AVX-512 192×32×4 = 24 KiB.
//   - mc×kc×4 bytes (the A block of an item, reused by every B micro-panel)
//     and mc×ncs×4 bytes (the C block an item updates for every k block)
//     must stay in L2 together: AVX2 144×256×4 = 144 KiB + 144×256×4 =
//     144 KiB, about half of a 512 KiB L2; AVX-512 108 KiB + 144×1024×4 =
//     576 KiB, about half of a 1.25–2 MiB L2.
//   - all of packed op(B), k×n×4 bytes (13 MiB for the LM head), sits in
//     L3 or memory: each item streams its columns' panels once per k block.
//     Past packB floats (32 MiB) k is cut into chunks, so that the
//     scratch stays bounded for any batch size (the dW products have k =
//     the batch's token count).
//
// mc is a multiple of mr; ncs a multiple of nr.
func configFor(k Kind) config {
	switch k {
	case AVX512:
		return config{mr: 12, nr: 32, kc: 192, mc: 144, ncs: 1024, packB: 8 << 20, vec: 16}
	case AVX2:
		return config{mr: 6, nr: 16, kc: 256, mc: 144, ncs: 256, packB: 8 << 20, vec: 8}
	}
	// Generic: a 4×4 tile of scalars is what the Go compiler keeps in
	// registers (16 accumulators + 8 operands ≈ the 16 XMM registers).
	return config{mr: 4, nr: 4, kc: 256, mc: 64, ncs: 256, packB: 8 << 20, vec: 1}
}

// kernel runs g's micro-kernel on one tile: T[i][j] = Σ_{p<kc}
// a[p*mr+i]·b[p*nr+j] from packed panels, stored at c with row stride ldc
// (elements): c[i*ldc+j] = T, or += T when accum != 0. The assembly
// kernels also issue one PREFETCHT0 per k step at pf, pf+pfstep, … (bytes;
// a hint that never faults): compute uses it to bring the next packed B
// micro-panel into L1 a share per call, interleaved with the FMAs, where
// a separate prefetch loop per call cost 2-3% of a GEMM. A switch rather
// than a func value so that escape analysis sees direct calls and the
// callers' stack tiles stay on the stack.
func (g *Gemm) kernel(kc int, a, b, c *float32, ldc int, accum int, pf *float32, pfstep int) {
	switch g.kind {
	case AVX512:
		kernAVX512(kc, a, b, c, ldc, accum, pf, pfstep)
	case AVX2:
		kernAVX2(kc, a, b, c, ldc, accum, pf, pfstep)
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
