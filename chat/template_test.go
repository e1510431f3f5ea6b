package chat

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/minimind-go/minimind/jsonl"
)

// sharedPath returns ../shared/<rel> relative to the module root, or skips
// the test naming the missing path.
func sharedPath(tb testing.TB, rel string) string {
	tb.Helper()
	_, file, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(file), "..", "..", "shared", rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared fixture %s not found: %v", p, err)
	}
	return p
}

// configTemplate reads chat_template from a tokenizer_config.json.
func configTemplate(tb testing.TB, rel string) string {
	tb.Helper()
	data, err := os.ReadFile(sharedPath(tb, rel))
	if err != nil {
		tb.Fatal(err)
	}
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	if err := json.Unmarshal(data, &cfg); err != nil {
		tb.Fatal(err)
	}
	return cfg.ChatTemplate
}

type chatCase struct {
	Messages            []Message `json:"messages"`
	AddGenerationPrompt bool      `json:"add_generation_prompt"`
	Rendered            string    `json:"rendered"`
}

func readChatCases(tb testing.TB) []chatCase {
	tb.Helper()
	r, err := jsonl.Open(sharedPath(tb, "fixtures/tokenizer/chat.jsonl"))
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Close()
	var out []chatCase
	for {
		line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			tb.Fatal(err)
		}
		var c chatCase
		if err := json.Unmarshal(line, &c); err != nil {
			tb.Fatal(r.Errorf("%w", err))
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		tb.Fatal("chat.jsonl is empty")
	}
	return out
}

func mustTemplate(tb testing.TB, src string) *Template {
	tb.Helper()
	tpl, err := NewTemplate(src)
	if err != nil {
		tb.Fatal(err)
	}
	return tpl
}

func TestChatFixture(t *testing.T) {
	cases := readChatCases(t)
	for _, e := range []struct {
		name string
		tpl  *Template
	}{
		{"jinja-2510", mustTemplate(t, configTemplate(t, "minimind/tokenizer_config.json"))},
		{"builtin-chatml", ChatML()},
	} {
		t.Run(e.name, func(t *testing.T) {
			pass := 0
			for i, c := range cases {
				got, err := e.tpl.Render(c.Messages, Options{AddGenerationPrompt: c.AddGenerationPrompt})
				if err != nil {
					t.Errorf("line %d: %v", i+1, err)
					continue
				}
				if got != c.Rendered {
					t.Errorf("line %d:\n want %q\n  got %q", i+1, c.Rendered, got)
					continue
				}
				pass++
			}
			t.Logf("chat.jsonl: %d/%d lines rendered byte for byte", pass, len(cases))
		})
	}
}

// The 250426 template ignores add_generation_prompt but emits the assistant
// header after every user turn, so it matches 2510 whenever the fixture's
// conversation ends with an assistant turn or asks for the prompt.
func TestChatOlderTemplate(t *testing.T) {
	tpl := mustTemplate(t, configTemplate(t, "minimind/minimind2-250426/tokenizer_config.json"))
	checked := 0
	for i, c := range readChatCases(t) {
		last := c.Messages[len(c.Messages)-1].Role
		if last != "assistant" && !c.AddGenerationPrompt {
			continue
		}
		got, err := tpl.Render(c.Messages, Options{AddGenerationPrompt: c.AddGenerationPrompt})
		if err != nil {
			t.Fatalf("line %d: %v", i+1, err)
		}
		if got != c.Rendered {
			t.Errorf("line %d:\n want %q\n  got %q", i+1, c.Rendered, got)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no comparable lines")
	}
	t.Logf("250426 template: %d lines match", checked)
}

func boolPtr(b bool) *bool { return &b }

// Cases beyond the fixtures, from SPEC §4.1; the Jinja template and the
// built-in renderer must agree on each.
func TestChatSpecCases(t *testing.T) {
	jinja := mustTemplate(t, configTemplate(t, "minimind/tokenizer_config.json"))
	var weather Object // keys in an unsorted order, which tojson keeps
	if err := json.Unmarshal([]byte(`{"type": "function", "function": {"name": "get_weather", "description": "天气 \"now\"",
		"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}`), &weather); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		msgs []Message
		opt  Options
		want string
	}{
		{
			name: "system user assistant",
			msgs: []Message{{Role: "system", Content: "你是minimind。"}, {Role: "user", Content: "你好"}, {Role: "assistant", Content: "你好！有什么可以帮你？"}},
			want: "<|im_start|>system\n你是minimind。<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n你好！有什么可以帮你？<|im_end|>\n",
		},
		{
			name: "thinking disabled",
			msgs: []Message{{Role: "user", Content: "你好"}},
			opt:  Options{AddGenerationPrompt: true, EnableThinking: boolPtr(false)},
			want: "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n",
		},
		{
			name: "thinking enabled adds nothing",
			msgs: []Message{{Role: "user", Content: "你好"}},
			opt:  Options{AddGenerationPrompt: true, EnableThinking: boolPtr(true)},
			want: "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
		},
		{
			name: "tools, tool calls and grouped tool responses",
			msgs: []Message{
				{Role: "system", Content: "S"},
				{Role: "user", Content: "weather?"},
				{Role: "assistant", Content: "", ToolCalls: []ToolCall{
					{Type: "function", Function: FunctionCall{Name: "get_weather", Arguments: map[string]any{"city": "北京"}}},
					{Function: FunctionCall{Name: "get_weather", Arguments: `{"city": "上海"}`}},
				}},
				{Role: "tool", Content: "晴"},
				{Role: "tool", Content: "雨"},
			},
			opt: Options{AddGenerationPrompt: true, Tools: []Object{weather}},
			want: "<|im_start|>system\nS\n\n# Tools\n\nYou may call one or more functions to assist with the user query.\n\nYou are provided with function signatures within <tools></tools> XML tags:\n<tools>\n" +
				`{"type": "function", "function": {"name": "get_weather", "description": "天气 \"now\"", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}` +
				"\n</tools>\n\nFor each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:\n<tool_call>\n{\"name\": <function-name>, \"arguments\": <args-json-object>}\n</tool_call><|im_end|>\n" +
				"<|im_start|>user\nweather?<|im_end|>\n" +
				"<|im_start|>assistant\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"北京\"}}\n</tool_call>\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"上海\"}}\n</tool_call><|im_end|>\n" +
				"<|im_start|>user\n<tool_response>\n晴\n</tool_response>\n<tool_response>\n雨\n</tool_response><|im_end|>\n" +
				"<|im_start|>assistant\n",
		},
		{
			name: "think text kept verbatim",
			msgs: []Message{{Role: "user", Content: "q"}, {Role: "assistant", Content: "<think>\n推理\n</think>\n\n答案"}},
			want: "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\nq<|im_end|>\n<|im_start|>assistant\n<think>\n推理\n</think>\n\n答案<|im_end|>\n",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for name, tpl := range map[string]*Template{"jinja": jinja, "builtin": ChatML()} {
				got, err := tpl.Render(tc.msgs, tc.opt)
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if got != tc.want {
					t.Errorf("%s:\n want %q\n  got %q", name, tc.want, got)
				}
			}
		})
	}
}

func TestTemplateErrors(t *testing.T) {
	tests := []struct {
		name, src string
	}{
		{"empty", "  "},
		{"unclosed block", "{% if messages %}x"},
		{"unknown tag", "{% frobnicate %}"},
		{"bad expression", "{{ messages[ }}"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewTemplate(tc.src)
			if !errors.Is(err, ErrTemplate) {
				t.Fatalf("NewTemplate(%q) = %v, want ErrTemplate", tc.src, err)
			}
		})
	}
	tpl := mustTemplate(t, "{{ raise_exception('no system role') }}")
	if _, err := tpl.Render([]Message{{Role: "user", Content: "x"}}, Options{}); !errors.Is(err, ErrTemplate) {
		t.Fatalf("raise_exception: got %v, want ErrTemplate", err)
	}
}

func TestMessageJSON(t *testing.T) {
	tests := []struct {
		name, in string
		want     string
	}{
		{"string", `{"role":"user","content":"hi"}`, "hi"},
		{"null", `{"role":"assistant","content":null}`, ""},
		{"parts", `{"role":"user","content":[{"type":"text","text":"a"},{"type":"image_url","image_url":{}},{"type":"text","text":"b"}]}`, "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var m Message
			if err := json.Unmarshal([]byte(tc.in), &m); err != nil {
				t.Fatal(err)
			}
			if m.Content != tc.want {
				t.Fatalf("content %q, want %q", m.Content, tc.want)
			}
		})
	}
	var m Message
	if err := json.Unmarshal([]byte(`{"role":"user","content":5}`), &m); err == nil {
		t.Fatal("numeric content: want an error")
	}
}

// One Template serves many requests at once (the server renders in handler
// goroutines).
func TestRenderConcurrent(t *testing.T) {
	tpl := mustTemplate(t, configTemplate(t, "minimind/tokenizer_config.json"))
	msgs := []Message{{Role: "user", Content: "你好"}}
	want, err := ChatML().Render(msgs, Options{AddGenerationPrompt: true})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			for range 50 {
				got, err := tpl.Render(msgs, Options{AddGenerationPrompt: true})
				if err == nil && got != want {
					err = errors.New("concurrent render differs: " + got)
				}
				if err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}
