// Package generate turns a model and a tokenizer into text: KV-cache
// decoding of many sequences at once (continuous batching), MiniMind's
// samplers (temperature, top-k, top-p, repetition, frequency and presence
// penalties, greedy), stop conditions (end-of-sequence tokens, stop
// strings, a token budget, the context window) and streaming of
// UTF-8-complete text pieces.
//
// Main types:
//   - Options holds one sequence's sampling and stopping settings;
//     DefaultOptions gives MiniMind's eval_llm.py defaults.
//   - Sampler picks the next token from a row of logits, in this order:
//     repetition penalty, frequency and presence penalties (over the
//     reply so far), temperature, top-k, top-p, then a draw from a
//     PCG stream seeded by Options.Seed (or argmax at temperature 0).
//   - Engine owns a model's KV cache with a fixed number of slots. Generate
//     runs a set of requests to completion on the calling goroutine (the
//     CLI); Run is the serving loop that takes requests from Submit, admits
//     them into free slots between decoding steps and feeds every active
//     sequence's next token in one batched forward pass.
//
// Context window: a prompt must leave room for at least one new token in
// the engine's window (EngineOptions.Window, at most the model's
// max_position_embeddings); a longer one is rejected with an error wrapping
// ErrContextWindow, never truncated silently. MaxNewTokens is capped so the
// prompt and the reply fit the window; a reply cut there ends with
// FinishLength. Callers that want truncation (the chat command drops the
// oldest turns) do it before submitting.
//
// Threads: an Engine and its model are used by one goroutine: either the one
// calling Generate or the one running Run. Submit, Stats and Done are safe
// from any goroutine. Events are delivered on the engine's goroutine
// (Generate's callback) or through a buffered channel that never blocks the
// engine (Submit).
//
// Errors: bad requests (empty or too-long prompts, ids outside the
// vocabulary, invalid options) are errors wrapping ErrInvalid or
// ErrContextWindow, returned before any work starts. A full queue is
// ErrQueueFull, a stopped engine ErrClosed.
package generate
