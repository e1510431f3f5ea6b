// Package half converts between float32 and the two 16-bit float formats
// checkpoints and half-precision weights use: IEEE 754 binary16 ("f16",
// torch.float16) and bfloat16 ("bf16", the top half of a float32).
//
// Narrowing rounds to nearest, ties to even, exactly as torch's .half() and
// .bfloat16() do; widening is exact. The functions are pure and never fail.
// The package imports nothing from the module, so file formats
// (checkpoint/safetensors, checkpoint/pth), GEMM kernels (kernels/gemm) and
// the model all share one tested copy. The widening functions sit on the
// decode hot path (kernels/gemm's scalar tails): keep them within the
// compiler's inlining budget (check with go build -gcflags=-m).
package half

import "math"

// Float32ToF16 converts f to IEEE 754 binary16 bits, rounding to nearest,
// ties to even, with overflow to infinity and gradual underflow to
// subnormals. NaN becomes the canonical quiet NaN 0x7e00 with f's sign,
// as torch's .half() does.
func Float32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int(b>>23) & 0xff
	mant := b & 0x7fffff
	if exp == 0xff {
		if mant != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15 // biased binary16 exponent
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		// Subnormal result: value = M * 2^(exp-150) with the implicit bit,
		// and a binary16 subnormal is q * 2^-24, so q = M >> (14 - e).
		// A float32 subnormal (exp 0) is far below half the smallest
		// binary16 subnormal, so it lands in the shift >= 25 case.
		shift := uint(14 - e)
		if shift >= 25 {
			return sign // below half of 2^-24 even with M at its maximum
		}
		m := mant | 0x800000
		q := m >> shift
		rem := m & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && q&1 == 1) {
			q++ // may carry into the smallest normal, whose encoding is q = 0x400
		}
		return sign | uint16(q)
	}
	q := uint32(e)<<10 | mant>>13
	rem := mant & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && q&1 == 1) {
		q++ // a carry out of the mantissa bumps the exponent, up to infinity
	}
	return sign | uint16(q)
}

// F16ToFloat32 converts IEEE 754 binary16 bits to float32 exactly
// (every binary16 value, subnormals included, is a float32 value).
// Infinities keep their sign and NaNs their payload, as VCVTPH2PS does.
func F16ToFloat32(h uint16) float32 {
	sign := uint32(h&0x8000) << 16
	exp := uint32(h>>10) & 0x1f
	mant := uint32(h & 0x3ff)
	if exp == 0 {
		// Zero or subnormal: mant * 2^-24, exact in float32.
		v := float32(mant) * (1.0 / (1 << 24))
		return math.Float32frombits(math.Float32bits(v) | sign)
	}
	if exp == 0x1f {
		exp = 0xff - 127 + 15 // Inf or NaN: the float32 all-ones exponent
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | mant<<13)
}

// Float32ToBF16 converts f to bfloat16 bits (the top half of a float32),
// rounding to nearest, ties to even; overflow rounds to infinity.
// NaN becomes 0x7fc0, as torch's .bfloat16() does.
func Float32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return 0x7fc0
	}
	return uint16((b + 0x7fff + (b>>16)&1) >> 16)
}

// BF16ToFloat32 converts bfloat16 bits to float32 exactly.
func BF16ToFloat32(h uint16) float32 {
	return math.Float32frombits(uint32(h) << 16)
}

// DecodeF16 widens len(dst) little-endian binary16 values stored in src
// (2 bytes each), as file formats hold them.
func DecodeF16(dst []float32, src []byte) {
	src = src[:2*len(dst)] // one bounds check; panics on a short src like an index would
	for i := range dst {
		dst[i] = F16ToFloat32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
	}
}

// DecodeBF16 widens len(dst) little-endian bfloat16 values stored in src.
func DecodeBF16(dst []float32, src []byte) {
	src = src[:2*len(dst)] // one bounds check; panics on a short src like an index would
	for i := range dst {
		dst[i] = BF16ToFloat32(uint16(src[2*i]) | uint16(src[2*i+1])<<8)
	}
}
