package data

import (
	"bytes"
	"testing"
)

// TestPreparedWideIDs covers 4-byte ids (vocab > 65536), which the MiniMind
// tokenizer never needs.
func TestPreparedWideIDs(t *testing.T) {
	t.Parallel()
	h := &PreparedHeader{Kind: KindPretrain, IDWidth: 4, VocabSize: 100000, MaxSeqLen: 4,
		spans: spanRule{head: []int32{1, 7}, end: []int32{2}}}
	seqs := [][]int32{{1, 99999, 2}, {1, 2}}
	offsets := []uint64{0}
	var payload []byte
	for _, s := range seqs {
		for _, id := range s {
			payload = append(payload, byte(id), byte(id>>8), byte(id>>16), byte(id>>24))
			h.Tokens++
		}
		offsets = append(offsets, uint64(h.Tokens))
		h.Examples++
	}
	var buf bytes.Buffer
	if err := writePrepared(&buf, h, offsets, payload); err != nil {
		t.Fatal(err)
	}
	d, err := ParsePrepared(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.Header().IDWidth != 4 {
		t.Fatalf("len %d, width %d", d.Len(), d.Header().IDWidth)
	}
	var s Sample
	if err := d.Sample(0, &s); err != nil {
		t.Fatal(err)
	}
	if s.X[1] != 99999 || s.Y[1] != 2 || s.LossMask[2] != 0 || s.LossMask[1] != 1 {
		t.Errorf("sample %+v", s)
	}
	if got := d.Seq(nil, 1); len(got) != 2 || got[1] != 2 {
		t.Errorf("Seq(1) = %v", got)
	}
}
