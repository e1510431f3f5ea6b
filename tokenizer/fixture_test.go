package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
)

// sharedPath returns ../shared/<rel> relative to the module root, or skips
// the test naming the missing path. Tests never copy shared fixtures in.
func sharedPath(tb testing.TB, rel string) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	root := filepath.Dir(filepath.Dir(file)) // tokenizer/ → module root
	p := filepath.Join(root, "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared fixture %s not found: %v", p, err)
	}
	return p
}

// miniMind loads ../shared/minimind (tokenizer.json + tokenizer_config.json).
func miniMind(tb testing.TB) *Tokenizer {
	tb.Helper()
	tok, err := Load(sharedPath(tb, "minimind"))
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// readJSONL decodes every line of path into a new T.
func readJSONL[T any](tb testing.TB, path string) []T {
	tb.Helper()
	f, err := os.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	var out []T
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for n := 1; sc.Scan(); n++ {
		var v T
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			tb.Fatalf("%s line %d: %v", path, n, err)
		}
		out = append(out, v)
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

type encodeCase struct {
	Text    string  `json:"text"`
	IDs     []int32 `json:"ids"`
	Decoded string  `json:"decoded"`
}

func TestEncodeFixture(t *testing.T) {
	tok := miniMind(t)
	cases := readJSONL[encodeCase](t, sharedPath(t, "fixtures/tokenizer/encode.jsonl"))
	if len(cases) == 0 {
		t.Fatal("encode.jsonl is empty")
	}
	pass := 0
	for i, c := range cases {
		got := tok.Encode(c.Text)
		if c.IDs == nil {
			c.IDs = []int32{}
		}
		if !slices.Equal(got, c.IDs) {
			t.Errorf("line %d %q:\n want %v\n  got %v", i+1, c.Text, c.IDs, got)
			continue
		}
		if dec := tok.Decode(c.IDs); dec != c.Decoded {
			t.Errorf("line %d decode:\n want %q\n  got %q", i+1, c.Decoded, dec)
			continue
		}
		pass++
	}
	t.Logf("encode.jsonl: %d/%d lines reproduced (ids and decoded text)", pass, len(cases))
}

func TestEncodeBatchMatchesEncode(t *testing.T) {
	tok := miniMind(t)
	cases := readJSONL[encodeCase](t, sharedPath(t, "fixtures/tokenizer/encode.jsonl"))
	texts := make([]string, len(cases))
	for i, c := range cases {
		texts[i] = c.Text
	}
	got := tok.EncodeBatchWorkers(texts, 4)
	for i, c := range cases {
		if !slices.Equal(got[i], c.IDs) && len(c.IDs)+len(got[i]) > 0 {
			t.Errorf("line %d: batch %v, want %v", i+1, got[i], c.IDs)
		}
	}
}
