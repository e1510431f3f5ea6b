package gemm

import (
	"math/rand/v2"
	"testing"
)

// TestPack6AVX2MatchesGo: the assembly A-panel packer writes exactly what
// its pure-Go twin does, for several depths and row strides, and nothing
// past the panel.
func TestPack6AVX2MatchesGo(t *testing.T) {
	if !Supported(AVX2) {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ kc, lda int }{{4, 4}, {8, 9}, {256, 256}, {252, 1536}, {128, 131}} {
		a := randSlice(r, 5*tc.lda+tc.kc+3)
		want := make([]float32, 6*tc.kc+8)
		got := make([]float32, 6*tc.kc+8)
		for i := range got {
			got[i], want[i] = -1, -1
		}
		pack6Go(want, a, 1, tc.lda, tc.kc)
		pack6AVX2(tc.kc, &a[1], tc.lda, &got[0])
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("kc=%d lda=%d: dst[%d] = %v, want %v", tc.kc, tc.lda, i, got[i], want[i])
			}
		}
	}
}

// TestPackStripMatchesGo: the strip packers copy w floats of each of kc
// rows, in order, and write nothing past the panel.
func TestPackStripMatchesGo(t *testing.T) {
	if !Supported(AVX2) {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(5, 6))
	for _, w := range []int{6, 12, 16, 32} {
		for _, tc := range []struct{ kc, ld int }{{1, 32}, {3, 33}, {256, 512}, {255, 1536}, {7, 32}} {
			a := randSlice(r, 2+(tc.kc-1)*tc.ld+w)
			want := make([]float32, w*tc.kc+8)
			got := make([]float32, w*tc.kc+8)
			for i := range got {
				got[i], want[i] = -1, -1
			}
			for p := 0; p < tc.kc; p++ {
				copy(want[p*w:(p+1)*w], a[2+p*tc.ld:])
			}
			switch w {
			case 6:
				packStrip6(tc.kc, &a[2], tc.ld, &got[0])
			case 12:
				packStrip12(tc.kc, &a[2], tc.ld, &got[0])
			case 16:
				packStrip16(tc.kc, &a[2], tc.ld, &got[0])
			case 32:
				packStrip32(tc.kc, &a[2], tc.ld, &got[0])
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("w=%d kc=%d ld=%d: dst[%d] = %v, want %v", w, tc.kc, tc.ld, i, got[i], want[i])
				}
			}
		}
	}
}

// TestPackTransposed: the transposing panel packer (assembly for whole
// groups of 8 k values, Go for the rest) writes dst[p*r+i] = row i [p] for
// every panel width the assembly kinds use, depths with and without a
// tail and several row strides, and nothing past the panel.
func TestPackTransposed(t *testing.T) {
	if !Supported(AVX2) {
		t.Skip("no AVX2")
	}
	g := gemmFor(t, newPool(t, 1), AVX2)
	r := rand.New(rand.NewPCG(7, 8))
	for _, rows := range []int{4, 12, 16, 32} {
		for _, tc := range []struct{ kc, ld int }{{1, 1}, {7, 9}, {8, 8}, {13, 20}, {192, 192}, {191, 1536}, {256, 6401}} {
			src := randSlice(r, 3+(rows-1)*tc.ld+tc.kc+5)
			want := make([]float32, rows*tc.kc+8)
			got := make([]float32, rows*tc.kc+8)
			for i := range got {
				got[i], want[i] = -1, -1
			}
			for i := 0; i < rows; i++ {
				for p := 0; p < tc.kc; p++ {
					want[p*rows+i] = src[3+i*tc.ld+p]
				}
			}
			g.packTransposed(got, src, 3, tc.ld, tc.kc, rows)
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("rows=%d kc=%d ld=%d: dst[%d] = %v, want %v", rows, tc.kc, tc.ld, i, got[i], want[i])
				}
			}
		}
	}
}

// TestPackStripsN: the whole-item packers of Aᵀ panels (12 and 6 rows)
// write dst[q*pstride+p*w+i] = a[p*lda+q*w+i] for every panel and depth,
// and nothing between or past the panels.
func TestPackStripsN(t *testing.T) {
	if !Supported(AVX2) {
		t.Skip("no AVX2")
	}
	r := rand.New(rand.NewPCG(9, 10))
	for _, w := range []int{6, 12} {
		for _, tc := range []struct{ kc, panels, lda int }{{1, 1, 12}, {3, 2, 25}, {256, 24, 1536}, {191, 5, 4096}} {
			pstride := w*tc.kc + 3 // a gap after each panel must stay untouched
			a := randSlice(r, 2+(tc.kc-1)*tc.lda+tc.panels*w)
			want := make([]float32, tc.panels*pstride+8)
			got := make([]float32, len(want))
			for i := range got {
				got[i], want[i] = -1, -1
			}
			for q := 0; q < tc.panels; q++ {
				for p := 0; p < tc.kc; p++ {
					copy(want[q*pstride+p*w:][:w], a[2+p*tc.lda+q*w:])
				}
			}
			if w == 12 {
				packStrips12N(tc.kc, &a[2], tc.lda, tc.panels, &got[0], pstride)
			} else {
				packStrips6N(tc.kc, &a[2], tc.lda, tc.panels, &got[0], pstride)
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("w=%d kc=%d panels=%d lda=%d: dst[%d] = %v, want %v", w, tc.kc, tc.panels, tc.lda, i, got[i], want[i])
				}
			}
		}
	}
}
