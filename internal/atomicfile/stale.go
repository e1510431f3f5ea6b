package atomicfile

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// tmpInfix separates the target's name from CreateTemp's random digits in
// a temp file's name: "." + target + tmpInfix + digits.
const tmpInfix = ".tmp-"

// StaleAge is how long a temp file must have gone unmodified before
// CleanStale (as the trainer calls it at start) treats it as left by a
// killed process. A live Write modifies its temp file continuously, so this
// is far above any pause in a real write.
const StaleAge = 10 * time.Minute

// sameTargetAge is the same for a temp file of the very target Write is
// about to replace: a second live writer of one path is already a race, so
// a shorter wait suffices.
const sameTargetAge = time.Minute

// tempTarget returns the target name of a temp file name Write creates
// (".model.pth.tmp-123" → "model.pth"), or false if name does not have
// exactly that form.
func tempTarget(name string) (string, bool) {
	if !strings.HasPrefix(name, ".") {
		return "", false
	}
	i := strings.LastIndex(name, tmpInfix)
	if i <= 1 {
		return "", false
	}
	digits := name[i+len(tmpInfix):]
	if digits == "" {
		return "", false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	return name[1:i], true
}

// CleanStale removes the temp files Write left in dir when a process died
// mid-write: regular files named exactly ".<target>.tmp-<digits>" (for any
// target; only target when it is not "") that have not been modified for
// maxAge. Nothing else is touched: other names, directories, symlinks and
// recent temp files, which may belong to a live writer. It returns the
// paths it removed; an error reading dir or removing a file is returned
// after the rest were tried.
func CleanStale(dir, target string, maxAge time.Duration) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("atomicfile: clean stale temp files in %s: %w", dir, err)
	}
	cutoff := time.Now().Add(-maxAge)
	var removed []string
	var errs []error
	for _, e := range ents {
		t, ok := tempTarget(e.Name())
		if !ok || (target != "" && t != target) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil || info.ModTime().After(cutoff) {
			continue // gone meanwhile, or possibly in use
		}
		p := filepath.Join(dir, e.Name())
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("atomicfile: remove stale %s: %w", p, err))
			continue
		}
		removed = append(removed, p)
	}
	return removed, errors.Join(errs...)
}
