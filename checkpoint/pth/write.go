package pth

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"

	"github.com/minimind-go/minimind/checkpoint/pickle"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/internal/atomicfile"
)

// WriteStateDict writes tensors as a torch zip checkpoint that torch.load
// reads as a dict {name: tensor}, storing values as dtype "F16" (what
// MiniMind's trainers save), "BF16" or "F32" with round-to-nearest-even.
// Tensors whose Data slices are the same slice (tied weights) share one
// storage, as in a torch state dict. Each tensor's own DType is ignored.
// The file is replaced atomically.
func WriteStateDict(path string, tensors []Tensor, dtype string) error {
	storageClass, ok := map[string]string{"F32": "FloatStorage", "F16": "HalfStorage", "BF16": "BFloat16Storage"}[dtype]
	if !ok {
		return fmt.Errorf("pth: write %s: dtype %q is not F32, F16 or BF16", path, dtype)
	}
	type entry struct {
		key  string
		data []float32
	}
	d := pickle.NewDict()
	var storages []entry
	// Tied tensors share a Data slice: same first element, same length.
	type sliceID struct {
		first *float32
		n     int
	}
	byData := map[sliceID]string{}
	for _, t := range tensors {
		n := 1
		for _, s := range t.Shape {
			if s < 0 {
				return fmt.Errorf("pth: write %s: tensor %q has negative dimension in %v", path, t.Name, t.Shape)
			}
			n *= s
		}
		if n != len(t.Data) {
			return fmt.Errorf("pth: write %s: tensor %q: shape %v needs %d values, have %d", path, t.Name, t.Shape, n, len(t.Data))
		}
		if _, dup := d.Get(t.Name); dup {
			return fmt.Errorf("pth: write %s: tensor %q appears twice", path, t.Name)
		}
		var id sliceID
		if len(t.Data) > 0 {
			id = sliceID{&t.Data[0], len(t.Data)}
		}
		key, shared := byData[id]
		if !shared || len(t.Data) == 0 {
			key = strconv.Itoa(len(storages))
			storages = append(storages, entry{key, t.Data})
			if len(t.Data) > 0 {
				byData[id] = key
			}
		}
		shape := make(pickle.Tuple, len(t.Shape))
		stride := make(pickle.Tuple, len(t.Shape))
		s := int64(1)
		for i := len(t.Shape) - 1; i >= 0; i-- {
			shape[i] = int64(t.Shape[i])
			stride[i] = s
			s *= int64(t.Shape[i])
		}
		obj := &pickle.Object{
			Callable: rebuildTensor,
			Args: pickle.Tuple{
				pickle.PersistentID{ID: pickle.Tuple{"storage", pickle.Global{Module: "torch", Name: storageClass}, key, "cpu", int64(len(t.Data))}},
				int64(0), shape, stride, false,
				orderedDict(), // backward_hooks: torch passes an empty OrderedDict
			},
		}
		if err := d.Set(t.Name, obj); err != nil {
			return fmt.Errorf("pth: write %s: %w", path, err)
		}
	}
	pkl, err := pickle.Marshal(d)
	if err != nil {
		return fmt.Errorf("pth: write %s: %w", path, err)
	}
	prefix := "archive/"
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		cw := &countingWriter{w: w}
		zw := zip.NewWriter(cw)
		put := func(name string, data []byte) error {
			return storeAligned(zw, cw, prefix+name, data)
		}
		if err := put("data.pkl", pkl); err != nil {
			return err
		}
		if err := put("byteorder", []byte("little")); err != nil {
			return err
		}
		for _, s := range storages {
			if err := put("data/"+s.key, encode(s.data, dtype)); err != nil {
				return err
			}
		}
		if err := put("version", []byte("3\n")); err != nil {
			return err
		}
		return zw.Close()
	})
}

func orderedDict() *pickle.Dict {
	d := pickle.NewDict()
	d.Ordered = true
	return d
}

// encode converts values to little-endian bytes of dtype.
func encode(x []float32, dtype string) []byte {
	st := safetensors.FromFloat32("", nil, x, safetensors.DType(dtype))
	return st.Data
}

// countingWriter tracks the archive offset so records can be aligned.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// alignment is where torch's writer places record data (64 bytes), so
// readers may memory-map storages; torch.load does not require it.
const alignment = 64

// storeAligned writes one uncompressed record whose data starts at a
// multiple of alignment, padding with an extra field as torch does
// (header id "FB", filled with 'Z').
func storeAligned(zw *zip.Writer, cw *countingWriter, name string, data []byte) error {
	if err := zw.Flush(); err != nil {
		return err
	}
	const localHeader = 30 // fixed part of a zip local file header
	start := cw.n + localHeader + int64(len(name))
	pad := (alignment - (start+4)%alignment) % alignment // +4: the extra field's own header
	extra := make([]byte, 4+pad)
	binary.LittleEndian.PutUint16(extra, 0x4246) // "FB"
	binary.LittleEndian.PutUint16(extra[2:], uint16(pad))
	copy(extra[4:], bytes.Repeat([]byte{'Z'}, int(pad)))
	fh := &zip.FileHeader{
		Name:               name,
		Method:             zip.Store,
		CRC32:              crc32.ChecksumIEEE(data),
		CompressedSize64:   uint64(len(data)),
		UncompressedSize64: uint64(len(data)),
		Extra:              extra,
	}
	w, err := zw.CreateRaw(fh)
	if err != nil {
		return fmt.Errorf("pth: zip record %s: %w", name, err)
	}
	if _, err := w.Write(data); err != nil {
		return fmt.Errorf("pth: zip record %s: %w", name, err)
	}
	return nil
}
