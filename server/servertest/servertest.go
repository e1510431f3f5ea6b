// Package servertest scripts a server's replies for tests: a random tiny
// model never writes a tool call or a <think> block, so tests of their
// parsing and of a client's tool round trip set server.Options.Submit to
// a Script instead.
package servertest

import (
	"context"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/tokenizer"
)

// Script returns a stand-in for Engine.Submit whose reply to a prompt is
// reply(the prompt's text), streamed as the engine streams it: the reply
// is encoded with tok and decoded back one token at a time, so tags arrive
// cut where real replies cut them. Every reply finishes with "stop".
func Script(tok *tokenizer.Tokenizer, reply func(prompt string) string) func(context.Context, generate.Request) (<-chan generate.Event, error) {
	return func(ctx context.Context, r generate.Request) (<-chan generate.Event, error) {
		ids := tok.Encode(reply(tok.Decode(r.Prompt)))
		ch := make(chan generate.Event, len(ids)+1)
		dec := tok.NewStreamDecoder()
		for _, id := range ids {
			if t := dec.Add(id); t != "" {
				ch <- generate.Event{Text: t}
			}
		}
		ch <- generate.Event{Text: dec.Flush(), Done: true, Finish: generate.FinishStop,
			PromptTokens: len(r.Prompt), CompletionTokens: len(ids) + 1}
		return ch, nil
	}
}
