package model

import "math"

// RoundHalfForTest converts v to dtype ("f16" or "bf16") and back.
func RoundHalfForTest(v float32, dtype string) (uint16, float32) {
	if dtype == "bf16" {
		h := float32ToBF16(v)
		return h, math.Float32frombits(uint32(h) << 16)
	}
	h := float32ToHalf(v)
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch exp {
	case 0x1f:
		return h, math.Float32frombits(sign | 0xff<<23 | man<<13)
	case 0:
		f := float32(man) * (1.0 / (1 << 24))
		return h, math.Float32frombits(sign | math.Float32bits(f))
	}
	return h, math.Float32frombits(sign | (exp+112)<<23 | man<<13)
}
