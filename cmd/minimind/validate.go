package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Flag checks: each returns a usage error naming the flag and the value it
// was given, so `--learning_rate -1` is answered about --learning_rate.

// positiveInt requires v >= 1 for flag --name.
func positiveInt(name string, v int) error {
	return intAtLeast(name, v, 1)
}

// intAtLeast requires v >= lo for flag --name.
func intAtLeast(name string, v, lo int) error {
	if v < lo {
		if lo == 1 {
			return fmt.Errorf("%w: --%s %d: must be positive", errUsage, name, v)
		}
		return fmt.Errorf("%w: --%s %d: must be at least %d", errUsage, name, v, lo)
	}
	return nil
}

// intInRange requires lo <= v <= hi for flag --name.
func intInRange(name string, v, lo, hi int) error {
	if v < lo || v > hi {
		return fmt.Errorf("%w: --%s %d: must be between %d and %d", errUsage, name, v, lo, hi)
	}
	return nil
}

// positiveFloat requires a finite v > 0 for flag --name.
func positiveFloat(name string, v float64) error {
	if !(v > 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: --%s %v: must be a finite number > 0", errUsage, name, v)
	}
	return nil
}

// nonNegativeFloat requires a finite v >= 0 for flag --name.
func nonNegativeFloat(name string, v float64) error {
	if !(v >= 0) || math.IsInf(v, 0) {
		return fmt.Errorf("%w: --%s %v: must be a finite number >= 0", errUsage, name, v)
	}
	return nil
}

// firstError returns the first non-nil error: checks read as a list.
func firstError(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// suggestFlag returns the flag of fs closest to the unknown name (without
// dashes), or "" when none is close: the same name with '-' for '_' (or
// the other way round), a name that differs in case, or one within an
// edit distance of 2 (1 for names of up to 4 letters).
func suggestFlag(fs *pflag.FlagSet, unknown string) string {
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "-", "_")) }
	u := norm(unknown)
	maxDist := 2
	if len(u) <= 4 {
		maxDist = 1
	}
	best, bestDist := "", maxDist+1
	var names []string
	fs.VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	sort.Strings(names) // deterministic on ties
	for _, n := range names {
		if d := levenshtein(u, norm(n)); d < bestDist {
			best, bestDist = n, d
		}
	}
	return best
}

// levenshtein is the edit distance between a and b (bytes).
func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownFlagName extracts the flag name from pflag's "unknown flag: --x"
// and "unknown shorthand flag: 'x' in -x" errors; ok is false for others.
func unknownFlagName(err error) (string, bool) {
	msg := err.Error()
	if rest, ok := strings.CutPrefix(msg, "unknown flag: "); ok {
		return strings.TrimLeft(rest, "-"), true
	}
	return "", false
}

// memAvailable reads MemAvailable from /proc/meminfo in bytes; ok is
// false where the kernel does not report it (not Linux, old kernels).
func memAvailable() (int64, bool) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	return parseMemAvailable(f)
}

// parseMemAvailable reads the "MemAvailable: N kB" line of a meminfo file.
func parseMemAvailable(r io.Reader) (int64, bool) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 || fields[0] != "MemAvailable:" {
			continue
		}
		n, err := strconv.ParseInt(fields[1], 10, 64)
		if err != nil || n < 0 {
			return 0, false
		}
		if len(fields) >= 3 && strings.EqualFold(fields[2], "kB") {
			n *= 1024
		}
		return n, true
	}
	return 0, false
}

// checkFits returns a usage error when need bytes exceed avail (ok false:
// unknown, no check). what says what would be allocated, flags included,
// e.g. "the KV cache for --slots 8 × --context_len 4096".
func checkFits(what string, need float64, avail int64, ok bool) error {
	if !ok || need <= float64(avail) {
		return nil
	}
	return fmt.Errorf("%w: %s needs about %s (%.0f bytes) but only %s (%d bytes) of memory is available: use smaller values",
		errUsage, what, humanBytes(int64(min(need, math.MaxInt64/2))), need, humanBytes(avail), avail)
}
