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
