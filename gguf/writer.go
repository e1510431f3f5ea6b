package gguf

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"math"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/atomicfile"
	"github.com/minimind-go/minimind/quant"
)

// Tensor is a tensor to write: Dims in ggml order (fastest first), its type
// and its encoded data, given either as Data (Encode makes it from float32)
// or, when Fill is set, produced by Fill while Write streams the file.
type Tensor struct {
	Name string
	Dims []uint64
	Type TensorType
	Data []byte
	// Fill, when set (and Data nil), encodes the tensor into dst, which is
	// exactly its size (TensorInfo.Bytes) and holds garbage on entry. Write
	// calls it once, in file order, just before writing the tensor, with
	// one buffer that the tensors share: a file is then written holding one
	// tensor's encoding at a time, not the whole model's.
	Fill func(dst []byte) error
}

// Write writes a GGUF v3 file atomically (a temporary file renamed over
// path): the metadata in the order given, then the tensor infos and data
// in the order given, each tensor's data aligned to general.alignment
// (DefaultAlignment when kv has none). Every size is known from the
// tensors' dims and types, so the header (offsets included) is written
// first and the data streamed after it, tensor by tensor; an error from a
// Fill leaves no file behind.
func Write(path string, kv []KV, tensors []Tensor) error {
	align := uint64(DefaultAlignment)
	seen := map[string]bool{}
	for _, e := range kv {
		if seen[e.Key] {
			return fmt.Errorf("%s: metadata key %q given twice", path, e.Key)
		}
		seen[e.Key] = true
		if err := checkValue(e.Type, e.Value); err != nil {
			return fmt.Errorf("%s: metadata key %q: %w", path, e.Key, err)
		}
		if e.Key == "general.alignment" {
			a, ok := e.Value.(uint32)
			if !ok || a == 0 || a&(a-1) != 0 {
				return fmt.Errorf("%s: metadata key %q: want a power-of-two uint32", path, e.Key)
			}
			align = uint64(a)
		}
	}
	names := map[string]bool{}
	maxFill := uint64(0) // the largest tensor made by Fill: the buffer's size
	for _, t := range tensors {
		if names[t.Name] {
			return fmt.Errorf("%s: tensor %q given twice", path, t.Name)
		}
		names[t.Name] = true
		info := TensorInfo{Name: t.Name, Dims: t.Dims, Type: t.Type}
		ti, ok := typeInfos[t.Type]
		if !ok || len(t.Dims) == 0 || len(t.Dims) > maxDims {
			return fmt.Errorf("%s: tensor %q: %s dims %v: not a tensor GGUF can hold", path, t.Name, t.Type, t.Dims)
		}
		if t.Fill == nil {
			if uint64(len(t.Data)) != info.Bytes() {
				return fmt.Errorf("%s: tensor %q: %s dims %v need %d bytes, have %d", path, t.Name, t.Type, t.Dims, info.Bytes(), len(t.Data))
			}
			continue
		}
		if t.Data != nil {
			return fmt.Errorf("%s: tensor %q: both Data and Fill given", path, t.Name)
		}
		if t.Dims[0]%uint64(ti.block) != 0 {
			return fmt.Errorf("%s: tensor %q: %s rows of %d values are not whole blocks of %d", path, t.Name, t.Type, t.Dims[0], ti.block)
		}
		maxFill = max(maxFill, info.Bytes())
	}
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 1<<20)
		cw := &countWriter{w: bw}
		e := encoder{w: cw}
		e.bytes([]byte(Magic))
		e.u32(Version)
		e.u64(uint64(len(tensors)))
		e.u64(uint64(len(kv)))
		for _, x := range kv {
			e.str(x.Key)
			e.u32(uint32(x.Type))
			e.value(x.Type, x.Value)
		}
		off := uint64(0)
		for _, t := range tensors {
			e.str(t.Name)
			e.u32(uint32(len(t.Dims)))
			for _, d := range t.Dims {
				e.u64(d)
			}
			e.u32(uint32(t.Type))
			e.u64(off)
			info := TensorInfo{Dims: t.Dims, Type: t.Type}
			off = alignUp(off+info.Bytes(), align)
		}
		pad := func() { e.bytes(make([]byte, alignUp(cw.n, align)-cw.n)) }
		pad()
		buf := make([]byte, maxFill)
		for _, t := range tensors {
			data := t.Data
			if t.Fill != nil {
				info := TensorInfo{Dims: t.Dims, Type: t.Type}
				data = buf[:info.Bytes()]
				if err := t.Fill(data); err != nil {
					return fmt.Errorf("tensor %q: %w", t.Name, err)
				}
			}
			e.bytes(data)
			pad()
			if e.err != nil {
				return e.err
			}
		}
		return bw.Flush()
	})
}

type countWriter struct {
	w io.Writer
	n uint64
}

func (c *countWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += uint64(n)
	return n, err
}

// encoder writes little-endian values, keeping the first error.
type encoder struct {
	w   io.Writer
	err error
	buf [8]byte
}

func (e *encoder) bytes(b []byte) {
	if e.err == nil {
		_, e.err = e.w.Write(b)
	}
}
func (e *encoder) u32(v uint32) { binary.LittleEndian.PutUint32(e.buf[:4], v); e.bytes(e.buf[:4]) }
func (e *encoder) u64(v uint64) { binary.LittleEndian.PutUint64(e.buf[:8], v); e.bytes(e.buf[:8]) }
func (e *encoder) str(s string) { e.u64(uint64(len(s))); e.bytes([]byte(s)) }

func (e *encoder) scalar(v any) {
	switch x := v.(type) {
	case uint8:
		e.bytes([]byte{x})
	case int8:
		e.bytes([]byte{byte(x)})
	case bool:
		b := byte(0)
		if x {
			b = 1
		}
		e.bytes([]byte{b})
	case uint16:
		binary.LittleEndian.PutUint16(e.buf[:2], x)
		e.bytes(e.buf[:2])
	case int16:
		binary.LittleEndian.PutUint16(e.buf[:2], uint16(x))
		e.bytes(e.buf[:2])
	case uint32:
		e.u32(x)
	case int32:
		e.u32(uint32(x))
	case float32:
		e.u32(math.Float32bits(x))
	case uint64:
		e.u64(x)
	case int64:
		e.u64(uint64(x))
	case float64:
		e.u64(math.Float64bits(x))
	case string:
		e.str(x)
	}
}

func (e *encoder) value(t ValueType, v any) {
	if t != TypeArray {
		e.scalar(v)
		return
	}
	a := v.(Array)
	e.u32(uint32(a.Elem))
	e.u64(uint64(a.Len()))
	each(a, func(x any) { e.value(a.Elem, x) })
}

// each calls fn on every element of a.
func each(a Array, fn func(any)) {
	switch v := a.Values.(type) {
	case []uint8:
		eachOf(v, fn)
	case []int8:
		eachOf(v, fn)
	case []uint16:
		eachOf(v, fn)
	case []int16:
		eachOf(v, fn)
	case []uint32:
		eachOf(v, fn)
	case []int32:
		eachOf(v, fn)
	case []float32:
		eachOf(v, fn)
	case []bool:
		eachOf(v, fn)
	case []string:
		eachOf(v, fn)
	case []uint64:
		eachOf(v, fn)
	case []int64:
		eachOf(v, fn)
	case []float64:
		eachOf(v, fn)
	case []Array:
		eachOf(v, fn)
	}
}

func eachOf[T any](v []T, fn func(any)) {
	for _, x := range v {
		fn(x)
	}
}

// checkValue reports whether v is the Go value Write expects for t.
func checkValue(t ValueType, v any) error {
	ok := false
	switch t {
	case TypeUint8:
		_, ok = v.(uint8)
	case TypeInt8:
		_, ok = v.(int8)
	case TypeUint16:
		_, ok = v.(uint16)
	case TypeInt16:
		_, ok = v.(int16)
	case TypeUint32:
		_, ok = v.(uint32)
	case TypeInt32:
		_, ok = v.(int32)
	case TypeFloat32:
		_, ok = v.(float32)
	case TypeBool:
		_, ok = v.(bool)
	case TypeString:
		_, ok = v.(string)
	case TypeUint64:
		_, ok = v.(uint64)
	case TypeInt64:
		_, ok = v.(int64)
	case TypeFloat64:
		_, ok = v.(float64)
	case TypeArray:
		a, isArr := v.(Array)
		if !isArr {
			break
		}
		var err error
		each(a, func(x any) {
			if err == nil {
				err = checkValue(a.Elem, x)
			}
		})
		if err != nil {
			return fmt.Errorf("array element: %w", err)
		}
		ok = a.Values != nil || a.Len() == 0
	}
	if !ok {
		return fmt.Errorf("value %T does not match type %s", v, t)
	}
	return nil
}

// Encode converts float32 values (ggml order) to typ's encoding: F32, F16,
// BF16 or Q8_0 (len a multiple of 32).
func Encode(typ TensorType, src []float32) ([]byte, error) {
	n, err := encodedBytes(typ, len(src))
	if err != nil {
		return nil, err
	}
	out := make([]byte, n)
	if err := encodeInto(out, typ, src); err != nil {
		return nil, err
	}
	return out, nil
}

// encodedBytes is the size of n values in typ's encoding (F32, F16, BF16
// or Q8_0).
func encodedBytes(typ TensorType, n int) (int, error) {
	switch typ {
	case F32:
		return 4 * n, nil
	case F16, BF16:
		return 2 * n, nil
	case Q8_0:
		return quant.Q8Bytes(n), nil
	}
	return 0, fmt.Errorf("encode: %w: %s", ErrUnsupportedType, typ)
}

// encodeInto is Encode into dst, which must be encodedBytes(typ, len(src))
// long.
func encodeInto(dst []byte, typ TensorType, src []float32) error {
	if n, err := encodedBytes(typ, len(src)); err != nil {
		return err
	} else if n != len(dst) {
		return fmt.Errorf("encode: %d %s values need %d bytes, the destination holds %d", len(src), typ, n, len(dst))
	}
	le := binary.LittleEndian
	switch typ {
	case F32:
		for i, v := range src {
			le.PutUint32(dst[4*i:], math.Float32bits(v))
		}
	case F16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], half.Float32ToF16(v))
		}
	case BF16:
		for i, v := range src {
			le.PutUint16(dst[2*i:], half.Float32ToBF16(v))
		}
	case Q8_0:
		return quant.QuantizeQ8(dst, src)
	}
	return nil
}
