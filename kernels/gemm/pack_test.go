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
	for _, w := range []int{6, 16} {
		for _, tc := range []struct{ kc, ld int }{{1, 16}, {3, 17}, {256, 512}, {255, 1536}, {7, 16}} {
			a := randSlice(r, 2+(tc.kc-1)*tc.ld+w)
			want := make([]float32, w*tc.kc+8)
			got := make([]float32, w*tc.kc+8)
			for i := range got {
				got[i], want[i] = -1, -1
			}
			for p := 0; p < tc.kc; p++ {
				copy(want[p*w:(p+1)*w], a[2+p*tc.ld:])
			}
			if w == 6 {
				packStrip6(tc.kc, &a[2], tc.ld, &got[0])
			} else {
				packStrip16(tc.kc, &a[2], tc.ld, &got[0])
			}
			for i := range want {
				if got[i] != want[i] {
					t.Fatalf("w=%d kc=%d ld=%d: dst[%d] = %v, want %v", w, tc.kc, tc.ld, i, got[i], want[i])
				}
			}
		}
	}
}
