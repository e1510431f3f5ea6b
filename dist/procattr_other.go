//go:build !linux

package dist

import "syscall"

// childProcAttr: without Pdeathsig, the helper is stopped by Close only.
func childProcAttr() *syscall.SysProcAttr { return nil }
