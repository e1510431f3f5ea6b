package chat

import (
	"fmt"

	"github.com/minimind-go/minimind/tokenizer"
)

// ForTokenizer returns the template prompts for tok are rendered with, the
// one place that choice is made (SFT data, generation, chat and the server
// all call it):
//   - no chat_template, or MiniMind's 2510 template verbatim: the built-in
//     ChatML renderer, which is byte-identical for that template and needs
//     no Jinja engine;
//   - any other chat_template: that template, compiled.
//
// A chat_template the engine cannot compile is an error wrapping
// ErrTemplate, not a silent fallback to ChatML: a wrong prompt format
// quietly ruins a model's answers.
func ForTokenizer(tok *tokenizer.Tokenizer) (*Template, error) {
	src := tok.ChatTemplate()
	if src == "" || src == tokenizer.MiniMindChatTemplate {
		return ChatML(), nil
	}
	t, err := NewTemplate(src)
	if err != nil {
		return nil, fmt.Errorf("tokenizer chat_template: %w", err)
	}
	return t, nil
}
