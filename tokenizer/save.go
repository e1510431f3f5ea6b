package tokenizer

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	"github.com/minimind-go/minimind/internal/atomicfile"
)

// The file layout HF's tokenizers writes, field for field and in its key
// order, so a trained tokenizer.json diffs cleanly against MiniMind's.
type outFile struct {
	Version       string       `json:"version"`
	Truncation    any          `json:"truncation"`
	Padding       any          `json:"padding"`
	AddedTokens   []AddedToken `json:"added_tokens"`
	Normalizer    any          `json:"normalizer"`
	PreTokenizer  outByteLevel `json:"pre_tokenizer"`
	PostProcessor any          `json:"post_processor"`
	Decoder       outByteLevel `json:"decoder"`
	Model         outModel     `json:"model"`
}

type outByteLevel struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	TrimOffsets    bool   `json:"trim_offsets"`
	UseRegex       bool   `json:"use_regex"`
}

type outModel struct {
	Type                    string       `json:"type"`
	Dropout                 any          `json:"dropout"`
	UnkToken                any          `json:"unk_token"`
	ContinuingSubwordPrefix any          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         any          `json:"end_of_word_suffix"`
	FuseUnk                 bool         `json:"fuse_unk"`
	ByteFallback            bool         `json:"byte_fallback"`
	IgnoreMerges            bool         `json:"ignore_merges"`
	Vocab                   orderedVocab `json:"vocab"`
	Merges                  [][2]string  `json:"merges"`
}

// orderedVocab is the vocab by id; it marshals as a JSON object in id order,
// as HF writes it (a Go map would come out sorted by key).
type orderedVocab []string

func (v orderedVocab) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for id, tok := range v {
		if id > 0 {
			b.WriteByte(',')
		}
		k, err := marshalNoEscape(tok)
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(id))
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// marshalNoEscape is json.Marshal without HTML escaping: HF writes "<" as
// is, and "<|im_start|>" should read as itself in the file.
func marshalNoEscape(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(b.Bytes(), "\n"), nil
}

// marshalIndent is json.MarshalIndent (two spaces, like HF) without HTML
// escaping.
func marshalIndent(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// byteLevelFile returns the tokenizer.json bytes of a byte-level BPE with
// MiniMind's settings.
func byteLevelFile(vocab []string, merges [][2]string, special []string) ([]byte, error) {
	f := outFile{
		Version:      "1.0",
		PreTokenizer: outByteLevel{Type: "ByteLevel", AddPrefixSpace: false, TrimOffsets: true, UseRegex: true},
		Decoder:      outByteLevel{Type: "ByteLevel", AddPrefixSpace: true, TrimOffsets: true, UseRegex: true},
		Model:        outModel{Type: "BPE", Vocab: vocab, Merges: merges},
	}
	for _, s := range special {
		id := -1
		for i, v := range vocab {
			if v == s {
				id = i
				break
			}
		}
		if id < 0 {
			return nil, fmt.Errorf("special token %q not in vocab", s)
		}
		f.AddedTokens = append(f.AddedTokens, AddedToken{ID: int32(id), Content: s, Special: true})
	}
	return marshalIndent(f)
}

// configFile returns a tokenizer_config.json like MiniMind's, with the given
// special tokens (at least three: pad/unk, bos, eos) and chat template.
func configFile(special []string, chatTemplate string) ([]byte, error) {
	type added struct {
		Content    string `json:"content"`
		LStrip     bool   `json:"lstrip"`
		Normalized bool   `json:"normalized"`
		RStrip     bool   `json:"rstrip"`
		SingleWord bool   `json:"single_word"`
		Special    bool   `json:"special"`
	}
	if len(special) < 3 {
		return nil, fmt.Errorf("need at least 3 special tokens (pad, bos, eos), have %d", len(special))
	}
	decoder := map[string]added{}
	for i, s := range special {
		decoder[strconv.Itoa(i)] = added{Content: s, Special: true}
	}
	// Keys in MiniMind's order (alphabetical, as transformers writes them).
	cfg := struct {
		AddBOSToken              bool             `json:"add_bos_token"`
		AddEOSToken              bool             `json:"add_eos_token"`
		AddPrefixSpace           bool             `json:"add_prefix_space"`
		AddedTokensDecoder       map[string]added `json:"added_tokens_decoder"`
		AdditionalSpecialTokens  []string         `json:"additional_special_tokens"`
		BOSToken                 string           `json:"bos_token"`
		CleanUpTokenizationSpace bool             `json:"clean_up_tokenization_spaces"`
		EOSToken                 string           `json:"eos_token"`
		Legacy                   bool             `json:"legacy"`
		ModelMaxLength           int              `json:"model_max_length"`
		PadToken                 string           `json:"pad_token"`
		SPModelKwargs            struct{}         `json:"sp_model_kwargs"`
		SpacesBetweenSpecial     bool             `json:"spaces_between_special_tokens"`
		TokenizerClass           string           `json:"tokenizer_class"`
		UnkToken                 string           `json:"unk_token"`
		ChatTemplate             string           `json:"chat_template"`
	}{
		AddedTokensDecoder:      decoder,
		AdditionalSpecialTokens: []string{},
		BOSToken:                special[1],
		EOSToken:                special[2],
		Legacy:                  true,
		ModelMaxLength:          32768,
		PadToken:                special[0],
		TokenizerClass:          "PreTrainedTokenizerFast",
		UnkToken:                special[0],
		ChatTemplate:            chatTemplate,
	}
	return marshalIndent(cfg)
}

// Save writes tokenizer.json and, if the tokenizer has one,
// tokenizer_config.json into dir (created if needed). Each file is written
// atomically.
func (t *Tokenizer) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	if err := writeFileAtomic(filepath.Join(dir, "tokenizer.json"), t.jsonData); err != nil {
		return fmt.Errorf("save tokenizer: %w", err)
	}
	if t.configData != nil {
		if err := writeFileAtomic(filepath.Join(dir, "tokenizer_config.json"), t.configData); err != nil {
			return fmt.Errorf("save tokenizer: %w", err)
		}
	}
	return nil
}

// writeFileAtomic writes data to path through the project's atomic writer
// (temp file, fsync, rename), so a crash never leaves half a tokenizer.json.
func writeFileAtomic(path string, data []byte) error {
	return atomicfile.Write(path, 0o644, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}
