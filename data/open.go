package data

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/minimind-go/minimind/tokenizer"
)

// ErrPreparedMismatch is Open's error for a prepared file that does not fit
// the run: data of another kind, or ids of another vocabulary.
var ErrPreparedMismatch = errors.New("prepared file does not fit")

// OpenOptions tune Open; the zero value reads strictly and says nothing.
type OpenOptions struct {
	// Read is passed to LoadJSONL for JSONL files (SkipBadLines, Workers,
	// OnBadLine); a prepared file ignores it.
	Read ReadOptions
	// Note, when set, gets remarks that are not errors: a prepared file's
	// own max_seq_len used instead of maxSeqLen. (Malformed lines skipped
	// are counted by the JSONLDataset's Skipped.)
	Note func(msg string)
}

// Open opens a training set of kind for the tokenizer tok, the way every
// training command reads --data_path. One path that is not JSONL (see
// IsJSONL) is a file written by Prepare: it must hold kind data for tok's
// vocabulary (ErrPreparedMismatch otherwise), and its own max_seq_len
// wins over maxSeqLen, with a note when they differ. Otherwise paths are
// JSONL files (.jsonl, .jsonl.gz), read in order and tokenized on the fly
// with DefaultEncodeOptions(maxSeqLen) and seed (which drives SFT's
// augmentation).
func Open(ctx context.Context, paths []string, kind Kind, tok *tokenizer.Tokenizer, maxSeqLen int, seed uint64, opts OpenOptions) (Dataset, error) {
	note := opts.Note
	if note == nil {
		note = func(string) {}
	}
	if tok == nil {
		return nil, errors.New("data: open: nil tokenizer")
	}
	if len(paths) == 1 && !IsJSONL(paths[0]) {
		d, err := OpenPrepared(paths[0])
		if err != nil {
			return nil, err
		}
		h := d.Header()
		if h.Kind != kind {
			return nil, fmt.Errorf("%s holds %v data, not %v: %w", paths[0], h.Kind, kind, ErrPreparedMismatch)
		}
		if h.VocabSize != tok.VocabSize() {
			return nil, fmt.Errorf("%s was prepared with a %d-token vocabulary; the tokenizer has %d: %w", paths[0], h.VocabSize, tok.VocabSize(), ErrPreparedMismatch)
		}
		if h.MaxSeqLen != maxSeqLen {
			note(fmt.Sprintf("%s was prepared with max_seq_len %d; using it", paths[0], h.MaxSeqLen))
		}
		return d, nil
	}
	eo := DefaultEncodeOptions(maxSeqLen)
	eo.Seed = seed
	enc, err := NewEncoder(tok, eo)
	if err != nil {
		return nil, err
	}
	ds, err := LoadJSONL(ctx, paths, kind, enc, opts.Read)
	if err != nil {
		return nil, err // a nil *JSONLDataset must not become a non-nil Dataset
	}
	return ds, nil
}

// IsJSONL reports whether path names JSONL data rather than a prepared
// file: it ends in .jsonl, .jsonl.gz or .json, in any case.
func IsJSONL(path string) bool {
	p := strings.ToLower(path)
	return strings.HasSuffix(p, ".jsonl") || strings.HasSuffix(p, ".jsonl.gz") || strings.HasSuffix(p, ".json")
}
