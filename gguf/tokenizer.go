package gguf

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/minimind-go/minimind/tokenizer"
)

// LoadTokenizer rebuilds the tokenizer stored in a GGUF file's metadata
// (tokenizer.ggml.model "gpt2": byte-level BPE tokens, types, merges, the
// special ids and the chat template), for a .gguf model that comes
// without a tokenizer.json. Control tokens become special added tokens and
// user-defined ones non-special added tokens, as Export writes them.
func LoadTokenizer(path string) (*tokenizer.Tokenizer, error) {
	f, closer, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer closer.Close()
	return f.Tokenizer()
}

// Tokenizer is LoadTokenizer on an opened file.
func (f *File) Tokenizer() (*tokenizer.Tokenizer, error) {
	if m, err := f.str("tokenizer.ggml.model"); err != nil {
		return nil, err
	} else if m != "gpt2" {
		return nil, fmt.Errorf("%s: metadata key %q: tokenizer model %q not supported (gpt2 byte-level BPE only)", f.Name, "tokenizer.ggml.model", m)
	}
	if pre, err := f.str("tokenizer.ggml.pre"); err == nil && pre != preTokenizer {
		return nil, fmt.Errorf("%s: metadata key %q: pre-tokenizer %q not supported (%s only)", f.Name, "tokenizer.ggml.pre", pre, preTokenizer)
	}
	tokens, err := f.strings("tokenizer.ggml.tokens")
	if err != nil {
		return nil, err
	}
	merges, err := f.strings("tokenizer.ggml.merges")
	if err != nil {
		return nil, err
	}
	var types []int32
	if e, ok := f.Get("tokenizer.ggml.token_type"); ok {
		a, isArr := e.Value.(Array)
		t, isI32 := a.Values.([]int32)
		if !isArr || !isI32 || len(t) != len(tokens) {
			return nil, fmt.Errorf("%s: metadata key %q: want %d int32 values", f.Name, "tokenizer.ggml.token_type", len(tokens))
		}
		types = t
	}
	type added struct {
		ID         int    `json:"id"`
		Content    string `json:"content"`
		SingleWord bool   `json:"single_word"`
		LStrip     bool   `json:"lstrip"`
		RStrip     bool   `json:"rstrip"`
		Normalized bool   `json:"normalized"`
		Special    bool   `json:"special"`
	}
	vocab := make(map[string]int, len(tokens))
	var addedTokens []added
	for id, t := range tokens {
		typ := int32(tokenNormal)
		if types != nil {
			typ = types[id]
		}
		switch typ {
		case tokenUnused:
			continue
		case tokenControl, tokenUserDefined:
			addedTokens = append(addedTokens, added{ID: id, Content: t, Special: typ == tokenControl})
		}
		if prev, dup := vocab[t]; dup {
			return nil, fmt.Errorf("%s: metadata key %q: token %q at ids %d and %d", f.Name, "tokenizer.ggml.tokens", t, prev, id)
		}
		vocab[t] = id
	}
	pairs := make([][2]string, len(merges))
	for i, m := range merges {
		a, b, ok := strings.Cut(m, " ")
		if !ok {
			return nil, fmt.Errorf("%s: metadata key %q: merge %d %q has no space", f.Name, "tokenizer.ggml.merges", i, m)
		}
		pairs[i] = [2]string{a, b}
	}
	byteLevel := map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": true}
	tj, err := json.Marshal(map[string]any{
		"version":        "1.0",
		"added_tokens":   addedTokens,
		"normalizer":     nil,
		"pre_tokenizer":  byteLevel,
		"post_processor": nil,
		"decoder":        byteLevel,
		"model":          map[string]any{"type": "BPE", "vocab": vocab, "merges": pairs},
	})
	if err != nil {
		return nil, err
	}
	cfg := map[string]any{}
	for _, s := range []struct{ key, field string }{
		{"tokenizer.ggml.bos_token_id", "bos_token"}, {"tokenizer.ggml.eos_token_id", "eos_token"},
		{"tokenizer.ggml.unknown_token_id", "unk_token"}, {"tokenizer.ggml.padding_token_id", "pad_token"},
	} {
		id, ok, err := f.uint(s.key)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if id >= len(tokens) {
			return nil, fmt.Errorf("%s: metadata key %q: id %d outside the %d tokens", f.Name, s.key, id, len(tokens))
		}
		cfg[s.field] = tokens[id]
	}
	if e, ok := f.Get("tokenizer.chat_template"); ok {
		ct, isStr := e.Value.(string)
		if !isStr {
			return nil, fmt.Errorf("%s: metadata key %q: type %s, want string", f.Name, "tokenizer.chat_template", e.Type)
		}
		cfg["chat_template"] = ct
	}
	cj, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	tok, err := tokenizer.Parse(tj, cj)
	if err != nil {
		return nil, fmt.Errorf("%s: tokenizer metadata: %w", f.Name, err)
	}
	return tok, nil
}

func (f *File) strings(key string) ([]string, error) {
	e, ok := f.Get(key)
	if !ok {
		return nil, fmt.Errorf("%s: metadata key %q missing", f.Name, key)
	}
	a, isArr := e.Value.(Array)
	s, isStr := a.Values.([]string)
	if !isArr || !isStr {
		return nil, fmt.Errorf("%s: metadata key %q: want an array of strings", f.Name, key)
	}
	return s, nil
}
