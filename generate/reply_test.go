package generate

import (
	"strings"
	"testing"
)

// splitAll runs text through a splitter in pieces of n bytes and joins
// what comes out by kind; calls are "name(args)".
func splitAll(prompt, text string, tools bool, n int) (reasoning, content string, calls []string) {
	s := NewReplySplitter(prompt, tools)
	var parts []Part
	for i := 0; i < len(text); i += n {
		parts = append(parts, s.Push(text[i:min(i+n, len(text))])...)
	}
	parts = append(parts, s.Flush()...)
	for _, p := range parts {
		switch p.Kind {
		case PartReasoning:
			reasoning += p.Text
		case PartContent:
			content += p.Text
		case PartToolCall:
			calls = append(calls, p.Call.Name+"("+p.Call.Arguments+")")
		}
	}
	return reasoning, content, calls
}

func TestReplySplitter(t *testing.T) {
	const (
		closed = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
		open   = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\n"
	)
	cases := []struct {
		name, prompt, text string
		tools              bool
		reasoning, content string
		calls              []string
	}{
		{"plain", closed, "你好！我是MiniMind。", false, "", "你好！我是MiniMind。", nil},
		{"open think in the prompt", open, "用户在打招呼。\n</think>\n\n你好！", false, "用户在打招呼。", "你好！", nil},
		{"think in the reply", closed, "<think>\nLet me see.\nOK.\n</think>\n\nThe answer is 4.", false, "Let me see.\nOK.", "The answer is 4.", nil},
		{"unclosed think", open, "thinking forever", false, "thinking forever", "", nil},
		{"tool call", closed, "<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\", \"days\": 2}}\n</tool_call>", true,
			"", "", []string{`get_weather({"city":"北京","days":2})`}},
		{"think, content, two calls", open, "需要查天气。\n</think>\n\n我来查一下。\n<tool_call>\n{\"name\": \"a\", \"arguments\": {}}\n</tool_call>\n<tool_call>\n{\"name\": \"b\", \"arguments\": \"{\\\"x\\\": 1}\"}\n</tool_call>", true,
			"需要查天气。", "我来查一下。", []string{"a({})", `b({"x": 1})`}},
		{"not JSON stays content", closed, "<tool_call>\n{name: get_weather}\n</tool_call>", true,
			"", "<tool_call>\n{name: get_weather}\n</tool_call>", nil},
		{"no name stays content", closed, "<tool_call>{\"arguments\": {}}</tool_call>", true,
			"", "<tool_call>{\"arguments\": {}}</tool_call>", nil},
		{"unfinished call stays content", closed, "<tool_call>\n{\"name\": \"f\", \"argu", true,
			"", "<tool_call>\n{\"name\": \"f\", \"argu", nil},
		{"no tools offered: calls are content", closed, "<tool_call>{\"name\": \"f\"}</tool_call>", false,
			"", "<tool_call>{\"name\": \"f\"}</tool_call>", nil},
		{"near-miss tags are content", closed, "a <tool_cal and </think nope\n\n", true, "", "a <tool_cal and </think nope\n\n", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			// Every piece size, as a stream may cut the text anywhere.
			for n := 1; n <= len(c.text); n++ {
				r, ct, calls := splitAll(c.prompt, c.text, c.tools, n)
				if r != c.reasoning || ct != c.content || strings.Join(calls, ";") != strings.Join(c.calls, ";") {
					t.Fatalf("pieces of %d bytes: reasoning %q content %q calls %q; want %q %q %q", n, r, ct, calls, c.reasoning, c.content, c.calls)
				}
			}
		})
	}
}

func TestParseToolCall(t *testing.T) {
	c, ok := ParseToolCall(`{"name": "f", "arguments": {"a": [1, 2]}}`)
	if !ok || c.Name != "f" || c.Arguments != `{"a":[1,2]}` {
		t.Fatalf("got %+v, %v", c, ok)
	}
	for _, bad := range []string{``, `[]`, `{"name": 3}`, `{"name": ""}`, `{"name": "f"} {"name": "g"}`, `{"name": "f", "arguments": {]}`} {
		if _, ok := ParseToolCall(bad); ok {
			t.Errorf("%q parsed as a tool call", bad)
		}
	}
}

// FuzzReplySplitter checks that where a stream cuts the reply never
// changes how it is split, and that no text is lost outside the tags.
func FuzzReplySplitter(f *testing.F) {
	for _, s := range []string{"plain", "<think>\na\n</think>\n\nb", "x\n<tool_call>\n{\"name\": \"f\", \"arguments\": {}}\n</tool_call>",
		"<tool_call>{bad}</tool_call>", "</think><think><tool_call></tool_call>", "\n\n<thi", "a\n\n<tool_call"} {
		f.Add(s, false, true)
		f.Add(s, true, false)
	}
	f.Fuzz(func(t *testing.T, text string, open, tools bool) {
		prompt := "<|im_start|>assistant\n"
		if open {
			prompt += "<think>\n"
		}
		r1, c1, k1 := splitAll(prompt, text, tools, len(text)+1)
		r2, c2, k2 := splitAll(prompt, text, tools, 1)
		if r1 != r2 || c1 != c2 || strings.Join(k1, ";") != strings.Join(k2, ";") {
			t.Fatalf("whole: %q %q %q; byte by byte: %q %q %q", r1, c1, k1, r2, c2, k2)
		}
		// Every non-space rune of the answer and the thinking comes from
		// the text.
		if len(k1) == 0 && len(strings.TrimSpace(r1+c1)) > len(text) {
			t.Fatalf("more out than in: %q %q from %q", r1, c1, text)
		}
	})
}
