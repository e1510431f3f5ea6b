package dist

import "syscall"

// childProcAttr makes a helper process die with its parent, so an
// ompi-server started by rank 0 never outlives it.
func childProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
