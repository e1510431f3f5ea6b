// Package server is MiniMind-Go's OpenAI-compatible HTTP API and web chat
// page.
//
// Routes (Handler): POST /v1/chat/completions and POST /v1/completions
// (streaming as server-sent events ending with "data: [DONE]", or one JSON
// body with usage counts), GET /v1/models, GET /health, and the embedded chat
// page at /. With Options.APIKey set, /v1/ routes need
// "Authorization: Bearer KEY" (401 otherwise); the page and /health do not.
// POST bodies must be application/json (415 otherwise; with no CORS
// headers, other sites' pages cannot make such requests, and
// Options.CORSOrigin grants one origin) and name the served model or none
// (404 model_not_found); other methods get 405 with Allow.
// Options.RequestLog logs a line per request.
//
// Thinking and tools: a chat request may offer "tools" (checked entry by
// entry; 400 naming tools[i].function.name...) and "tool_choice", and
// switch thinking on with "open_thinking" or chat_template_kwargs. The
// reply is split by generate.ReplySplitter: the <think> part comes back
// as "reasoning_content", <tool_call>{json}</tool_call> blocks as OpenAI
// "tool_calls" (ids "call_...", arguments a JSON string, finish_reason
// "tool_calls"), streamed as deltas in that order; a block that is not
// valid JSON stays in the content. Messages with role "tool" and
// assistant messages carrying tool_calls render through the template.
//
// Limits: bodies over Options.MaxBodyBytes get 413 before any parsing; a
// request then takes one of the engine's slot-plus-queue permits before its
// prompt is rendered and tokenized (429 when none is left), and a prompt
// whose byte length alone shows it cannot fit the window is refused
// without tokenizing it. Serve adds read, write and idle timeouts (a
// stream's write deadline moves with each event) and caps open
// connections.
//
// Concurrency: handlers never touch the model. They validate the request,
// render the prompt, Submit it to a generate.Engine whose Run loop (one
// goroutine, started by Serve) owns the weights and the KV cache and
// batches every active request's decoding step (continuous batching), then
// relay the engine's events, selecting on the client's context so a client
// that goes away cancels its generation. When every slot is busy and the
// engine's queue is full, requests get 429.
//
// Errors: every error response is OpenAI's {"error": {"message", "type",
// "param", "code"}} with a 4xx status for anything the client sent wrong
// (malformed JSON, wrong types, unknown roles, empty messages, absurd
// limits, a prompt longer than the context window) and 5xx only for the
// server's own failures; a panic in a handler or in a decoding step becomes
// a 500 for the requests involved, never a crash. openai.go keeps the wire
// types and their pure converters apart from the handlers.
//
// Host check: Serve answers only requests whose Host header is localhost,
// a loopback address or the host it is bound to (any IP or the machine's
// name for 0.0.0.0), and others 421 misdirected_request, so that a web
// page cannot reach the API by pointing its own name at 127.0.0.1 (DNS
// rebinding). Handler alone does not check.
//
// Shutdown: Serve stops accepting connections when its context ends, lets
// in-flight requests finish for a grace period, then cancels what is left.
package server
