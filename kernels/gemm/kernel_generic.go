package gemm

import "unsafe"

// kernGeneric is the pure-Go 4×4 micro-kernel (see Gemm.kernel for the
// contract). Sixteen scalar accumulators stay in registers; the packed
// panels are read through fixed-size array pointers so the loop has no
// bounds checks.
func kernGeneric(kc int, a, b, c *float32, ldc int, accum int) {
	var c00, c01, c02, c03, c10, c11, c12, c13 float32
	var c20, c21, c22, c23, c30, c31, c32, c33 float32
	ap := unsafe.Slice(a, 4*kc)
	bp := unsafe.Slice(b, 4*kc)
	for p := 0; p < kc; p++ {
		av := (*[4]float32)(ap[4*p : 4*p+4])
		bv := (*[4]float32)(bp[4*p : 4*p+4])
		a0, a1, a2, a3 := av[0], av[1], av[2], av[3]
		b0, b1, b2, b3 := bv[0], bv[1], bv[2], bv[3]
		c00 += a0 * b0
		c01 += a0 * b1
		c02 += a0 * b2
		c03 += a0 * b3
		c10 += a1 * b0
		c11 += a1 * b1
		c12 += a1 * b2
		c13 += a1 * b3
		c20 += a2 * b0
		c21 += a2 * b1
		c22 += a2 * b2
		c23 += a2 * b3
		c30 += a3 * b0
		c31 += a3 * b1
		c32 += a3 * b2
		c33 += a3 * b3
	}
	cs := unsafe.Slice(c, 3*ldc+4)
	r0 := (*[4]float32)(cs[0:4])
	r1 := (*[4]float32)(cs[ldc : ldc+4])
	r2 := (*[4]float32)(cs[2*ldc : 2*ldc+4])
	r3 := (*[4]float32)(cs[3*ldc : 3*ldc+4])
	if accum != 0 {
		c00 += r0[0]
		c01 += r0[1]
		c02 += r0[2]
		c03 += r0[3]
		c10 += r1[0]
		c11 += r1[1]
		c12 += r1[2]
		c13 += r1[3]
		c20 += r2[0]
		c21 += r2[1]
		c22 += r2[2]
		c23 += r2[3]
		c30 += r3[0]
		c31 += r3[1]
		c32 += r3[2]
		c33 += r3[3]
	}
	*r0 = [4]float32{c00, c01, c02, c03}
	*r1 = [4]float32{c10, c11, c12, c13}
	*r2 = [4]float32{c20, c21, c22, c23}
	*r3 = [4]float32{c30, c31, c32, c33}
}

// dot4Generic is the pure-Go dot kernel (see Gemm.dot4). Each output keeps
// one accumulator, summed in p order.
func dot4Generic(k int, a, b *float32, ldb int, out *[4]float32) {
	as := unsafe.Slice(a, k)
	bs := unsafe.Slice(b, 3*ldb+k)
	b0, b1, b2, b3 := bs[:k], bs[ldb:ldb+k], bs[2*ldb:2*ldb+k], bs[3*ldb:3*ldb+k]
	var s0, s1, s2, s3 float32
	for p, v := range as {
		s0 += v * b0[p]
		s1 += v * b1[p]
		s2 += v * b2[p]
		s3 += v * b3[p]
	}
	*out = [4]float32{s0, s1, s2, s3}
}

// dot4x2Generic is the pure-Go 4×2 dot kernel (see Gemm.dot4x2).
func dot4x2Generic(k int, a *float32, lda int, b *float32, ldb int, out *[8]float32) {
	as := unsafe.Slice(a, 3*lda+k)
	bs := unsafe.Slice(b, ldb+k)
	b0, b1 := bs[:k], bs[ldb:ldb+k]
	for i := 0; i < 4; i++ {
		ar := as[i*lda : i*lda+k]
		var s0, s1 float32
		for p, v := range ar {
			s0 += v * b0[p]
			s1 += v * b1[p]
		}
		out[2*i], out[2*i+1] = s0, s1
	}
}
