//go:build !unix

package atomicfile

// isNotSupported is false where syncDir does not sync directories at all.
func isNotSupported(error) bool { return false }
