package tokenizer

import (
	"slices"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
)

// minimind3 loads the minimind-3 tokenizer of ../shared/fixtures/minimind3-tokenizer.
func minimind3(tb testing.TB) (*Tokenizer, string) {
	tb.Helper()
	dir := fixture.Dir(tb, "minimind3-tokenizer")
	tok, err := Load(dir)
	if err != nil {
		tb.Fatal(err)
	}
	return tok, dir
}

type m3EncodeCase struct {
	Text        string  `json:"text"`
	IDs         []int32 `json:"ids"`
	Decoded     string  `json:"decoded"`
	DecodedSkip string  `json:"decoded_skip_special"`
}

// Every row of minimind3-tokenizer/encode.jsonl: ids, decode and decode
// with skip_special_tokens (which keeps the non-special added tokens such
// as <think> and <tool_call>).
func TestMiniMind3EncodeFixture(t *testing.T) {
	tok, dir := minimind3(t)
	if tok.VocabSize() != 6400 {
		t.Errorf("VocabSize = %d, want 6400", tok.VocabSize())
	}
	cases := readJSONL[m3EncodeCase](t, dir+"/encode.jsonl")
	if len(cases) != 71 {
		t.Fatalf("encode.jsonl: %d rows, want 71", len(cases))
	}
	for i, c := range cases {
		if c.IDs == nil {
			c.IDs = []int32{}
		}
		if got := tok.Encode(c.Text); !slices.Equal(got, c.IDs) {
			t.Errorf("line %d %q:\n want %v\n  got %v", i+1, c.Text, c.IDs, got)
		}
		if got := tok.Decode(c.IDs); got != c.Decoded {
			t.Errorf("line %d decode:\n want %q\n  got %q", i+1, c.Decoded, got)
		}
		if got := tok.DecodeSkipSpecial(c.IDs); got != c.DecodedSkip {
			t.Errorf("line %d decode skip_special:\n want %q\n  got %q", i+1, c.DecodedSkip, got)
		}
	}
}

// The ids of every rendering in minimind3-tokenizer/chat.jsonl.
func TestMiniMind3ChatIDs(t *testing.T) {
	tok, dir := minimind3(t)
	cases := readJSONL[chatIDsCase](t, dir+"/chat.jsonl")
	if len(cases) != 16 {
		t.Fatalf("chat.jsonl: %d rows, want 16", len(cases))
	}
	for i, c := range cases {
		if got := tok.Encode(c.Rendered); !slices.Equal(got, c.IDs) {
			t.Errorf("line %d:\n want %v\n  got %v", i+1, c.IDs, got)
		}
	}
}

// ids 0..20 are special, 21..35 (<tool_call>, <think>, ...) are added but
// not special.
func TestMiniMind3Specials(t *testing.T) {
	tok, _ := minimind3(t)
	for id := int32(0); id < 36; id++ {
		if got, want := tok.IsSpecial(id), id <= 20; got != want {
			t.Errorf("IsSpecial(%d %q) = %v, want %v", id, tok.Token(id), got, want)
		}
	}
	for tok0, want := range map[string]int32{"<think>": 25, "</think>": 26, "<tool_call>": 21, "</tool_response>": 24, "<|im_end|>": 2} {
		if id, ok := tok.TokenID(tok0); !ok || id != want {
			t.Errorf("TokenID(%q) = %d, %v; want %d", tok0, id, ok, want)
		}
	}
}
