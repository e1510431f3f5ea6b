package server_test

import (
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/server"
	"github.com/minimind-go/minimind/server/servertest"
)

// m3Template is minimind-3's chat template, from the fixture.
func m3Template(tb testing.TB) *chat.Template {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(fixture.Dir(tb, "minimind3-tokenizer"), "tokenizer_config.json"))
	if err != nil {
		tb.Fatal(err)
	}
	var cfg struct {
		ChatTemplate string `json:"chat_template"`
	}
	if err := json.Unmarshal(b, &cfg); err != nil {
		tb.Fatal(err)
	}
	t, err := chat.NewTemplate(cfg.ChatTemplate)
	if err != nil {
		tb.Fatal(err)
	}
	return t
}

// weatherScript answers like a minimind-3 model trained on tool use: a
// thought and a get_weather call, then, given the tool's response, the
// answer; "broken" gets a call that is not JSON. prompts records what
// it was asked.
type weatherScript struct {
	mu      sync.Mutex
	prompts []string
}

func (w *weatherScript) reply(prompt string) string {
	w.mu.Lock()
	w.prompts = append(w.prompts, prompt)
	w.mu.Unlock()
	switch {
	case strings.Contains(prompt, "<tool_response>"):
		return "It is sunny in Paris, 21°C."
	case strings.Contains(prompt, "broken"):
		return "<tool_call>\n{\"name\": get_weather}\n</tool_call>"
	}
	return "用户想知道天气。\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\": \"Paris\"}}\n</tool_call>"
}

func (w *weatherScript) last() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.prompts[len(w.prompts)-1]
}

func newToolServer(t *testing.T) (*httptest.Server, *weatherScript) {
	t.Helper()
	w := &weatherScript{}
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 2, Window: 256}, server.Options{Template: m3Template(t),
		Submit: servertest.Script(generatetest.Tokenizer(t), w.reply)})
	return ts, w
}

const weatherTools = `"tools":[{"type":"function","function":{"name":"get_weather","description":"Weather of a city",
	"parameters":{"type":"object","properties":{"city":{"type":"string"}},"required":["city"]}}}]`

type toolReply struct {
	Choices []struct {
		Message struct {
			Content          *string `json:"content"`
			ReasoningContent *string `json:"reasoning_content"`
			ToolCalls        []struct {
				ID       string `json:"id"`
				Type     string `json:"type"`
				Function struct {
					Name      string `json:"name"`
					Arguments string `json:"arguments"`
				} `json:"function"`
			} `json:"tool_calls"`
		} `json:"message"`
		FinishReason string `json:"finish_reason"`
	} `json:"choices"`
	Error *struct {
		Param string `json:"param"`
	} `json:"error"`
}

func TestToolRoundTrip(t *testing.T) {
	url, w := newToolServer(t)
	res, b := postURL(t, url, `{"messages":[{"role":"user","content":"Weather in Paris?"}],`+weatherTools+`,"open_thinking":true}`)
	if res != 200 {
		t.Fatalf("status %d: %s", res, b)
	}
	var r toolReply
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	m := r.Choices[0].Message
	if p := w.last(); !strings.Contains(p, `<tools>
{"type": "function", "function": {"name": "get_weather"`) || !strings.HasSuffix(p, "<|im_start|>assistant\n<think>\n") {
		t.Errorf("the prompt does not offer the tool or open a think block:\n%s", p)
	}
	if r.Choices[0].FinishReason != "tool_calls" || m.Content != nil || m.ReasoningContent == nil || *m.ReasoningContent != "用户想知道天气。" || len(m.ToolCalls) != 1 {
		t.Fatalf("reply %s", b)
	}
	c := m.ToolCalls[0]
	if !strings.HasPrefix(c.ID, "call_") || c.Type != "function" || c.Function.Name != "get_weather" || c.Function.Arguments != `{"city":"Paris"}` {
		t.Fatalf("tool call %+v", c)
	}

	// The client runs the tool and sends its result back.
	callJSON, _ := json.Marshal(c)
	res, b = postURL(t, url, `{"messages":[{"role":"user","content":"Weather in Paris?"},
		{"role":"assistant","content":null,"tool_calls":[`+string(callJSON)+`]},
		{"role":"tool","tool_call_id":"`+c.ID+`","content":"{\"temp\": 21}"}],`+weatherTools+`}`)
	if res != 200 {
		t.Fatalf("status %d: %s", res, b)
	}
	r = toolReply{}
	json.Unmarshal(b, &r)
	want := "<|im_start|>assistant\n<think>\n\n</think>\n\n<tool_call>\n{\"name\": \"get_weather\", \"arguments\": {\"city\":\"Paris\"}}\n</tool_call><|im_end|>\n" +
		"<|im_start|>user\n<tool_response>\n{\"temp\": 21}\n</tool_response><|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
	if p := w.last(); !strings.HasSuffix(p, want) {
		t.Errorf("the prompt ends\n%q\nwant\n%q", p[max(0, len(p)-len(want)):], want)
	}
	m = r.Choices[0].Message
	if r.Choices[0].FinishReason != "stop" || m.Content == nil || *m.Content != "It is sunny in Paris, 21°C." || m.ReasoningContent != nil || m.ToolCalls != nil {
		t.Fatalf("final reply %s", b)
	}
}

func TestToolCallStreaming(t *testing.T) {
	url, _ := newToolServer(t)
	res, b := postURL(t, url, `{"stream":true,"messages":[{"role":"user","content":"Weather?"}],`+weatherTools+`,"chat_template_kwargs":{"enable_thinking":true}}`)
	if res != 200 {
		t.Fatalf("status %d: %s", res, b)
	}
	var order []string // the kinds of the deltas, runs merged
	var reasoning, content strings.Builder
	var calls []map[string]any
	finish := ""
	for _, line := range strings.Split(string(b), "\n") {
		data, ok := strings.CutPrefix(line, "data: ")
		if !ok || data == "[DONE]" {
			continue
		}
		var ch struct {
			Choices []struct {
				Delta struct {
					Content          *string          `json:"content"`
					ReasoningContent *string          `json:"reasoning_content"`
					ToolCalls        []map[string]any `json:"tool_calls"`
				} `json:"delta"`
				FinishReason *string `json:"finish_reason"`
			} `json:"choices"`
		}
		if err := json.Unmarshal([]byte(data), &ch); err != nil {
			t.Fatal(err)
		}
		d := ch.Choices[0].Delta
		kind := ""
		switch {
		case d.ReasoningContent != nil:
			kind = "reasoning"
			reasoning.WriteString(*d.ReasoningContent)
		case d.ToolCalls != nil:
			kind = "tool_calls"
			calls = append(calls, d.ToolCalls...)
		case d.Content != nil && *d.Content != "":
			kind = "content"
			content.WriteString(*d.Content)
		}
		if kind != "" && (len(order) == 0 || order[len(order)-1] != kind) {
			order = append(order, kind)
		}
		if f := ch.Choices[0].FinishReason; f != nil {
			finish = *f
		}
	}
	if strings.Join(order, ",") != "reasoning,tool_calls" || reasoning.String() != "用户想知道天气。" || content.Len() != 0 || finish != "tool_calls" {
		t.Fatalf("deltas %v, reasoning %q, content %q, finish %q:\n%s", order, reasoning.String(), content.String(), finish, b)
	}
	fn, _ := calls[0]["function"].(map[string]any)
	if len(calls) != 1 || calls[0]["index"] != 0.0 || !strings.HasPrefix(calls[0]["id"].(string), "call_") || fn["name"] != "get_weather" || fn["arguments"] != `{"city":"Paris"}` {
		t.Fatalf("tool call deltas %v", calls)
	}
}

func TestToolBadInput(t *testing.T) {
	url, _ := newToolServer(t)
	// A call the model botched is content, not an error.
	code, b := postURL(t, url, `{"messages":[{"role":"user","content":"broken"}],`+weatherTools+`}`)
	var r toolReply
	json.Unmarshal(b, &r)
	if code != 200 || r.Choices[0].FinishReason != "stop" || r.Choices[0].Message.ToolCalls != nil ||
		r.Choices[0].Message.Content == nil || *r.Choices[0].Message.Content != "<tool_call>\n{\"name\": get_weather}\n</tool_call>" {
		t.Fatalf("status %d: %s", code, b)
	}
	msgs := `"messages":[{"role":"user","content":"hi"}]`
	for _, c := range []struct{ body, param string }{
		{`"tools":[{"type":"function","function":{"description":"no name"}}]`, "tools[0].function.name"},
		{`"tools":[{"type":"retrieval"}]`, "tools[0].type"},
		{weatherTools + `,"tool_choice":{"type":"function","function":{"name":"nope"}}`, "tool_choice.function.name"},
		{weatherTools + `,"tool_choice":"sometimes"`, "tool_choice"},
		{`"chat_template_kwargs":{"open_thinking":"yes"}`, "chat_template_kwargs.open_thinking"},
		{`"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"function":{"arguments":"{}"}}]}]`, "messages[1].tool_calls[0].function.name"},
		{`"messages":[{"role":"user","content":"hi"},{"role":"assistant","tool_calls":[{"function":{"name":"f","arguments":"{}"}},{"function":{"name":"g"}}]}]`, "messages[1].tool_calls[1]"},
		{`"messages":[{"role":"user","content":"hi"},{"role":7,"content":"x"}]`, "messages[1].role"},
	} {
		body := "{" + msgs + "," + c.body + "}"
		if strings.HasPrefix(c.body, `"messages"`) {
			body = "{" + c.body + "}"
		}
		code, b := postURL(t, url, body)
		r = toolReply{}
		json.Unmarshal(b, &r)
		if code != 400 || r.Error == nil || r.Error.Param != c.param {
			t.Errorf("%s: status %d %s; want a 400 naming %s", c.body, code, b, c.param)
		}
	}
}

// postURL posts a JSON body to ts's chat completions.
func postURL(t *testing.T, ts *httptest.Server, body string) (int, []byte) {
	t.Helper()
	res, b := post(t, ts, "/v1/chat/completions", body)
	return res.StatusCode, b
}
