// Package atomicfile writes files so that readers see either the old content
// or the complete new content, never a torn mix, even across a crash.
//
// The sequence follows restic's local backend: write to a temporary file in
// the destination directory (so the rename stays on one file system), flush,
// fsync, close, rename over the destination, then fsync the directory so the
// rename itself is durable.
//
// A process killed mid-write leaves its temporary file behind
// (".<name>.tmp-<digits>"). Write removes such leftovers of its own target
// that have sat unmodified for a minute; CleanStale removes those of every
// target in a directory, for a program to call when it starts writing there.
//
// Error policy: every failure is returned wrapped with the path and the step
// that failed; on any error the temporary file is removed and the file at
// path is left as it was. Removing stale temp files is best effort and
// never fails a Write.
package atomicfile

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
)

// Write creates or replaces path with the bytes fn writes, with permission
// perm. fn receives a buffered writer; it must not retain it. If fn returns
// an error, Write returns it (wrapped) and the old file is untouched.
func Write(path string, perm os.FileMode, fn func(w io.Writer) error) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	// Leftovers of this target from a killed writer: best effort, a
	// failure to remove one must not fail this write.
	_, _ = CleanStale(dir, base, sameTargetAge)
	// The leading dot and the pattern keep stray temp files recognisable
	// and out of globs like *.pth (tempTarget parses them back).
	tmp, err := os.CreateTemp(dir, "."+base+tmpInfix+"*")
	if err != nil {
		return fmt.Errorf("atomicfile: create temp for %s: %w", path, err)
	}
	tmpName := tmp.Name()
	closed := false
	defer func() {
		if err != nil {
			if !closed {
				_ = tmp.Close()
			}
			_ = os.Remove(tmpName)
		}
	}()

	bw := bufio.NewWriterSize(tmp, 1<<20)
	if err := fn(bw); err != nil {
		return fmt.Errorf("atomicfile: write %s: %w", path, err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("atomicfile: flush %s: %w", path, err)
	}
	// CreateTemp uses 0600; apply the requested mode before the file becomes
	// visible under its final name.
	if err := tmp.Chmod(perm); err != nil {
		return fmt.Errorf("atomicfile: chmod %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("atomicfile: fsync %s: %w", path, err)
	}
	closed = true
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("atomicfile: close %s: %w", path, err)
	}
	if err := os.Rename(tmpName, path); err != nil {
		return fmt.Errorf("atomicfile: rename into %s: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		// The new content is in place; only its durability is in doubt.
		// Report it, but the temp file is gone already (renamed).
		return fmt.Errorf("atomicfile: fsync dir of %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory so a rename inside it survives a crash.
// Windows cannot open directories for syncing and some file systems refuse
// fsync on directories; those cases are not errors.
func syncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, os.ErrInvalid) || isNotSupported(err) {
		return nil
	}
	return err
}
