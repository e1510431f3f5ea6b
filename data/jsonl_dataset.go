package data

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/minimind-go/minimind/jsonl"
)

// JSONLDataset holds the parsed records of JSONL files and tokenizes each
// sample when it is asked for, so it needs no preparation step but pays the
// tokenization every epoch.
type JSONLDataset struct {
	kind    Kind
	enc     *Encoder
	recs    []Record
	keys    []int // augmentation key of each record: its input line ordinal
	locs    []loc // where each record was read, for errors
	skipped int
}

// LoadJSONL reads and validates every line of the JSONL files (.jsonl or
// .jsonl.gz) as records of kind, in parallel. A malformed line is a
// *jsonl.LineError naming the file and line, unless opts.SkipBadLines is set; then
// it is counted (Skipped). The SFT/DPO augmentation of a record is keyed by
// its line's ordinal among the non-blank lines of all files, which is the
// example index when no line was skipped.
func LoadJSONL(ctx context.Context, paths []string, kind Kind, enc *Encoder, opts ReadOptions) (*JSONLDataset, error) {
	if enc == nil {
		return nil, errors.New("data: nil encoder")
	}
	if _, err := ParseKind(kind.String()); err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	ds := &JSONLDataset{kind: kind, enc: enc}
	err := parallelLines(ctx, paths, opts.Workers,
		func(ord int, line []byte) (keyed, error) {
			rec, err := ParseRecord(kind, line)
			return keyed{rec, ord}, err
		},
		func(path string, lineNo int, _ []byte, v keyed, err error) error {
			if err != nil {
				lerr := &jsonl.LineError{Path: path, Line: lineNo, Err: err}
				if !opts.SkipBadLines {
					return lerr
				}
				ds.skipped++
				if opts.OnBadLine != nil {
					opts.OnBadLine(lerr)
				}
				return nil
			}
			ds.recs = append(ds.recs, v.rec)
			ds.keys = append(ds.keys, v.key)
			ds.locs = append(ds.locs, loc{path, lineNo})
			return nil
		})
	if err != nil {
		return nil, err
	}
	return ds, nil
}

type keyed struct {
	rec Record
	key int
}

// loc is a record's file and 1-based line.
type loc struct {
	path string
	line int
}

// Kind returns the dataset kind.
func (d *JSONLDataset) Kind() Kind { return d.kind }

// Len returns the number of records.
func (d *JSONLDataset) Len() int { return len(d.recs) }

// MaxSeqLen returns the encoder's max_seq_len.
func (d *JSONLDataset) MaxSeqLen() int { return d.enc.opts.MaxSeqLen }

// Skipped returns how many malformed lines were skipped.
func (d *JSONLDataset) Skipped() int { return d.skipped }

// Record returns record i.
func (d *JSONLDataset) Record(i int) *Record { return &d.recs[i] }

// Sample tokenizes record i into dst. RLAIF datasets have no samples; use
// Prompt.
func (d *JSONLDataset) Sample(i int, dst *Sample) error {
	if i < 0 || i >= len(d.recs) {
		return fmt.Errorf("data: sample %d out of range [0, %d)", i, len(d.recs))
	}
	l := d.locs[i]
	if err := d.enc.Sample(d.kind, d.keys[i], &d.recs[i], dst); err != nil {
		return fmt.Errorf("data: %s line %d: %w", l.path, l.line, err)
	}
	if d.kind == KindDPO {
		// A side without reply tokens has no score: DPO cannot use it.
		for _, s := range []struct {
			name string
			s    *Sample
		}{{"chosen", dst}, {"rejected", dst.Rejected}} {
			if !slices.ContainsFunc(s.s.LossMask, func(m float32) bool { return m != 0 }) {
				return fmt.Errorf("data: %s line %d: %w: the %s conversation has no assistant reply within max_seq_len %d (an empty reply, or a prompt that fills it)",
					l.path, l.line, ErrMalformed, s.name, d.enc.opts.MaxSeqLen)
			}
		}
	}
	return nil
}

// Prompt returns RLAIF example i (a prompt with the generation prompt, and
// the reference answer).
func (d *JSONLDataset) Prompt(i int) (RLAIFPrompt, error) {
	if d.kind != KindRLAIF {
		return RLAIFPrompt{}, fmt.Errorf("data: Prompt on a %v dataset", d.kind)
	}
	if i < 0 || i >= len(d.recs) {
		return RLAIFPrompt{}, fmt.Errorf("data: prompt %d out of range [0, %d)", i, len(d.recs))
	}
	p, err := d.enc.RLAIF(d.keys[i], d.recs[i].Conversations)
	p.GT = d.recs[i].GT
	return p, err
}
