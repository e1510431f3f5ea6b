package safetensors

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestChecksum(t *testing.T) {
	t.Parallel()
	data := encode(t, sampleTensors(), map[string]string{"format": "pt", ChecksumKey: "given values are replaced"})
	f, err := Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	if !f.Checksummed || len(f.Metadata) != 1 || f.Metadata["format"] != "pt" {
		t.Fatalf("Checksummed %v, metadata %v", f.Checksummed, f.Metadata)
	}

	// Every single-bit flip, anywhere in the file (all of them), is an error: a checksum
	// mismatch, or a parse error where the flip breaks the header first.
	for bit := range 8 * len(data) {
		bad := append([]byte(nil), data...)
		bad[bit/8] ^= 1 << (bit % 8)
		if _, err := Parse(bad); err == nil {
			t.Fatalf("flip of bit %d (byte %d of %d) parsed silently", bit%8, bit/8, len(data))
		}
	}

	// Files from other writers (no checksum) parse as before.
	plain := build(`{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}`, []byte{1, 2})
	if f, err := Parse(plain); err != nil || f.Checksummed {
		t.Errorf("file without checksum: %v, Checksummed %v", err, f != nil && f.Checksummed)
	}
}

func TestChecksumErrors(t *testing.T) {
	t.Parallel()
	data := encode(t, sampleTensors(), nil)
	tensorByte := len(data) - 1
	hex := strings.Index(string(data), `"`+ChecksumKey+`":"`) + len(ChecksumKey) + 4
	tests := []struct {
		name string
		edit func([]byte) []byte
		want string
	}{
		{"data byte", func(b []byte) []byte { b[tensorByte] ^= 0x10; return b }, "CRC32C of the file is"},
		{"checksum digit", func(b []byte) []byte { b[hex] ^= 0x01; return b }, "but minimind_crc32c_copy is"},
		{"checksum not hex", func(b []byte) []byte { copy(b[hex:], "zzzzzzzz"); return b }, "is zzzzzzzz but minimind_crc32c_copy is"},
		{"key written with a space", func([]byte) []byte {
			return build(`{"__metadata__":{"minimind_crc32c": "00000000"}}`, nil)
		}, "not written as this program writes it"},
		{"short", func([]byte) []byte {
			return build(`{"__metadata__":{"minimind_crc32c":"0"}}`, nil)
		}, "not 8 hex digits"},
		{"copies differ", func([]byte) []byte {
			return build(`{"__metadata__":{"minimind_crc32c":"00000000","minimind_crc32c_copy":"00000001"}}`, nil)
		}, "but minimind_crc32c_copy is 00000001"},
		{"copy key flipped", func(b []byte) []byte {
			i := strings.Index(string(b), "_copy")
			b[i+2] ^= 0x02
			return b
		}, "CRC32C of the file is"},
		{"key flipped", func(b []byte) []byte { b[hex-5] ^= 0x04; return b }, "CRC32C of the file is"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse(tt.edit(append([]byte(nil), data...)))
			if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Parse = %v, want ErrChecksum saying %q", err, tt.want)
			}
		})
	}
	t.Run("names the file", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "m.safetensors")
		bad := append([]byte(nil), data...)
		bad[tensorByte] ^= 1
		if err := os.WriteFile(path, bad, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadFile(path); !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), path) {
			t.Fatalf("ReadFile = %v, want ErrChecksum naming %s", err, path)
		}
	})
}

// BenchmarkParse reports the parse rate of a 64 MiB file with and without
// the checksum, which must not slow loading noticeably.
func BenchmarkParse(b *testing.B) {
	x := make([]float32, 16<<20)
	for i := range x {
		x[i] = float32(i)
	}
	with := encode(b, []Tensor{FromFloat32("x", []int{len(x)}, x, F32)}, nil)
	without := build(`{"x":{"dtype":"F32","shape":[16777216],"data_offsets":[0,67108864]}}`, with[len(with)-4*len(x):])
	for _, bc := range []struct {
		name string
		data []byte
	}{{"checksum", with}, {"plain", without}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(bc.data)))
			for b.Loop() {
				if _, err := Parse(bc.data); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
