// Package dist holds the communicator data-parallel training uses to
// average gradients across processes: the Comm interface, a one-process
// implementation (Single) and an Open MPI implementation loaded at run time,
// so the default build stays pure Go (CGO_ENABLED=0).
//
// # Launching
//
// Init reads the launcher's environment (see Detect) in this order:
//
//   - mpirun / mpiexec (OMPI_COMM_WORLD_* variables) or a PMIx launcher
//     (PMIX_RANK): MPI_COMM_WORLD, on one or many machines.
//     mpirun -np 2 minimind pretrain --ddp ...
//     mpirun -np 8 --hostfile hosts minimind pretrain --ddp ...
//   - torchrun-style variables (RANK, WORLD_SIZE, MASTER_ADDR, MASTER_PORT,
//     optionally LOCAL_RANK), as torchrun --no-python and cluster templates
//     set them: every process starts as an MPI singleton and they join into
//     one communicator through MPI_Comm_connect/accept, helped by Open MPI's
//     ompi-server that rank 0 starts; a TCP rendezvous on MASTER_ADDR only
//     swaps the two strings that needs (see torchrun.go for the protocol
//     and its limits). Under torchrun's own agent, which holds MASTER_PORT
//     for its store, the rendezvous uses MASTER_PORT+1. WORLD_SIZE=1 gives
//     Single without loading MPI.
//     torchrun --nproc_per_node=2 --no-python minimind pretrain --ddp ...
//   - nothing: Single, or ErrNoLauncher under BackendMPI (what --ddp asks
//     for), whose message says how to launch.
//
// libmpi.so.40 (Open MPI 4 or 5; Debian: apt-get install openmpi-bin
// libopenmpi-dev) is loaded with purego. Open MPI's handles MPI_COMM_WORLD,
// MPI_FLOAT, MPI_SUM, ... are addresses of exported globals
// (ompi_mpi_comm_world, ...), so no C header is needed; MPICH's integer
// handles are not supported. If the library is missing, Init returns an
// error wrapping ErrNoMPI that says how to install it.
//
// # Threads
//
// Open MPI is initialised with MPI_THREAD_FUNNELED: one goroutine, locked to
// its OS thread, calls MPI_Init_thread and then every other MPI function,
// serving requests from a channel. Comm methods hand it a closure and wait
// for the reply; they hold a mutex for the whole call, so calls never
// overlap. The one exception is MPI_Abort (see Errors), made from the
// caller's thread because the owner thread is stuck.
//
// MPI can be initialised once per process, so the package keeps one
// process-wide flag: a second MPI communicator, even after Close, is an
// error. That flag is its only global state. The torchrun path also sets
// OMPI_MCA_pmix_server_uri in the process environment before MPI_Init,
// because that is where libmpi reads it.
//
// # Errors
//
// Every blocking call waits at most Options.Timeout (DefaultTimeout, 5
// minutes; Options.StartupTimeout for Init) or until ctx ends. A call that gives up returns an error
// wrapping ErrTimeout (or ctx.Err()) that names the operation and rank, and
// the Comm is then failed: later calls return ErrFailed, and Close calls
// MPI_Abort, which ends the job with Options.AbortCode. So a dead rank can
// never hang the others: under mpirun, mpirun itself kills the job as soon
// as any rank exits non-zero (about 2 s here); a rank that hangs while
// alive is caught by the timeout. MPI errors come back as errors
// (MPI_ERRORS_RETURN) carrying MPI's own message. Library code never exits
// by itself: callers report the error first, then Close.
//
// # Buffers and NCCL
//
// Comm speaks host []float32 because the CPU trainer keeps gradients in one
// host slab (model.Params layout): AllReduceMean over the gradient slab is
// the whole of data-parallel training. A GPU trainer will add an NCCL
// communicator in dist/nccl without changing this interface:
//
//   - bootstrap: rank 0 calls ncclGetUniqueId and the 128-byte id travels
//     with BroadcastBytes over a bootstrap Comm from Init (MPI under
//     mpirun, or the torchrun path), then every rank calls
//     ncclCommInitRank(size, id, rank) on its GPU (LOCAL_RANK picks it):
//     nccl.New(ctx, boot dist.Comm, device int);
//   - it implements Comm (host slices staged through device memory, fine
//     for configs, barriers and tests), plus a device method set the CUDA
//     trainer finds by type assertion, as kernels find fused paths, e.g.
//     AllReduceSumDevice(ctx, ptr uintptr, n int, stream uintptr) error,
//     so gradients never leave the GPU;
//   - the same owner-thread and timeout rules apply: NCCL calls are
//     enqueued on a stream by one thread, and a collective that does not
//     finish in time ends with ncclCommAbort, the analogue of MPI_Abort.
package dist
