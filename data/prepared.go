package data

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math"
	"os"
)

// ErrCorrupt is wrapped by every error about a prepared file that is
// truncated, damaged or not a prepared file at all.
var ErrCorrupt = errors.New("corrupt prepared data file")

// Prepared file format, version 1 (all integers little-endian):
//
//	offset  size  field
//	0       8     magic "MMDATA\x00\x01"
//	8       4     version (1)
//	12      1     kind (1 pretrain, 2 sft, 3 dpo)
//	13      1     id width in bytes: 2 (vocab <= 65536) or 4
//	14      1     length of the span header sequence (<= 8)
//	15      1     length of the span end sequence (<= 4)
//	16      4     vocab size; every id is below it
//	20      4     max_seq_len the sequences were truncated to
//	24      8     examples (DPO: pairs)
//	32      8     sequences = examples (DPO: 2 × examples, chosen then rejected)
//	40      8     tokens in the payload
//	48      8     SFT/DPO augmentation seed
//	56      8     system prompt probability (float64 bits)
//	64      8     empty-think drop probability (float64 bits)
//	72      32    span header ids, 8 × uint32 (encode("<|im_start|>assistant\n"))
//	104     16    span end ids, 4 × uint32 (encode("<|im_end|>\n"))
//	120     8     reserved (0)
//	128     8×(sequences+1)  token offsets of each sequence, 0 first, tokens last
//	...     width×tokens     ids, unpadded, each sequence <= max_seq_len
//	...     4     CRC-32C of every byte before it
//
// Sequences are stored unpadded and without masks: padding and the loss mask
// are recomputed from the ids by the same code as on the fly (the mask
// depends only on the ids and the span sequences), so both paths give
// identical samples.
const (
	preparedMagic   = "MMDATA\x00\x01"
	preparedVersion = 1
	headerSize      = 128
	maxHeadIDs      = 8
	maxEndIDs       = 4
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// PreparedHeader describes a prepared file.
type PreparedHeader struct {
	Kind               Kind
	IDWidth            int // bytes per id: 2 or 4
	VocabSize          int
	MaxSeqLen          int
	Examples           int
	Tokens             int64
	Seed               uint64
	SystemPromptProb   float64
	DropEmptyThinkProb float64
	spans              spanRule
}

func seqsPer(k Kind) int {
	if k == KindDPO {
		return 2
	}
	return 1
}

// writePrepared writes the file body; offsets has sequences+1 entries and
// payload holds the ids already encoded at h.IDWidth.
func writePrepared(w io.Writer, h *PreparedHeader, offsets []uint64, payload []byte) error {
	crc := crc32.New(castagnoli)
	mw := io.MultiWriter(w, crc)
	var hdr [headerSize]byte
	copy(hdr[:8], preparedMagic)
	le := binary.LittleEndian
	le.PutUint32(hdr[8:], preparedVersion)
	hdr[12] = byte(h.Kind)
	hdr[13] = byte(h.IDWidth)
	hdr[14] = byte(len(h.spans.head))
	hdr[15] = byte(len(h.spans.end))
	le.PutUint32(hdr[16:], uint32(h.VocabSize))
	le.PutUint32(hdr[20:], uint32(h.MaxSeqLen))
	le.PutUint64(hdr[24:], uint64(h.Examples))
	le.PutUint64(hdr[32:], uint64(len(offsets)-1))
	le.PutUint64(hdr[40:], uint64(h.Tokens))
	le.PutUint64(hdr[48:], h.Seed)
	le.PutUint64(hdr[56:], math.Float64bits(h.SystemPromptProb))
	le.PutUint64(hdr[64:], math.Float64bits(h.DropEmptyThinkProb))
	for k, id := range h.spans.head {
		le.PutUint32(hdr[72+4*k:], uint32(id))
	}
	for k, id := range h.spans.end {
		le.PutUint32(hdr[104+4*k:], uint32(id))
	}
	if _, err := mw.Write(hdr[:]); err != nil {
		return err
	}
	buf := make([]byte, 0, 64<<10)
	for _, o := range offsets {
		buf = le.AppendUint64(buf, o)
		if len(buf) >= 64<<10-8 {
			if _, err := mw.Write(buf); err != nil {
				return err
			}
			buf = buf[:0]
		}
	}
	if _, err := mw.Write(buf); err != nil {
		return err
	}
	if _, err := mw.Write(payload); err != nil {
		return err
	}
	_, err := w.Write(le.AppendUint32(nil, crc.Sum32()))
	return err
}

// PreparedDataset is a prepared file held in memory. It is safe for
// concurrent use.
type PreparedDataset struct {
	hdr     PreparedHeader
	offsets []byte // (sequences+1) × uint64
	payload []byte // tokens × width
}

// OpenPrepared reads and fully validates a prepared file (checksum,
// offsets, id range), so that Sample can never fail on a bad file.
func OpenPrepared(path string) (*PreparedDataset, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read prepared data: %w", err)
	}
	d, err := ParsePrepared(b)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return d, nil
}

// ParsePrepared validates the bytes of a prepared file and returns a dataset
// that refers to b. Every inconsistency is an error wrapping ErrCorrupt.
func ParsePrepared(b []byte) (*PreparedDataset, error) {
	corrupt := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
	if len(b) < headerSize+4 {
		return nil, corrupt("%d bytes is shorter than the header", len(b))
	}
	if string(b[:8]) != preparedMagic {
		return nil, corrupt("bad magic (not a minimind prepared data file)")
	}
	le := binary.LittleEndian
	if v := le.Uint32(b[8:]); v != preparedVersion {
		return nil, corrupt("version %d, this build reads version %d", v, preparedVersion)
	}
	h := PreparedHeader{
		Kind:               Kind(b[12]),
		IDWidth:            int(b[13]),
		VocabSize:          int(le.Uint32(b[16:])),
		MaxSeqLen:          int(le.Uint32(b[20:])),
		Seed:               le.Uint64(b[48:]),
		SystemPromptProb:   math.Float64frombits(le.Uint64(b[56:])),
		DropEmptyThinkProb: math.Float64frombits(le.Uint64(b[64:])),
	}
	if h.Kind != KindPretrain && h.Kind != KindSFT && h.Kind != KindDPO {
		return nil, corrupt("unknown kind %d", b[12])
	}
	if h.IDWidth != 2 && h.IDWidth != 4 {
		return nil, corrupt("id width %d", h.IDWidth)
	}
	if h.VocabSize < 1 || (h.IDWidth == 2 && h.VocabSize > 1<<16) || h.VocabSize > math.MaxInt32 {
		return nil, corrupt("vocab size %d with %d-byte ids", h.VocabSize, h.IDWidth)
	}
	if h.MaxSeqLen < 2 {
		return nil, corrupt("max_seq_len %d", h.MaxSeqLen)
	}
	nh, ne := int(b[14]), int(b[15])
	if nh > maxHeadIDs || ne > maxEndIDs {
		return nil, corrupt("span sequences of %d and %d ids", nh, ne)
	}
	for k := range nh {
		h.spans.head = append(h.spans.head, int32(le.Uint32(b[72+4*k:])))
	}
	for k := range ne {
		h.spans.end = append(h.spans.end, int32(le.Uint32(b[104+4*k:])))
	}
	examples, seqs, tokens := le.Uint64(b[24:]), le.Uint64(b[32:]), le.Uint64(b[40:])
	// Bound every count by the file size before any arithmetic that could
	// overflow: each sequence needs an 8-byte offset, each token `width`.
	body := uint64(len(b) - headerSize - 4)
	if seqs >= body/8 || tokens > body/uint64(h.IDWidth) || examples > seqs {
		return nil, corrupt("counts (%d sequences, %d tokens) do not fit in %d bytes", seqs, tokens, len(b))
	}
	if seqs != examples*uint64(seqsPer(h.Kind)) {
		return nil, corrupt("%d sequences for %d %v examples", seqs, examples, h.Kind)
	}
	offEnd := headerSize + 8*(seqs+1)
	if want := offEnd + tokens*uint64(h.IDWidth) + 4; want != uint64(len(b)) {
		return nil, corrupt("size %d bytes, header implies %d (truncated?)", len(b), want)
	}
	if got, want := crc32.Checksum(b[:len(b)-4], castagnoli), le.Uint32(b[len(b)-4:]); got != want {
		return nil, corrupt("checksum mismatch")
	}
	h.Examples, h.Tokens = int(examples), int64(tokens)
	d := &PreparedDataset{hdr: h, offsets: b[headerSize:offEnd], payload: b[offEnd : len(b)-4]}
	prev := uint64(0)
	for s := uint64(0); s <= seqs; s++ {
		o := le.Uint64(d.offsets[8*s:])
		if (s == 0 && o != 0) || o < prev || o-prev > uint64(h.MaxSeqLen) || (s == seqs && o != tokens) {
			return nil, corrupt("offset %d of sequence %d (previous %d, tokens %d, max_seq_len %d)", o, s, prev, tokens, h.MaxSeqLen)
		}
		prev = o
	}
	for t := range int(tokens) {
		if id := d.id(t); id < 0 || int(id) >= h.VocabSize {
			return nil, corrupt("token %d has id %d outside vocab %d", t, id, h.VocabSize)
		}
	}
	return d, nil
}

func (d *PreparedDataset) id(t int) int32 {
	if d.hdr.IDWidth == 2 {
		return int32(binary.LittleEndian.Uint16(d.payload[2*t:]))
	}
	return int32(binary.LittleEndian.Uint32(d.payload[4*t:]))
}

// Header returns the file's header.
func (d *PreparedDataset) Header() PreparedHeader { return d.hdr }

// Kind returns the dataset kind.
func (d *PreparedDataset) Kind() Kind { return d.hdr.Kind }

// Len returns the number of examples.
func (d *PreparedDataset) Len() int { return d.hdr.Examples }

// MaxSeqLen returns the max_seq_len the file was prepared with.
func (d *PreparedDataset) MaxSeqLen() int { return d.hdr.MaxSeqLen }

// Seq appends the ids of sequence s (example i is sequence i; DPO pair i is
// sequences 2i and 2i+1) to dst.
func (d *PreparedDataset) Seq(dst []int32, s int) []int32 {
	lo := int(binary.LittleEndian.Uint64(d.offsets[8*s:]))
	hi := int(binary.LittleEndian.Uint64(d.offsets[8*s+8:]))
	for t := lo; t < hi; t++ {
		dst = append(dst, d.id(t))
	}
	return dst
}

// Sample fills dst with example i.
func (d *PreparedDataset) Sample(i int, dst *Sample) error {
	if i < 0 || i >= d.hdr.Examples {
		return fmt.Errorf("data: sample %d out of range [0, %d)", i, d.hdr.Examples)
	}
	per := seqsPer(d.hdr.Kind)
	seqs := make([][]int32, per)
	for k := range per {
		seqs[k] = d.Seq(make([]int32, 0, d.hdr.MaxSeqLen), per*i+k)
	}
	return fillSeqs(d.hdr.Kind, d.hdr.spans, seqs, d.hdr.MaxSeqLen, dst)
}
