package tokenizer

import (
	"encoding/json"
	"os"
	"testing"
	"unicode/utf8"
)

func jsonUnmarshalStrict(data []byte, v any) error { return json.Unmarshal(data, v) }

func mustJSON(tb testing.TB, v any) string {
	tb.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

// fuzzTokenizer is the MiniMind tokenizer when the shared files exist, else
// the embedded default, so the fuzz targets always run.
func fuzzTokenizer(f *testing.F) *Tokenizer {
	f.Helper()
	if data, err := os.ReadFile("../../shared/minimind/tokenizer.json"); err == nil {
		if tok, err := Parse(data, nil); err == nil {
			return tok
		}
	}
	tok, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	return tok
}

// For valid UTF-8, decode(encode(s)) == s; for any bytes, encoding
// terminates without panicking and the stream decoder agrees with Decode.
func FuzzEncodeDecode(f *testing.F) {
	tok := fuzzTokenizer(f)
	for _, s := range []string{"", " ", "hello world", "你好，世界！", "<|im_start|>user\n<|im_end|>", "<|im_start", "I'm   ok\n\n", "\xff\xfe", "😀👨\u200d👩", "a\u3000b\u00a0c", "'s'S'll"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ids := tok.Encode(s)
		for _, id := range ids {
			if id < 0 || int(id) >= tok.VocabSize() {
				t.Fatalf("id %d out of range", id)
			}
		}
		got := tok.Decode(ids)
		if utf8.ValidString(s) && got != s {
			t.Fatalf("Decode(Encode(%q)) = %q", s, got)
		}
		d := tok.NewStreamDecoder()
		var streamed string
		for _, id := range ids {
			streamed += d.Add(id)
		}
		streamed += d.Flush()
		if streamed != got {
			t.Fatalf("stream decode %q != Decode %q", streamed, got)
		}
	})
}

// Any bytes given as tokenizer.json give a tokenizer or an error, never a
// panic; a tokenizer that loads can encode.
func FuzzLoad(f *testing.F) {
	if data, err := os.ReadFile("testdata/tiny_tokenizer.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}, "added_tokens": [{"id": 5, "content": "<x>", "special": true}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		tok, err := Parse(data, data)
		if err != nil {
			return
		}
		ids := tok.Encode("ab <x> héllo")
		_ = tok.Decode(ids)
	})
}
