package generate

import (
	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/tokenizer"
)

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
