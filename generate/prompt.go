package generate

import (
	"fmt"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/tokenizer"
)

// ChatTemplate returns the template for tok's chat_template: the built-in
// ChatML renderer when it is MiniMind's 2510 template or absent (faster and
// byte-identical), else the compiled Jinja source.
func ChatTemplate(tok *tokenizer.Tokenizer) (*chat.Template, error) {
	src := tok.ChatTemplate()
	if src == "" || src == tokenizer.MiniMindChatTemplate {
		return chat.ChatML(), nil
	}
	t, err := chat.NewTemplate(src)
	if err != nil {
		return nil, fmt.Errorf("generate: tokenizer chat template: %w", err)
	}
	return t, nil
}

// ChatPrompt renders msgs with the generation prompt (the header of the
// assistant's turn) and tokenizes the result.
func ChatPrompt(tmpl *chat.Template, tok *tokenizer.Tokenizer, msgs []chat.Message, opt chat.Options) ([]int32, error) {
	opt.AddGenerationPrompt = true
	text, err := tmpl.Render(msgs, opt)
	if err != nil {
		return nil, err
	}
	return tok.Encode(text), nil
}

// TextPrompt is MiniMind's prompt for pretrained (not chat-tuned) weights:
// bos followed by the text's tokens.
func TextPrompt(tok *tokenizer.Tokenizer, bos int32, text string) []int32 {
	return tok.AppendEncode([]int32{bos}, text)
}
