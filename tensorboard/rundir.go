package tensorboard

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// runStamp is the timestamp of a run directory's name, sortable as text.
const runStamp = "20060102-150405"

// DefaultDir is the run directory of a run of stage started at now:
// {outDir}/runs/{stage}-{yyyymmdd-hhmmss} (now's own time zone).
func DefaultDir(outDir, stage string, now time.Time) string {
	return filepath.Join(outDir, "runs", stage+"-"+now.Format(runStamp))
}

// LatestDir finds the newest run directory of stage under {outDir}/runs:
// the one whose name is stage, a dash and the latest timestamp. ok is
// false when there is none (no runs directory is not an error).
func LatestDir(outDir, stage string) (dir string, ok bool, err error) {
	root := filepath.Join(outDir, "runs")
	entries, err := os.ReadDir(root)
	if errors.Is(err, fs.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("tensorboard: find the latest %s run: %w", stage, err)
	}
	var best time.Time
	for _, e := range entries {
		stamp, found := strings.CutPrefix(e.Name(), stage+"-")
		if !found || !e.IsDir() {
			continue
		}
		// Parsing the whole rest keeps "sft" from matching "sft-lora-...".
		t, err := time.Parse(runStamp, stamp)
		if err != nil {
			continue
		}
		if !ok || t.After(best) {
			dir, best, ok = filepath.Join(root, e.Name()), t, true
		}
	}
	return dir, ok, nil
}

// RunDir is where a run of stage writes its event files when no directory
// is given: the latest run directory of stage when resuming and there is
// one (the resumed run adds a file there), else DefaultDir.
func RunDir(outDir, stage string, resume bool, now time.Time) (string, error) {
	if resume {
		dir, ok, err := LatestDir(outDir, stage)
		if err != nil || ok {
			return dir, err
		}
	}
	return DefaultDir(outDir, stage, now), nil
}
