package data_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/data"
)

// prepareCorpus writes the first n lines of a corpus file to a temp JSONL,
// prepares it, and returns the on-the-fly and prepared datasets.
func prepareCorpus(t *testing.T, kind data.Kind, file string, n, maxLen int) (*data.JSONLDataset, *data.PreparedDataset, string) {
	t.Helper()
	dir := t.TempDir()
	lines := corpusLines(t, file, n)
	// A think block exercises the random removal in SFT and DPO.
	switch kind {
	case data.KindSFT:
		lines = append(lines, `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "<think>\n\n</think>\n\nA"}]}`)
	case data.KindDPO:
		lines = append(lines, `{"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "<think>\n\n</think>\n\nA"}], "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "B"}]}`)
	}
	in := writeFile(t, dir, "in.jsonl.gz", lines...)
	out := filepath.Join(dir, "out.mmdata")
	opts := data.DefaultEncodeOptions(maxLen)
	opts.DropEmptyThinkProb = 0.5
	enc := newEncoder(t, opts)
	st, err := data.Prepare(context.Background(), enc, data.PrepareOptions{Paths: []string{in}, Out: out, Kind: kind})
	if err != nil {
		t.Fatal(err)
	}
	if st.Examples != len(lines) {
		t.Fatalf("prepared %d examples, want %d", st.Examples, len(lines))
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Size() != st.FileSize {
		t.Fatalf("file size %v (%v), stats say %d", fi.Size(), err, st.FileSize)
	}
	ds, err := data.LoadJSONL(context.Background(), []string{in}, kind, enc, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	pd, err := data.OpenPrepared(out)
	if err != nil {
		t.Fatal(err)
	}
	return ds, pd, out
}

func TestPreparedRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		kind   data.Kind
		file   string
		maxLen int
	}{
		{"pretrain", data.KindPretrain, "pretrain_en.jsonl.gz", 128},
		{"sft", data.KindSFT, "sft_mix.jsonl.gz", 64},
		{"dpo", data.KindDPO, "dpo_synthetic.jsonl.gz", 96},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			ds, pd, _ := prepareCorpus(t, tc.kind, tc.file, 300, tc.maxLen)
			h := pd.Header()
			if h.Kind != tc.kind || h.IDWidth != 2 || h.VocabSize != 6400 || h.MaxSeqLen != tc.maxLen || pd.Len() != ds.Len() {
				t.Fatalf("header %+v, len %d; want kind %v, width 2, vocab 6400, max %d, len %d", h, pd.Len(), tc.kind, tc.maxLen, ds.Len())
			}
			supervised := 0
			for i := range ds.Len() {
				var a, b data.Sample
				if err := ds.Sample(i, &a); err != nil {
					t.Fatal(err)
				}
				if err := pd.Sample(i, &b); err != nil {
					t.Fatal(err)
				}
				if d := diff(a, b); d != "" {
					t.Fatalf("sample %d differs (-jsonl +prepared):\n%s", i, d)
				}
				for _, m := range a.LossMask {
					supervised += int(m)
				}
			}
			if supervised == 0 {
				t.Error("no supervised positions at all")
			}
		})
	}
}

func TestPreparedCorrupt(t *testing.T) {
	t.Parallel()
	_, _, path := prepareCorpus(t, data.KindDPO, "dpo_synthetic.jsonl.gz", 20, 48)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, b []byte) {
		t.Helper()
		_, err := data.ParsePrepared(b)
		if !errors.Is(err, data.ErrCorrupt) {
			t.Errorf("%s: err = %v, want ErrCorrupt", name, err)
		}
	}
	for n := 0; n < len(good); n += 1 + n/8 {
		check("truncated", good[:n])
	}
	check("one byte extra", append(append([]byte(nil), good...), 0))
	for _, off := range []int{0, 8, 12, 13, 14, 16, 20, 24, 32, 40, 128, 140, len(good) / 2, len(good) - 1} {
		b := append([]byte(nil), good...)
		b[off] ^= 0x41
		check("flipped byte", b)
	}
	if _, err := data.OpenPrepared(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("missing file: no error")
	}
}

// FuzzParsePrepared checks that no byte string makes the reader panic and
// that whatever it accepts yields samples.
func FuzzParsePrepared(f *testing.F) {
	dir := f.TempDir()
	in := writeFile(f, dir, "in.jsonl",
		`{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}`,
		`{"conversations": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！"}]}`)
	out := filepath.Join(dir, "x.mmdata")
	if _, err := data.Prepare(context.Background(), newEncoder(f, data.DefaultEncodeOptions(40)),
		data.PrepareOptions{Paths: []string{in}, Out: out, Kind: data.KindSFT}); err != nil {
		f.Fatal(err)
	}
	good, err := os.ReadFile(out)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add(good[:200])
	f.Fuzz(func(t *testing.T, b []byte) {
		pd, err := data.ParsePrepared(b)
		if err != nil {
			if !errors.Is(err, data.ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			return
		}
		var s data.Sample
		for i := range pd.Len() {
			if err := pd.Sample(i, &s); err != nil {
				t.Fatalf("sample %d of an accepted file: %v", i, err)
			}
		}
	})
}
