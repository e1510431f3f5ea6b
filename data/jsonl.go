package data

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

// ErrMalformed is wrapped by every error about a JSONL line that is not a
// valid record of the expected kind.
var ErrMalformed = errors.New("malformed record")

// LineError is an error about one line of a JSONL file. Its message reads
// "read sft.jsonl line 17: ...".
type LineError struct {
	Path string // file name as given by the caller
	Line int    // 1-based line number
	Err  error
}

func (e *LineError) Error() string {
	return fmt.Sprintf("read %s line %d: %v", e.Path, e.Line, e.Err)
}

// Unwrap returns the underlying error.
func (e *LineError) Unwrap() error { return e.Err }

// JSONLReader streams the non-blank lines of a JSONL file, transparently
// decompressing gzip (recognised by its magic bytes, so the .gz extension is
// a convention, not a requirement). Lines may be arbitrarily long.
type JSONLReader struct {
	name   string
	br     *bufio.Reader
	closer []io.Closer
	line   int
	buf    []byte
}

// OpenJSONL opens a .jsonl or .jsonl.gz file for reading.
func OpenJSONL(path string) (*JSONLReader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r, err := NewJSONLReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = append(r.closer, f)
	return r, nil
}

// NewJSONLReader reads JSONL from r; name is used in errors.
func NewJSONLReader(r io.Reader, name string) (*JSONLReader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	jr := &JSONLReader{name: name, br: br}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		jr.closer = append(jr.closer, zr)
		jr.br = bufio.NewReaderSize(zr, 1<<20)
	}
	return jr, nil
}

// Name returns the name used in errors.
func (r *JSONLReader) Name() string { return r.name }

// Line returns the 1-based number of the line Next returned last.
func (r *JSONLReader) Line() int { return r.line }

// Next returns the next non-blank line without its line ending, valid until
// the following call, or io.EOF after the last one. Other errors (I/O, a
// corrupt gzip stream) are wrapped with the file name and line.
func (r *JSONLReader) Next() ([]byte, error) {
	for {
		r.buf = r.buf[:0]
		var err error
		for {
			var chunk []byte
			chunk, err = r.br.ReadSlice('\n')
			r.buf = append(r.buf, chunk...)
			if err != bufio.ErrBufferFull {
				break
			}
		}
		if err != nil && err != io.EOF {
			return nil, &LineError{Path: r.name, Line: r.line + 1, Err: err}
		}
		if len(r.buf) == 0 && err == io.EOF {
			return nil, io.EOF
		}
		r.line++
		b := bytes.TrimSpace(r.buf)
		if len(b) > 0 {
			return b, nil
		}
		if err == io.EOF {
			return nil, io.EOF
		}
	}
}

// Close releases the file and decompressor.
func (r *JSONLReader) Close() error {
	var errs []error
	for i := len(r.closer) - 1; i >= 0; i-- {
		errs = append(errs, r.closer[i].Close())
	}
	r.closer = nil
	return errors.Join(errs...)
}

// ReadOptions control how JSONL files are read.
type ReadOptions struct {
	// SkipBadLines skips malformed lines (counting them) instead of failing
	// on the first. I/O and decompression errors are never skipped.
	SkipBadLines bool
	// OnBadLine, if set, is called with each skipped line's *LineError.
	OnBadLine func(err error)
	// Workers is the number of parsing and tokenizing goroutines
	// (0 = GOMAXPROCS).
	Workers int
}
