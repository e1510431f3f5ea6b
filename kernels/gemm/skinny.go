package gemm

// skinnyMaxM is the largest m that takes the skinny (decode) path: with so
// few rows a packed GEMM would spend most of its time packing B, while the
// product is bound by reading B once from memory.
const skinnyMaxM = 8

// skinnyJob computes C = A·Bᵀ (B stored n×k) for m ≤ skinnyMaxM. Items are
// groups of 4 rows of B (4 output columns); for each group every row of A
// is dotted with the 4 B rows while they sit in L1, so B streams from
// memory exactly once and A (≤ 8×k floats) stays cache-resident.
type skinnyJob struct {
	g       *Gemm
	m, n, k int
	a       []float32
	lda     int
	b       []float32
	ldb     int
	c       []float32
	ldc     int
	accum   bool
}

func (g *Gemm) skinny(m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int, accumulate bool) {
	s := &g.sk
	*s = skinnyJob{g: g, m: m, n: n, k: k, a: a, lda: lda, b: b, ldb: ldb, c: c, ldc: ldc, accum: accumulate}
	// At least 64 KiB of B per chunk, so waking a worker pays for itself.
	grain := max(1, 16384/(4*k))
	g.pool.For((n+3)/4, grain, s)
	s.a, s.b, s.c = nil, nil, nil
}

// Run implements parallel.Task over groups [lo, hi) of 4 B rows.
func (s *skinnyJob) Run(lo, hi int) {
	k := s.k
	kv := k - k%s.g.cfg.vec // the kernel's part; the tail is done here
	for grp := lo; grp < hi; grp++ {
		j0 := grp * 4
		rows := min(4, s.n-j0)
		for i := 0; i < s.m; i++ {
			ar := s.a[i*s.lda : i*s.lda+k]
			var out [4]float32
			if rows == 4 {
				if kv > 0 {
					s.g.dot4(kv, &ar[0], &s.b[j0*s.ldb], s.ldb, &out)
				}
				for r := 0; r < 4; r++ {
					br := s.b[(j0+r)*s.ldb : (j0+r)*s.ldb+k]
					for p := kv; p < k; p++ {
						out[r] += ar[p] * br[p]
					}
				}
			} else {
				// Last partial group: plain loops (n%4 columns at most).
				for r := 0; r < rows; r++ {
					br := s.b[(j0+r)*s.ldb : (j0+r)*s.ldb+k]
					var sum float32
					for p, v := range ar {
						sum += v * br[p]
					}
					out[r] = sum
				}
			}
			dst := s.c[i*s.ldc+j0 : i*s.ldc+j0+rows]
			if s.accum {
				for r := range dst {
					dst[r] += out[r]
				}
			} else {
				copy(dst, out[:rows])
			}
		}
	}
}
