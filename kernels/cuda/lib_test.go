package cuda

import (
	"errors"
	"strings"
	"testing"
)

// TestNewWithoutGPU: on a machine without a usable GPU, New fails with an
// error that wraps one of the documented sentinels and says what is
// missing. (On a GPU machine the test is skipped: New succeeds.)
func TestNewWithoutGPU(t *testing.T) {
	b, err := New(Options{CacheDir: t.TempDir()})
	if err == nil {
		b.Close()
		t.Skip("a usable GPU is present")
	}
	t.Logf("New: %v", err)
	known := false
	for _, s := range []error{ErrNoDriver, ErrNoNVRTC, ErrNoCUBLAS, ErrNoDevice, ErrUnsupportedPlatform} {
		known = known || errors.Is(err, s)
	}
	if !known {
		t.Errorf("New error %v wraps none of the sentinels", err)
	}
	if !strings.HasPrefix(err.Error(), "cuda: ") {
		t.Errorf("error %q does not name the package", err)
	}
}

// TestOpenMissingLibrary: a library that cannot be found yields the
// sentinel and the list of what was tried.
func TestOpenMissingLibrary(t *testing.T) {
	t.Parallel()
	_, _, err := open([]string{"libminimind-does-not-exist.so.7"}, ErrNoNVRTC)
	if !errors.Is(err, ErrNoNVRTC) {
		t.Fatalf("err = %v, want ErrNoNVRTC", err)
	}
	if !strings.Contains(err.Error(), "libminimind-does-not-exist.so.7") {
		t.Errorf("error %q does not list the attempt", err)
	}
}

func TestCandidatesOrder(t *testing.T) {
	t.Parallel()
	got := candidates([]string{"libx.so.2", "libx.so"}, []string{"/a", "/b"})
	want := []string{"libx.so.2", "libx.so", "/a/libx.so.2", "/a/libx.so", "/b/libx.so.2", "/b/libx.so"}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("candidates = %v, want %v", got, want)
	}
}

func TestErrorMessage(t *testing.T) {
	t.Parallel()
	e := &Error{Lib: "driver", Call: "cuMemAlloc_v2", Code: 2, Msg: "out of memory"}
	if got, want := e.Error(), "cuda: cuMemAlloc_v2: driver error 2 (out of memory)"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
}
