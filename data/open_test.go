package data_test

import (
	"context"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/data"
)

// TestOpen: one prepared file is read as is and checked against the run
// (kind, vocabulary; its own max_seq_len wins with a note), anything else
// is JSONL tokenized on the fly, and both give the same samples.
func TestOpen(t *testing.T) {
	t.Parallel()
	tok := minimindTokenizer(t)
	dir := t.TempDir()
	sft := []string{
		`{"conversations": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！有什么可以帮你？"}]}`,
		`{"conversations": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "content": "2"}]}`,
	}
	jsonlPath := writeFile(t, dir, "sft.jsonl", sft...)
	gzPath := writeFile(t, dir, "sft.JSONL.gz", sft...)
	badPath := writeFile(t, dir, "bad.jsonl", append([]string{"{not json"}, sft...)...)
	prepared := filepath.Join(dir, "sft.mmdata")
	enc := newEncoder(t, data.DefaultEncodeOptions(64))
	if _, err := data.Prepare(context.Background(), enc, data.PrepareOptions{Paths: []string{jsonlPath}, Out: prepared, Kind: data.KindSFT}); err != nil {
		t.Fatal(err)
	}
	otherVocab := filepath.Join(dir, "vocab.mmdata")
	withVocab(t, prepared, otherVocab, 6401)

	tests := []struct {
		name     string
		paths    []string
		kind     data.Kind
		maxLen   int
		skip     bool
		wantType string // "jsonl" or "prepared"
		wantLen  int
		wantMax  int
		wantNote string // a substring of the one note; "" means none
		wantErr  error
	}{
		{name: "jsonl", paths: []string{jsonlPath}, kind: data.KindSFT, maxLen: 64, wantType: "jsonl", wantLen: 2, wantMax: 64},
		{name: "jsonl.gz, two files, any case", paths: []string{jsonlPath, gzPath}, kind: data.KindSFT, maxLen: 32, wantType: "jsonl", wantLen: 4, wantMax: 32},
		{name: "malformed line", paths: []string{badPath}, kind: data.KindSFT, maxLen: 64, wantErr: data.ErrMalformed},
		{name: "malformed line skipped", paths: []string{badPath}, kind: data.KindSFT, maxLen: 64, skip: true, wantType: "jsonl", wantLen: 2, wantMax: 64},
		{name: "prepared", paths: []string{prepared}, kind: data.KindSFT, maxLen: 64, wantType: "prepared", wantLen: 2, wantMax: 64},
		{name: "prepared, other max_seq_len", paths: []string{prepared}, kind: data.KindSFT, maxLen: 128, wantType: "prepared", wantLen: 2, wantMax: 64, wantNote: "prepared with max_seq_len 64; using it"},
		{name: "prepared, other kind", paths: []string{prepared}, kind: data.KindDPO, maxLen: 64, wantErr: data.ErrPreparedMismatch},
		{name: "prepared, other vocabulary", paths: []string{otherVocab}, kind: data.KindSFT, maxLen: 64, wantErr: data.ErrPreparedMismatch},
		{name: "missing file", paths: []string{filepath.Join(dir, "nope.jsonl")}, kind: data.KindSFT, maxLen: 64, wantErr: os.ErrNotExist},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var notes []string
			ds, err := data.Open(context.Background(), tc.paths, tc.kind, tok, tc.maxLen, 7, data.OpenOptions{
				Read: data.ReadOptions{SkipBadLines: tc.skip},
				Note: func(msg string) { notes = append(notes, msg) },
			})
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) || ds != nil {
					t.Fatalf("Open = %v, %v; want an error matching %v", ds, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			gotType := "prepared"
			if j, ok := ds.(*data.JSONLDataset); ok {
				gotType = "jsonl"
				if want := map[bool]int{true: 1}[tc.skip]; j.Skipped() != want {
					t.Errorf("Skipped() = %d, want %d", j.Skipped(), want)
				}
			}
			if gotType != tc.wantType || ds.Kind() != tc.kind || ds.Len() != tc.wantLen || ds.MaxSeqLen() != tc.wantMax {
				t.Errorf("got %s %v, %d examples, max %d; want %s %v, %d, max %d", gotType, ds.Kind(), ds.Len(), ds.MaxSeqLen(), tc.wantType, tc.kind, tc.wantLen, tc.wantMax)
			}
			if (tc.wantNote == "") != (len(notes) == 0) || len(notes) > 1 || len(notes) == 1 && !strings.Contains(notes[0], tc.wantNote) {
				t.Errorf("notes %q, want one containing %q", notes, tc.wantNote)
			}
		})
	}

	// The same data, prepared or not, gives the same samples.
	open := func(p string) data.Dataset {
		ds, err := data.Open(context.Background(), []string{p}, data.KindSFT, tok, 64, 0, data.OpenOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	a, b := open(jsonlPath), open(prepared)
	for i := range a.Len() {
		var sa, sb data.Sample
		if err := a.Sample(i, &sa); err != nil {
			t.Fatal(err)
		}
		if err := b.Sample(i, &sb); err != nil {
			t.Fatal(err)
		}
		if d := diff(sa, sb); d != "" {
			t.Errorf("sample %d, jsonl vs prepared:\n%s", i, d)
		}
	}
}

func TestIsJSONL(t *testing.T) {
	t.Parallel()
	for p, want := range map[string]bool{"a.jsonl": true, "a.JSONL.GZ": true, "a.json": true, "a.mmdata": false, "a.bin": false, "jsonl": false, "a.jsonl.zst": false} {
		if got := data.IsJSONL(p); got != want {
			t.Errorf("IsJSONL(%q) = %v, want %v", p, got, want)
		}
	}
}

// withVocab copies the prepared file src to dst with its vocabulary size
// (header offset 16) set to vocab and the trailing CRC-32C fixed up.
func withVocab(tb testing.TB, src, dst string, vocab uint32) {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	binary.LittleEndian.PutUint32(b[16:], vocab)
	n := len(b) - 4
	binary.LittleEndian.PutUint32(b[n:], crc32.Checksum(b[:n], crc32.MakeTable(crc32.Castagnoli)))
	writeBytes(tb, dst, b)
}
