//go:build unix

package atomicfile

import (
	"errors"
	"syscall"
)

// isNotSupported reports errors some file systems (e.g. certain FUSE or
// network mounts) return for fsync on a directory.
func isNotSupported(err error) bool {
	return errors.Is(err, syscall.EINVAL) || errors.Is(err, syscall.ENOTSUP)
}
