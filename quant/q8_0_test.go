package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestQ8RoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	src := make([]float32, 4*Q8Block)
	for i := range src {
		src[i] = float32(r.NormFloat64())
	}
	copy(src[Q8Block:2*Q8Block], make([]float32, Q8Block)) // an all-zero block
	enc := make([]byte, Q8Bytes(len(src)))
	if err := QuantizeQ8(enc, src); err != nil {
		t.Fatal(err)
	}
	dec := make([]float32, len(src))
	if err := DequantizeQ8(dec, enc); err != nil {
		t.Fatal(err)
	}
	for b := 0; b < 4; b++ {
		var amax float64
		for _, v := range src[b*Q8Block : (b+1)*Q8Block] {
			amax = math.Max(amax, math.Abs(float64(v)))
		}
		// half a quantum plus the f16 rounding of the scale (2^-11 relative)
		tol := amax/127/2 + amax*0x1p-11 + 1e-7
		for j := b * Q8Block; j < (b+1)*Q8Block; j++ {
			if d := math.Abs(float64(dec[j] - src[j])); d > tol {
				t.Fatalf("value %d: %g decodes to %g (|Δ| %g > %g)", j, src[j], dec[j], d, tol)
			}
		}
	}
	for _, v := range dec[Q8Block : 2*Q8Block] {
		if v != 0 {
			t.Fatalf("zero block decodes to %g", v)
		}
	}
}

// TestQ8KnownBlock pins the encoding against values worked by hand from
// ggml's quantize_row_q8_0_ref: the largest magnitude maps to ±127 and
// halves round away from zero.
func TestQ8KnownBlock(t *testing.T) {
	src := make([]float32, Q8Block)
	src[0] = 127
	src[1] = -63.5 // rounds to -64
	src[2] = 0.5   // rounds to 1
	src[3] = -127
	enc := make([]byte, Q8BlockBytes)
	if err := QuantizeQ8(enc, src); err != nil {
		t.Fatal(err)
	}
	if enc[0] != 0x00 || enc[1] != 0x3c { // f16 1.0
		t.Errorf("scale bytes % x, want 00 3c", enc[:2])
	}
	want := []int8{127, -64, 1, -127, 0}
	for i, w := range want {
		if got := int8(enc[2+i]); got != w {
			t.Errorf("q[%d] = %d, want %d", i, got, w)
		}
	}
}

func TestQ8Errors(t *testing.T) {
	if err := QuantizeQ8(make([]byte, 34), make([]float32, 31)); err == nil {
		t.Error("31 values: want an error")
	}
	if err := QuantizeQ8(make([]byte, 33), make([]float32, 32)); err == nil {
		t.Error("short destination: want an error")
	}
	if err := DequantizeQ8(make([]float32, 32), make([]byte, 35)); err == nil {
		t.Error("35 bytes: want an error")
	}
}

// TestQ8Requantize checks that Q8_0 survives a trip through float32: a
// GGUF q8_0 tensor dequantized on load and quantized again (8-bit
// inference, model.SetInferenceDType) gives back the same bytes. It holds
// because the block's largest value decodes to ±127·d exactly, so the new
// scale is d again, and x·(1/d) lands within rounding of the old quant.
// Weights of every scale a model has are covered, down to scales that are
// float16 subnormals. (A block whose max|x| is below 127·2⁻²⁵ has a scale
// that rounds to 0 in float16: it decodes to zeros and re-quantizes to an
// all-zero block, the same values in other bytes; TestQ8Errors' neighbour
// TestQ8RoundTrip covers zero blocks.)
func TestQ8Requantize(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, scale := range []float64{1e-5, 1e-4, 0.02, 1, 300} {
		src := make([]float32, 64*Q8Block)
		for i := range src {
			src[i] = float32(r.NormFloat64() * scale)
		}
		enc := make([]byte, Q8Bytes(len(src)))
		if err := QuantizeQ8(enc, src); err != nil {
			t.Fatal(err)
		}
		dec := make([]float32, len(src))
		if err := DequantizeQ8(dec, enc); err != nil {
			t.Fatal(err)
		}
		again := make([]byte, len(enc))
		if err := QuantizeQ8(again, dec); err != nil {
			t.Fatal(err)
		}
		for i := range enc {
			if enc[i] != again[i] {
				b := i / Q8BlockBytes
				t.Fatalf("scale %g: block %d byte %d: %#02x re-quantized to %#02x", scale, b, i%Q8BlockBytes, enc[i], again[i])
			}
		}
	}
}
