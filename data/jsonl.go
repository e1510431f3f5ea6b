package data

import "errors"

// ErrMalformed is wrapped by every error about a JSONL line that is not a
// valid record of the expected kind.
var ErrMalformed = errors.New("malformed record")

// ReadOptions control how JSONL files are read.
type ReadOptions struct {
	// SkipBadLines skips malformed lines (counting them) instead of failing
	// on the first. I/O and decompression errors are never skipped.
	SkipBadLines bool
	// OnBadLine, if set, is called with each skipped line's *jsonl.LineError.
	OnBadLine func(err error)
	// Workers is the number of parsing and tokenizing goroutines
	// (0 = GOMAXPROCS).
	Workers int
}
