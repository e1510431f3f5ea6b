package data

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/minimind-go/minimind/internal/atomicfile"
	"github.com/minimind-go/minimind/jsonl"
)

// PrepareProgress reports how far Prepare has come.
type PrepareProgress struct {
	Examples int64 // examples written so far
	Bytes    int64 // JSONL bytes (uncompressed) consumed so far
	Tokens   int64 // ids stored so far
}

// PrepareOptions configure Prepare.
type PrepareOptions struct {
	Paths []string // input .jsonl / .jsonl.gz files, read in order
	Out   string   // prepared file to write (atomically)
	Kind  Kind     // KindPretrain, KindSFT or KindDPO
	ReadOptions
	// OnProgress, if set, is called on the calling goroutine about every
	// 4 MB of input and once at the end.
	OnProgress func(PrepareProgress)
}

// PrepareStats summarise a Prepare run.
type PrepareStats struct {
	Examples  int           // examples written
	Skipped   int           // malformed lines skipped
	Truncated int           // sequences that reached max_seq_len (cut, or exactly full)
	Tokens    int64         // ids stored (unpadded)
	Bytes     int64         // JSONL bytes read (uncompressed, line endings excluded)
	FileSize  int64         // bytes written
	Elapsed   time.Duration // wall time, reading to rename
}

// MBPerSec is the input throughput in MB (10^6 bytes) of JSONL per second.
func (s PrepareStats) MBPerSec() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Bytes) / 1e6 / s.Elapsed.Seconds()
}

// Prepare tokenizes JSONL files once, in parallel, into a prepared file
// (see the format in prepared.go) that OpenPrepared reads back into the same
// samples a JSONLDataset with the same encoder gives. Ids are stored as
// uint16 when the vocabulary fits, else uint32. Example indices (which seed
// the SFT augmentation) count the records kept, as in JSONLDataset.
func Prepare(ctx context.Context, enc *Encoder, opts PrepareOptions) (PrepareStats, error) {
	start := time.Now()
	var st PrepareStats
	if enc == nil {
		return st, errors.New("data: prepare: nil encoder")
	}
	if opts.Kind != KindPretrain && opts.Kind != KindSFT && opts.Kind != KindDPO {
		return st, fmt.Errorf("data: prepare: kind %v cannot be prepared (pretrain, sft or dpo)", opts.Kind)
	}
	if len(opts.Paths) == 0 || opts.Out == "" {
		return st, errors.New("data: prepare: no input files or no output path")
	}
	if len(enc.spans.head) > maxHeadIDs || len(enc.spans.end) > maxEndIDs {
		return st, fmt.Errorf("data: prepare: tokenizer's assistant header (%d ids) or end (%d ids) is too long for the file format",
			len(enc.spans.head), len(enc.spans.end))
	}
	eo := enc.Options()
	h := &PreparedHeader{
		Kind: opts.Kind, IDWidth: 4, VocabSize: enc.VocabSize(), MaxSeqLen: eo.MaxSeqLen,
		Seed: eo.Seed, SystemPromptProb: eo.SystemPromptProb, DropEmptyThinkProb: eo.DropEmptyThinkProb,
		spans: enc.spans,
	}
	if h.VocabSize <= 1<<16 {
		h.IDWidth = 2
	}
	offsets := []uint64{0}
	var payload []byte
	var lastReport int64
	report := func() {
		if opts.OnProgress != nil {
			opts.OnProgress(PrepareProgress{Examples: int64(st.Examples), Bytes: st.Bytes, Tokens: st.Tokens})
		}
	}
	type encoded struct {
		seqs      [][]int32
		truncated int
	}
	err := parallelLines(ctx, opts.Paths, opts.Workers,
		func(ord int, line []byte) (encoded, error) {
			rec, err := ParseRecord(opts.Kind, line)
			if err != nil {
				return encoded{}, err
			}
			seqs, err := enc.Encode(opts.Kind, ord, &rec)
			if err != nil {
				return encoded{}, fmt.Errorf("%w: %v", ErrMalformed, err)
			}
			v := encoded{seqs: seqs}
			for _, q := range seqs {
				if len(q) >= eo.MaxSeqLen {
					v.truncated++
				}
			}
			return v, nil
		},
		func(path string, lineNo int, line []byte, v encoded, err error) error {
			st.Bytes += int64(len(line))
			if err != nil {
				lerr := &jsonl.LineError{Path: path, Line: lineNo, Err: err}
				if !opts.SkipBadLines {
					return lerr
				}
				st.Skipped++
				if opts.OnBadLine != nil {
					opts.OnBadLine(lerr)
				}
				return nil
			}
			for _, q := range v.seqs {
				for _, id := range q {
					if id < 0 || int(id) >= h.VocabSize {
						return fmt.Errorf("data: prepare: id %d outside vocab %d", id, h.VocabSize)
					}
					if h.IDWidth == 2 {
						payload = binary.LittleEndian.AppendUint16(payload, uint16(id))
					} else {
						payload = binary.LittleEndian.AppendUint32(payload, uint32(id))
					}
				}
				st.Tokens += int64(len(q))
				offsets = append(offsets, uint64(st.Tokens))
			}
			st.Examples++
			st.Truncated += v.truncated
			if st.Bytes-lastReport >= 4<<20 {
				lastReport = st.Bytes
				report()
			}
			return nil
		})
	if err != nil {
		return st, err
	}
	if st.Examples == 0 {
		// An empty prepared file would only fail later, in training, far
		// from its cause.
		why := "no non-blank lines"
		if st.Skipped > 0 {
			why = fmt.Sprintf("all %d lines malformed and skipped", st.Skipped)
		}
		return st, fmt.Errorf("data: prepare: no examples in %s (%s); %s not written", strings.Join(opts.Paths, ", "), why, opts.Out)
	}
	h.Examples, h.Tokens = st.Examples, st.Tokens
	err = atomicfile.Write(opts.Out, 0o644, func(w io.Writer) error {
		return writePrepared(w, h, offsets, payload)
	})
	if err != nil {
		return st, fmt.Errorf("data: prepare: %w", err)
	}
	st.FileSize = int64(headerSize + 8*len(offsets) + len(payload) + 4)
	st.Elapsed = time.Since(start)
	report()
	return st, nil
}
