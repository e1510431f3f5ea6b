package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ErrUnsupported is wrapped by every error about a tokenizer.json feature
// this package does not implement; the message names the feature.
var ErrUnsupported = errors.New("unsupported tokenizer feature")

// fileJSON is the part of HF's tokenizer.json this package reads. Parts that
// can hold several shapes stay raw and are checked by hand, so an unknown
// shape becomes an ErrUnsupported error rather than a silent misparse.
type fileJSON struct {
	Version       string          `json:"version"`
	Truncation    json.RawMessage `json:"truncation"`
	Padding       json.RawMessage `json:"padding"`
	AddedTokens   []AddedToken    `json:"added_tokens"`
	Normalizer    json.RawMessage `json:"normalizer"`
	PreTokenizer  json.RawMessage `json:"pre_tokenizer"`
	PostProcessor json.RawMessage `json:"post_processor"`
	Decoder       json.RawMessage `json:"decoder"`
	Model         *modelJSON      `json:"model"`
}

// AddedToken is one entry of tokenizer.json's added_tokens.
type AddedToken struct {
	ID         int32  `json:"id"`
	Content    string `json:"content"`
	SingleWord bool   `json:"single_word"`
	LStrip     bool   `json:"lstrip"`
	RStrip     bool   `json:"rstrip"`
	Normalized bool   `json:"normalized"`
	Special    bool   `json:"special"`
}

type modelJSON struct {
	Type                    string           `json:"type"`
	Dropout                 *float64         `json:"dropout"`
	UnkToken                *string          `json:"unk_token"`
	ContinuingSubwordPrefix *string          `json:"continuing_subword_prefix"`
	EndOfWordSuffix         *string          `json:"end_of_word_suffix"`
	FuseUnk                 bool             `json:"fuse_unk"`
	ByteFallback            bool             `json:"byte_fallback"`
	IgnoreMerges            bool             `json:"ignore_merges"`
	Vocab                   map[string]int32 `json:"vocab"`
	Merges                  json.RawMessage  `json:"merges"`
}

// byteLevelJSON is the ByteLevel pre-tokenizer or decoder object.
type byteLevelJSON struct {
	Type           string `json:"type"`
	AddPrefixSpace bool   `json:"add_prefix_space"`
	TrimOffsets    bool   `json:"trim_offsets"`
	UseRegex       *bool  `json:"use_regex"`
}

// configJSON is the part of tokenizer_config.json this package reads.
type configJSON struct {
	ChatTemplate json.RawMessage `json:"chat_template"`
	BOSToken     json.RawMessage `json:"bos_token"`
	EOSToken     json.RawMessage `json:"eos_token"`
	PadToken     json.RawMessage `json:"pad_token"`
	UnkToken     json.RawMessage `json:"unk_token"`
}

// Config holds the tokenizer_config.json settings the rest of the project
// needs. Empty strings mean "not set".
type Config struct {
	ChatTemplate string
	BOSToken     string
	EOSToken     string
	PadToken     string
	UnkToken     string
}

// Load reads a tokenizer.json file, or a directory holding tokenizer.json
// and, if present, tokenizer_config.json (whose chat template and special
// token names it keeps).
func Load(path string) (*Tokenizer, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	file, cfgPath := path, ""
	if st.IsDir() {
		file = filepath.Join(path, "tokenizer.json")
		cfgPath = filepath.Join(path, "tokenizer_config.json")
	} else {
		// A tokenizer.json given by path still picks up its sibling config,
		// as HF's from_pretrained does for the folder.
		cfgPath = filepath.Join(filepath.Dir(path), "tokenizer_config.json")
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	var cfg []byte
	if b, err := os.ReadFile(cfgPath); err == nil {
		cfg = b
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("load tokenizer: %w", err)
	}
	t, err := Parse(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("load tokenizer %s: %w", file, err)
	}
	return t, nil
}

// Parse builds a Tokenizer from the bytes of a tokenizer.json and,
// optionally (nil), a tokenizer_config.json.
func Parse(tokenizerJSON, configJSONBytes []byte) (*Tokenizer, error) {
	var f fileJSON
	if err := json.Unmarshal(tokenizerJSON, &f); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json: %w", err)
	}
	if err := checkFeatures(&f); err != nil {
		return nil, err
	}
	merges, err := parseMerges(f.Model.Merges)
	if err != nil {
		return nil, err
	}
	var cfg Config
	if configJSONBytes != nil {
		if cfg, err = parseConfig(configJSONBytes); err != nil {
			return nil, err
		}
	}
	t, err := build(&f, merges, cfg)
	if err != nil {
		return nil, err
	}
	t.jsonData = tokenizerJSON
	t.configData = configJSONBytes
	return t, nil
}

func isNull(m json.RawMessage) bool {
	m = bytes.TrimSpace(m)
	return len(m) == 0 || bytes.Equal(m, []byte("null"))
}

// typeOf returns the "type" field of a JSON object.
func typeOf(m json.RawMessage) (string, error) {
	var v struct {
		Type string `json:"type"`
	}
	if err := json.Unmarshal(m, &v); err != nil {
		return "", err
	}
	return v.Type, nil
}

func unsupported(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrUnsupported, fmt.Sprintf(format, args...))
}

// checkFeatures rejects everything outside the byte-level BPE subset that
// this package reproduces exactly.
func checkFeatures(f *fileJSON) error {
	if f.Model == nil {
		return errors.New("parse tokenizer.json: no model")
	}
	m := f.Model
	if m.Type != "BPE" {
		return unsupported("model type %q (only BPE)", m.Type)
	}
	if m.Dropout != nil && *m.Dropout != 0 {
		return unsupported("BPE dropout")
	}
	if m.ContinuingSubwordPrefix != nil && *m.ContinuingSubwordPrefix != "" {
		return unsupported("BPE continuing_subword_prefix")
	}
	if m.EndOfWordSuffix != nil && *m.EndOfWordSuffix != "" {
		return unsupported("BPE end_of_word_suffix")
	}
	if m.ByteFallback {
		return unsupported("BPE byte_fallback")
	}
	if len(m.Vocab) == 0 {
		return errors.New("parse tokenizer.json: empty model vocab")
	}
	if !isNull(f.Truncation) {
		return unsupported("truncation")
	}
	if !isNull(f.Padding) {
		return unsupported("padding")
	}
	if !isNull(f.Normalizer) {
		typ, _ := typeOf(f.Normalizer)
		return unsupported("normalizer %q", typ)
	}
	if isNull(f.PreTokenizer) {
		return unsupported("missing pre_tokenizer (only ByteLevel)")
	}
	var pre byteLevelJSON
	if err := json.Unmarshal(f.PreTokenizer, &pre); err != nil {
		return fmt.Errorf("parse tokenizer.json pre_tokenizer: %w", err)
	}
	if pre.Type != "ByteLevel" {
		return unsupported("pre_tokenizer %q (only ByteLevel)", pre.Type)
	}
	if isNull(f.Decoder) {
		return unsupported("missing decoder (only ByteLevel)")
	}
	if typ, err := typeOf(f.Decoder); err != nil {
		return fmt.Errorf("parse tokenizer.json decoder: %w", err)
	} else if typ != "ByteLevel" {
		return unsupported("decoder %q (only ByteLevel)", typ)
	}
	if !isNull(f.PostProcessor) {
		// ByteLevel only adjusts offsets; TemplateProcessing and friends add
		// tokens only with add_special_tokens=True, which Encode never uses.
		typ, err := typeOf(f.PostProcessor)
		if err != nil {
			return fmt.Errorf("parse tokenizer.json post_processor: %w", err)
		}
		switch typ {
		case "ByteLevel", "TemplateProcessing", "BertProcessing", "RobertaProcessing":
		default:
			return unsupported("post_processor %q", typ)
		}
	}
	for _, a := range f.AddedTokens {
		switch {
		case a.Content == "":
			return errors.New("parse tokenizer.json: empty added token")
		case a.ID < 0:
			return fmt.Errorf("parse tokenizer.json: added token %q has negative id", a.Content)
		case a.SingleWord:
			return unsupported("added token %q with single_word", a.Content)
		case a.LStrip:
			return unsupported("added token %q with lstrip", a.Content)
		case a.RStrip:
			return unsupported("added token %q with rstrip", a.Content)
		}
	}
	return nil
}

// parseMerges accepts both merge formats HF writes: ["a b", ...] (before
// tokenizers 0.20) and [["a", "b"], ...].
func parseMerges(raw json.RawMessage) ([][2]string, error) {
	if isNull(raw) {
		return nil, nil
	}
	var pairs [][2]string
	if err := json.Unmarshal(raw, &pairs); err == nil {
		return pairs, nil
	}
	var strs []string
	if err := json.Unmarshal(raw, &strs); err != nil {
		return nil, fmt.Errorf("parse tokenizer.json merges: %w", err)
	}
	pairs = make([][2]string, len(strs))
	for i, s := range strs {
		a, b, ok := bytes.Cut([]byte(s), []byte(" "))
		if !ok {
			return nil, fmt.Errorf("parse tokenizer.json merge %d %q: no space", i, s)
		}
		pairs[i] = [2]string{string(a), string(b)}
	}
	return pairs, nil
}

// parseConfig reads tokenizer_config.json. Special tokens may be plain
// strings or AddedToken objects ({"content": ...}); chat_template may be a
// string or a list of named templates, of which "default" is taken.
func parseConfig(data []byte) (Config, error) {
	var c configJSON
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("parse tokenizer_config.json: %w", err)
	}
	var cfg Config
	var err error
	if !isNull(c.ChatTemplate) {
		if err := json.Unmarshal(c.ChatTemplate, &cfg.ChatTemplate); err != nil {
			var named []struct{ Name, Template string }
			if err2 := json.Unmarshal(c.ChatTemplate, &named); err2 != nil {
				return Config{}, fmt.Errorf("parse tokenizer_config.json chat_template: %w", err)
			}
			for _, n := range named {
				if n.Name == "default" {
					cfg.ChatTemplate = n.Template
				}
			}
		}
	}
	for _, p := range []struct {
		raw json.RawMessage
		dst *string
	}{{c.BOSToken, &cfg.BOSToken}, {c.EOSToken, &cfg.EOSToken}, {c.PadToken, &cfg.PadToken}, {c.UnkToken, &cfg.UnkToken}} {
		if *p.dst, err = tokenName(p.raw); err != nil {
			return Config{}, fmt.Errorf("parse tokenizer_config.json: %w", err)
		}
	}
	return cfg, nil
}

func tokenName(raw json.RawMessage) (string, error) {
	if isNull(raw) {
		return "", nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		return s, nil
	}
	var obj struct {
		Content string `json:"content"`
	}
	if err := json.Unmarshal(raw, &obj); err != nil {
		return "", err
	}
	return obj.Content, nil
}
