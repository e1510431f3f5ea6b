package tokenizer

import (
	"encoding/json"
	"fmt"
)

// Vocabulary is what a format that stores the tokenizer itself (GGUF)
// needs beyond Token and IsSpecial: the merges in rank order, the added
// tokens, and the pre-tokenizer settings that decide which split regex
// the tokenizer applies.
type Vocabulary struct {
	Merges         [][2]string
	Added          []AddedToken
	UseRegex       bool // the GPT-2 split regex runs before BPE
	AddPrefixSpace bool // a space is prepended to the text
	IgnoreMerges   bool // whole words found in the vocab skip BPE
}

// Vocabulary returns t's merges, added tokens and pre-tokenizer settings,
// read again from the tokenizer.json t was built from.
func (t *Tokenizer) Vocabulary() (Vocabulary, error) {
	var f fileJSON
	if err := json.Unmarshal(t.jsonData, &f); err != nil || f.Model == nil {
		return Vocabulary{}, fmt.Errorf("tokenizer.json: cannot re-read the vocabulary: %v", err)
	}
	merges, err := parseMerges(f.Model.Merges)
	if err != nil {
		return Vocabulary{}, err
	}
	return Vocabulary{
		Merges:         merges,
		Added:          f.AddedTokens,
		UseRegex:       t.useRegex,
		AddPrefixSpace: t.addPrefixSpace,
		IgnoreMerges:   t.ignoreMerges,
	}, nil
}
