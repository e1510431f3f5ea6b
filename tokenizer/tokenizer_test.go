package tokenizer

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestDefaultRoundTrip(t *testing.T) {
	tok, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	if tok.VocabSize() != 6400 {
		t.Errorf("VocabSize = %d, want 6400", tok.VocabSize())
	}
	for i, s := range DefaultSpecialTokens {
		if id, ok := tok.TokenID(s); !ok || id != int32(i) {
			t.Errorf("TokenID(%q) = %d, %v; want %d", s, id, ok, i)
		}
	}
	if tok.ChatTemplate() != MiniMindChatTemplate {
		t.Error("default tokenizer_config.json lacks the MiniMind chat template")
	}
	for _, s := range []string{"", "床前明月光，疑是地上霜。", "In the beginning God created the heavens and the earth.", "<|im_start|>user\n你好<|im_end|>\n", "mixed 中文 and English 123 😀"} {
		ids := tok.Encode(s)
		if got := tok.Decode(ids); got != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, got)
		}
	}
	if ids := tok.Encode("<|im_start|>x<|im_end|>"); ids[0] != 1 || ids[len(ids)-1] != 2 {
		t.Errorf("special tokens not matched: %v", ids)
	}
}

func TestStreamDecoder(t *testing.T) {
	tok := miniMind(t)
	for _, s := range []string{"你好，世界！😀 family 👨\u200d👩\u200d👧", "ｶﾀｶﾅ ∑∫√", "<|im_start|>assistant\n答案<|im_end|>"} {
		ids := tok.Encode(s)
		d := tok.NewStreamDecoder()
		var sb strings.Builder
		for _, id := range ids {
			piece := d.Add(id)
			if !utf8.ValidString(piece) {
				t.Fatalf("piece %q is not valid UTF-8", piece)
			}
			sb.WriteString(piece)
		}
		sb.WriteString(d.Flush())
		if sb.String() != s {
			t.Errorf("stream decode = %q, want %q", sb.String(), s)
		}
	}
	// A dangling half character is held back, then flushed as U+FFFD.
	d := tok.NewStreamDecoder()
	ids := tok.Encode("😀")
	if got := d.Add(ids[0]); got != "" {
		t.Errorf("first byte of an emoji emitted %q", got)
	}
	if got := d.Flush(); got != "\uFFFD" {
		t.Errorf("Flush = %q, want U+FFFD", got)
	}
	sd := tok.NewStreamDecoderSkipSpecial()
	if got := sd.Add(2); got != "" {
		t.Errorf("skip-special stream emitted %q for <|im_end|>", got)
	}
}

// Train a small tokenizer, write it, load it back: the same encodings.
func TestTrainSaveLoad(t *testing.T) {
	docs := []string{
		"the cat sat on the mat. the cat ate the rat.",
		"床前明月光，疑是地上霜。举头望明月，低头思故乡。",
		"I'm sure they've said it's fine; we'll see.",
		"<|im_start|>user\nhello<|im_end|>",
	}
	train := func() *Tokenizer {
		tr := NewTrainer(TrainOptions{VocabSize: 300, Workers: 2})
		for range 3 {
			tr.AddTexts(docs)
		}
		tok, err := tr.Train(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	tok := train()
	if tok.VocabSize() != 300 {
		t.Fatalf("VocabSize = %d, want 300", tok.VocabSize())
	}
	// The first merge is the most frequent pair: "Ġ"+"t" (" t" in " the",
	// " the", " cat"...) beats "t"+"h".
	first := tok.Token(259)
	if first == "" {
		t.Fatal("no merges learned")
	}
	dir := t.TempDir()
	if err := tok.Save(dir); err != nil {
		t.Fatal(err)
	}
	back, err := Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range append(docs, "unseen text 未见过的文字") {
		a, b := tok.Encode(d), back.Encode(d)
		if !slices.Equal(a, b) {
			t.Errorf("reloaded tokenizer differs on %q: %v vs %v", d, a, b)
		}
		if got := back.Decode(b); got != d {
			t.Errorf("round trip %q → %q", d, got)
		}
	}
	if back.ChatTemplate() != MiniMindChatTemplate {
		t.Error("trained tokenizer_config.json lacks the chat template")
	}
	// Deterministic: a second run writes the same bytes.
	dir2 := t.TempDir()
	if err := train().Save(dir2); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		a, _ := os.ReadFile(filepath.Join(dir, f))
		b, _ := os.ReadFile(filepath.Join(dir2, f))
		if string(a) != string(b) {
			t.Errorf("%s differs between two identical training runs", f)
		}
	}
}

// Merge order follows HF: highest count first, ties to the smaller id pair.
func TestTrainMergeOrder(t *testing.T) {
	tr := NewTrainer(TrainOptions{VocabSize: 3 + 256 + 3, Workers: 1})
	// "ab" ×3, "cd" ×3, "abcd" needs ab then cd then abcd; with equal
	// counts "a"+"b" (smaller ids) goes before "c"+"d".
	for range 3 {
		tr.AddText("ab")
		tr.AddText("cd")
	}
	tr.AddText("abcd")
	tok, err := tr.Train(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"ab", "cd", "abcd"}
	for i, w := range want {
		if got := tok.Token(int32(259 + i)); got != w {
			t.Errorf("token %d = %q, want %q", 259+i, got, w)
		}
	}
}

func TestTrainJSONLErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.jsonl")
	if err := os.WriteFile(bad, []byte("{\"text\": \"ok\"}\n{\"nope\": 1}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr := NewTrainer(TrainOptions{})
	err := tr.AddFile(context.Background(), bad)
	if err == nil || !strings.Contains(err.Error(), "line 2") {
		t.Fatalf("AddFile = %v, want an error naming line 2", err)
	}
	conv := filepath.Join(dir, "conv.jsonl")
	if err := os.WriteFile(conv, []byte(`{"conversations":[{"role":"user","content":"hi"},{"role":"assistant","content":"there"}]}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tr = NewTrainer(TrainOptions{})
	if err := tr.AddFile(context.Background(), conv); err != nil {
		t.Fatal(err)
	}
	if tr.Docs() != 2 {
		t.Errorf("Docs = %d, want 2 (one per message)", tr.Docs())
	}
}

func TestLoadErrors(t *testing.T) {
	good, err := os.ReadFile(sharedPath(t, "minimind/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	replace := func(old, new string) []byte {
		t.Helper()
		if !strings.Contains(string(good), old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return []byte(strings.Replace(string(good), old, new, 1))
	}
	tests := []struct {
		name        string
		data        []byte
		unsupported bool
		mention     string
	}{
		{"not json", []byte("{"), false, "parse"},
		{"wordpiece", replace(`"type": "BPE"`, `"type": "WordPiece"`), true, "WordPiece"},
		{"normalizer", replace(`"normalizer": null`, `"normalizer": {"type": "NFKC"}`), true, "NFKC"},
		{"metaspace", replace(`"pre_tokenizer": {
    "type": "ByteLevel"`, `"pre_tokenizer": {
    "type": "Metaspace"`), true, "Metaspace"},
		{"lstrip", replace(`"lstrip": false`, `"lstrip": true`), true, "lstrip"},
		{"byte fallback", replace(`"byte_fallback": false`, `"byte_fallback": true`), true, "byte_fallback"},
		{"truncation", replace(`"truncation": null`, `"truncation": {"max_length": 5}`), true, "truncation"},
		{"merge outside vocab", replace(`"Ġ",
        "t"`, `"Ġ",
        "nope"`), false, "merge"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse(tc.data, nil)
			if err == nil {
				t.Fatal("want an error")
			}
			if errors.Is(err, ErrUnsupported) != tc.unsupported {
				t.Errorf("errors.Is(ErrUnsupported) = %v, want %v: %v", !tc.unsupported, tc.unsupported, err)
			}
			if !strings.Contains(err.Error(), tc.mention) {
				t.Errorf("error %q does not mention %q", err, tc.mention)
			}
		})
	}
	if _, err := Load(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("Load of a missing path: want an error")
	}
}

// Old-style merges ("a b" strings) load to the same tokenizer.
func TestLoadLegacyMerges(t *testing.T) {
	data, err := os.ReadFile(sharedPath(t, "minimind/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	tok, err := Parse(data, nil)
	if err != nil {
		t.Fatal(err)
	}
	var f fileJSON
	if err := jsonUnmarshalStrict(data, &f); err != nil {
		t.Fatal(err)
	}
	pairs, _ := parseMerges(f.Model.Merges)
	strs := make([]string, len(pairs))
	for i, p := range pairs {
		strs[i] = p[0] + " " + p[1]
	}
	legacy := strings.Replace(string(data), string(f.Model.Merges), mustJSON(t, strs), 1)
	old, err := Parse([]byte(legacy), nil)
	if err != nil {
		t.Fatal(err)
	}
	s := "The quick brown fox 跳过了懒狗。"
	if a, b := tok.Encode(s), old.Encode(s); !slices.Equal(a, b) {
		t.Errorf("legacy merges encode %v, want %v", b, a)
	}
}

// HF tokenizers cannot run here, so the check of HF compatibility is
// structural: the default (trained) tokenizer.json must have exactly the
// fields and settings of MiniMind's HF-written file, vocab and merges aside,
// and the same 259 first tokens.
func TestDefaultStructureMatchesMiniMind(t *testing.T) {
	ref, err := os.ReadFile(sharedPath(t, "minimind/tokenizer.json"))
	if err != nil {
		t.Fatal(err)
	}
	shape := func(data []byte) (map[string]any, []string) {
		t.Helper()
		var v map[string]any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatal(err)
		}
		m := v["model"].(map[string]any)
		// Token order as written in the file (a JSON object keeps it).
		dec := json.NewDecoder(strings.NewReader(string(data)))
		var first []string
		for dec.More() || len(first) == 0 {
			tokJSON, err := dec.Token()
			if err != nil {
				t.Fatal(err)
			}
			if s, ok := tokJSON.(string); ok && s == "vocab" {
				dec.Token() // {
				for len(first) < 259 {
					k, _ := dec.Token()
					dec.Token()
					first = append(first, k.(string))
				}
				break
			}
		}
		delete(m, "vocab")
		delete(m, "merges")
		return v, first
	}
	want, wantFirst := shape(ref)
	got, gotFirst := shape(defaultTokenizerJSON)
	wj, _ := json.Marshal(want)
	gj, _ := json.Marshal(got)
	if string(wj) != string(gj) {
		t.Errorf("structure differs from MiniMind's tokenizer.json:\n want %s\n  got %s", wj, gj)
	}
	if !slices.Equal(wantFirst, gotFirst) {
		t.Errorf("first 259 tokens differ:\n want %q\n  got %q", wantFirst, gotFirst)
	}
}

// TestMinTokens: the bound holds on texts made of the longest token, and
// there is none when a byte has no token (such bytes are dropped).
func TestMinTokens(t *testing.T) {
	tok, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	longest := ""
	for id := range tok.VocabSize() {
		if b := tok.Decode([]int32{int32(id)}); len(b) > len(longest) && utf8.ValidString(b) {
			longest = b
		}
	}
	cases := []struct {
		name string
		text string
	}{
		{"empty", ""},
		{"one byte", "a"},
		{"longest token", longest},
		{"longest token repeated", strings.Repeat(longest, 50)},
		{"special tokens", strings.Repeat("<|im_start|><|im_end|>", 20)},
		{"chinese", strings.Repeat("床前明月光疑是地上霜", 30)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			ids, lo := tok.Encode(c.text), tok.MinTokens(len(c.text))
			if len(ids) < lo {
				t.Fatalf("Encode gave %d ids, below MinTokens(%d) = %d", len(ids), len(c.text), lo)
			}
			if len(c.text) > 0 && lo < 1 {
				t.Fatalf("MinTokens(%d) = %d: no bound for a full byte-level vocab", len(c.text), lo)
			}
		})
	}
	// 4 MiB cannot fit a few thousand positions: the bound says so.
	if lo := tok.MinTokens(4 << 20); lo < 100_000 {
		t.Errorf("MinTokens(4 MiB) = %d, want a useful bound", lo)
	}
	missing, err := Parse([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "ab": 2}, "merges": ["a b"]}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	if lo := missing.MinTokens(100); lo != 0 {
		t.Errorf("MinTokens without every byte token = %d, want 0 (no bound)", lo)
	}
}
