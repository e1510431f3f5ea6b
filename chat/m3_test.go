package chat

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/jsonl"
	"github.com/minimind-go/minimind/tokenizer"
)

// m3Case is one row of minimind3-tokenizer/chat.jsonl. OpenThinking is
// raw: the fixture passes true, false and the string "true".
type m3Case struct {
	Messages            []Message       `json:"messages"`
	Tools               []Object        `json:"tools"`
	AddGenerationPrompt bool            `json:"add_generation_prompt"`
	OpenThinking        json.RawMessage `json:"open_thinking"`
	Rendered            string          `json:"rendered"`
}

func readM3Cases(tb testing.TB) []m3Case {
	tb.Helper()
	r, err := jsonl.Open(fixture.Dir(tb, "minimind3-tokenizer") + "/chat.jsonl")
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var out []m3Case
	for {
		line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		var c m3Case
		if err := json.Unmarshal(line, &c); err != nil {
			tb.Fatal(r.Errorf("%w", err))
		}
		out = append(out, c)
	}
	if len(out) != 16 {
		tb.Fatalf("chat.jsonl: %d rows, want 16", len(out))
	}
	return out
}

// m3Options turns a fixture row's arguments into Options: a boolean
// open_thinking goes through the OpenThinking field, anything else (the
// string "true") through Vars, as the fixture passed it.
func m3Options(tb testing.TB, c m3Case) Options {
	tb.Helper()
	opt := Options{AddGenerationPrompt: c.AddGenerationPrompt, Tools: c.Tools}
	if len(c.OpenThinking) > 0 {
		var v any
		if err := json.Unmarshal(c.OpenThinking, &v); err != nil {
			tb.Fatal(err)
		}
		if b, ok := v.(bool); ok {
			opt.OpenThinking = &b
		} else {
			opt.Vars = map[string]any{"open_thinking": v}
		}
	}
	return opt
}

// Every rendering of minimind3-tokenizer/chat.jsonl, byte for byte, through
// the template ForTokenizer picks for the minimind-3 tokenizer.
func TestMiniMind3ChatFixture(t *testing.T) {
	tok, err := tokenizer.Load(fixture.Dir(t, "minimind3-tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ForTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	if tpl.IsBuiltin() {
		t.Fatal("ForTokenizer picked the built-in ChatML renderer for the minimind-3 tokenizer")
	}
	for i, c := range readM3Cases(t) {
		got, err := tpl.Render(c.Messages, m3Options(t, c))
		if err != nil {
			t.Errorf("line %d: %v", i+1, err)
			continue
		}
		if got != c.Rendered {
			t.Errorf("line %d:\n want %q\n  got %q", i+1, c.Rendered, got)
		}
	}
}

// tool_calls as MiniMind-3's SFT data stores them (a JSON string), flat or
// wrapped, decode to the same calls; malformed ones are errors naming the
// call.
func TestToolCallsJSON(t *testing.T) {
	var m Message
	line := `{"role": "assistant", "content": "", "tool_calls": "[{\"name\": \"f\", \"arguments\": {\"b\": 1, \"a\": 2}}, {\"type\": \"function\", \"function\": {\"name\": \"g\", \"arguments\": \"{}\"}}]"}`
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatal(err)
	}
	if len(m.ToolCalls) != 2 || m.ToolCalls[0].Function.Name != "f" || m.ToolCalls[1].Function.Name != "g" || m.ToolCalls[1].Type != "function" {
		t.Fatalf("tool calls = %+v", m.ToolCalls)
	}
	if args, ok := m.ToolCalls[0].Function.Arguments.(Object); !ok || len(args.Keys) != 2 || args.Keys[0] != "b" {
		t.Errorf("object arguments lost their key order: %#v", m.ToolCalls[0].Function.Arguments)
	}
	if s, ok := m.ToolCalls[1].Function.Arguments.(string); !ok || s != "{}" {
		t.Errorf("string arguments = %#v, want \"{}\"", m.ToolCalls[1].Function.Arguments)
	}
	for _, none := range []string{`null`, `""`, `[]`} {
		var m Message
		if err := json.Unmarshal([]byte(`{"role": "assistant", "content": "x", "tool_calls": `+none+`}`), &m); err != nil || len(m.ToolCalls) != 0 {
			t.Errorf("tool_calls %s: %v, %v; want no calls", none, m.ToolCalls, err)
		}
	}
	bad := map[string]string{
		`"[{\"name\": \"f\", \"arguments\": {}"`: "tool_calls",
		`"not json"`:                             "does not hold a JSON list",
		`{"name": "f"}`:                          "want a list",
		`[1]`:                                    "tool_calls[0]: tool call: want an object",
		`[{"arguments": {}}]`:                    "tool_calls[0]: tool call: no function name",
		`[{"function": "f"}]`:                    "function: want an object",
		`[{"name": "f"}]`:                        `function "f": no arguments`,
		`[{"name": "f", "arguments": 3}]`:        `function "f" arguments: want a JSON string or object`,
		`[{"name": "f", "arguments": {}}, {"function": {"name": ""}}]`: "tool_calls[1]: tool call: no function name",
	}
	for in, want := range bad {
		var m Message
		err := json.Unmarshal([]byte(`{"role": "assistant", "content": "", "tool_calls": `+in+`}`), &m)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("tool_calls %s: error %v, want one containing %q", in, err, want)
		}
	}
}

// An explicit "reasoning_content": "" is used as is (upstream's `is
// string`), so the <think> inside the content stays; absent or null, the
// template takes the reasoning out of the content. Expected texts from
// Python jinja2 running the template as HF does.
func TestMiniMind3ReasoningPresence(t *testing.T) {
	tok, err := tokenizer.Load(fixture.Dir(t, "minimind3-tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ForTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	for field, want := range map[string]string{
		`, "reasoning_content": ""`:   "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n<think>\nx\n</think>\n\ny<|im_end|>\n",
		`, "reasoning_content": null`: "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nx\n</think>\n\ny<|im_end|>\n",
		``:                            "<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\nx\n</think>\n\ny<|im_end|>\n",
	} {
		var msgs []Message
		if err := json.Unmarshal([]byte(`[{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>\nx\n</think>\n\ny"`+field+`}]`), &msgs); err != nil {
			t.Fatal(err)
		}
		got, err := tpl.Render(msgs, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("assistant message with %q:\n want %q\n  got %q", field, want, got)
		}
	}
}

// chat_template_kwargs decoded from JSON reach the template through Vars:
// {"open_thinking": true} opens the think block, as Options.OpenThinking.
func TestMiniMind3KwargsVars(t *testing.T) {
	tok, err := tokenizer.Load(fixture.Dir(t, "minimind3-tokenizer"))
	if err != nil {
		t.Fatal(err)
	}
	tpl, err := ForTokenizer(tok)
	if err != nil {
		t.Fatal(err)
	}
	kw, err := DecodeJSON([]byte(`{"open_thinking": true, "extra": {"b": 1, "a": [2]}}`))
	if err != nil {
		t.Fatal(err)
	}
	o := kw.(Object)
	vars := map[string]any{}
	for i, k := range o.Keys {
		vars[k] = o.Values[i]
	}
	got, err := tpl.Render([]Message{{Role: "user", Content: "你好"}}, Options{AddGenerationPrompt: true, Vars: vars})
	if err != nil {
		t.Fatal(err)
	}
	if want := "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n<think>\n"; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
