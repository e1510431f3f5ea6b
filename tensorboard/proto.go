package tensorboard

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// The protobuf wire format, as much of it as Event needs: each field is a
// varint key (field number << 3 | wire type) and a value.
const (
	wireVarint  = 0 // int64, int32, enums, bool
	wireFixed64 = 1 // double
	wireBytes   = 2 // string, bytes, embedded messages
	wireFixed32 = 5 // float
)

func appendKey(b []byte, field, wire int) []byte {
	return binary.AppendUvarint(b, uint64(field)<<3|uint64(wire))
}

func appendVarintField(b []byte, field int, v uint64) []byte {
	return binary.AppendUvarint(appendKey(b, field, wireVarint), v)
}

func appendDoubleField(b []byte, field int, v float64) []byte {
	return binary.LittleEndian.AppendUint64(appendKey(b, field, wireFixed64), math.Float64bits(v))
}

func appendFloatField(b []byte, field int, v float32) []byte {
	return binary.LittleEndian.AppendUint32(appendKey(b, field, wireFixed32), math.Float32bits(v))
}

func appendBytesField(b []byte, field int, v []byte) []byte {
	b = binary.AppendUvarint(appendKey(b, field, wireBytes), uint64(len(v)))
	return append(b, v...)
}

func appendStringField(b []byte, field int, v string) []byte {
	b = binary.AppendUvarint(appendKey(b, field, wireBytes), uint64(len(v)))
	return append(b, v...)
}

var errTruncated = errors.New("truncated field")

// field is one decoded protobuf field: num and wire type, and the value in
// u (varint, fixed64, fixed32) or data (length-delimited, a sub-slice of
// the message).
type field struct {
	num  int
	wire int
	u    uint64
	data []byte
}

// nextField decodes the field at the start of b and returns the rest.
// Groups (wire types 3, 4) are rejected: no message here has any.
func nextField(b []byte) (field, []byte, error) {
	key, n := binary.Uvarint(b)
	if n <= 0 {
		return field{}, nil, errors.New("bad field key")
	}
	b = b[n:]
	f := field{num: int(key >> 3), wire: int(key & 7)}
	if key>>3 == 0 || key>>3 > math.MaxInt32 {
		return field{}, nil, fmt.Errorf("bad field number %d", key>>3)
	}
	switch f.wire {
	case wireVarint:
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return field{}, nil, fmt.Errorf("field %d: bad varint", f.num)
		}
		f.u, b = v, b[n:]
	case wireFixed64:
		if len(b) < 8 {
			return field{}, nil, fmt.Errorf("field %d: %w", f.num, errTruncated)
		}
		f.u, b = binary.LittleEndian.Uint64(b), b[8:]
	case wireFixed32:
		if len(b) < 4 {
			return field{}, nil, fmt.Errorf("field %d: %w", f.num, errTruncated)
		}
		f.u, b = uint64(binary.LittleEndian.Uint32(b)), b[4:]
	case wireBytes:
		l, n := binary.Uvarint(b)
		if n <= 0 {
			return field{}, nil, fmt.Errorf("field %d: bad length", f.num)
		}
		b = b[n:]
		// Compare as uint64: a hostile length must not wrap to a small int.
		if l > uint64(len(b)) {
			return field{}, nil, fmt.Errorf("field %d: length %d: %w", f.num, l, errTruncated)
		}
		f.data, b = b[:l:l], b[l:]
	default:
		return field{}, nil, fmt.Errorf("field %d: unsupported wire type %d", f.num, f.wire)
	}
	return f, b, nil
}

// fields calls fn for every field of message b, stopping at the first error.
func fields(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		f, rest, err := nextField(b)
		if err != nil {
			return err
		}
		if err := fn(f); err != nil {
			return err
		}
		b = rest
	}
	return nil
}

// want checks that f has the wire type its field number is declared with.
func (f field) want(wire int) error {
	if f.wire != wire {
		return fmt.Errorf("field %d: wire type %d, want %d", f.num, f.wire, wire)
	}
	return nil
}
