package dist

import (
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"github.com/ebitengine/purego"
)

// Open MPI constants (mpi.h of Open MPI 4.x; stable across 3.x-5.x).
const (
	mpiSuccess        = 0
	mpiThreadFunneled = 1       // MPI_THREAD_FUNNELED: only the init thread calls MPI
	mpiInPlace        = 1       // MPI_IN_PLACE is ((void *) 1)
	mpiMaxPortName    = 1024    // MPI_MAX_PORT_NAME
	mpiMaxErrorString = 256     // MPI_MAX_ERROR_STRING
	mpiMaxCount       = 1 << 30 // elements per call: counts are C int, keep well below 2^31
)

// libmpiCandidates are tried in order when Options.LibPath is empty: the
// soname through the loader's search path (ldconfig, LD_LIBRARY_PATH), then
// Debian/Ubuntu's multiarch path, then RHEL's and a source build's.
var libmpiCandidates = []string{
	"libmpi.so.40",
	"/usr/lib/x86_64-linux-gnu/libmpi.so.40",
	"/usr/lib/x86_64-linux-gnu/openmpi/lib/libmpi.so",
	"/usr/lib/aarch64-linux-gnu/libmpi.so.40",
	"/usr/lib64/openmpi/lib/libmpi.so.40",
	"/usr/local/lib/libmpi.so.40",
}

// mpiLib is libmpi's entry points and predefined handles. Open MPI's handles
// (MPI_COMM_WORLD, MPI_FLOAT, ...) are the addresses of exported globals, so
// Dlsym gives them directly. Pointer arguments the library only reads or
// writes during the call are passed as Go pointers, as cgo's rules allow.
type mpiLib struct {
	commWorld, commSelf, float, byteType, opSum, infoNull, errorsReturn uintptr

	initThread        func(argc, argv unsafe.Pointer, required int32, provided *int32) int32
	initialized       func(flag *int32) int32
	commRank          func(comm uintptr, rank *int32) int32
	commSize          func(comm uintptr, size *int32) int32
	commSetErrhandler func(comm, errhandler uintptr) int32
	allreduce         func(sendbuf uintptr, recvbuf unsafe.Pointer, count int32, datatype, op, comm uintptr) int32
	bcast             func(buf unsafe.Pointer, count int32, datatype uintptr, root int32, comm uintptr) int32
	barrier           func(comm uintptr) int32
	finalize          func() int32
	abort             func(comm uintptr, errorcode int32) int32
	errorString       func(errorcode int32, str *byte, resultlen *int32) int32
	openPort          func(info uintptr, portName *byte) int32
	closePort         func(portName *byte) int32
	commAccept        func(portName *byte, info uintptr, root int32, comm uintptr, newcomm *uintptr) int32
	commConnect       func(portName *byte, info uintptr, root int32, comm uintptr, newcomm *uintptr) int32
	intercommMerge    func(intercomm uintptr, high int32, newcomm *uintptr) int32
	commSplit         func(comm uintptr, color, key int32, newcomm *uintptr) int32
	commDisconnect    func(comm *uintptr) int32
	commFree          func(comm *uintptr) int32
	commTestInter     func(comm uintptr, flag *int32) int32
}

// loadMPI opens libmpi and binds every symbol mpiLib needs. RTLD_GLOBAL is
// required: Open MPI's plugins (mca_*.so), loaded later by MPI_Init, resolve
// their symbols against libmpi's.
func loadMPI(path string) (*mpiLib, error) {
	candidates := libmpiCandidates
	if path != "" {
		candidates = []string{path}
	}
	var handle uintptr
	var tried []string
	for _, p := range candidates {
		h, err := purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL)
		if err == nil {
			handle = h
			break
		}
		tried = append(tried, err.Error())
	}
	if handle == 0 {
		return nil, fmt.Errorf("%w (tried %s)", ErrNoMPI, strings.Join(tried, "; "))
	}
	l := &mpiLib{}
	var errs []error
	sym := func(name string) uintptr {
		p, err := purego.Dlsym(handle, name)
		if err != nil {
			errs = append(errs, fmt.Errorf("symbol %s: %w", name, err))
			return 0
		}
		return p
	}
	fn := func(fptr any, name string) {
		if p := sym(name); p != 0 {
			purego.RegisterFunc(fptr, p)
		}
	}
	l.commWorld = sym("ompi_mpi_comm_world")
	l.commSelf = sym("ompi_mpi_comm_self")
	l.float = sym("ompi_mpi_float")
	l.byteType = sym("ompi_mpi_byte")
	l.opSum = sym("ompi_mpi_op_sum")
	l.infoNull = sym("ompi_mpi_info_null")
	l.errorsReturn = sym("ompi_mpi_errors_return")
	fn(&l.initThread, "MPI_Init_thread")
	fn(&l.initialized, "MPI_Initialized")
	fn(&l.commRank, "MPI_Comm_rank")
	fn(&l.commSize, "MPI_Comm_size")
	fn(&l.commSetErrhandler, "MPI_Comm_set_errhandler")
	fn(&l.allreduce, "MPI_Allreduce")
	fn(&l.bcast, "MPI_Bcast")
	fn(&l.barrier, "MPI_Barrier")
	fn(&l.finalize, "MPI_Finalize")
	fn(&l.abort, "MPI_Abort")
	fn(&l.errorString, "MPI_Error_string")
	fn(&l.openPort, "MPI_Open_port")
	fn(&l.closePort, "MPI_Close_port")
	fn(&l.commAccept, "MPI_Comm_accept")
	fn(&l.commConnect, "MPI_Comm_connect")
	fn(&l.intercommMerge, "MPI_Intercomm_merge")
	fn(&l.commSplit, "MPI_Comm_split")
	fn(&l.commDisconnect, "MPI_Comm_disconnect")
	fn(&l.commFree, "MPI_Comm_free")
	fn(&l.commTestInter, "MPI_Comm_test_inter")
	if len(errs) > 0 {
		// A libmpi without these is not Open MPI (MPICH names its handles
		// differently): say so rather than crash later.
		return nil, fmt.Errorf("%w: the loaded libmpi is not Open MPI: %w", ErrNoMPI, errors.Join(errs...))
	}
	return l, nil
}

// check turns an MPI return code into an error carrying MPI's own message.
// Only meaningful once MPI_ERRORS_RETURN is installed on the communicator;
// with the default handler MPI aborts the job before returning.
func (l *mpiLib) check(what string, rc int32) error {
	if rc == mpiSuccess {
		return nil
	}
	buf := make([]byte, mpiMaxErrorString)
	var n int32
	msg := "unknown error"
	if l.errorString(rc, &buf[0], &n) == mpiSuccess && n > 0 && int(n) <= len(buf) {
		msg = string(buf[:n])
	}
	return fmt.Errorf("dist: %s: MPI error %d: %s", what, rc, msg)
}

// cString returns s as a NUL-terminated byte slice for char* arguments.
func cString(s string) []byte { return append([]byte(s), 0) }

// goString returns the C string in b up to its first NUL.
func goString(b []byte) string {
	if i := strings.IndexByte(string(b), 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}
