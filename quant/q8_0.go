package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/minimind-go/minimind/half"
)

// Q8_0 geometry: values per block and bytes per block.
const (
	Q8Block      = 32
	Q8BlockBytes = 2 + Q8Block
)

// Q8Bytes returns the encoded size of n values (n a multiple of Q8Block).
func Q8Bytes(n int) int { return n / Q8Block * Q8BlockBytes }

// QuantizeQ8 encodes src (len a multiple of Q8Block) into dst, which must
// hold Q8Bytes(len(src)) bytes, in GGUF's Q8_0 layout.
func QuantizeQ8(dst []byte, src []float32) error {
	if len(src)%Q8Block != 0 {
		return fmt.Errorf("quant: q8_0 needs a multiple of %d values, got %d", Q8Block, len(src))
	}
	if len(dst) != Q8Bytes(len(src)) {
		return fmt.Errorf("quant: q8_0 destination holds %d bytes, want %d", len(dst), Q8Bytes(len(src)))
	}
	for b := 0; b < len(src)/Q8Block; b++ {
		x := src[b*Q8Block : (b+1)*Q8Block]
		y := dst[b*Q8BlockBytes : (b+1)*Q8BlockBytes]
		var amax float32
		for _, v := range x {
			amax = max(amax, float32(math.Abs(float64(v))))
		}
		d := amax / 127
		var id float32
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(y, half.Float32ToF16(d))
		for j, v := range x {
			y[2+j] = byte(int8(roundAway(v * id)))
		}
	}
	return nil
}

// roundAway is C's roundf: halves round away from zero.
func roundAway(v float32) float32 {
	return float32(math.Round(float64(v)))
}

// DequantizeQ8 decodes src (Q8_0 blocks) into dst, len(dst) values.
func DequantizeQ8(dst []float32, src []byte) error {
	if len(dst)%Q8Block != 0 || len(src) != Q8Bytes(len(dst)) {
		return fmt.Errorf("quant: q8_0 %d bytes cannot decode to %d values", len(src), len(dst))
	}
	for b := 0; b < len(dst)/Q8Block; b++ {
		y := src[b*Q8BlockBytes : (b+1)*Q8BlockBytes]
		d := half.F16ToFloat32(binary.LittleEndian.Uint16(y))
		for j := range Q8Block {
			dst[b*Q8Block+j] = d * float32(int8(y[2+j]))
		}
	}
	return nil
}
