package data

import (
	"errors"

	"github.com/minimind-go/minimind/jsonl"
)

// ErrMalformed is wrapped by every error about a JSONL line that is not a
// valid record of the expected kind.
var ErrMalformed = errors.New("malformed record")

// OpenJSONL opens a .jsonl or .jsonl.gz file for reading: jsonl.Open, kept
// for the callers that read a dataset's first lines through data. New code
// should call jsonl.Open.
func OpenJSONL(path string) (*jsonl.Reader, error) { return jsonl.Open(path) }

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
