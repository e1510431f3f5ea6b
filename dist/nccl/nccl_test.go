package nccl

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unsafe"
)

// TestLoadErrors: a machine without NCCL (this one, CI) gets ErrNoNCCL
// listing what was tried; a file that is not a library is refused with
// its path; the unique id has ncclUniqueId's size.
func TestLoadErrors(t *testing.T) {
	if unsafe.Sizeof(UniqueID{}) != 128 {
		t.Fatalf("UniqueID is %d bytes, want NCCL_UNIQUE_ID_BYTES 128", unsafe.Sizeof(UniqueID{}))
	}
	bogus := filepath.Join(t.TempDir(), "libnccl.so.2")
	if err := os.WriteFile(bogus, []byte("not an ELF file"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := open([]string{bogus, "libnccl-definitely-absent.so.9"})
	if !errors.Is(err, ErrNoNCCL) || !strings.Contains(err.Error(), bogus) || !strings.Contains(err.Error(), "libnccl-definitely-absent.so.9") {
		t.Errorf("open(bogus) = %v, want ErrNoNCCL naming both attempts", err)
	}
	v, path, err := Version()
	if err == nil {
		t.Logf("NCCL %d from %s", v, path)
		return
	}
	if !errors.Is(err, ErrNoNCCL) {
		t.Errorf("Version without NCCL: %v, want ErrNoNCCL", err)
	}
}

// oneRank is a Host of one process.
type oneRank struct{}

func (oneRank) Rank() int { return 0 }
func (oneRank) Size() int { return 1 }
func (oneRank) BroadcastBytes(_ context.Context, b []byte, _ int) ([]byte, error) {
	return b, nil
}

// TestNewWithoutNCCL: New reports the missing library before touching
// the host communicator.
func TestNewWithoutNCCL(t *testing.T) {
	if _, _, err := Version(); err == nil {
		t.Skip("NCCL is installed: the GPU check exercises New")
	}
	if _, err := New(context.Background(), oneRank{}); !errors.Is(err, ErrNoNCCL) {
		t.Errorf("New without NCCL: %v", err)
	}
}
