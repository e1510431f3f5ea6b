package dist

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
)

// Comm is a communicator over a fixed group of ranks. Every collective must
// be called by all ranks, in the same order, with buffers of the same
// length; a Comm serialises its own calls, but the order across goroutines is
// the caller's business, so use one Comm from one goroutine at a time.
//
// Collectives block until every rank has joined or until the call's deadline
// (the earlier of ctx's deadline and Options.Timeout). A call that gives up
// leaves the communicator failed: it returns an error wrapping ErrTimeout
// (or ctx.Err()), every later call returns ErrFailed, and Close aborts the job.
type Comm interface {
	// Rank is this process's index in [0, Size).
	Rank() int
	// Size is the number of ranks.
	Size() int
	// AllReduceSum replaces buf on every rank by the element-wise sum of
	// buf over all ranks.
	AllReduceSum(ctx context.Context, buf []float32) error
	// AllReduceMean is AllReduceSum followed by a division by Size: the
	// data-parallel gradient average.
	AllReduceMean(ctx context.Context, buf []float32) error
	// Broadcast copies root's buf into buf on every other rank.
	Broadcast(ctx context.Context, buf []float32, root int) error
	// BroadcastBytes returns root's b on every rank; other ranks' b is
	// ignored and may be nil. It suits a small config or resume header:
	// lengths travel first, so non-root ranks need not know the size.
	BroadcastBytes(ctx context.Context, b []byte, root int) ([]byte, error)
	// Barrier returns once every rank has called it.
	Barrier(ctx context.Context) error
	// Close releases the communicator (MPI_Finalize, which waits for every
	// rank to Close). On a failed communicator it calls MPI_Abort instead,
	// which ends every rank of the job, this process included, with
	// Options.AbortCode: report the error before calling Close.
	Close() error
}

// Backend selects how Init builds a communicator.
type Backend string

// Backends accepted by Options.Backend.
const (
	// BackendAuto uses MPI when a launcher's environment is present
	// (mpirun or torchrun-style variables) and Single otherwise.
	BackendAuto Backend = "auto"
	// BackendMPI requires a launcher; without one Init returns
	// ErrNoLauncher. This is what --ddp asks for.
	BackendMPI Backend = "mpi"
	// BackendSingle ignores any launcher and returns Single().
	BackendSingle Backend = "single"
)

// DefaultTimeout bounds every collective unless Options.Timeout says
// otherwise. It must exceed the longest gap between ranks reaching the same
// collective (a slow step, rank 0 writing a checkpoint).
const DefaultTimeout = 5 * time.Minute

// Options configures Init. The zero value is usable: auto backend, default
// timeout, libmpi found by the dynamic loader, the process environment.
type Options struct {
	// Backend is BackendAuto when empty.
	Backend Backend
	// Timeout bounds each collective; DefaultTimeout when zero.
	Timeout time.Duration
	// StartupTimeout bounds the start-up (MPI_Init and the torchrun-style
	// rendezvous), which on a busy host can take much longer than a
	// collective; Timeout when zero.
	StartupTimeout time.Duration
	// LibPath is libmpi's path; empty tries libmpi.so.40 through the
	// dynamic loader, then Debian's and common install locations.
	LibPath string
	// AbortCode is the exit status MPI_Abort gives the job when a failed
	// communicator is closed; 1 when zero.
	AbortCode int
	// LookupEnv reads the launcher's variables; os.LookupEnv when nil.
	// Tests pass a map's lookup here.
	LookupEnv func(key string) (string, bool)
}

func (o Options) timeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return DefaultTimeout
}

func (o Options) startupTimeout() time.Duration {
	if o.StartupTimeout > 0 {
		return o.StartupTimeout
	}
	return o.timeout()
}

func (o Options) abortCode() int {
	if o.AbortCode != 0 {
		return o.AbortCode
	}
	return 1
}

// Sentinel errors, matched with errors.Is.
var (
	// ErrTimeout: a collective or the start-up rendezvous did not complete
	// within its deadline, usually because a peer died or hangs.
	ErrTimeout = errors.New("dist: timed out waiting for other ranks")
	// ErrFailed: an earlier call on this communicator failed; it cannot be
	// used again.
	ErrFailed = errors.New("dist: communicator failed earlier")
	// ErrClosed: the communicator was closed.
	ErrClosed = errors.New("dist: communicator closed")
	// ErrNoLauncher: BackendMPI was asked for but the process was not
	// started by mpirun or with torchrun-style variables.
	ErrNoLauncher = errors.New("dist: --ddp needs a launcher: run `mpirun -np 2 minimind pretrain --ddp ...` " +
		"(or set RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT as torchrun does)")
	// ErrNoMPI: libmpi could not be loaded or initialised.
	ErrNoMPI = errors.New("dist: Open MPI not available: install it with " +
		"`apt-get install openmpi-bin libopenmpi-dev` and launch with `mpirun -np 2 minimind pretrain --ddp ...`")
)

// Init builds the communicator the launcher's environment describes (see
// Detect), following opts.Backend. It returns Single() when no launcher is
// present and the backend allows it.
func Init(ctx context.Context, opts Options) (Comm, error) {
	switch opts.Backend {
	case "", BackendAuto, BackendMPI:
	case BackendSingle:
		return Single(), nil
	default:
		return nil, fmt.Errorf("dist: unknown backend %q (want %q, %q or %q)", opts.Backend, BackendAuto, BackendMPI, BackendSingle)
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	l, err := Detect(lookup)
	if err != nil {
		return nil, err
	}
	switch l.Kind {
	case LauncherMPI:
		return newMPIWorld(ctx, opts)
	case LauncherTorchrun:
		if l.Size == 1 {
			// One rank needs no collectives and no Open MPI installed.
			return Single(), nil
		}
		return newMPITorchrun(ctx, opts, l)
	}
	if opts.Backend == BackendMPI {
		return nil, ErrNoLauncher
	}
	return Single(), nil
}

// checkRoot validates a root argument against the group size.
func checkRoot(root, size int) error {
	if root < 0 || root >= size {
		return fmt.Errorf("dist: root %d out of range [0, %d)", root, size)
	}
	return nil
}
