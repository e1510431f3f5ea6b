package tokenizer

import (
	_ "embed"
	"fmt"
)

// The project's own tokenizer, trained by `minimind tokenizer train` on the
// shared corpus; default/README.md records exactly how.
var (
	//go:embed default/tokenizer.json
	defaultTokenizerJSON []byte
	//go:embed default/tokenizer_config.json
	defaultConfigJSON []byte
)

// Default returns the project's default tokenizer (vocab 6400, MiniMind's
// special tokens and chat template), embedded in the binary. Every command
// uses it when no --tokenizer is given. Each call parses the embedded files
// afresh (a few milliseconds), so callers that need it often should keep
// the result.
func Default() (*Tokenizer, error) {
	t, err := Parse(defaultTokenizerJSON, defaultConfigJSON)
	if err != nil {
		return nil, fmt.Errorf("default tokenizer: %w", err)
	}
	return t, nil
}
