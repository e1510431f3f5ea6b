// Package safetensors reads and writes the Hugging Face safetensors format:
// an 8-byte little-endian header length, a JSON header mapping tensor names
// to {dtype, shape, data_offsets} (plus an optional "__metadata__" object of
// string pairs), then one byte buffer holding every tensor, little-endian
// and row-major.
//
// F16 and BF16 tensors convert through package half (round to nearest,
// ties to even, like torch's .half() and .bfloat16()).
//
// Integrity: Write stores a CRC32C (Castagnoli) of the whole file in the
// metadata under ChecksumKey, and Parse verifies it when present, so a bit
// flip anywhere in a file this program wrote (header, metadata or tensor
// data) is an error wrapping ErrChecksum rather than a silently different
// model or resume state. Files without the key (written by Python's
// safetensors or HF) load as before. CRC32C is hardware-accelerated in
// hash/crc32 (SSE4.2, ARMv8), tens of GB/s, so checking costs far less
// than reading the file.
//
// Error policy: Parse never panics, whatever the input. Every problem is an
// error prefixed "safetensors:" that names the tensor and says what is wrong.
// Sizes are checked before anything is allocated, so a hostile header cannot
// make the reader allocate more than the input's own size.
package safetensors

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"math/bits"
	"os"
	"slices"
	"sort"
	"strconv"

	"github.com/minimind-go/minimind/half"
)

// MaxHeaderSize bounds the JSON header (100 MiB, as the reference
// implementation does) so a corrupt length cannot trigger a huge allocation.
const MaxHeaderSize = 100 << 20

// metadataKey is the reserved header key for free-form string metadata.
const metadataKey = "__metadata__"

// ChecksumKey is the metadata key under which Write stores the file's
// CRC32C (Castagnoli) as 8 lowercase hex digits, and checksumCopyKey holds
// the same digits again. The checksum covers every byte of the file, the
// length prefix and header included, with the digits of both read as
// "00000000": the header holds its own checksum, so a placeholder of fixed
// width stands in for it while it is computed. The copy is there so that
// corrupting one key's name (which would make the file look like one
// without a checksum) still leaves the other to find the change.
const (
	ChecksumKey     = "minimind_crc32c"
	checksumCopyKey = "minimind_crc32c_copy"
)

// ErrChecksum is wrapped by Parse's error for a file whose content does not
// match the checksum stored in its metadata.
var ErrChecksum = errors.New("checksum mismatch")

// castagnoli is the CRC32C table; hash/crc32 uses the CPU's CRC32
// instruction for it where there is one.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// checksumPlaceholder is the checksum as written while it is computed.
const checksumPlaceholder = "00000000"

// checksumField returns the bytes `"<key>":"` that precede a checksum's
// hex digits in a header. The unescaped quotes around the colon can only be
// JSON syntax (a quote inside a string is escaped), so the sequence cannot
// occur inside a name or a value.
func checksumField(key string) []byte { return []byte(`"` + key + `":"`) }

// DType names an element type as spelled in safetensors headers.
type DType string

// The element types this package understands.
const (
	F64  DType = "F64"
	F32  DType = "F32"
	F16  DType = "F16"
	BF16 DType = "BF16"
	I64  DType = "I64"
	I32  DType = "I32"
	I16  DType = "I16"
	I8   DType = "I8"
	U8   DType = "U8"
	Bool DType = "BOOL"
)

// Size returns the size of one element in bytes, or 0 for an unknown dtype.
func (d DType) Size() int {
	switch d {
	case F64, I64:
		return 8
	case F32, I32:
		return 4
	case F16, BF16, I16:
		return 2
	case I8, U8, Bool:
		return 1
	}
	return 0
}

// Tensor is one named tensor. Data holds the raw little-endian bytes,
// exactly Numel()*DType.Size() of them.
type Tensor struct {
	Name  string
	DType DType
	Shape []int
	Data  []byte
}

// File is a parsed safetensors file.
type File struct {
	// Metadata is the "__metadata__" object, less ChecksumKey; nil when
	// absent or empty.
	Metadata map[string]string
	// Checksummed is true when the file carried a checksum (ChecksumKey),
	// which Parse verified and removed from Metadata.
	Checksummed bool
	// Tensors are sorted by their offset in the data buffer.
	Tensors []Tensor
}

// Numel returns the number of elements (the product of Shape; 1 for a
// scalar). It returns -1 if a dimension is negative or the product
// overflows int.
func (t *Tensor) Numel() int {
	n, ok := numel(t.Shape)
	if !ok {
		return -1
	}
	return n
}

// numel multiplies dims with overflow and sign checks.
func numel(shape []int) (int, bool) {
	n := uint64(1)
	for _, d := range shape {
		if d < 0 {
			return 0, false
		}
		hi, lo := bits.Mul64(n, uint64(d))
		if hi != 0 || lo > math.MaxInt {
			return 0, false
		}
		n = lo
	}
	return int(n), true
}

// Get returns the tensor called name.
func (f *File) Get(name string) (*Tensor, bool) {
	for i := range f.Tensors {
		if f.Tensors[i].Name == name {
			return &f.Tensors[i], true
		}
	}
	return nil, false
}

// ReadFile reads and parses the safetensors file at path.
func ReadFile(path string) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("%w (in %s)", err, path)
	}
	return f, nil
}

// headerEntry is one tensor's header object. Pointers tell a missing field
// from a zero one.
type headerEntry struct {
	DType       *string  `json:"dtype"`
	Shape       *[]int64 `json:"shape"`
	DataOffsets *[]int64 `json:"data_offsets"`
}

// Parse parses a safetensors file held in memory. The returned tensors'
// Data slices alias data; nothing is copied.
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("safetensors: file of %d bytes is too short for the 8-byte header length", len(data))
	}
	n := binary.LittleEndian.Uint64(data[:8])
	if n > MaxHeaderSize {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d-byte limit", n, MaxHeaderSize)
	}
	if n > uint64(len(data)-8) {
		return nil, fmt.Errorf("safetensors: header length %d exceeds the %d bytes after the length prefix (truncated file?)", n, len(data)-8)
	}
	header := data[8 : 8+n]
	buf := data[8+n:]

	var raw map[string]json.RawMessage
	if err := json.Unmarshal(header, &raw); err != nil {
		return nil, fmt.Errorf("safetensors: header is not a JSON object: %w", err)
	}
	if raw == nil {
		return nil, errors.New("safetensors: header is JSON null, want an object")
	}

	f := &File{Tensors: make([]Tensor, 0, len(raw))}
	type span struct{ begin, end int }
	spans := make(map[string]span, len(raw))
	for name, msg := range raw {
		if name == metadataKey {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("safetensors: %s is not an object of strings: %w", metadataKey, err)
			}
			continue
		}
		t, begin, end, err := parseEntry(name, msg, len(buf))
		if err != nil {
			return nil, err
		}
		t.Data = buf[begin:end:end] // cap limited: appending cannot clobber a neighbour
		spans[name] = span{begin, end}
		f.Tensors = append(f.Tensors, t)
	}

	_, ok1 := f.Metadata[ChecksumKey]
	_, ok2 := f.Metadata[checksumCopyKey]
	if ok1 || ok2 {
		if err := verifyChecksum(data, 8+int(n), f.Metadata); err != nil {
			return nil, err
		}
		f.Checksummed = true
		delete(f.Metadata, ChecksumKey)
		delete(f.Metadata, checksumCopyKey)
		if len(f.Metadata) == 0 {
			f.Metadata = nil
		}
	}

	sort.Slice(f.Tensors, func(i, j int) bool {
		a, b := spans[f.Tensors[i].Name], spans[f.Tensors[j].Name]
		if a.begin != b.begin {
			return a.begin < b.begin
		}
		if a.end != b.end {
			return a.end < b.end
		}
		return f.Tensors[i].Name < f.Tensors[j].Name
	})
	for i := 1; i < len(f.Tensors); i++ {
		prev, cur := f.Tensors[i-1].Name, f.Tensors[i].Name
		p, c := spans[prev], spans[cur]
		if p.end > c.begin {
			return nil, fmt.Errorf("safetensors: tensor %s: data_offsets [%d,%d] overlap tensor %s at [%d,%d]",
				quoteName(cur), c.begin, c.end, quoteName(prev), p.begin, p.end)
		}
	}
	return f, nil
}

// verifyChecksum checks the file data, whose header ends at hdrEnd,
// against the checksum digits stored in meta (under ChecksumKey, its copy,
// or both: one key alone means the other's name was corrupted, and the
// CRC, which covers key names, then differs).
func verifyChecksum(data []byte, hdrEnd int, meta map[string]string) error {
	var want string
	var at []int // offsets of the stored digits
	for _, key := range []string{ChecksumKey, checksumCopyKey} {
		v, ok := meta[key]
		if !ok {
			continue
		}
		field := checksumField(key)
		hdr := data[8:hdrEnd]
		i := bytes.Index(hdr, field)
		if i < 0 || bytes.Count(hdr, field) != 1 {
			return fmt.Errorf("safetensors: metadata %s is not written as this program writes it: %w", key, ErrChecksum)
		}
		pos := 8 + i + len(field)
		if len(v) != len(checksumPlaceholder) || pos+len(v) > hdrEnd || string(data[pos:pos+len(v)]) != v {
			return fmt.Errorf("safetensors: metadata %s is %s, not 8 hex digits: %w", key, quoteName(v), ErrChecksum)
		}
		if want != "" && v != want {
			return fmt.Errorf("safetensors: metadata %s is %s but %s is %s: %w", ChecksumKey, want, key, v, ErrChecksum)
		}
		want = v
		at = append(at, pos)
	}
	slices.Sort(at)
	var crc uint32
	prev := 0
	for _, pos := range at {
		crc = crc32.Update(crc, castagnoli, data[prev:pos])
		crc = crc32.Update(crc, castagnoli, []byte(checksumPlaceholder))
		prev = pos + len(checksumPlaceholder)
	}
	crc = crc32.Update(crc, castagnoli, data[prev:])
	if got := fmt.Sprintf("%08x", crc); got != want {
		return fmt.Errorf("safetensors: CRC32C of the file is %s, its metadata says %s: the file changed after it was written "+
			"(corrupt, or rewritten by a tool that kept the %s metadata): %w", got, want, ChecksumKey, ErrChecksum)
	}
	return nil
}

// parseEntry decodes and checks one tensor's header entry against a buffer
// of bufLen bytes.
func parseEntry(name string, msg json.RawMessage, bufLen int) (t Tensor, begin, end int, err error) {
	var e headerEntry
	if err := json.Unmarshal(msg, &e); err != nil {
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: bad header entry: %w", quoteName(name), err)
	}
	switch {
	case e.DType == nil:
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: missing dtype", quoteName(name))
	case e.Shape == nil:
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: missing shape", quoteName(name))
	case e.DataOffsets == nil:
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: missing data_offsets", quoteName(name))
	}
	dt := DType(*e.DType)
	size := dt.Size()
	if size == 0 {
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: unknown dtype %s", quoteName(name), quoteName(*e.DType))
	}
	shape := make([]int, len(*e.Shape))
	for i, d := range *e.Shape {
		if d < 0 || uint64(d) > math.MaxInt {
			return t, 0, 0, fmt.Errorf("safetensors: tensor %s: shape %s has invalid dimension %d", quoteName(name), FormatShape(*e.Shape), d)
		}
		shape[i] = int(d)
	}
	off := *e.DataOffsets
	if len(off) != 2 {
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: data_offsets has %d entries, want 2", quoteName(name), len(off))
	}
	if off[0] < 0 || off[1] < 0 || off[0] > off[1] {
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: data_offsets [%d,%d] are not 0 <= begin <= end", quoteName(name), off[0], off[1])
	}
	if off[1] > int64(bufLen) {
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: data_offsets [%d,%d] exceed buffer of %d bytes", quoteName(name), off[0], off[1], bufLen)
	}
	begin, end = int(off[0]), int(off[1])
	n, ok := numel(shape)
	var nbytes uint64
	if ok {
		hi, lo := bits.Mul64(uint64(n), uint64(size))
		ok = hi == 0
		nbytes = lo
	}
	if !ok || nbytes != uint64(end-begin) {
		return t, 0, 0, fmt.Errorf("safetensors: tensor %s: shape %s of %s needs %s bytes but data_offsets [%d,%d] hold %d", quoteName(name), FormatShape(shape), dt, nbytesString(nbytes, ok), begin, end, end-begin)
	}
	return Tensor{Name: name, DType: dt, Shape: shape}, begin, end, nil
}

func nbytesString(n uint64, ok bool) string {
	if !ok {
		return "more than 2^64"
	}
	return strconv.FormatUint(n, 10)
}

// checkData reports whether t's Data length matches its shape and dtype.
func (t *Tensor) checkData() (int, error) {
	size := t.DType.Size()
	if size == 0 {
		return 0, fmt.Errorf("safetensors: tensor %q: unknown dtype %q", t.Name, t.DType)
	}
	n, ok := numel(t.Shape)
	if !ok {
		return 0, fmt.Errorf("safetensors: tensor %s: invalid shape %s", quoteName(t.Name), FormatShape(t.Shape))
	}
	if hi, lo := bits.Mul64(uint64(n), uint64(size)); hi != 0 || lo != uint64(len(t.Data)) {
		return 0, fmt.Errorf("safetensors: tensor %s: shape %s of %s does not match %d data bytes", quoteName(t.Name), FormatShape(t.Shape), t.DType, len(t.Data))
	}
	return n, nil
}

// Float32s decodes a floating-point tensor (F32, F16, BF16 or F64) to
// float32. F64 values are rounded to nearest even.
func (t *Tensor) Float32s() ([]float32, error) {
	n, err := t.checkFloat()
	if err != nil {
		return nil, err
	}
	out := make([]float32, n)
	t.decodeFloat32(out)
	return out, nil
}

// DecodeFloat32 is Float32s into dst, which must hold exactly Numel()
// values: a loader copying a checkpoint into its own parameters then
// needs no buffer per tensor.
func (t *Tensor) DecodeFloat32(dst []float32) error {
	n, err := t.checkFloat()
	if err != nil {
		return err
	}
	if len(dst) != n {
		return fmt.Errorf("safetensors: tensor %s: %d values, the destination holds %d", quoteName(t.Name), n, len(dst))
	}
	t.decodeFloat32(dst)
	return nil
}

// checkFloat checks that t is a floating-point tensor whose data fits its
// shape, and returns its element count.
func (t *Tensor) checkFloat() (int, error) {
	switch t.DType {
	case F32, F16, BF16, F64:
	default:
		return 0, fmt.Errorf("safetensors: tensor %q: dtype %s is not a float type", t.Name, t.DType)
	}
	return t.checkData()
}

// decodeFloat32 decodes t's data into out (checkFloat passed, len(out) is
// its element count).
func (t *Tensor) decodeFloat32(out []float32) {
	d := t.Data
	le := binary.LittleEndian
	switch t.DType {
	case F32:
		for i := range out {
			out[i] = math.Float32frombits(le.Uint32(d[4*i:]))
		}
	case F16:
		half.DecodeF16(out, d)
	case BF16:
		half.DecodeBF16(out, d)
	case F64:
		for i := range out {
			out[i] = float32(math.Float64frombits(le.Uint64(d[8*i:])))
		}
	}
}

// Int64s decodes an integer tensor (I64, I32, I16, I8, U8 or BOOL) to int64.
func (t *Tensor) Int64s() ([]int64, error) {
	switch t.DType {
	case I64, I32, I16, I8, U8, Bool:
	default:
		return nil, fmt.Errorf("safetensors: tensor %q: dtype %s is not an integer type", t.Name, t.DType)
	}
	n, err := t.checkData()
	if err != nil {
		return nil, err
	}
	out := make([]int64, n)
	d := t.Data
	le := binary.LittleEndian
	for i := range out {
		switch t.DType {
		case I64:
			out[i] = int64(le.Uint64(d[8*i:]))
		case I32:
			out[i] = int64(int32(le.Uint32(d[4*i:])))
		case I16:
			out[i] = int64(int16(le.Uint16(d[2*i:])))
		case I8:
			out[i] = int64(int8(d[i]))
		case U8, Bool:
			out[i] = int64(d[i])
		}
	}
	return out, nil
}

// FromFloat32 encodes x as a tensor of dtype dt (F32, F16, BF16 or F64),
// rounding to nearest even. It panics for any other dtype: that is a
// programming error, not a data error. The shape is not checked here;
// Write rejects a tensor whose shape does not match its data.
func FromFloat32(name string, shape []int, x []float32, dt DType) Tensor {
	t := Tensor{Name: name, DType: dt, Shape: append([]int(nil), shape...)}
	le := binary.LittleEndian
	switch dt {
	case F32:
		t.Data = make([]byte, 4*len(x))
		for i, v := range x {
			le.PutUint32(t.Data[4*i:], math.Float32bits(v))
		}
	case F16:
		t.Data = make([]byte, 2*len(x))
		for i, v := range x {
			le.PutUint16(t.Data[2*i:], half.Float32ToF16(v))
		}
	case BF16:
		t.Data = make([]byte, 2*len(x))
		for i, v := range x {
			le.PutUint16(t.Data[2*i:], half.Float32ToBF16(v))
		}
	case F64:
		t.Data = make([]byte, 8*len(x))
		for i, v := range x {
			le.PutUint64(t.Data[8*i:], math.Float64bits(float64(v)))
		}
	default:
		panic(fmt.Sprintf("safetensors: FromFloat32(%q): dtype %q is not F32, F16, BF16 or F64", name, dt))
	}
	return t
}

// Write writes tensors in safetensors format, laying out their data in the
// given order. metadata may be nil; Write adds ChecksumKey and its copy to
// it (replacing any value given). The JSON header is padded with spaces to a multiple of
// 8 bytes, as the reference implementation does, so the data buffer starts
// aligned.
func Write(w io.Writer, tensors []Tensor, metadata map[string]string) error {
	meta := make(map[string]string, len(metadata)+1)
	for k, v := range metadata {
		meta[k] = v
	}
	meta[ChecksumKey] = checksumPlaceholder
	meta[checksumCopyKey] = checksumPlaceholder
	var hdr bytes.Buffer
	hdr.WriteByte('{')
	m, err := json.Marshal(meta) // map keys are sorted: deterministic output
	if err != nil {
		return fmt.Errorf("safetensors: encode metadata: %w", err)
	}
	hdr.WriteString(`"` + metadataKey + `":`)
	hdr.Write(m)
	first := false
	seen := make(map[string]bool, len(tensors))
	var offset uint64
	for i := range tensors {
		t := &tensors[i]
		if t.Name == metadataKey {
			return fmt.Errorf("safetensors: tensor name %q is reserved", t.Name)
		}
		if seen[t.Name] {
			return fmt.Errorf("safetensors: tensor %q appears twice", t.Name)
		}
		seen[t.Name] = true
		if _, err := t.checkData(); err != nil {
			return err
		}
		name, _ := json.Marshal(t.Name) // strings always marshal
		if !first {
			hdr.WriteByte(',')
		}
		first = false
		hdr.Write(name)
		fmt.Fprintf(&hdr, `:{"dtype":%q,"shape":[`, string(t.DType))
		for j, d := range t.Shape {
			if j > 0 {
				hdr.WriteByte(',')
			}
			hdr.WriteString(strconv.Itoa(d))
		}
		end := offset + uint64(len(t.Data))
		fmt.Fprintf(&hdr, `],"data_offsets":[%d,%d]}`, offset, end)
		offset = end
	}
	hdr.WriteByte('}')
	for hdr.Len()%8 != 0 {
		hdr.WriteByte(' ')
	}
	if hdr.Len() > MaxHeaderSize {
		return fmt.Errorf("safetensors: header of %d bytes exceeds the %d-byte limit", hdr.Len(), MaxHeaderSize)
	}
	var lenBuf [8]byte
	binary.LittleEndian.PutUint64(lenBuf[:], uint64(hdr.Len()))
	// The metadata comes first in the header, so the first occurrence of
	// each field is the checksum's (and the only one, see checksumField).
	crc := crc32.Update(0, castagnoli, lenBuf[:])
	crc = crc32.Update(crc, castagnoli, hdr.Bytes())
	for i := range tensors {
		crc = crc32.Update(crc, castagnoli, tensors[i].Data)
	}
	for _, key := range []string{ChecksumKey, checksumCopyKey} {
		field := checksumField(key)
		copy(hdr.Bytes()[bytes.Index(hdr.Bytes(), field)+len(field):], fmt.Sprintf("%08x", crc))
	}
	if _, err := w.Write(lenBuf[:]); err != nil {
		return fmt.Errorf("safetensors: write header length: %w", err)
	}
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return fmt.Errorf("safetensors: write header: %w", err)
	}
	for i := range tensors {
		if _, err := w.Write(tensors[i].Data); err != nil {
			return fmt.Errorf("safetensors: write tensor %q: %w", tensors[i].Name, err)
		}
	}
	return nil
}

// maxShapeDims is how many dimensions FormatShape prints before cutting.
const maxShapeDims = 8

// FormatShape prints a shape as [a b c] (the way %v prints a slice), cut
// after a few dimensions with the rank given, so that an error about a
// hostile shape of a million dimensions stays one short line.
func FormatShape[T int | int64](shape []T) string {
	if len(shape) <= maxShapeDims {
		return fmt.Sprint(shape)
	}
	return fmt.Sprintf("%v... (%d dimensions)", shape[:maxShapeDims], len(shape))
}

// maxNameBytes bounds the bytes of a tensor name quoted in an error.
const maxNameBytes = 96

// quoteName returns name quoted as %q does, cut (with its length given)
// when a hostile header makes it long.
func quoteName(name string) string {
	if len(name) <= maxNameBytes {
		return strconv.Quote(name)
	}
	return fmt.Sprintf("%q... (%d bytes)", name[:maxNameBytes], len(name))
}
