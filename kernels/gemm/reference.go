package gemm

// Reference computes C = op(A)·op(B) (or C += when accumulate) with the
// plain triple loop, accumulating each dot product in float64 in k order.
// Same contract and panics as Gemm.Sgemm. It is the oracle for tests.
func Reference(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	checkArgs(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var sum float64
			for p := 0; p < k; p++ {
				var av, bv float32
				if transA {
					av = a[p*lda+i]
				} else {
					av = a[i*lda+p]
				}
				if transB {
					bv = b[j*ldb+p]
				} else {
					bv = b[p*ldb+j]
				}
				sum += float64(av) * float64(bv)
			}
			if accumulate {
				sum += float64(c[i*ldc+j])
			}
			c[i*ldc+j] = float32(sum)
		}
	}
}
