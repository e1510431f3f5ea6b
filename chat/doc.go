// Package chat renders conversations into the prompt text a MiniMind model
// was trained on.
//
// Main types: Message (JSON-compatible with OpenAI and MiniMind
// {"role", "content"} messages), Options and Template. NewTemplate compiles
// the Jinja chat_template of a tokenizer_config.json and executes it the way
// HF transformers' apply_chat_template does (trim_blocks, lstrip_blocks,
// Python-style tojson), so any template the engine can run works, including
// older MiniMind templates. ChatML returns a built-in Go renderer with the
// MiniMind 2510 template's behaviour, for when a template cannot be run.
// ForTokenizer is the one place that chooses between them for a tokenizer:
// minimind-3's tokenizer gets its own template (thinking blocks on every
// assistant turn, reasoning_content, tools, tool_calls with or without the
// "function" wrapper, tool responses), switched by Options.OpenThinking.
//
// Errors: a template the engine cannot compile or execute is an error
// wrapping ErrTemplate, naming the problem; nothing panics on user input.
// A *Template is safe for concurrent use.
package chat
