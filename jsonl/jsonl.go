// Package jsonl reads JSON Lines files, the format of every MiniMind dataset
// and of the tokenizer's text streams, one line at a time.
//
// Main types: Reader, which streams the non-blank lines of a file or stream
// and transparently decompresses gzip, and LineError, which names the file
// and line of anything wrong with one line. The package only splits lines;
// what a line must hold is the caller's business, and callers wrap their
// parse errors in a *LineError so every message reads
// "read sft.jsonl line 17: ...".
//
// Policy:
//   - Gzip is recognised by its magic bytes (0x1f 0x8b), not by the file
//     name, so "x.jsonl.gz", "x.gz" and a gzip stream on stdin all work.
//   - Lines may be arbitrarily long; a line ending is "\n" or "\r\n", and
//     leading and trailing white space is dropped.
//   - Blank (all white space) lines are skipped but still counted, so line
//     numbers are the ones an editor shows.
//   - I/O and decompression errors are a *LineError naming the line being
//     read. Nothing panics on input.
//
// Threads: a Reader is used by one goroutine. It takes no context; long
// readers check theirs between lines.
//
// The package imports nothing from the module, so every package that reads
// JSONL (data, tokenizer, cmd) can share it.
package jsonl

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
)

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

// bufSize is the read buffer: large enough that ordinary lines need one
// ReadSlice, so the common case copies each line once.
const bufSize = 1 << 20

// Reader streams the non-blank lines of a JSONL file or stream.
type Reader struct {
	name    string
	br      *bufio.Reader
	closers []io.Closer
	line    int
	buf     []byte
}

// Open opens a JSONL file, plain or gzip-compressed, for reading. Close
// releases it.
func Open(path string) (*Reader, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	r, err := NewReader(f, path)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closers = append(r.closers, f)
	return r, nil
}

// NewReader reads JSONL, plain or gzip-compressed, from r; name is used in
// errors (a path, or "stdin"). Close releases the decompressor but not r.
func NewReader(r io.Reader, name string) (*Reader, error) {
	return newReader(r, name, bufSize)
}

// newReader is NewReader with a chosen buffer size, so tests can make every
// line a "long" one.
func newReader(r io.Reader, name string, size int) (*Reader, error) {
	br := bufio.NewReaderSize(r, size)
	jr := &Reader{name: name, br: br}
	if magic, _ := br.Peek(2); len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", name, err)
		}
		jr.closers = append(jr.closers, zr)
		jr.br = bufio.NewReaderSize(zr, size)
	}
	return jr, nil
}

// Name returns the name used in errors.
func (r *Reader) Name() string { return r.name }

// Line returns the 1-based number of the line Next returned last.
func (r *Reader) Line() int { return r.line }

// Errorf returns a *LineError about the line Next returned last.
func (r *Reader) Errorf(format string, args ...any) error {
	return &LineError{Path: r.name, Line: r.line, Err: fmt.Errorf(format, args...)}
}

// Next returns the next non-blank line without its line ending and outer
// white space, valid until the following call, or io.EOF after the last
// one. Other errors (I/O, a corrupt gzip stream) are a *LineError.
func (r *Reader) Next() ([]byte, error) {
	for {
		r.buf = r.buf[:0]
		var err error
		for {
			var chunk []byte
			// ReadSlice, not ReadBytes: one copy into r.buf, reused
			// across lines, instead of a fresh slice per line.
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

// Close releases the decompressor and, for a Reader from Open, the file.
func (r *Reader) Close() error {
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i].Close())
	}
	r.closers = nil
	return errors.Join(errs...)
}
