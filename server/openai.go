package server

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
)

// This file holds OpenAI's wire types and pure converters between them and
// the generate package. Nothing here does I/O.

// chatRequest is the body of POST /v1/chat/completions. Fields OpenAI
// defines and we cannot honour are rejected (n > 1); unknown fields are
// ignored, as clients send many.
type chatRequest struct {
	Model    string         `json:"model"`
	Messages []chat.Message `json:"messages"`
	samplingFields
	// MaxCompletionTokens is OpenAI's newer name for max_tokens; it wins
	// when both are set.
	MaxCompletionTokens *int           `json:"max_completion_tokens"`
	Stream              bool           `json:"stream"`
	StreamOptions       *streamOptions `json:"stream_options"`
	Tools               []chat.Object  `json:"tools"`
	ChatTemplateKwargs  map[string]any `json:"chat_template_kwargs"`
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
	Index        int          `json:"index"`
	Message      *chatMessage `json:"message,omitempty"`
	Delta        *chatMessage `json:"delta,omitempty"`
	FinishReason *string      `json:"finish_reason"`
	Logprobs     *struct{}    `json:"logprobs"`
}

type chatMessage struct {
	Role    string  `json:"role,omitempty"`
	Content *string `json:"content,omitempty"`
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

// chatMessages validates a chat request's messages and returns them as the
// template expects, with the template options.
func (r *chatRequest) chatMessages() ([]chat.Message, chat.Options, *apiError) {
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
		if m.Content == "" && len(m.ToolCalls) == 0 && role != "assistant" {
			return nil, opt, badRequest(fmt.Sprintf("messages[%d].content", i), "messages[%d].content is empty", i)
		}
		m.Role = role
		msgs[i] = m
	}
	opt.Tools = r.Tools
	if v, ok := r.ChatTemplateKwargs["enable_thinking"]; ok {
		b, isBool := v.(bool)
		if !isBool {
			return nil, opt, badRequest("chat_template_kwargs.enable_thinking", "enable_thinking must be a boolean")
		}
		opt.EnableThinking = &b
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

// chatResponse is the non-streaming chat reply.
func chatResponse(id string, created int64, model, text string, ev generate.Event) chatCompletion {
	return chatCompletion{ID: id, Object: "chat.completion", Created: created, Model: model,
		Choices: []chatChoice{{Message: &chatMessage{Role: "assistant", Content: &text}, FinishReason: strPtr(string(ev.Finish))}},
		Usage:   usageOf(ev)}
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
