package safetensors

import (
	"bytes"
	"encoding/binary"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/fixture"
)

// build returns a safetensors file holding the given header JSON and buffer.
func build(header string, buf []byte) []byte {
	out := make([]byte, 8, 8+len(header)+len(buf))
	binary.LittleEndian.PutUint64(out, uint64(len(header)))
	out = append(out, header...)
	return append(out, buf...)
}

// encode writes tensors with Write and fails the test on error.
func encode(tb testing.TB, tensors []Tensor, md map[string]string) []byte {
	tb.Helper()
	var b bytes.Buffer
	if err := Write(&b, tensors, md); err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return b.Bytes()
}

func sampleTensors() []Tensor {
	x := []float32{1, -2.5, 3.25, 0, float32(math.Inf(1)), 1e-6}
	i64 := make([]byte, 16)
	binary.LittleEndian.PutUint64(i64, uint64(1<<40))
	binary.LittleEndian.PutUint64(i64[8:], uint64(math.MaxUint64)) // -1
	i32 := make([]byte, 12)
	for i, v := range []int32{7, -8, 1 << 30} {
		binary.LittleEndian.PutUint32(i32[4*i:], uint32(v))
	}
	return []Tensor{
		FromFloat32("w.f32", []int{2, 3}, x, F32),
		FromFloat32("w.f16", []int{3, 2}, x, F16),
		FromFloat32("w.bf16", []int{6}, x, BF16),
		FromFloat32("w.f64", []int{1, 6}, x, F64),
		{Name: "ids", DType: I64, Shape: []int{2}, Data: i64},
		{Name: "ids32", DType: I32, Shape: []int{3}, Data: i32},
		{Name: "scalar", DType: F32, Shape: []int{}, Data: []byte{0, 0, 0x80, 0x3f}},
		{Name: "empty", DType: F16, Shape: []int{0, 4}, Data: []byte{}},
		{Name: "mask", DType: Bool, Shape: []int{3}, Data: []byte{1, 0, 1}},
		{Name: "名前 with \"quotes\"", DType: U8, Shape: []int{1}, Data: []byte{9}},
	}
}

func TestRoundTrip(t *testing.T) {
	t.Parallel()
	in := sampleTensors()
	md := map[string]string{"format": "pt", "note": "héllo"}
	data := encode(t, in, md)

	hlen := binary.LittleEndian.Uint64(data)
	if hlen%8 != 0 {
		t.Errorf("header length %d is not a multiple of 8", hlen)
	}
	hdr := string(data[8 : 8+hlen])
	if strings.TrimRight(hdr, " ") != strings.TrimSpace(hdr) || !strings.HasPrefix(hdr, `{"__metadata__":`) {
		t.Errorf("header %q: want metadata first and only trailing space padding", hdr)
	}

	f, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !reflect.DeepEqual(f.Metadata, md) {
		t.Errorf("metadata = %v, want %v", f.Metadata, md)
	}
	if len(f.Tensors) != len(in) {
		t.Fatalf("got %d tensors, want %d", len(f.Tensors), len(in))
	}
	// Written in order, so the offset order equals the input order, except
	// that the zero-size tensor sorts before the one sharing its offset.
	for _, want := range in {
		got, ok := f.Get(want.Name)
		if !ok {
			t.Errorf("tensor %q missing", want.Name)
			continue
		}
		if got.DType != want.DType || !reflect.DeepEqual(got.Shape, want.Shape) || !bytes.Equal(got.Data, want.Data) {
			t.Errorf("tensor %q: got %s %v %d bytes, want %s %v %d bytes",
				want.Name, got.DType, got.Shape, len(got.Data), want.DType, want.Shape, len(want.Data))
		}
	}
	if _, ok := f.Get("nope"); ok {
		t.Error("Get found a missing tensor")
	}

	x := []float32{1, -2.5, 3.25, 0, float32(math.Inf(1)), 1e-6}
	for _, tc := range []struct {
		name string
		want []float32
	}{
		{"w.f32", x},
		{"w.f64", x},
		{"w.f16", roundAll(x, func(v float32) float32 { return half.F16ToFloat32(half.Float32ToF16(v)) })},
		{"w.bf16", roundAll(x, func(v float32) float32 { return half.BF16ToFloat32(half.Float32ToBF16(v)) })},
		{"scalar", []float32{1}},
		{"empty", []float32{}},
	} {
		tt, _ := f.Get(tc.name)
		got, err := tt.Float32s()
		if err != nil {
			t.Errorf("%s: Float32s: %v", tc.name, err)
			continue
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Float32s = %v, want %v", tc.name, got, tc.want)
		}
	}
	for _, tc := range []struct {
		name string
		want []int64
	}{
		{"ids", []int64{1 << 40, -1}},
		{"ids32", []int64{7, -8, 1 << 30}},
		{"mask", []int64{1, 0, 1}},
	} {
		tt, _ := f.Get(tc.name)
		got, err := tt.Int64s()
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: Int64s = %v, %v; want %v", tc.name, got, err, tc.want)
		}
	}

	ids, _ := f.Get("ids")
	if _, err := ids.Float32s(); err == nil || !strings.Contains(err.Error(), `"ids"`) {
		t.Errorf("Float32s on I64: err = %v, want one naming the tensor", err)
	}
	w, _ := f.Get("w.f32")
	if _, err := w.Int64s(); err == nil || !strings.Contains(err.Error(), `"w.f32"`) {
		t.Errorf("Int64s on F32: err = %v, want one naming the tensor", err)
	}

	// Re-encoding the parsed file reproduces the same bytes.
	if again := encode(t, f.Tensors, f.Metadata); !bytes.Equal(again, encode(t, f.Tensors, md)) {
		t.Error("re-encoding is not deterministic")
	}
}

func roundAll(x []float32, fn func(float32) float32) []float32 {
	out := make([]float32, len(x))
	for i, v := range x {
		out[i] = fn(v)
	}
	return out
}

func TestWriteNoMetadata(t *testing.T) {
	t.Parallel()
	data := encode(t, []Tensor{FromFloat32("a", []int{1}, []float32{2}, F32)}, nil)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if f.Metadata != nil {
		t.Errorf("metadata = %v, want nil", f.Metadata)
	}
	// The only metadata is the checksum, which Parse checks and removes.
	if !f.Checksummed || !strings.Contains(string(data), ChecksumKey) {
		t.Error("no checksum written or verified")
	}
}

func TestWriteErrors(t *testing.T) {
	t.Parallel()
	ok := FromFloat32("a", []int{2}, []float32{1, 2}, F32)
	tests := []struct {
		name    string
		tensors []Tensor
		want    string
	}{
		{"duplicate", []Tensor{ok, ok}, `"a" appears twice`},
		{"reserved", []Tensor{{Name: metadataKey, DType: U8, Shape: []int{0}}}, "reserved"},
		{"shape mismatch", []Tensor{FromFloat32("b", []int{3}, []float32{1, 2}, F32)}, `"b": shape [3] of F32 does not match 8 data bytes`},
		{"unknown dtype", []Tensor{{Name: "c", DType: "F8", Shape: []int{1}, Data: []byte{0}}}, `"c": unknown dtype`},
		{"negative dim", []Tensor{{Name: "d", DType: U8, Shape: []int{-1}}}, `"d": invalid shape`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Write(&bytes.Buffer{}, tt.tensors, nil)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Write error = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestReadFixture(t *testing.T) {
	t.Parallel()
	path := filepath.Join(fixture.Dir(t, "tiny-dense"), "model.safetensors")
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Tensors) != 20 {
		t.Errorf("got %d tensors, want 20", len(f.Tensors))
	}
	total := 0
	for i := range f.Tensors {
		tt := &f.Tensors[i]
		if tt.DType != F32 {
			t.Errorf("%s: dtype %s, want F32", tt.Name, tt.DType)
		}
		vals, err := tt.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range vals {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				t.Fatalf("%s holds a non-finite value", tt.Name)
			}
		}
		total += len(vals)
	}
	if total != 119104 {
		t.Errorf("got %d numbers, want 119104", total)
	}
	checks := map[string][]int{
		"model.embed_tokens.weight":                      {320, 64},
		"model.norm.weight":                              {64},
		"model.layers.0.self_attn.k_proj.weight":         {32, 64},
		"model.layers.1.mlp.down_proj.weight":            {64, 192},
		"model.layers.1.post_attention_layernorm.weight": {64},
	}
	for name, shape := range checks {
		tt, ok := f.Get(name)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if !reflect.DeepEqual(tt.Shape, shape) {
			t.Errorf("%s: shape %v, want %v", name, tt.Shape, shape)
		}
	}
	if _, ok := f.Get("lm_head.weight"); ok {
		t.Error("lm_head.weight present; the fixture drops the tied alias")
	}
}

func TestTruncated(t *testing.T) {
	t.Parallel()
	data := encode(t, sampleTensors(), map[string]string{"k": "v"})
	for n := 0; n < len(data); n++ {
		if _, err := Parse(data[:n]); err == nil {
			t.Fatalf("Parse of the first %d of %d bytes succeeded", n, len(data))
		}
	}
	if _, err := Parse(data); err != nil {
		t.Fatal(err)
	}
}

func TestTruncatedFixture(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(filepath.Join(fixture.Dir(t, "tiny-dense"), "model.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 7, 8, 100, len(data) / 2, len(data) - 1} {
		if _, err := Parse(data[:n]); err == nil {
			t.Errorf("Parse of the first %d bytes succeeded", n)
		}
	}
	dir := t.TempDir()
	p := filepath.Join(dir, "cut.safetensors")
	if err := os.WriteFile(p, data[:len(data)-4], 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(p); err == nil || !strings.Contains(err.Error(), p) || !strings.Contains(err.Error(), "exceed buffer") {
		t.Errorf("ReadFile of a truncated file: %v", err)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadFile of a missing file succeeded")
	}
}

func TestCorruptHeaders(t *testing.T) {
	t.Parallel()
	buf8 := make([]byte, 8)
	tests := []struct {
		name string
		data []byte
		want string
	}{
		{"short", []byte{1, 2, 3}, "too short"},
		{"huge header length", binary.LittleEndian.AppendUint64(nil, 1<<62), "exceeds the 104857600-byte limit"},
		{"header length past end", binary.LittleEndian.AppendUint64(nil, 100), "truncated"},
		{"not json", build("{nope", nil), "not a JSON object"},
		{"json array", build("[]", nil), "not a JSON object"},
		{"json null", build("null", nil), "JSON null"},
		{"entry not object", build(`{"a":3}`, nil), `tensor "a": bad header entry`},
		{"missing dtype", build(`{"a":{"shape":[1],"data_offsets":[0,4]}}`, buf8), `"a": missing dtype`},
		{"missing shape", build(`{"a":{"dtype":"F32","data_offsets":[0,4]}}`, buf8), `"a": missing shape`},
		{"missing offsets", build(`{"a":{"dtype":"F32","shape":[1]}}`, buf8), `"a": missing data_offsets`},
		{"unknown dtype", build(`{"a":{"dtype":"F8_E4M3","shape":[1],"data_offsets":[0,1]}}`, buf8), `"a": unknown dtype "F8_E4M3"`},
		{"negative dim", build(`{"a":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}`, buf8), `"a": shape [-1] has invalid dimension -1`},
		{"fractional dim", build(`{"a":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}`, buf8), `"a": bad header entry`},
		{"one offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[4]}}`, buf8), `"a": data_offsets has 1 entries, want 2`},
		{"begin after end", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[8,4]}}`, buf8), `"a": data_offsets [8,4] are not 0 <= begin <= end`},
		{"negative offset", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[-4,0]}}`, buf8), `are not 0 <= begin <= end`},
		{"past buffer", build(`{"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]}}`, buf8), `safetensors: tensor "a": data_offsets [0,12] exceed buffer of 8 bytes`},
		{"size mismatch", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}`, buf8), `"a": shape [1] of F32 needs 4 bytes but data_offsets [0,8] hold 8`},
		{"overflowing shape", build(`{"a":{"dtype":"F64","shape":[4294967296,4294967296,16],"data_offsets":[0,0]}}`, buf8), `needs more than 2^64 bytes`},
		{"overflowing bytes", build(`{"a":{"dtype":"F64","shape":[4294967296,268435456],"data_offsets":[0,0]}}`, buf8), `"a": shape`},
		{"overlap", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, buf8), `tensor "b": data_offsets [2,6] overlap tensor "a" at [0,4]`},
		{"same range", build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"I32","shape":[1],"data_offsets":[0,4]}}`, buf8), `overlap`},
		{"bad metadata", build(`{"__metadata__":{"a":1}}`, nil), `__metadata__ is not an object of strings`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse error = %v, want containing %q", err, tt.want)
			}
		})
	}
}

func TestParseAliases(t *testing.T) {
	t.Parallel()
	data := encode(t, []Tensor{FromFloat32("a", []int{2}, []float32{1, 2}, F32)}, nil)
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	f.Tensors[0].Data[0] ^= 0xff
	if data[len(data)-8] != f.Tensors[0].Data[0] {
		t.Error("tensor data does not alias the input")
	}
	if c := cap(f.Tensors[0].Data); c != 8 {
		t.Errorf("cap = %d, want 8 so appends cannot write into the input", c)
	}
}

func FuzzParse(f *testing.F) {
	valid := encode(f, sampleTensors(), map[string]string{"format": "pt"})
	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(build(`{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[2,6]}}`, make([]byte, 8)))
	f.Add(build(`{"a":{"dtype":"BF16","shape":[2,0],"data_offsets":[0,0]}}`, nil))
	f.Add(build(`{"__metadata__":{"x":"y"}}`, nil))
	corrupt := bytes.Clone(valid)
	corrupt[20] = '}'
	f.Add(corrupt)
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			return
		}
		// Anything Parse accepts must survive a write and re-parse unchanged.
		var b bytes.Buffer
		if err := Write(&b, file.Tensors, file.Metadata); err != nil {
			t.Fatalf("Write of a parsed file: %v", err)
		}
		again, err := Parse(b.Bytes())
		if err != nil {
			t.Fatalf("re-Parse: %v", err)
		}
		if len(again.Tensors) != len(file.Tensors) {
			t.Fatalf("re-Parse: %d tensors, want %d", len(again.Tensors), len(file.Tensors))
		}
		for i := range file.Tensors {
			a, b := &file.Tensors[i], &again.Tensors[i]
			if a.Name != b.Name || a.DType != b.DType || !reflect.DeepEqual(a.Shape, b.Shape) || !bytes.Equal(a.Data, b.Data) {
				t.Fatalf("tensor %d changed: %q -> %q", i, a.Name, b.Name)
			}
			if a.DType == F32 || a.DType == F16 || a.DType == BF16 || a.DType == F64 {
				if _, err := a.Float32s(); err != nil {
					t.Fatal(err)
				}
			} else if _, err := a.Int64s(); err != nil {
				t.Fatal(err)
			}
		}
		if len(file.Metadata) != len(again.Metadata) {
			t.Fatalf("metadata changed")
		}
	})
}

// TestDecodeFloat32 decodes each float dtype into a caller's buffer with
// Float32s' values, and refuses a buffer of the wrong size or an integer
// tensor.
func TestDecodeFloat32(t *testing.T) {
	x := []float32{0, 1, -2.5, 3.14159, 1e-3, -65504}
	f64 := make([]byte, 8*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint64(f64[8*i:], math.Float64bits(float64(v)))
	}
	tensors := []Tensor{
		FromFloat32("f32", []int{2, 3}, x, F32),
		FromFloat32("f16", []int{2, 3}, x, F16),
		FromFloat32("bf16", []int{2, 3}, x, BF16),
		{Name: "f64", DType: F64, Shape: []int{6}, Data: f64},
	}
	for _, tt := range tensors {
		want, err := tt.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		got := make([]float32, len(x))
		if err := tt.DecodeFloat32(got); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("%s: DecodeFloat32 %v, Float32s %v", tt.Name, got, want)
		}
		if err := tt.DecodeFloat32(make([]float32, 5)); err == nil || !strings.Contains(err.Error(), "destination holds 5") {
			t.Errorf("%s: short destination: %v", tt.Name, err)
		}
	}
	i32 := Tensor{Name: "ids", DType: I32, Shape: []int{1}, Data: make([]byte, 4)}
	if err := i32.DecodeFloat32(make([]float32, 1)); err == nil || !strings.Contains(err.Error(), "not a float type") {
		t.Errorf("I32 tensor: %v", err)
	}
}
