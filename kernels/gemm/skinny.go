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
	kv := k - k%s.g.cfg.vec // the kernels' part; the tail is done here
	for grp := lo; grp < hi; grp++ {
		j0 := grp * 4
		rows := min(4, s.n-j0)
		i := 0
		if rows == 4 && kv > 0 {
			// Four rows of A at a time against the group's 4 B rows.
			for ; i+4 <= s.m; i += 4 {
				var lo8, hi8 [8]float32 // B rows j0, j0+1 and j0+2, j0+3
				a := &s.a[i*s.lda]
				s.g.dot4x2(kv, a, s.lda, &s.b[j0*s.ldb], s.ldb, &lo8)
				s.g.dot4x2(kv, a, s.lda, &s.b[(j0+2)*s.ldb], s.ldb, &hi8)
				for ii := 0; ii < 4; ii++ {
					out := [4]float32{lo8[2*ii], lo8[2*ii+1], hi8[2*ii], hi8[2*ii+1]}
					s.tail(&out, i+ii, j0, 4, kv)
					s.store(&out, i+ii, j0, 4)
				}
			}
		}
		for ; i < s.m; i++ {
			var out [4]float32
			start := 0
			if rows == 4 && kv > 0 {
				s.g.dot4(kv, &s.a[i*s.lda], &s.b[j0*s.ldb], s.ldb, &out)
				start = kv
			}
			s.tail(&out, i, j0, rows, start)
			s.store(&out, i, j0, rows)
		}
	}
}

// tail adds Σ_{from≤p<k} a[i][p]·b[j0+r][p] to out[r] for r < rows.
func (s *skinnyJob) tail(out *[4]float32, i, j0, rows, from int) {
	if from == s.k {
		return
	}
	ar := s.a[i*s.lda+from : i*s.lda+s.k]
	for r := 0; r < rows; r++ {
		br := s.b[(j0+r)*s.ldb+from : (j0+r)*s.ldb+s.k]
		sum := out[r]
		for p, v := range ar {
			sum += v * br[p]
		}
		out[r] = sum
	}
}

// store writes (or adds) out[:rows] to C[i][j0:j0+rows].
func (s *skinnyJob) store(out *[4]float32, i, j0, rows int) {
	dst := s.c[i*s.ldc+j0 : i*s.ldc+j0+rows]
	if s.accum {
		for r := range dst {
			dst[r] += out[r]
		}
		return
	}
	copy(dst, out[:rows])
}
