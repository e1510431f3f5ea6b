package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
)

// This file holds OpenAI's wire types and pure converters between them and
// the generate package. Nothing here does I/O.

// chatRequest is the body of POST /v1/chat/completions. Fields OpenAI
// defines and we cannot honour are rejected (n > 1); unknown fields are
// ignored, as clients send many.
type chatRequest struct {
	Model    string      `json:"model"`
	Messages messageList `json:"messages"`
	samplingFields
	// MaxCompletionTokens is OpenAI's newer name for max_tokens; it wins
	// when both are set.
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	Tools               []chat.Object  `json:"tools"`
	// ToolChoice is "none", "auto", "required" or {"type": "function",
	// "function": {"name": ...}}. The model is not constrained: "none"
	// leaves the tools out of the prompt, a named function is the only
	// one offered, and tool calls are parsed from whatever it writes.
	ToolChoice json.RawMessage `json:"tool_choice"`
	// OpenThinking opens a <think> block for the reply (minimind-3's
	// open_thinking; enable_thinking for the 2510 template).
	OpenThinking       *bool          `json:"open_thinking"`
	ChatTemplateKwargs map[string]any `json:"chat_template_kwargs"`
}

// completionRequest is the body of POST /v1/completions.
type completionRequest struct {
	Model  string     `json:"model"`
	Prompt promptList `json:"prompt"`
	samplingFields
	Stream        bool           `json:"stream"`
	StreamOptions *streamOptions `json:"stream_options"`
}

// samplingFields are the sampling fields chat and completion requests
// share. Both embed it, so encoding/json flattens them onto the wire, and
// 400s name them by their JSON keys (decodeBody drops the embedded
// struct's name from decode errors' field paths). top_k,
// repetition_penalty and ignore_eos are vLLM-style extensions.
type samplingFields struct {
	Temperature       *float64 `json:"temperature"`
	TopP              *float64 `json:"top_p"`
	TopK              *int     `json:"top_k"`
	RepetitionPenalty *float64 `json:"repetition_penalty"`
	FrequencyPenalty  *float64 `json:"frequency_penalty"`
	PresencePenalty   *float64 `json:"presence_penalty"`
	MaxTokens         *int     `json:"max_tokens"`
	N                 *int     `json:"n"`
	Seed              *int64   `json:"seed"`
	Stop              stopList `json:"stop"`
	IgnoreEOS         bool     `json:"ignore_eos"`
}

type streamOptions struct {
	IncludeUsage bool `json:"include_usage"`
}

// stopList is OpenAI's stop: null, a string or a list of strings.
type stopList []string

func (s *stopList) UnmarshalJSON(b []byte) error {
	return stringOrList(b, (*[]string)(s), "stop")
}

// promptList is a completion prompt: a string or a list of strings.
type promptList []string

func (p *promptList) UnmarshalJSON(b []byte) error {
	return stringOrList(b, (*[]string)(p), "prompt")
}

func stringOrList(b []byte, dst *[]string, field string) error {
	b = bytes.TrimSpace(b)
	switch {
	case bytes.Equal(b, []byte("null")):
		*dst = nil
		return nil
	case len(b) > 0 && b[0] == '"':
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*dst = []string{s}
		return nil
	case len(b) > 0 && b[0] == '[':
		return json.Unmarshal(b, dst)
	}
	return fmt.Errorf("%s must be a string or a list of strings", field)
}

// Response bodies.

type chatCompletion struct {
	ID      string       `json:"id"`
	Object  string       `json:"object"`
	Created int64        `json:"created"`
	Model   string       `json:"model"`
	Choices []chatChoice `json:"choices"`
	Usage   *usage       `json:"usage,omitempty"`
}

type chatChoice struct {
	Index        int              `json:"index"`
	Message      *responseMessage `json:"message,omitempty"`
	Delta        *chatMessage     `json:"delta,omitempty"`
	FinishReason *string          `json:"finish_reason"`
	Logprobs     *struct{}        `json:"logprobs"`
}

// chatMessage is a streamed delta.
type chatMessage struct {
	Role             string     `json:"role,omitempty"`
	Content          *string    `json:"content,omitempty"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCall `json:"tool_calls,omitempty"`
}

// responseMessage is a whole reply; content is null when the reply is
// only tool calls, as OpenAI sends it.
type responseMessage struct {
	Role             string     `json:"role"`
	Content          *string    `json:"content"`
	ReasoningContent *string    `json:"reasoning_content,omitempty"`
	ToolCalls        []toolCall `json:"tool_calls,omitempty"`
}

type completion struct {
	ID      string             `json:"id"`
	Object  string             `json:"object"`
	Created int64              `json:"created"`
	Model   string             `json:"model"`
	Choices []completionChoice `json:"choices"`
	Usage   *usage             `json:"usage,omitempty"`
}

type completionChoice struct {
	Index        int       `json:"index"`
	Text         string    `json:"text"`
	Logprobs     *struct{} `json:"logprobs"`
	FinishReason *string   `json:"finish_reason"`
}

type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

type modelList struct {
	Object string      `json:"object"`
	Data   []modelInfo `json:"data"`
}

type modelInfo struct {
	ID      string `json:"id"`
	Object  string `json:"object"`
	Created int64  `json:"created"`
	OwnedBy string `json:"owned_by"`
}

// apiError is an error response: its HTTP status and OpenAI's error object.
type apiError struct {
	Status  int     `json:"-"`
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    *string `json:"code"`
}

func (e *apiError) Error() string { return e.Message }

type errorBody struct {
	Error *apiError `json:"error"`
}

// Error constructors, by OpenAI's error types.

func badRequest(param, format string, args ...any) *apiError {
	e := &apiError{Status: http.StatusBadRequest, Type: "invalid_request_error", Message: fmt.Sprintf(format, args...)}
	if param != "" {
		e.Param = &param
	}
	return e
}

func withCode(e *apiError, code string) *apiError {
	e.Code = &code
	return e
}

// engineError maps a generate error to its response.
func engineError(err error) *apiError {
	switch {
	case errors.Is(err, generate.ErrContextWindow):
		return withCode(badRequest("messages", "%v", err), "context_length_exceeded")
	case errors.Is(err, generate.ErrInvalid):
		return badRequest("", "%v", err)
	case errors.Is(err, generate.ErrQueueFull):
		return withCode(&apiError{Status: http.StatusTooManyRequests, Type: "rate_limit_error",
			Message: "the server is busy: every generation slot and the queue are full; retry later"}, "rate_limit_exceeded")
	case errors.Is(err, generate.ErrClosed):
		return &apiError{Status: http.StatusServiceUnavailable, Type: "server_error", Message: "the server is shutting down"}
	}
	return &apiError{Status: http.StatusInternalServerError, Type: "server_error", Message: err.Error()}
}

// Limits on requests; anything beyond is a 400, not a silent clamp.
const (
	maxTokensLimit = 1 << 20
	maxMessages    = 1024
)

// Defaults of the original server (SPEC §7.2), with HF's implicit top-k.
const (
	defaultTemperature = 0.7
	defaultTopP        = 0.92
	defaultTopK        = 50
)

// options validates the sampling fields and converts them; seed is used
// when the request has none. Each error names the field at fault.
func (s *samplingFields) options(seed uint64) (generate.Options, *apiError) {
	o := generate.Options{Temperature: defaultTemperature, TopP: defaultTopP, TopK: defaultTopK, RepetitionPenalty: 1,
		Seed: seed, Stop: s.Stop, IgnoreEOS: s.IgnoreEOS}
	// OpenAI's range for both penalties; NaN fails the test too.
	penaltyOK := func(p *float64) bool { return p == nil || (*p >= -2 && *p <= 2) }
	switch {
	case s.Temperature != nil && !(*s.Temperature >= 0 && *s.Temperature <= 2):
		return o, badRequest("temperature", "temperature must be between 0 and 2")
	case s.TopP != nil && !(*s.TopP > 0 && *s.TopP <= 1):
		return o, badRequest("top_p", "top_p must be greater than 0 and at most 1")
	case s.TopK != nil && *s.TopK < 0:
		return o, badRequest("top_k", "top_k must not be negative")
	case s.RepetitionPenalty != nil && !(*s.RepetitionPenalty > 0 && *s.RepetitionPenalty <= 10):
		return o, badRequest("repetition_penalty", "repetition_penalty must be greater than 0 and at most 10")
	case !penaltyOK(s.FrequencyPenalty):
		return o, badRequest("frequency_penalty", "frequency_penalty must be between -2 and 2")
	case !penaltyOK(s.PresencePenalty):
		return o, badRequest("presence_penalty", "presence_penalty must be between -2 and 2")
	case s.MaxTokens != nil && (*s.MaxTokens < 1 || *s.MaxTokens > maxTokensLimit):
		return o, badRequest("max_tokens", "max_tokens must be between 1 and %d (replies are also capped by the context window)", maxTokensLimit)
	case s.N != nil && *s.N != 1:
		return o, badRequest("n", "only n=1 is supported")
	case len(s.Stop) > generate.MaxStopStrings:
		return o, badRequest("stop", "at most %d stop strings", generate.MaxStopStrings)
	}
	if s.Temperature != nil {
		o.Temperature = *s.Temperature
	}
	if s.TopP != nil {
		o.TopP = *s.TopP
	}
	if s.TopK != nil {
		o.TopK = *s.TopK
	}
	if s.RepetitionPenalty != nil {
		o.RepetitionPenalty = *s.RepetitionPenalty
	}
	if s.FrequencyPenalty != nil {
		o.FrequencyPenalty = *s.FrequencyPenalty
	}
	if s.PresencePenalty != nil {
		o.PresencePenalty = *s.PresencePenalty
	}
	if s.MaxTokens != nil {
		o.MaxNewTokens = *s.MaxTokens
	}
	if s.Seed != nil {
		o.Seed = uint64(*s.Seed)
	}
	if err := o.Validate(); err != nil {
		return o, badRequest("stop", "%v", err)
	}
	return o, nil
}

// options is samplingFields.options with max_completion_tokens standing
// in for max_tokens when set (a bad value is reported as max_tokens).
func (r *chatRequest) options(seed uint64) (generate.Options, *apiError) {
	s := r.samplingFields
	if r.MaxCompletionTokens != nil {
		s.MaxTokens = r.MaxCompletionTokens
	}
	return s.options(seed)
}

// roles are the message roles a chat request may use; "developer" is
// OpenAI's newer name for "system".
var roles = map[string]string{"system": "system", "developer": "system", "user": "user", "assistant": "assistant", "tool": "tool"}

// chatMessages validates a chat request's messages, tools and template
// switches, and returns the messages as the template expects with the
// template options. parseCalls says whether tools were offered, so tool
// calls in the reply are to be parsed.
func (r *chatRequest) chatMessages() (msgs []chat.Message, opt chat.Options, parseCalls bool, e *apiError) {
	msgs, opt, e = r.messages()
	if e != nil {
		return nil, opt, false, e
	}
	if e := checkTools(r.Tools); e != nil {
		return nil, opt, false, e
	}
	tools, e := r.chosenTools()
	if e != nil {
		return nil, opt, false, e
	}
	if len(tools) > 0 {
		opt.Tools = tools
	}
	// chat_template_kwargs reach the template as variables, as HF passes
	// apply_chat_template's extra arguments; the two thinking switches are
	// MiniMind's two generations' names for one thing, so either sets both.
	if len(r.ChatTemplateKwargs) > 0 {
		opt.Vars = map[string]any{}
	}
	for k, v := range r.ChatTemplateKwargs {
		if k == "enable_thinking" || k == "open_thinking" {
			b, isBool := v.(bool)
			if !isBool {
				return nil, opt, false, badRequest("chat_template_kwargs."+k, "chat_template_kwargs.%s must be a boolean", k)
			}
			r.OpenThinking = &b
			continue
		}
		opt.Vars[k] = v
	}
	if r.OpenThinking != nil {
		if opt.Vars == nil {
			opt.Vars = map[string]any{}
		}
		opt.Vars["open_thinking"] = *r.OpenThinking
		opt.EnableThinking = r.OpenThinking
	}
	return msgs, opt, len(opt.Tools) > 0, nil
}

// chosenTools applies tool_choice to the tools.
func (r *chatRequest) chosenTools() ([]chat.Object, *apiError) {
	tc := bytes.TrimSpace(r.ToolChoice)
	if len(tc) == 0 || bytes.Equal(tc, []byte("null")) {
		return r.Tools, nil
	}
	var mode string
	if json.Unmarshal(tc, &mode) == nil {
		switch mode {
		case "auto", "required":
			return r.Tools, nil
		case "none":
			return nil, nil
		}
		return nil, badRequest("tool_choice", "tool_choice %q is not one of none, auto, required or a {\"type\": \"function\", \"function\": {\"name\": ...}} object", mode)
	}
	var named struct {
		Type     string `json:"type"`
		Function struct {
			Name string `json:"name"`
		} `json:"function"`
	}
	if err := json.Unmarshal(tc, &named); err != nil || named.Type != "function" || named.Function.Name == "" {
		return nil, badRequest("tool_choice", "tool_choice must be none, auto, required or {\"type\": \"function\", \"function\": {\"name\": ...}}")
	}
	for _, t := range r.Tools {
		if toolName(t) == named.Function.Name {
			return []chat.Object{t}, nil
		}
	}
	return nil, badRequest("tool_choice.function.name", "tool_choice names %q, which is not among the tools", named.Function.Name)
}

// messages validates the messages.
func (r *chatRequest) messages() ([]chat.Message, chat.Options, *apiError) {
	var opt chat.Options
	if len(r.Messages) == 0 {
		return nil, opt, badRequest("messages", "messages must be a non-empty list")
	}
	if len(r.Messages) > maxMessages {
		return nil, opt, badRequest("messages", "at most %d messages", maxMessages)
	}
	msgs := make([]chat.Message, len(r.Messages))
	for i, m := range r.Messages {
		role, ok := roles[m.Role]
		if !ok {
			return nil, opt, badRequest(fmt.Sprintf("messages[%d].role", i), "messages[%d].role %q is not one of system, developer, user, assistant, tool", i, m.Role)
		}
		// A tool may well return nothing; an empty user turn is a mistake.
		if m.Content == "" && len(m.ToolCalls) == 0 && role != "assistant" && role != "tool" {
			return nil, opt, badRequest(fmt.Sprintf("messages[%d].content", i), "messages[%d].content is empty", i)
		}
		if len(m.ToolCalls) > 0 && role != "assistant" {
			return nil, opt, badRequest(fmt.Sprintf("messages[%d].tool_calls", i), "messages[%d] has tool_calls but only assistant messages may", i)
		}
		for j, c := range m.ToolCalls {
			if c.Function.Name == "" {
				p := fmt.Sprintf("messages[%d].tool_calls[%d].function.name", i, j)
				return nil, opt, badRequest(p, "%s is missing", p)
			}
		}
		m.Role = role
		msgs[i] = m
	}
	return msgs, opt, nil
}

// completionPrompt validates a completion request's prompt.
func (r *completionRequest) completionPrompt() (string, *apiError) {
	switch {
	case len(r.Prompt) == 0:
		return "", badRequest("prompt", "prompt must be a non-empty string")
	case len(r.Prompt) > 1:
		return "", badRequest("prompt", "only one prompt per request is supported")
	case r.Prompt[0] == "":
		return "", badRequest("prompt", "prompt must be a non-empty string")
	}
	return r.Prompt[0], nil
}

func strPtr(s string) *string { return &s }

func usageOf(ev generate.Event) *usage {
	return &usage{PromptTokens: ev.PromptTokens, CompletionTokens: ev.CompletionTokens, TotalTokens: ev.PromptTokens + ev.CompletionTokens}
}

// chatResponse is the non-streaming chat reply, from the reply's parts.
func chatResponse(id string, created int64, model string, parts []generate.Part, ev generate.Event) chatCompletion {
	m := &responseMessage{Role: "assistant"}
	var content, reasoning strings.Builder
	for _, p := range parts {
		switch p.Kind {
		case generate.PartContent:
			content.WriteString(p.Text)
		case generate.PartReasoning:
			reasoning.WriteString(p.Text)
		case generate.PartToolCall:
			m.ToolCalls = append(m.ToolCalls, wireCall(p.Call))
		}
	}
	if content.Len() > 0 || len(m.ToolCalls) == 0 {
		m.Content = strPtr(content.String())
	}
	if reasoning.Len() > 0 {
		m.ReasoningContent = strPtr(reasoning.String())
	}
	return chatCompletion{ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []chatChoice{{Message: m, FinishReason: strPtr(finishReason(ev.Finish, len(m.ToolCalls) > 0))}},
		Usage:   usageOf(ev)}
}

// finishReason is OpenAI's "tool_calls" for a reply that stopped after
// calling tools, else the engine's reason.
func finishReason(f generate.FinishReason, called bool) string {
	if called && f == generate.FinishStop {
		return "tool_calls"
	}
	return string(f)
}

// chatChunk is one streamed chat event: the role (first chunk), a piece of
// content, or the finish reason (last chunk, empty delta).
func chatChunk(id string, created int64, model string, delta chatMessage, finish string) chatCompletion {
	c := chatChoice{Delta: &delta}
	if finish != "" {
		c.FinishReason = &finish
	}
	return chatCompletion{ID: id, Object: "chat.completion.chunk", Created: created, Model: model, Choices: []chatChoice{c}}
}

// usageChunk is the extra last chunk stream_options.include_usage asks for.
func usageChunk(id string, created int64, model, object string, ev generate.Event) any {
	if object == "text_completion" {
		return completion{ID: id, Object: object, Created: created, Model: model, Choices: []completionChoice{}, Usage: usageOf(ev)}
	}
	return chatCompletion{ID: id, Object: object, Created: created, Model: model, Choices: []chatChoice{}, Usage: usageOf(ev)}
}

// completionResponse is a non-streaming completion, or (stream) one chunk.
func completionResponse(id string, created int64, model, text, finish string, u *usage) completion {
	c := completionChoice{Text: text}
	if finish != "" {
		c.FinishReason = &finish
	}
	return completion{ID: id, Object: "text_completion", Created: created, Model: model, Choices: []completionChoice{c}, Usage: u}
}

func models(name string, created int64) modelList {
	return modelList{Object: "list", Data: []modelInfo{{ID: name, Object: "model", Created: created, OwnedBy: "minimind-go"}}}
}

// eventError is the error a reply that ended without finishing reports.
func eventError(ev generate.Event) *apiError {
	if ev.Err == nil {
		return nil
	}
	return engineError(ev.Err)
}

// messageList decodes a request's messages one by one, so that a
// malformed message is reported by its index (a messageError).
type messageList []chat.Message

func (l *messageList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	msgs := make([]chat.Message, len(raw))
	for i, r := range raw {
		if err := json.Unmarshal(r, &msgs[i]); err != nil {
			return &messageError{index: i, err: err}
		}
	}
	*l = msgs
	return nil
}

// messageError is a message that does not decode.
type messageError struct {
	index int
	err   error
}

func (e *messageError) Error() string { return fmt.Sprintf("messages[%d]: %v", e.index, e.err) }

func (e *messageError) Unwrap() error { return e.err }

// param is the JSON path of the bad part of the message, as OpenAI's
// errors name it.
func (e *messageError) param() string {
	p := fmt.Sprintf("messages[%d]", e.index)
	var (
		tc *chat.ToolCallError
		te *json.UnmarshalTypeError
	)
	switch {
	case errors.As(e.err, &tc):
		p += fmt.Sprintf(".tool_calls[%d]", tc.Index)
		if errors.Is(tc.Err, chat.ErrNoFunctionName) {
			p += ".function.name"
		}
	case errors.As(e.err, &te) && te.Field != "":
		// chat.Message decodes through an embedded struct named plain,
		// which the wire format does not have.
		p += "." + strings.TrimPrefix(te.Field, "plain.")
	}
	return p
}
