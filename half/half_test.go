package half

import (
	"math"
	"math/rand/v2"
	"sort"
	"testing"
)

func TestFloat32ToF16Cases(t *testing.T) {
	t.Parallel()
	p2 := func(e int) float32 { return float32(math.Ldexp(1, e)) }
	tests := []struct {
		name string
		in   float32
		want uint16
	}{
		{"one", 1, 0x3c00},
		{"minus two", -2, 0xc000},
		{"zero", 0, 0x0000},
		{"minus zero", float32(math.Copysign(0, -1)), 0x8000},
		{"max finite", 65504, 0x7bff},
		{"just below overflow tie", 65519.996, 0x7bff},
		{"overflow tie rounds to inf", 65520, 0x7c00},
		{"large overflow", 1e10, 0x7c00},
		{"negative overflow", -1e10, 0xfc00},
		{"inf", float32(math.Inf(1)), 0x7c00},
		{"minus inf", float32(math.Inf(-1)), 0xfc00},
		{"nan", float32(math.NaN()), 0x7e00},
		{"tie to even down", 1 + p2(-11), 0x3c00},
		{"tie to even up", 1 + 3*p2(-11), 0x3c02},
		{"above tie", 1 + p2(-11) + p2(-20), 0x3c01},
		{"below tie", 1 + p2(-11) - p2(-22), 0x3c00},
		{"mantissa carry into exponent", 2 - p2(-12), 0x4000},
		{"smallest subnormal", p2(-24), 0x0001},
		{"half smallest subnormal ties to zero", p2(-25), 0x0000},
		{"just above half smallest subnormal", p2(-25) * (1 + p2(-23)), 0x0001},
		{"subnormal tie to even up", 3 * p2(-25), 0x0002},
		{"subnormal tie to even down", 5 * p2(-25), 0x0002},
		{"largest subnormal", 1023 * p2(-24), 0x03ff},
		{"subnormal rounds up to smallest normal", p2(-14) - p2(-25), 0x0400},
		{"smallest normal", p2(-14), 0x0400},
		{"negative subnormal", -p2(-20), 0x8010},
		{"tiny underflows to zero", p2(-30), 0x0000},
		{"negative tiny underflows to minus zero", -p2(-30), 0x8000},
		{"float32 subnormal", math.SmallestNonzeroFloat32, 0x0000},
	}
	for _, tt := range tests {
		if got := Float32ToF16(tt.in); got != tt.want {
			t.Errorf("%s: Float32ToF16(%g) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
}

func TestF16Exhaustive(t *testing.T) {
	t.Parallel()
	for h := 0; h < 1<<16; h++ {
		f := F16ToFloat32(uint16(h))
		isNaN := h&0x7c00 == 0x7c00 && h&0x3ff != 0
		if isNaN {
			if !math.IsNaN(float64(f)) {
				t.Fatalf("F16ToFloat32(%#04x) = %g, want NaN", h, f)
			}
			continue
		}
		if back := Float32ToF16(f); back != uint16(h) {
			t.Fatalf("Float32ToF16(F16ToFloat32(%#04x) = %g) = %#04x", h, f, back)
		}
	}
}

// TestF16ToFloat32Cases checks decoded values independently of the encoder.
func TestF16ToFloat32Cases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   uint16
		want uint32 // float32 bits: tells -0 from 0 and NaN payloads apart
	}{
		{"one", 0x3c00, 0x3f800000},
		{"minus two", 0xc000, 0xc0000000},
		{"one third", 0x3555, math.Float32bits(0.333251953125)},
		{"smallest subnormal", 0x0001, math.Float32bits(float32(math.Ldexp(1, -24)))},
		{"largest subnormal", 0x03ff, math.Float32bits(float32(1023 * math.Ldexp(1, -24)))},
		{"smallest normal", 0x0400, math.Float32bits(float32(math.Ldexp(1, -14)))},
		{"max finite", 0x7bff, math.Float32bits(65504)},
		{"minus zero", 0x8000, 0x80000000},
		{"inf", 0x7c00, 0x7f800000},
		{"minus inf", 0xfc00, 0xff800000},
		{"quiet nan keeps payload", 0x7e01, 0x7fc02000},
		{"negative signalling nan keeps payload", 0xfc01, 0xff802000},
	}
	for _, tt := range tests {
		if got := math.Float32bits(F16ToFloat32(tt.in)); got != tt.want {
			t.Errorf("%s: F16ToFloat32(%#04x) bits %#08x, want %#08x", tt.name, tt.in, got, tt.want)
		}
	}
}

// refF16 rounds f to binary16 by searching the sorted table of all finite
// positive binary16 values: an implementation independent of bit tricks.
func refF16(table []float64, f float32) uint16 {
	var sign uint16
	x := float64(f)
	if math.Signbit(x) {
		sign, x = 0x8000, -x
	}
	if x >= 65520 { // halfway between 65504 and the next step (65536) ties to inf
		return sign | 0x7c00
	}
	i := sort.SearchFloat64s(table, x) // table[i] >= x
	if table[i] == x {
		return sign | uint16(i)
	}
	lo, hi := table[i-1], table[i]
	switch {
	case x-lo < hi-x:
		return sign | uint16(i-1)
	case x-lo > hi-x:
		return sign | uint16(i)
	case (i-1)%2 == 0:
		return sign | uint16(i-1)
	default:
		return sign | uint16(i)
	}
}

func TestFloat32ToF16Reference(t *testing.T) {
	t.Parallel()
	table := make([]float64, 0x7c00)
	for h := range table {
		table[h] = float64(F16ToFloat32(uint16(h)))
	}
	check := func(f float32) {
		t.Helper()
		if math.IsNaN(float64(f)) || math.IsInf(float64(f), 0) {
			return
		}
		if got, want := Float32ToF16(f), refF16(table, f); got != want {
			t.Fatalf("Float32ToF16(%g [%#08x]) = %#04x, reference %#04x", f, math.Float32bits(f), got, want)
		}
	}
	// Every midpoint between neighbours, and one float32 ulp either side.
	for h := 0; h+1 < len(table); h++ {
		mid := float32((table[h] + table[h+1]) / 2) // exact: needs 12 significant bits
		bits := math.Float32bits(mid)
		for _, b := range []uint32{bits - 1, bits, bits + 1} {
			check(math.Float32frombits(b))
			check(-math.Float32frombits(b))
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 200000 {
		check(math.Float32frombits(rng.Uint32()))
		// Values in the binary16 range are where rounding is interesting.
		check(float32(rng.NormFloat64() * math.Pow(2, float64(rng.IntN(44)-28))))
	}
}

func TestBF16(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   uint32 // float32 bits
		want uint16
	}{
		{"one", 0x3f800000, 0x3f80},
		{"tie to even down", 0x3f808000, 0x3f80},
		{"tie to even up", 0x3f818000, 0x3f82},
		{"above tie", 0x3f808001, 0x3f81},
		{"below tie", 0x3f807fff, 0x3f80},
		{"overflow to inf", 0x7f7fffff, 0x7f80},
		{"max finite stays", 0x7f7f0000, 0x7f7f},
		{"inf", 0x7f800000, 0x7f80},
		{"minus inf", 0xff800000, 0xff80},
		{"nan", 0x7fc00001, 0x7fc0},
		{"signalling nan", 0x7f800001, 0x7fc0},
		{"subnormal tie to even", 0x00018000, 0x0002},
		{"subnormal below tie", 0x00007fff, 0x0000},
		{"minus zero", 0x80000000, 0x8000},
	}
	for _, tt := range tests {
		if got := Float32ToBF16(math.Float32frombits(tt.in)); got != tt.want {
			t.Errorf("%s: Float32ToBF16(%#08x) = %#04x, want %#04x", tt.name, tt.in, got, tt.want)
		}
	}
	for h := 0; h < 1<<16; h++ {
		f := BF16ToFloat32(uint16(h))
		if math.Float32bits(f) != uint32(h)<<16 {
			t.Fatalf("BF16ToFloat32(%#04x) bits %#08x", h, math.Float32bits(f))
		}
		if math.IsNaN(float64(f)) {
			continue
		}
		if back := Float32ToBF16(f); back != uint16(h) {
			t.Fatalf("round trip %#04x -> %#04x", h, back)
		}
		// The midpoint to the next value (when it is not NaN/inf) ties to even.
		if h&0x7f80 != 0x7f80 && h&0x7fff != 0x7f7f {
			mid := uint32(h)<<16 | 0x8000
			want := uint16(h)
			if h&1 == 1 {
				want++
			}
			if got := Float32ToBF16(math.Float32frombits(mid)); got != want {
				t.Fatalf("midpoint %#08x -> %#04x, want %#04x", mid, got, want)
			}
		}
	}
}

// TestDecodeLE: the slice decoders read little-endian pairs and agree with
// the per-value conversions.
func TestDecodeLE(t *testing.T) {
	src := []byte{0x00, 0x3c, 0x00, 0xc0, 0x80, 0x3f, 0x01, 0x00} // f16: 1, -2, 1.875, 2^-24
	want16 := []float32{1, -2, F16ToFloat32(0x3f80), F16ToFloat32(0x0001)}
	got := make([]float32, 4)
	DecodeF16(got, src)
	for i := range got {
		if got[i] != want16[i] {
			t.Errorf("DecodeF16[%d] = %v, want %v", i, got[i], want16[i])
		}
	}
	wantB := []float32{BF16ToFloat32(0x3c00), BF16ToFloat32(0xc000), 1, BF16ToFloat32(0x0001)}
	DecodeBF16(got, src)
	for i := range got {
		if got[i] != wantB[i] {
			t.Errorf("DecodeBF16[%d] = %v, want %v", i, got[i], wantB[i])
		}
	}
}
