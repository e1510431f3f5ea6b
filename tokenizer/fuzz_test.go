package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"reflect"
	"slices"
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
		if lo := tok.MinTokens(len(s)); len(ids) < lo {
			t.Fatalf("Encode(%q) gave %d ids, below MinTokens %d", s, len(ids), lo)
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
// panic; a tokenizer that loads can encode, and survives a round trip: what
// Save writes loads back as the same tokenizer.
func FuzzLoad(f *testing.F) {
	if data, err := os.ReadFile("testdata/tiny_tokenizer.json"); err == nil {
		f.Add(data)
	}
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}, "added_tokens": [{"id": 5, "content": "<x>", "special": true}]}`))
	f.Add([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2, "<unk>": 3}, "merges": [["a", "b"]], "unk_token": "<unk>", "fuse_unk": true}, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": true}, "decoder": {"type": "ByteLevel"}, "added_tokens": [{"id": 4, "content": "<y>", "normalized": true}], "chat_template": "{{ messages }}", "bos_token": "<unk>"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		// The same bytes serve as tokenizer_config.json, so its fields
		// (chat_template, special-token names) take part too.
		tok, err := Parse(data, data)
		if err != nil {
			return
		}
		for _, s := range probeTexts {
			// MinTokens must stay a lower bound whatever the vocabulary.
			if ids, lo := tok.Encode(s), tok.MinTokens(len(s)); len(ids) < lo {
				t.Fatalf("Encode(%q) gave %d ids, below MinTokens %d", s, len(ids), lo)
			}
		}
		_ = tok.Decode(tok.Encode(probeTexts[0]))
		dir := t.TempDir()
		if err := tok.Save(dir); err != nil {
			t.Fatalf("Save of a tokenizer that parsed: %v", err)
		}
		back, err := Load(dir)
		if err != nil {
			t.Fatalf("Load of what Save wrote: %v", err)
		}
		if d := tokenizerDiff(tok, back); d != "" {
			t.Fatalf("parse -> save -> parse changed the tokenizer: %s", d)
		}
	})
}

// probeTexts exercise merges, added tokens, special-token strings, the
// unknown-token path and invalid UTF-8.
var probeTexts = []string{"ab <x> héllo", "<|im_start|>user\n你好<|im_end|>", "<y>ab<x>ba \xff\xfe", "  a\n\nb  "}

// tokenizerDiff says how a and b differ in what a tokenizer is: vocab,
// merges, added and special tokens, options, tokenizer_config.json settings
// and the encodings of probeTexts; "" if they do not.
func tokenizerDiff(a, b *Tokenizer) string {
	switch {
	case !slices.Equal(a.tokens, b.tokens):
		return "tokens differ"
	case !slices.EqualFunc(a.bytes, b.bytes, bytes.Equal):
		return "token bytes differ"
	case !slices.Equal(a.special, b.special):
		return "special flags differ"
	case !maps.Equal(a.vocab, b.vocab) || !maps.Equal(a.raw, b.raw) || a.byteID != b.byteID:
		return "vocab differs"
	case !slices.Equal(a.merges.keys, b.merges.keys) || !slices.Equal(a.merges.vals, b.merges.vals) || a.merges.shift != b.merges.shift:
		return "merges differ"
	case !reflect.DeepEqual(a.addedRaw, b.addedRaw) || !reflect.DeepEqual(a.addedNorm, b.addedNorm):
		return "added tokens differ"
	case a.addPrefixSpace != b.addPrefixSpace || a.useRegex != b.useRegex || a.ignoreMerges != b.ignoreMerges || a.unk != b.unk || a.fuseUnk != b.fuseUnk:
		return "model options differ"
	case a.cfg != b.cfg:
		return fmt.Sprintf("config %+v != %+v", a.cfg, b.cfg)
	}
	for _, s := range probeTexts {
		ia, ib := a.Encode(s), b.Encode(s)
		if !slices.Equal(ia, ib) {
			return fmt.Sprintf("Encode(%q): %v != %v", s, ia, ib)
		}
		if da, db := a.Decode(ia), b.Decode(ib); da != db {
			return fmt.Sprintf("Decode(Encode(%q)): %q != %q", s, da, db)
		}
	}
	return ""
}
