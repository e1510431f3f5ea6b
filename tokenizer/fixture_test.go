package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
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

type chatIDsCase struct {
	Rendered string  `json:"rendered"`
	IDs      []int32 `json:"ids"`
}

// chat.jsonl also holds the ids of each rendered prompt.
func TestChatFixtureIDs(t *testing.T) {
	tok := miniMind(t)
	cases := readJSONL[chatIDsCase](t, sharedPath(t, "fixtures/tokenizer/chat.jsonl"))
	for i, c := range cases {
		if got := tok.Encode(c.Rendered); !slices.Equal(got, c.IDs) {
			t.Errorf("line %d:\n want %v\n  got %v", i+1, c.IDs, got)
		}
	}
	t.Logf("chat.jsonl: %d lines' ids checked", len(cases))
}

// The id vectors of SPEC.md §4, independent of the fixture files.
func TestSpecVectors(t *testing.T) {
	tok := miniMind(t)
	tests := []struct {
		name string
		text string
		want []int32
	}{
		{"issue 111", "这是一个测试，看看分词器是否能正确处理中文。", []int32{434, 1589, 3560, 270, 1380, 1380, 554, 1582, 1179, 2010, 424, 2826, 1958, 413, 677, 286}},
		{"assistant header", "<|im_start|>assistant\n", []int32{1, 1078, 538, 501, 201}},
		{"im_end newline", "<|im_end|>\n", []int32{2, 201}},
		{"system", "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n", []int32{1, 85, 736, 201, 59, 292, 389, 260, 3836, 1861, 501, 2, 201}},
		{"nihao", "你好！有什么可以帮你？", []int32{5134, 2207, 5183, 451, 1086, 608, 814}},
		{"think", "<think>", []int32{30, 450, 1573, 32}},
		{"two newlines", "\n\n", []int32{201, 201}},
		{"hello world", "Hello, world!", []int32{42, 392, 338, 14, 1636, 3}},
		{"sun", "The sun sets in the west", []int32{1148, 4289, 271, 1943, 295, 276, 288, 533}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tok.Encode(tc.text); !slices.Equal(got, tc.want) {
				t.Errorf("Encode(%q)\n want %v\n  got %v", tc.text, tc.want, got)
			}
		})
	}
	if id, ok := tok.TokenID("<|im_end|>"); !ok || id != 2 {
		t.Errorf("TokenID(<|im_end|>) = %d, %v", id, ok)
	}
	if got := tok.DecodeSkipSpecial([]int32{1, 1078, 538, 501, 201, 5134, 2}); got != "assistant\n你好" {
		t.Errorf("DecodeSkipSpecial = %q", got)
	}
	if tok.VocabSize() != 6400 {
		t.Errorf("VocabSize = %d, want 6400", tok.VocabSize())
	}
	if !strings.Contains(tok.ChatTemplate(), "<|im_start|>") {
		t.Error("ChatTemplate not loaded from tokenizer_config.json")
	}
}
