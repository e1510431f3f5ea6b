package gguf

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/quant"
)

// File is a parsed GGUF header: metadata, tensor infos and where the data
// starts. Tensor data is read on demand from the underlying reader.
type File struct {
	Name       string // the file's path, used in every error
	Version    uint32
	KV         []KV
	Tensors    []TensorInfo
	Alignment  uint64
	DataOffset uint64 // absolute offset of the data section

	r     io.ReaderAt
	size  int64
	kv    map[string]int
	index map[string]int
}

// maxNesting bounds arrays of arrays (GGUF allows them; nothing uses more
// than one level).
const maxNesting = 4

// Open opens and parses path. Close the returned file when done.
func Open(path string) (*File, io.Closer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	g, err := Parse(f, st.Size(), path)
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	return g, f, nil
}

// Parse reads the header of a GGUF file of size bytes from r; name is used
// in errors. It checks every count and length against size before
// allocating, every tensor's type, dimensions and data range, and the
// alignment of every offset.
func Parse(r io.ReaderAt, size int64, name string) (*File, error) {
	p := &parser{name: name, size: size, r: bufio.NewReaderSize(io.NewSectionReader(r, 0, size), 1<<16)}
	f, err := p.file()
	if err != nil {
		return nil, err
	}
	f.Name, f.r, f.size = name, r, size
	return f, nil
}

type parser struct {
	name string
	size int64
	pos  int64
	r    *bufio.Reader
	buf  [8]byte
}

func (p *parser) errf(format string, args ...any) error {
	return fmt.Errorf("%s: "+format, append([]any{p.name}, args...)...)
}

func (p *parser) remaining() int64 { return p.size - p.pos }

func (p *parser) read(n int, what string) ([]byte, error) {
	if _, err := io.ReadFull(p.r, p.buf[:n]); err != nil {
		return nil, p.errf("%s: truncated at byte %d", what, p.pos)
	}
	p.pos += int64(n)
	return p.buf[:n], nil
}

func (p *parser) u32(what string) (uint32, error) {
	b, err := p.read(4, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint32(b), nil
}

func (p *parser) u64(what string) (uint64, error) {
	b, err := p.read(8, what)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// count reads an element count and checks that count elements of at least
// minSize bytes each fit in the rest of the file.
func (p *parser) count(what string, minSize int64) (int, error) {
	n, err := p.u64(what)
	if err != nil {
		return 0, err
	}
	if n > uint64(p.remaining()/minSize) {
		return 0, p.errf("%s: count %d cannot fit in the %d bytes left", what, n, p.remaining())
	}
	return int(n), nil
}

func (p *parser) str(what string) (string, error) {
	n, err := p.u64(what + " length")
	if err != nil {
		return "", err
	}
	if n > uint64(p.remaining()) {
		return "", p.errf("%s: length %d exceeds the %d bytes left", what, n, p.remaining())
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(p.r, b); err != nil {
		return "", p.errf("%s: truncated at byte %d", what, p.pos)
	}
	p.pos += int64(n)
	return string(b), nil
}

func (p *parser) file() (*File, error) {
	magic, err := p.read(4, "magic")
	if err != nil {
		return nil, err
	}
	if string(magic) != Magic {
		return nil, p.errf("not a GGUF file (magic %q)", magic)
	}
	f := &File{Alignment: DefaultAlignment, kv: map[string]int{}, index: map[string]int{}}
	if f.Version, err = p.u32("version"); err != nil {
		return nil, err
	}
	if f.Version == 2<<24 || f.Version == 3<<24 {
		return nil, p.errf("version: a big-endian GGUF file (not supported)")
	}
	if f.Version != 2 && f.Version != 3 {
		return nil, p.errf("version: GGUF version %d not supported (2 or 3)", f.Version)
	}
	nt, err := p.count("tensor_count", 24) // name length, n_dims, type, offset
	if err != nil {
		return nil, err
	}
	nkv, err := p.count("metadata_kv_count", 13) // key length, type, one byte
	if err != nil {
		return nil, err
	}
	f.KV = make([]KV, 0, nkv)
	for i := range nkv {
		key, err := p.str(fmt.Sprintf("metadata key #%d", i))
		if err != nil {
			return nil, err
		}
		what := fmt.Sprintf("metadata key %q", key)
		if _, dup := f.kv[key]; dup {
			return nil, p.errf("%s: duplicate key", what)
		}
		t, err := p.u32(what + " type")
		if err != nil {
			return nil, err
		}
		v, err := p.value(ValueType(t), what, 0)
		if err != nil {
			return nil, err
		}
		f.kv[key] = len(f.KV)
		f.KV = append(f.KV, KV{Key: key, Type: ValueType(t), Value: v})
	}
	if i, ok := f.kv["general.alignment"]; ok {
		a, ok := f.KV[i].Value.(uint32)
		if !ok {
			return nil, p.errf("metadata key %q: type %s, want uint32", "general.alignment", f.KV[i].Type)
		}
		if a == 0 || a&(a-1) != 0 {
			return nil, p.errf("metadata key %q: %d is not a power of two", "general.alignment", a)
		}
		f.Alignment = uint64(a)
	}
	f.Tensors = make([]TensorInfo, 0, nt)
	for i := range nt {
		t, err := p.tensorInfo(i)
		if err != nil {
			return nil, err
		}
		if _, dup := f.index[t.Name]; dup {
			return nil, p.errf("tensor %q: duplicate name", t.Name)
		}
		f.index[t.Name] = len(f.Tensors)
		f.Tensors = append(f.Tensors, t)
	}
	f.DataOffset = alignUp(uint64(p.pos), f.Alignment)
	if f.DataOffset > uint64(p.size) && nt > 0 {
		return nil, p.errf("data section: starts at %d, past the end of the file (%d bytes)", f.DataOffset, p.size)
	}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if t.Offset%f.Alignment != 0 {
			return nil, p.errf("tensor %q: offset %d is not a multiple of the alignment %d", t.Name, t.Offset, f.Alignment)
		}
		// Each term is checked against the size first, so the sum cannot wrap.
		n, size := t.Bytes(), uint64(p.size)
		if t.Offset > size || n > size || f.DataOffset+t.Offset+n > size {
			return nil, p.errf("tensor %q: %d bytes of data at offset %d run past the end of the file (%d bytes; truncated?)", t.Name, n, t.Offset, p.size)
		}
	}
	return f, nil
}

func alignUp(n, a uint64) uint64 { return (n + a - 1) / a * a }

func (p *parser) tensorInfo(i int) (TensorInfo, error) {
	name, err := p.str(fmt.Sprintf("tensor #%d name", i))
	if err != nil {
		return TensorInfo{}, err
	}
	what := fmt.Sprintf("tensor %q", name)
	nd, err := p.u32(what + " n_dims")
	if err != nil {
		return TensorInfo{}, err
	}
	if nd == 0 || nd > maxDims {
		return TensorInfo{}, p.errf("%s: n_dims %d (want 1..%d)", what, nd, maxDims)
	}
	t := TensorInfo{Name: name, Dims: make([]uint64, nd)}
	total := uint64(1)
	for d := range t.Dims {
		if t.Dims[d], err = p.u64(what + " dims"); err != nil {
			return TensorInfo{}, err
		}
		hi, lo := bits.Mul64(total, t.Dims[d])
		if hi != 0 || lo > math.MaxInt64/8 {
			return TensorInfo{}, p.errf("%s: dims %v overflow", what, t.Dims[:d+1])
		}
		total = lo
	}
	typ, err := p.u32(what + " type")
	if err != nil {
		return TensorInfo{}, err
	}
	t.Type = TensorType(typ)
	ti, ok := typeInfos[t.Type]
	if !ok {
		return TensorInfo{}, p.errf("%s: ggml type %d not supported", what, typ)
	}
	if t.Dims[0]%uint64(ti.block) != 0 {
		return TensorInfo{}, p.errf("%s: first dimension %d is not a multiple of %s's block size %d", what, t.Dims[0], t.Type, ti.block)
	}
	if t.Offset, err = p.u64(what + " offset"); err != nil {
		return TensorInfo{}, err
	}
	return t, nil
}

// value reads one metadata value of type t.
func (p *parser) value(t ValueType, what string, depth int) (any, error) {
	switch t {
	case TypeString:
		return p.str(what)
	case TypeArray:
		if depth >= maxNesting {
			return nil, p.errf("%s: arrays nested deeper than %d", what, maxNesting)
		}
		et, err := p.u32(what + " array type")
		if err != nil {
			return nil, err
		}
		return p.array(ValueType(et), what, depth+1)
	}
	sz := t.size()
	if sz == 0 {
		return nil, p.errf("%s: unknown value type %d", what, uint32(t))
	}
	b, err := p.read(sz, what)
	if err != nil {
		return nil, err
	}
	return decodeScalar(t, b), nil
}

func decodeScalar(t ValueType, b []byte) any {
	le := binary.LittleEndian
	switch t {
	case TypeUint8:
		return b[0]
	case TypeInt8:
		return int8(b[0])
	case TypeBool:
		return b[0] != 0
	case TypeUint16:
		return le.Uint16(b)
	case TypeInt16:
		return int16(le.Uint16(b))
	case TypeUint32:
		return le.Uint32(b)
	case TypeInt32:
		return int32(le.Uint32(b))
	case TypeFloat32:
		return math.Float32frombits(le.Uint32(b))
	case TypeUint64:
		return le.Uint64(b)
	case TypeInt64:
		return int64(le.Uint64(b))
	case TypeFloat64:
		return math.Float64frombits(le.Uint64(b))
	}
	return nil
}

func (p *parser) array(et ValueType, what string, depth int) (Array, error) {
	minSize := int64(et.size())
	switch et {
	case TypeString:
		minSize = 8
	case TypeArray:
		minSize = 12
	}
	if minSize == 0 {
		return Array{}, p.errf("%s: unknown array element type %d", what, uint32(et))
	}
	n, err := p.count(what+" array length", minSize)
	if err != nil {
		return Array{}, err
	}
	a := Array{Elem: et}
	switch et {
	case TypeString:
		v := make([]string, n)
		for i := range v {
			if v[i], err = p.str(fmt.Sprintf("%s[%d]", what, i)); err != nil {
				return Array{}, err
			}
		}
		a.Values = v
		return a, nil
	case TypeArray:
		v := make([]Array, n)
		for i := range v {
			x, err := p.value(TypeArray, fmt.Sprintf("%s[%d]", what, i), depth)
			if err != nil {
				return Array{}, err
			}
			v[i] = x.(Array)
		}
		a.Values = v
		return a, nil
	}
	raw := make([]byte, n*int(minSize))
	if _, err := io.ReadFull(p.r, raw); err != nil {
		return Array{}, p.errf("%s: truncated at byte %d", what, p.pos)
	}
	p.pos += int64(len(raw))
	a.Values = decodeScalars(et, raw, n)
	return a, nil
}

func decodeScalars(t ValueType, raw []byte, n int) any {
	sz := t.size()
	switch t {
	case TypeUint8:
		return raw
	case TypeInt8:
		return fill(make([]int8, n), raw, sz, t)
	case TypeBool:
		return fill(make([]bool, n), raw, sz, t)
	case TypeUint16:
		return fill(make([]uint16, n), raw, sz, t)
	case TypeInt16:
		return fill(make([]int16, n), raw, sz, t)
	case TypeUint32:
		return fill(make([]uint32, n), raw, sz, t)
	case TypeInt32:
		return fill(make([]int32, n), raw, sz, t)
	case TypeFloat32:
		return fill(make([]float32, n), raw, sz, t)
	case TypeUint64:
		return fill(make([]uint64, n), raw, sz, t)
	case TypeInt64:
		return fill(make([]int64, n), raw, sz, t)
	case TypeFloat64:
		return fill(make([]float64, n), raw, sz, t)
	}
	return nil
}

func fill[T any](dst []T, raw []byte, sz int, t ValueType) []T {
	for i := range dst {
		dst[i] = decodeScalar(t, raw[i*sz:(i+1)*sz]).(T)
	}
	return dst
}

// Get returns the metadata entry key.
func (f *File) Get(key string) (KV, bool) {
	i, ok := f.kv[key]
	if !ok {
		return KV{}, false
	}
	return f.KV[i], true
}

// Tensor returns the info of the tensor name.
func (f *File) Tensor(name string) (*TensorInfo, bool) {
	i, ok := f.index[name]
	if !ok {
		return nil, false
	}
	return &f.Tensors[i], true
}

// ErrUnsupportedType is returned (wrapped) when a tensor's type cannot be
// decoded to float32.
var ErrUnsupportedType = errors.New("tensor type not supported")

// ReadFloat32 reads tensor t's data and decodes it to float32 (F32, F16,
// BF16 and Q8_0), in ggml order (fastest dimension first: row-major for
// the PyTorch shape).
func (f *File) ReadFloat32(t *TensorInfo) ([]float32, error) {
	switch t.Type {
	case F32, F16, BF16, Q8_0:
	default:
		return nil, fmt.Errorf("%s: tensor %q: %w: %s (F32, F16, BF16 and Q8_0 are)", f.Name, t.Name, ErrUnsupportedType, t.Type)
	}
	raw := make([]byte, t.Bytes())
	if _, err := f.r.ReadAt(raw, int64(f.DataOffset+t.Offset)); err != nil {
		return nil, fmt.Errorf("%s: tensor %q: read data: %w", f.Name, t.Name, err)
	}
	out := make([]float32, t.Elements())
	le := binary.LittleEndian
	switch t.Type {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(raw[4*i:]))
		}
	case F16:
		half.DecodeF16(out, raw)
	case BF16:
		half.DecodeBF16(out, raw)
	case Q8_0:
		if err := quant.DequantizeQ8(out, raw); err != nil {
			return nil, fmt.Errorf("%s: tensor %q: %w", f.Name, t.Name, err)
		}
	}
	return out, nil
}
