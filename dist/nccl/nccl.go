// Package nccl is NVIDIA's collective library (NCCL) for the GPU
// data-parallel trainer, loaded at run time through purego like the rest
// of the GPU path (no cgo): libnccl.so.2 by soname, then the usual
// install directories (Debian's libnccl2, the CUDA toolkit, pip's
// nvidia-nccl wheels under NCCL_HOME or the path in MINIMIND_NCCL).
//
// A Comm is built collectively: rank 0 draws the ncclUniqueId and the
// ranks' host communicator (package dist: mpirun or torchrun's
// environment) carries it to the others; then AllReduceSum sums float32
// device buffers in place on the default stream. Calls must run on the
// OS thread where the GPU's context is current (kernels/cuda's
// Backend.Do). Nothing here has run on a GPU yet (kernels/cuda/README.md).
package nccl

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"

	"github.com/ebitengine/purego"
)

// ErrNoNCCL: libnccl could not be loaded.
var ErrNoNCCL = errors.New("nccl: libnccl.so.2 not found (install NCCL: Debian's libnccl2, or set MINIMIND_NCCL to the library's path)")

// UniqueID is ncclUniqueId, the bootstrap handle rank 0 shares (a 128-byte
// struct passed by value; purego lays it out as the C ABI does).
type UniqueID struct{ Internal [128]byte }

// NCCL enums (nccl.h).
const (
	ncclSuccess = 0
	ncclFloat32 = 7
	ncclSum     = 0
)

// api holds the entry points used here.
type api struct {
	ncclGetVersion     func(v *int32) int32
	ncclGetUniqueId    func(id *UniqueID) int32
	ncclCommInitRank   func(comm *uintptr, nranks int32, id UniqueID, rank int32) int32
	ncclAllReduce      func(send, recv uint64, count uint64, dtype, op int32, comm uintptr, stream uintptr) int32
	ncclCommDestroy    func(comm uintptr) int32
	ncclCommAbort      func(comm uintptr) int32
	ncclGetErrorString func(code int32) string
	path               string
}

// candidates lists the dlopen attempts in order.
func candidates() []string {
	var out []string
	if p := os.Getenv("MINIMIND_NCCL"); p != "" {
		out = append(out, p)
	}
	out = append(out, "libnccl.so.2", "libnccl.so")
	dirs := []string{"/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/local/cuda/lib64", "/usr/local/nccl/lib"}
	if h := os.Getenv("NCCL_HOME"); h != "" {
		dirs = append([]string{filepath.Join(h, "lib")}, dirs...)
	}
	for _, d := range dirs {
		out = append(out, filepath.Join(d, "libnccl.so.2"))
	}
	return out
}

var (
	loadOnce sync.Once
	loaded   *api
	loadErr  error
)

// load opens libnccl once per process (dlopen handles are process-wide).
func load() (*api, error) {
	loadOnce.Do(func() { loaded, loadErr = open(candidates()) })
	return loaded, loadErr
}

func open(paths []string) (*api, error) {
	if runtime.GOOS != "linux" || (runtime.GOARCH != "amd64" && runtime.GOARCH != "arm64") {
		return nil, fmt.Errorf("%w: NCCL runs on linux/amd64 and linux/arm64 only", ErrNoNCCL)
	}
	var tried []string
	for _, p := range paths {
		if filepath.IsAbs(p) {
			if _, err := os.Stat(p); err != nil {
				continue
			}
		}
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s (%v)", p, err))
			continue
		}
		a := &api{path: p}
		for name, fptr := range map[string]any{
			"ncclGetVersion": &a.ncclGetVersion, "ncclGetUniqueId": &a.ncclGetUniqueId,
			"ncclCommInitRank": &a.ncclCommInitRank, "ncclAllReduce": &a.ncclAllReduce,
			"ncclCommDestroy": &a.ncclCommDestroy, "ncclCommAbort": &a.ncclCommAbort,
			"ncclGetErrorString": &a.ncclGetErrorString,
		} {
			addr, err := purego.Dlsym(h, name)
			if err != nil {
				return nil, fmt.Errorf("nccl: %s lacks %s: %w", p, name, err)
			}
			purego.RegisterFunc(fptr, addr)
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w; tried: %s", ErrNoNCCL, strings.Join(tried, "; "))
}

func (a *api) check(call string, code int32) error {
	if code == ncclSuccess {
		return nil
	}
	return fmt.Errorf("nccl: %s: error %d (%s)", call, code, a.ncclGetErrorString(code))
}

// Version returns NCCL's version code (e.g. 22304 for 2.23.4) and the
// library's path, or an error wrapping ErrNoNCCL.
func Version() (int, string, error) {
	a, err := load()
	if err != nil {
		return 0, "", err
	}
	var v int32
	if err := a.check("ncclGetVersion", a.ncclGetVersion(&v)); err != nil {
		return 0, "", err
	}
	return int(v), a.path, nil
}

// Host is what a Comm needs from the ranks' host communicator
// (dist.Comm has it): the rank, the size and a byte broadcast.
type Host interface {
	Rank() int
	Size() int
	BroadcastBytes(ctx context.Context, b []byte, root int) ([]byte, error)
}

// Comm is an NCCL communicator over the ranks of a Host communicator.
type Comm struct {
	a          *api
	comm       uintptr
	rank, size int
}

// New builds the communicator collectively: every rank calls it, on the
// OS thread where its GPU's context is current. Rank 0's unique id
// reaches the others through host.
func New(ctx context.Context, host Host) (*Comm, error) {
	a, err := load()
	if err != nil {
		return nil, err
	}
	var id UniqueID
	if host.Rank() == 0 {
		if err := a.check("ncclGetUniqueId", a.ncclGetUniqueId(&id)); err != nil {
			return nil, err
		}
	}
	b, err := host.BroadcastBytes(ctx, id.Internal[:], 0)
	if err != nil {
		return nil, fmt.Errorf("nccl: share the unique id: %w", err)
	}
	if len(b) != len(id.Internal) {
		return nil, fmt.Errorf("nccl: unique id of %d bytes from rank 0, want %d", len(b), len(id.Internal))
	}
	copy(id.Internal[:], b)
	c := &Comm{a: a, rank: host.Rank(), size: host.Size()}
	if err := a.check("ncclCommInitRank", a.ncclCommInitRank(&c.comm, int32(c.size), id, int32(c.rank))); err != nil {
		return nil, err
	}
	return c, nil
}

// AllReduceSum sums n float32s at the device address buf over the ranks,
// in place, queued on the default stream (it returns before the sum is
// done; a later download or synchronisation waits for it).
func (c *Comm) AllReduceSum(buf uint64, n int) error {
	if n == 0 {
		return nil
	}
	return c.a.check("ncclAllReduce", c.a.ncclAllReduce(buf, buf, uint64(n), ncclFloat32, ncclSum, c.comm, 0))
}

// Rank and Size are the host communicator's.
func (c *Comm) Rank() int { return c.rank }

// Size is the number of ranks.
func (c *Comm) Size() int { return c.size }

// Close destroys the communicator (collectively); Abort ends it after a
// failure without waiting for the other ranks.
func (c *Comm) Close() error {
	if c.comm == 0 {
		return nil
	}
	err := c.a.check("ncclCommDestroy", c.a.ncclCommDestroy(c.comm))
	c.comm = 0
	return err
}

// Abort ends the communicator without the other ranks (after an error).
func (c *Comm) Abort() error {
	if c.comm == 0 {
		return nil
	}
	err := c.a.check("ncclCommAbort", c.a.ncclCommAbort(c.comm))
	c.comm = 0
	return err
}
