package pth

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"strings"

	"github.com/minimind-go/minimind/checkpoint/pickle"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/half"
)

// maxPickleSize bounds data.pkl: a state dict's pickle is a few hundred
// bytes per tensor, so this is generous while keeping a hostile archive from
// claiming gigabytes.
const maxPickleSize = 256 << 20

// storageDType maps torch's legacy storage class names to dtypes ("" if
// unknown).
func storageDType(class string) string {
	switch class {
	case "FloatStorage":
		return "F32"
	case "HalfStorage":
		return "F16"
	case "BFloat16Storage":
		return "BF16"
	case "DoubleStorage":
		return "F64"
	case "LongStorage":
		return "I64"
	case "IntStorage":
		return "I32"
	case "ShortStorage":
		return "I16"
	case "CharStorage":
		return "I8"
	case "ByteStorage":
		return "U8"
	case "BoolStorage":
		return "BOOL"
	}
	return ""
}

// ReadStateDict reads the state dict in the torch zip checkpoint at path.
// Tensors come back in the dict's order; tied entries sharing one storage
// are all returned, each with its own copy of the values.
func ReadStateDict(path string) ([]Tensor, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("pth: %w", err)
	}
	ts, err := ReadStateDictFrom(f, fi.Size())
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return ts, nil
}

// ReadStateDictFrom is ReadStateDict for an archive of size bytes read
// through r.
func ReadStateDictFrom(r io.ReaderAt, size int64) ([]Tensor, error) {
	var magic [4]byte
	if _, err := r.ReadAt(magic[:], 0); err != nil {
		return nil, fmt.Errorf("pth: reading header: %w", err)
	}
	if magic[0] == 0x80 {
		return nil, errors.New("pth: legacy (pre-1.6, non-zip) torch.save format is not supported; re-save it with a newer torch")
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("pth: not a torch zip checkpoint: %w", err)
	}
	a, err := newArchive(zr)
	if err != nil {
		return nil, err
	}
	return a.stateDict()
}

// archive gives access to the records under one prefix.
type archive struct {
	prefix  string
	records map[string]*zip.File
	// storages caches decoded storages by key, so tied tensors read once.
	storages map[string]*storage
}

type storage struct {
	dtype string
	data  []byte
}

func newArchive(zr *zip.Reader) (*archive, error) {
	a := &archive{records: map[string]*zip.File{}, storages: map[string]*storage{}}
	for _, f := range zr.File {
		dir, base := path.Split(f.Name)
		if base == "data.pkl" && strings.Count(dir, "/") == 1 && a.prefix == "" {
			a.prefix = dir
		}
	}
	if a.prefix == "" {
		return nil, errors.New("pth: archive has no <prefix>/data.pkl record; not a torch.save checkpoint")
	}
	for _, f := range zr.File {
		if rest, ok := strings.CutPrefix(f.Name, a.prefix); ok {
			a.records[rest] = f
		}
	}
	if bo, ok := a.records["byteorder"]; ok {
		b, err := a.read(bo, 16)
		if err != nil {
			return nil, err
		}
		if s := strings.TrimSpace(string(b)); s != "little" {
			return nil, fmt.Errorf("pth: byteorder %s is not supported (only little-endian)", pickle.Quote(s))
		}
	}
	return a, nil
}

// read returns a record's content, refusing more than limit bytes.
func (a *archive) read(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("pth: record %s of %d bytes exceeds %d", pickle.Quote(f.Name), f.UncompressedSize64, limit)
	}
	// torch stores records uncompressed, so their bytes are really in the
	// file. A compressed record may not claim more than deflate's maximum
	// ratio (about 1032:1), which bounds what a zip bomb can make us allocate.
	if f.Method != zip.Store && f.UncompressedSize64/1032 > f.CompressedSize64 {
		return nil, fmt.Errorf("pth: record %s claims %d bytes from %d compressed", pickle.Quote(f.Name), f.UncompressedSize64, f.CompressedSize64)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("pth: record %s: %w", pickle.Quote(f.Name), err)
	}
	defer rc.Close()
	// Trust the declared size only as an upper bound; zip.Reader checks
	// that the content matches it and its CRC.
	b, err := io.ReadAll(io.LimitReader(rc, int64(f.UncompressedSize64)+1))
	if err != nil {
		return nil, fmt.Errorf("pth: record %s: %w", pickle.Quote(f.Name), err)
	}
	if uint64(len(b)) != f.UncompressedSize64 {
		return nil, fmt.Errorf("pth: record %s holds %d bytes, header says %d", pickle.Quote(f.Name), len(b), f.UncompressedSize64)
	}
	return b, nil
}

func (a *archive) stateDict() ([]Tensor, error) {
	pkl, err := a.read(a.records["data.pkl"], maxPickleSize)
	if err != nil {
		return nil, err
	}
	top, err := pickle.Unmarshal(pkl, nil)
	if err != nil {
		return nil, fmt.Errorf("pth: data.pkl: %w", err)
	}
	d, ok := top.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("pth: data.pkl holds %s, not a state dict", pickle.TypeName(top))
	}
	out := make([]Tensor, 0, d.Len())
	for i, k := range d.Keys() {
		name, ok := k.(string)
		if !ok {
			return nil, fmt.Errorf("pth: state dict key %s is not a string", pickle.Describe(k))
		}
		t, err := a.tensor(name, d.Values()[i])
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, nil
}

// tensor decodes one state-dict value.
func (a *archive) tensor(name string, v any) (Tensor, error) {
	o, ok := v.(*pickle.Object)
	if !ok {
		if _, isDict := v.(*pickle.Dict); isDict {
			return Tensor{}, fmt.Errorf("pth: key %s holds a nested dict, not a tensor: this is not a flat state dict (a training checkpoint? extract its model state dict first)", pickle.Quote(name))
		}
		return Tensor{}, fmt.Errorf("pth: key %s holds %s, not a tensor", pickle.Quote(name), pickle.TypeName(v))
	}
	// nn.Parameter wraps the tensor: _rebuild_parameter(tensor, requires_grad, hooks[, state]).
	if o.Callable == rebuildParameter || o.Callable == rebuildParamWith {
		if len(o.Args) < 1 {
			return Tensor{}, fmt.Errorf("pth: key %s: %s without arguments", pickle.Quote(name), pickle.Describe(o.Callable))
		}
		inner, ok := o.Args[0].(*pickle.Object)
		if !ok {
			return Tensor{}, fmt.Errorf("pth: key %s: parameter wraps %s, not a tensor", pickle.Quote(name), pickle.TypeName(o.Args[0]))
		}
		o = inner
	}
	if o.Callable != rebuildTensor {
		return Tensor{}, fmt.Errorf("pth: key %s holds %s, not a tensor", pickle.Quote(name), pickle.Describe(o))
	}
	// _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
	if len(o.Args) < 4 {
		return Tensor{}, fmt.Errorf("pth: key %s: _rebuild_tensor_v2 has %d arguments, want at least 4", pickle.Quote(name), len(o.Args))
	}
	st, err := a.storage(name, o.Args[0])
	if err != nil {
		return Tensor{}, err
	}
	offset, ok := o.Args[1].(int64)
	if !ok || offset < 0 {
		return Tensor{}, fmt.Errorf("pth: key %s: storage offset (%s) is not a non-negative int", pickle.Quote(name), pickle.Describe(o.Args[1]))
	}
	shape, err := intTuple(o.Args[2])
	if err != nil {
		return Tensor{}, fmt.Errorf("pth: key %s: size: %w", pickle.Quote(name), err)
	}
	stride, err := intTuple(o.Args[3])
	if err != nil {
		return Tensor{}, fmt.Errorf("pth: key %s: stride: %w", pickle.Quote(name), err)
	}
	var data []float32
	switch st.dtype {
	case "F32", "F16", "BF16", "F64":
		data, err = gather(st, offset, shape, stride)
		if err != nil {
			return Tensor{}, fmt.Errorf("pth: key %s: %w", pickle.Quote(name), err)
		}
	default:
		return Tensor{}, fmt.Errorf("pth: key %s has dtype %s; only float32, float16, bfloat16 (and float64, converted) tensors are supported", pickle.Quote(name), st.dtype)
	}
	dt := st.dtype
	if dt == "F64" {
		dt = "F32" // values were rounded to float32 on the way in
	}
	sh := make([]int, len(shape))
	for i, s := range shape {
		sh[i] = int(s)
	}
	return Tensor{Name: name, DType: dt, Shape: sh, Data: data}, nil
}

// intTuple checks that v is a tuple of non-negative ints.
func intTuple(v any) ([]int64, error) {
	t, ok := v.(pickle.Tuple)
	if !ok {
		return nil, fmt.Errorf("is %s, not a tuple", pickle.TypeName(v))
	}
	out := make([]int64, len(t))
	for i, x := range t {
		n, ok := x.(int64)
		if !ok || n < 0 {
			return nil, fmt.Errorf("entry %d (%s) is not a non-negative int", i, pickle.Describe(x))
		}
		out[i] = n
	}
	return out, nil
}

// storage resolves a persistent id ("storage", torch.XStorage, key,
// location, numel) to the storage's bytes.
func (a *archive) storage(name string, v any) (*storage, error) {
	pid, ok := v.(pickle.PersistentID)
	if !ok {
		return nil, fmt.Errorf("pth: key %s: tensor storage is %s, not a persistent id", pickle.Quote(name), pickle.TypeName(v))
	}
	id, ok := pid.ID.(pickle.Tuple)
	if !ok || len(id) != 5 || id[0] != "storage" {
		return nil, fmt.Errorf("pth: key %s: persistent id (%s) is not (\"storage\", type, key, location, numel)", pickle.Quote(name), pickle.Describe(pid.ID))
	}
	g, ok := id[1].(pickle.Global)
	dtype := storageDType(g.Name)
	if !ok || g.Module != "torch" || dtype == "" {
		return nil, fmt.Errorf("pth: key %s: unknown storage type (%s)", pickle.Quote(name), pickle.Describe(id[1]))
	}
	key, ok1 := id[2].(string)
	numel, ok2 := id[4].(int64)
	if !ok1 || !ok2 || numel < 0 {
		return nil, fmt.Errorf("pth: key %s: persistent id has a bad key (%s) or size (%s)", pickle.Quote(name), pickle.Describe(id[2]), pickle.Describe(id[4]))
	}
	if st, ok := a.storages[key]; ok {
		if st.dtype != dtype {
			return nil, fmt.Errorf("pth: key %s: storage %s read as both %s and %s", pickle.Quote(name), pickle.Quote(key), st.dtype, dtype)
		}
		return st, nil
	}
	rec, ok := a.records["data/"+key]
	if !ok {
		return nil, fmt.Errorf("pth: key %s: storage record %s is missing", pickle.Quote(name), pickle.Quote(a.prefix+"data/"+key))
	}
	size := safetensors.DType(dtype).Size()
	if uint64(numel) > math.MaxInt64/uint64(size) || rec.UncompressedSize64 != uint64(numel)*uint64(size) {
		return nil, fmt.Errorf("pth: key %s: storage %s holds %d bytes, want %d elements of %s", pickle.Quote(name), pickle.Quote(key), rec.UncompressedSize64, numel, dtype)
	}
	b, err := a.read(rec, int64(rec.UncompressedSize64))
	if err != nil {
		return nil, err
	}
	st := &storage{dtype: dtype, data: b}
	a.storages[key] = st
	return st, nil
}

// gather copies the (possibly strided) view out of the storage, converting
// to float32.
func gather(st *storage, offset int64, shape, stride []int64) ([]float32, error) {
	if len(shape) != len(stride) {
		return nil, fmt.Errorf("size %s and stride %s differ in rank", safetensors.FormatShape(shape), safetensors.FormatShape(stride))
	}
	esize := int64(safetensors.DType(st.dtype).Size())
	snumel := int64(len(st.data)) / esize
	for _, sz := range shape {
		if sz == 0 {
			return []float32{}, nil
		}
	}
	numel := int64(1)
	last := offset // highest element index the view touches
	for i, sz := range shape {
		// Views larger than their storage only come from expand(); refusing
		// them keeps a hostile size from forcing a huge allocation, and
		// bounds numel so the product cannot overflow.
		if numel > snumel/sz {
			return nil, fmt.Errorf("size %s is larger than its storage of %d elements", safetensors.FormatShape(shape), snumel)
		}
		numel *= sz
		if stride[i] > 0 && sz-1 > (math.MaxInt64-last)/stride[i] {
			return nil, fmt.Errorf("size %s with stride %s overflows", safetensors.FormatShape(shape), safetensors.FormatShape(stride))
		}
		last += (sz - 1) * stride[i]
	}
	if last >= snumel {
		return nil, fmt.Errorf("view (offset %d, size %s, stride %s) reaches element %d of a storage of %d", offset, safetensors.FormatShape(shape), safetensors.FormatShape(stride), last, snumel)
	}
	out := make([]float32, numel)
	decode := decoder(st.dtype)
	if contiguous(shape, stride) {
		for i := range out {
			out[i] = decode(st.data, offset+int64(i))
		}
		return out, nil
	}
	idx := make([]int64, len(shape))
	for i := range out {
		pos := offset
		for d, x := range idx {
			pos += x * stride[d]
		}
		out[i] = decode(st.data, pos)
		for d := len(idx) - 1; d >= 0; d-- { // odometer increment, last dim fastest
			idx[d]++
			if idx[d] < shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out, nil
}

func contiguous(shape, stride []int64) bool {
	want := int64(1)
	for i := len(shape) - 1; i >= 0; i-- {
		if shape[i] != 1 && stride[i] != want {
			return false
		}
		want *= shape[i]
	}
	return true
}

// decoder returns a function reading element i of a storage as float32.
func decoder(dtype string) func(b []byte, i int64) float32 {
	le := binary.LittleEndian
	switch dtype {
	case "F16":
		return func(b []byte, i int64) float32 { return half.F16ToFloat32(le.Uint16(b[2*i:])) }
	case "BF16":
		return func(b []byte, i int64) float32 { return half.BF16ToFloat32(le.Uint16(b[2*i:])) }
	case "F64":
		return func(b []byte, i int64) float32 { return float32(math.Float64frombits(le.Uint64(b[8*i:]))) }
	}
	return func(b []byte, i int64) float32 { return math.Float32frombits(le.Uint32(b[4*i:])) }
}
