package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/minimind-go/minimind/gguf"
	"github.com/minimind-go/minimind/tokenizer"
)

// modelTokenizer returns the tokenizer of a model path and where it came
// from: --tokenizer when given; else the one saved with the model (an HF
// directory's tokenizer.json, or the tokenizer.json next to a .pth, which
// training writes into --out_dir); else a .gguf file's own (its metadata);
// else the project's default. A model
// trained with another tokenizer is then never scored on the wrong ids.
func modelTokenizer(flag, modelPath string) (*tokenizer.Tokenizer, string, error) {
	path, source := flag, "--tokenizer "+flag
	if path == "" {
		if dir := tokenizerDir(modelPath); dir != "" {
			path, source = dir, filepath.Join(dir, "tokenizer.json")
		} else if strings.EqualFold(filepath.Ext(modelPath), ".gguf") {
			// A GGUF file carries its tokenizer in its metadata.
			tok, err := gguf.LoadTokenizer(modelPath)
			if err != nil {
				return nil, "", err
			}
			return tok, "the metadata of " + modelPath, nil
		}
	}
	tok, err := loadTokenizer(path)
	if err != nil {
		return nil, "", err
	}
	if path == "" {
		source = "the project's default"
	}
	return tok, source, nil
}

// tokenizerDir returns the directory holding the tokenizer.json saved with
// modelPath (the path itself for a directory, its directory for a file),
// or "" when there is none.
func tokenizerDir(modelPath string) string {
	if modelPath == "" {
		return ""
	}
	dir := modelPath
	if st, err := os.Stat(modelPath); err == nil && !st.IsDir() {
		dir = filepath.Dir(modelPath)
	}
	if st, err := os.Stat(filepath.Join(dir, "tokenizer.json")); err == nil && !st.IsDir() {
		return dir
	}
	return ""
}

// checkVocab refuses a tokenizer whose vocabulary is not the model's
// embedding size: ids past the embedding would crash, and a tokenizer of
// another size means the model was trained with another one. Only a
// tokenizer given with --tokenizer may be smaller than the embedding (a
// padded embedding, as the fixtures' 300 tokens in 320 rows); one found
// implicitly must match exactly.
func checkVocab(tok *tokenizer.Tokenizer, tokSource string, explicit bool, vocab int, modelPath string) error {
	n := tok.VocabSize()
	if n > vocab || (n < vocab && !explicit) {
		return fmt.Errorf("%w: the tokenizer (%s) has %d tokens but the model %s has vocab_size %d: pass the model's tokenizer with --tokenizer",
			errUsage, tokSource, n, modelPath, vocab)
	}
	return nil
}
