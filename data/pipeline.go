package data

import (
	"context"
	"io"
	"runtime"
	"sync"

	"github.com/minimind-go/minimind/jsonl"
)

// lineChunk is a run of lines of one file, handed to a worker.
type lineChunk struct {
	seq     int
	ord     int // ordinal of the first line among all non-blank input lines
	path    string
	lineNos []int
	lines   [][]byte
}

type chunkResult[T any] struct {
	c    *lineChunk
	vals []T
	errs []error
}

// chunkBytes is the text a worker gets at a time: large enough to amortise
// channel traffic, small enough to keep both cores busy near the end.
const chunkBytes = 256 << 10

// parallelLines reads the lines of paths in order, applies work to each on
// workers goroutines (0 = GOMAXPROCS) and calls collect for every line in
// file order, on the calling goroutine. work gets the line's ordinal among
// all non-blank lines of all files (0-based). A collect error or a read
// error stops everything; work errors are handed to collect, which decides.
func parallelLines[T any](ctx context.Context, paths []string, workers int,
	work func(ord int, line []byte) (T, error),
	collect func(path string, lineNo int, line []byte, v T, err error) error) error {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	jobs := make(chan *lineChunk, workers)
	results := make(chan chunkResult[T], workers)
	// inflight bounds the chunks read but not yet collected, so a slow
	// chunk cannot make the reorder buffer grow without limit.
	inflight := make(chan struct{}, 4*workers)
	readErr := make(chan error, 1)

	go func() {
		defer close(jobs)
		readErr <- readChunks(ctx, paths, jobs, inflight)
	}()
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				r := chunkResult[T]{c: c, vals: make([]T, len(c.lines)), errs: make([]error, len(c.lines))}
				for k, line := range c.lines {
					r.vals[k], r.errs[k] = work(c.ord+k, line)
				}
				select {
				case results <- r:
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	go func() { wg.Wait(); close(results) }()

	pending := map[int]chunkResult[T]{}
	next := 0
	var err error
	for r := range results {
		if err != nil {
			continue // draining after a failure
		}
		pending[r.c.seq] = r
		for {
			p, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			<-inflight
			for k := range p.c.lines {
				if err = collect(p.c.path, p.c.lineNos[k], p.c.lines[k], p.vals[k], p.errs[k]); err != nil {
					cancel()
					break
				}
			}
			if err != nil {
				break
			}
		}
	}
	if err != nil {
		return err
	}
	if err := <-readErr; err != nil {
		return err
	}
	return ctx.Err()
}

// readChunks sends the lines of paths, in order, as chunks on jobs.
func readChunks(ctx context.Context, paths []string, jobs chan<- *lineChunk, inflight chan struct{}) error {
	seq, ord := 0, 0
	for _, path := range paths {
		r, err := jsonl.Open(path)
		if err != nil {
			return err
		}
		err = func() error {
			defer r.Close()
			c := &lineChunk{path: path, ord: ord}
			size := 0
			send := func() error {
				select {
				case inflight <- struct{}{}:
				case <-ctx.Done():
					return ctx.Err()
				}
				c.seq = seq
				seq++
				select {
				case jobs <- c:
				case <-ctx.Done():
					return ctx.Err()
				}
				c = &lineChunk{path: path, ord: ord}
				size = 0
				return nil
			}
			for {
				line, err := r.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return err
				}
				c.lines = append(c.lines, append([]byte(nil), line...))
				c.lineNos = append(c.lineNos, r.Line())
				ord++
				size += len(line)
				if size >= chunkBytes {
					if err := send(); err != nil {
						return err
					}
				}
			}
			if len(c.lines) > 0 {
				return send()
			}
			return nil
		}()
		if err != nil {
			return err
		}
	}
	return nil
}
