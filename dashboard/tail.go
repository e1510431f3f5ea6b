package dashboard

import (
	"bytes"
	"errors"
	"io"
	"io/fs"
	"os"
)

// tail reads a growing line-oriented file incrementally: each poll returns
// the complete lines written since the last one. A last line without its
// newline is left for the next poll (a writer may be halfway through it),
// unless accept says it is already whole (a finished file that lacks the
// final newline). When the file is replaced (a resumed run rewrites
// metrics.jsonl through a rename) or shrinks, the next poll starts again
// from the top and reports reset, so the caller drops what it kept.
type tail struct {
	path   string
	info   os.FileInfo // the file read last time; nil before the first read
	offset int64       // bytes consumed
	line   int         // lines consumed, for line numbers in notes
	torn   int         // bytes of an unfinished last line, left unread
	open   bool        // the last line consumed had no newline yet
}

// poll returns the new complete lines and the 1-based line number of the
// first. A missing file is no error: the run has not written it yet.
func (t *tail) poll(accept func([]byte) bool) (lines [][]byte, first int, reset bool, err error) {
	f, err := os.Open(t.path)
	if errors.Is(err, fs.ErrNotExist) {
		reset = t.info != nil
		t.info, t.offset, t.line, t.torn, t.open = nil, 0, 0, 0, false
		return nil, 1, reset, nil
	}
	if err != nil {
		return nil, 0, false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return nil, 0, false, err
	}
	if t.info != nil && (!os.SameFile(t.info, info) || info.Size() < t.offset) {
		reset = true
		t.offset, t.line, t.torn, t.open = 0, 0, 0, false
	}
	t.info = info
	if info.Size() == t.offset {
		t.torn = 0
		return nil, t.line + 1, reset, nil
	}
	buf := make([]byte, info.Size()-t.offset)
	n, err := f.ReadAt(buf, t.offset)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, 0, reset, err
	}
	buf = buf[:n]
	if t.open && buf[0] == '\n' { // the newline of a line accepted without it
		t.offset++
		buf = buf[1:]
	}
	t.open, t.torn = false, 0
	first = t.line + 1
	for len(buf) > 0 {
		i := bytes.IndexByte(buf, '\n')
		if i < 0 {
			if !accept(buf) {
				t.torn = len(buf)
				break
			}
			t.open = true
			i = len(buf) - 1
			lines = append(lines, buf)
		} else {
			lines = append(lines, buf[:i])
		}
		t.offset += int64(i + 1)
		t.line++
		buf = buf[i+1:]
	}
	return lines, first, reset, nil
}
