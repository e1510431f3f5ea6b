package dist

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"time"
	"unsafe"
)

// mpiProcess is the package's one piece of global state: MPI may be
// initialised once per process and never again after MPI_Finalize, so a
// second MPI communicator in the same process is an error rather than a
// crash inside libmpi.
var mpiProcess struct {
	sync.Mutex
	used bool
}

func claimMPI() error {
	mpiProcess.Lock()
	defer mpiProcess.Unlock()
	if mpiProcess.used {
		return errors.New("dist: MPI was already initialised in this process; it can be initialised only once")
	}
	mpiProcess.used = true
	return nil
}

// Communicator states.
const (
	stateOK = iota
	stateFailed
	stateClosed
)

// mpiComm runs every MPI call on one OS thread: a goroutine that locks
// itself to its thread, calls MPI_Init_thread(MPI_THREAD_FUNNELED) and then
// serves requests from a channel. Callers hand it a closure and wait for the
// reply with a deadline, so a peer that died or hangs turns into ErrTimeout
// instead of a process stuck forever inside MPI.
type mpiComm struct {
	lib       *mpiLib
	rank      int
	size      int
	timeout   time.Duration
	abortCode int
	reqs      chan mpiRequest

	// comm is the communicator collectives use: MPI_COMM_WORLD under
	// mpirun, the merged and re-ranked one on the torchrun path. Written
	// only by the owner thread before the constructor returns.
	comm uintptr
	// joined lists, oldest first, the communicators the torchrun path
	// built with connect/accept/merge/split; see releaseJoined. Owner
	// thread only.
	joined []uintptr
	// cleanup runs after MPI_Finalize (torchrun path: stop ompi-server).
	cleanup func()

	mu      sync.Mutex // held for a whole call: calls never overlap
	state   int
	failErr error
}

type mpiRequest struct {
	fn   func() error
	done chan error // buffered: the owner never blocks on a caller that gave up
}

// newMPIOwner loads libmpi, starts the owner thread and returns a
// communicator whose comm, rank and size are not yet set.
func newMPIOwner(opts Options) (*mpiComm, error) {
	lib, err := loadMPI(opts.LibPath)
	if err != nil {
		return nil, err
	}
	if err := claimMPI(); err != nil {
		return nil, err
	}
	c := &mpiComm{
		lib:       lib,
		timeout:   opts.startupTimeout(), // until the constructor sets the collectives' timeout
		abortCode: opts.abortCode(),
		reqs:      make(chan mpiRequest),
	}
	go c.serve()
	return c, nil
}

// serve is the owner goroutine. It never unlocks its thread: after
// MPI_Finalize the goroutine exits and the runtime retires the thread.
func (c *mpiComm) serve() {
	runtime.LockOSThread()
	for r := range c.reqs {
		r.done <- r.fn()
	}
}

// newMPIWorld initialises MPI in a process started by mpirun (or a PMIx
// launcher) and returns MPI_COMM_WORLD.
func newMPIWorld(ctx context.Context, opts Options) (Comm, error) {
	c, err := newMPIOwner(opts)
	if err != nil {
		return nil, err
	}
	err = c.do(ctx, "MPI_Init", func() error {
		if err := c.initThread(); err != nil {
			return err
		}
		return c.useComm(c.lib.commWorld)
	})
	if err != nil {
		return nil, err
	}
	c.timeout = opts.timeout()
	return c, nil
}

// initThread calls MPI_Init_thread on the owner thread.
func (c *mpiComm) initThread() error {
	var provided int32
	if rc := c.lib.initThread(nil, nil, mpiThreadFunneled, &provided); rc != mpiSuccess {
		return fmt.Errorf("%w: MPI_Init_thread returned %d", ErrNoMPI, rc)
	}
	// Errors come back as return codes from here on, so they become Go
	// errors with MPI's message instead of an immediate job abort.
	return c.lib.check("MPI_Comm_set_errhandler(MPI_COMM_SELF)",
		c.lib.commSetErrhandler(c.lib.commSelf, c.lib.errorsReturn))
}

// useComm makes comm the collectives' communicator; owner thread only.
func (c *mpiComm) useComm(comm uintptr) error {
	if err := c.lib.check("MPI_Comm_set_errhandler", c.lib.commSetErrhandler(comm, c.lib.errorsReturn)); err != nil {
		return err
	}
	var rank, size int32
	if err := c.lib.check("MPI_Comm_rank", c.lib.commRank(comm, &rank)); err != nil {
		return err
	}
	if err := c.lib.check("MPI_Comm_size", c.lib.commSize(comm, &size)); err != nil {
		return err
	}
	c.comm, c.rank, c.size = comm, int(rank), int(size)
	return nil
}

// do runs fn on the owner thread and waits until it returns, ctx is done
// or the communicator's timeout passes. A call that gives up marks the
// communicator failed: the MPI call is still blocked on the owner thread
// and the ranks are no longer in step.
func (c *mpiComm) do(ctx context.Context, what string, fn func() error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.state {
	case stateFailed:
		return fmt.Errorf("dist: %s on rank %d: %w: %w", what, c.rank, ErrFailed, c.failErr)
	case stateClosed:
		return fmt.Errorf("dist: %s on rank %d: %w", what, c.rank, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("dist: %s on rank %d: %w", what, c.rank, err)
	}
	timer := time.NewTimer(c.timeout)
	defer timer.Stop()
	r := mpiRequest{fn: fn, done: make(chan error, 1)}
	c.reqs <- r // the owner is idle: c.mu is held and earlier calls finished
	var err error
	select {
	case err = <-r.done:
		if err == nil {
			return nil
		}
		// An MPI error mid-collective leaves the ranks out of step too.
	case <-timer.C:
		err = fmt.Errorf("dist: %s on rank %d: no reply from the other ranks within %v (a rank died or hangs): %w",
			what, c.rank, c.timeout, ErrTimeout)
	case <-ctx.Done():
		err = fmt.Errorf("dist: %s on rank %d: abandoned: %w", what, c.rank, ctx.Err())
	}
	c.state, c.failErr = stateFailed, err
	return err
}

func (c *mpiComm) Rank() int { return c.rank }
func (c *mpiComm) Size() int { return c.size }

func (c *mpiComm) AllReduceSum(ctx context.Context, buf []float32) error {
	return c.do(ctx, fmt.Sprintf("all-reduce of %d floats", len(buf)), func() error {
		return c.allReduceSum(buf)
	})
}

// allReduceSum sums buf in place in chunks that fit MPI's int count.
func (c *mpiComm) allReduceSum(buf []float32) error {
	for off := 0; off < len(buf); off += mpiMaxCount {
		n := min(len(buf)-off, mpiMaxCount)
		rc := c.lib.allreduce(mpiInPlace, unsafe.Pointer(&buf[off]), int32(n), c.lib.float, c.lib.opSum, c.comm)
		if err := c.lib.check("MPI_Allreduce", rc); err != nil {
			return err
		}
	}
	return nil
}

// AllReduceMean multiplies the sum by 1/Size, as PyTorch DDP divides by
// the world size; for power-of-two sizes this is exact.
func (c *mpiComm) AllReduceMean(ctx context.Context, buf []float32) error {
	if err := c.AllReduceSum(ctx, buf); err != nil {
		return err
	}
	inv := 1 / float32(c.size)
	for i := range buf {
		buf[i] *= inv
	}
	return nil
}

func (c *mpiComm) Broadcast(ctx context.Context, buf []float32, root int) error {
	if err := checkRoot(root, c.size); err != nil {
		return err
	}
	return c.do(ctx, fmt.Sprintf("broadcast of %d floats from rank %d", len(buf), root), func() error {
		for off := 0; off < len(buf); off += mpiMaxCount {
			n := min(len(buf)-off, mpiMaxCount)
			rc := c.lib.bcast(unsafe.Pointer(&buf[off]), int32(n), c.lib.float, int32(root), c.comm)
			if err := c.lib.check("MPI_Bcast", rc); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *mpiComm) BroadcastBytes(ctx context.Context, b []byte, root int) ([]byte, error) {
	if err := checkRoot(root, c.size); err != nil {
		return nil, err
	}
	var out []byte
	err := c.do(ctx, fmt.Sprintf("broadcast of bytes from rank %d", root), func() error {
		var hdr [8]byte
		if c.rank == root {
			binary.LittleEndian.PutUint64(hdr[:], uint64(len(b)))
		}
		if err := c.lib.check("MPI_Bcast(length)", c.lib.bcast(unsafe.Pointer(&hdr[0]), 8, c.lib.byteType, int32(root), c.comm)); err != nil {
			return err
		}
		n := binary.LittleEndian.Uint64(hdr[:])
		if n > 1<<40 {
			return fmt.Errorf("dist: broadcast length %d from rank %d is implausible", n, root)
		}
		out = make([]byte, n)
		if c.rank == root {
			copy(out, b)
		}
		for off := 0; off < len(out); off += mpiMaxCount {
			m := min(len(out)-off, mpiMaxCount)
			rc := c.lib.bcast(unsafe.Pointer(&out[off]), int32(m), c.lib.byteType, int32(root), c.comm)
			if err := c.lib.check("MPI_Bcast", rc); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (c *mpiComm) Barrier(ctx context.Context) error {
	return c.do(ctx, "barrier", func() error {
		return c.lib.check("MPI_Barrier", c.lib.barrier(c.comm))
	})
}

// Close finalises MPI (waiting, within the timeout, for the other ranks to
// do the same) or, on a failed communicator, aborts the job. MPI_Abort is
// the one call made off the owner thread, because that thread is still
// stuck in the abandoned collective; Open MPI's abort only signals its
// launcher and exits, which is safe from any thread.
func (c *mpiComm) Close() error {
	c.mu.Lock()
	state, failErr := c.state, c.failErr
	c.mu.Unlock()
	switch state {
	case stateClosed:
		return nil
	case stateFailed:
		c.lib.abort(c.comm, int32(c.abortCode))
		return fmt.Errorf("dist: MPI_Abort returned after: %w", failErr)
	}
	err := c.do(context.Background(), "MPI_Finalize", func() error {
		if err := c.releaseJoined(); err != nil {
			return err
		}
		return c.lib.check("MPI_Finalize", c.lib.finalize())
	})
	c.mu.Lock()
	if c.state == stateOK {
		c.state = stateClosed
		close(c.reqs)
	}
	c.mu.Unlock()
	if c.cleanup != nil {
		c.cleanup()
	}
	return err
}

// releaseJoined releases the torchrun path's communicators, newest first,
// before MPI_Finalize; owner thread only. Without it MPI_Finalize of
// connected singletons hangs with 4 ranks. Intercommunicators are
// disconnected (collective: every rank's list is a suffix of rank 0's, so
// the calls line up); intracommunicators are freed, because
// MPI_Comm_disconnect on the merged ones hangs in Open MPI 4.1.4.
func (c *mpiComm) releaseJoined() error {
	for i := len(c.joined) - 1; i >= 0; i-- {
		var inter int32
		if err := c.lib.check("MPI_Comm_test_inter", c.lib.commTestInter(c.joined[i], &inter)); err != nil {
			return err
		}
		if inter == 0 {
			if err := c.lib.check("MPI_Comm_free", c.lib.commFree(&c.joined[i])); err != nil {
				return err
			}
			continue
		}
		if err := c.lib.check("MPI_Comm_disconnect", c.lib.commDisconnect(&c.joined[i])); err != nil {
			return err
		}
	}
	c.joined = nil
	return nil
}
