package gguf

import (
	"fmt"

	"github.com/minimind-go/minimind/tokenizer"
)

// llama.cpp's token types (llama.h's llama_token_type).
const (
	tokenNormal      = 1
	tokenControl     = 3
	tokenUserDefined = 4
	tokenUnused      = 5
)

// preTokenizer is the tokenizer.ggml.pre name whose split regex is the
// ByteLevel pre-tokenizer's (use_regex true): llama.cpp's "gpt-2" arm,
// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+.
const preTokenizer = "gpt-2"

// tokenizerKV is the tokenizer metadata of a GGUF file: GPT-2 byte-level
// BPE tokens (padded to vocab ids with unused entries), their types, the
// merges, the special ids of tokenizer_config.json, no BOS/EOS added to
// prompts (MiniMind adds none), and the chat template.
func tokenizerKV(tok *tokenizer.Tokenizer, vocab int) ([]KV, error) {
	v, err := tok.Vocabulary()
	if err != nil {
		return nil, err
	}
	switch {
	case !v.UseRegex:
		return nil, fmt.Errorf("tokenizer: ByteLevel use_regex false has no llama.cpp pre-tokenizer")
	case v.AddPrefixSpace:
		return nil, fmt.Errorf("tokenizer: ByteLevel add_prefix_space has no llama.cpp pre-tokenizer")
	case v.IgnoreMerges:
		return nil, fmt.Errorf("tokenizer: BPE ignore_merges is not applied by llama.cpp's gpt-2 pre-tokenizer")
	}
	added := map[int32]bool{}
	for _, a := range v.Added {
		added[a.ID] = true
	}
	tokens := make([]string, vocab)
	types := make([]int32, vocab)
	for id := range vocab {
		t := tok.Token(int32(id))
		switch {
		case t == "":
			tokens[id], types[id] = fmt.Sprintf("[PAD%d]", id), tokenUnused
		case tok.IsSpecial(int32(id)):
			tokens[id], types[id] = t, tokenControl
		case added[int32(id)]:
			tokens[id], types[id] = t, tokenUserDefined
		default:
			tokens[id], types[id] = t, tokenNormal
		}
	}
	merges := make([]string, len(v.Merges))
	for i, m := range v.Merges {
		merges[i] = m[0] + " " + m[1]
	}
	kv := []KV{
		str("tokenizer.ggml.model", "gpt2"),
		str("tokenizer.ggml.pre", preTokenizer),
		{Key: "tokenizer.ggml.tokens", Type: TypeArray, Value: Array{Elem: TypeString, Values: tokens}},
		{Key: "tokenizer.ggml.token_type", Type: TypeArray, Value: Array{Elem: TypeInt32, Values: types}},
		{Key: "tokenizer.ggml.merges", Type: TypeArray, Value: Array{Elem: TypeString, Values: merges}},
	}
	cfg := tok.Config()
	for _, s := range []struct{ key, tok string }{
		{"tokenizer.ggml.bos_token_id", cfg.BOSToken},
		{"tokenizer.ggml.eos_token_id", cfg.EOSToken},
		{"tokenizer.ggml.unknown_token_id", cfg.UnkToken},
		{"tokenizer.ggml.padding_token_id", cfg.PadToken},
	} {
		if s.tok == "" {
			continue
		}
		id, ok := tok.TokenID(s.tok)
		if !ok {
			return nil, fmt.Errorf("tokenizer_config.json: %s %q is not a token", s.key, s.tok)
		}
		kv = append(kv, u32(s.key, int(id)))
	}
	kv = append(kv,
		boolKV("tokenizer.ggml.add_bos_token", false),
		boolKV("tokenizer.ggml.add_eos_token", false))
	if ct := tok.ChatTemplate(); ct != "" {
		kv = append(kv, str("tokenizer.chat_template", ct))
	}
	return kv, nil
}
