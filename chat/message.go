package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
)

// Message is one turn of a conversation. Its JSON form is OpenAI's and
// MiniMind's: {"role": ..., "content": ...} plus optional tool fields.
type Message struct {
	Role    string `json:"role"`
	Content string `json:"content"`
	// ReasoningContent is the thinking part of an assistant turn, for
	// templates that render it separately (MiniMind's keep it in Content).
	ReasoningContent string     `json:"reasoning_content,omitempty"`
	Name             string     `json:"name,omitempty"`
	ToolCallID       string     `json:"tool_call_id,omitempty"`
	ToolCalls        []ToolCall `json:"tool_calls,omitempty"`

	// reasoningSet records a "reasoning_content" string in the decoded
	// JSON even when empty: the minimind-3 template then uses it as is
	// and no longer looks for <think> inside the content.
	reasoningSet bool
}

// ToolCall is a function call made by an assistant turn.
type ToolCall struct {
	ID       string       `json:"id,omitempty"`
	Type     string       `json:"type,omitempty"`
	Function FunctionCall `json:"function"`
}

// FunctionCall names the function and its arguments. Arguments is a JSON
// string (OpenAI's wire form) or a decoded object (MiniMind's datasets);
// templates print a string as is and an object through tojson.
type FunctionCall struct {
	Name      string `json:"name"`
	Arguments any    `json:"arguments"` // a JSON string, or decoded JSON (objects as Object, in order)
}

// ErrNoFunctionName is wrapped when a tool call names no function.
var ErrNoFunctionName = errors.New("no function name")

// ToolCallError is a malformed entry of a message's tool_calls; servers
// use Index to name the parameter.
type ToolCallError struct {
	Index int
	Err   error
}

func (e *ToolCallError) Error() string { return fmt.Sprintf("tool_calls[%d]: %v", e.Index, e.Err) }

func (e *ToolCallError) Unwrap() error { return e.Err }

// UnmarshalJSON keeps object arguments in key order (see Object). The
// arguments must be present and be a JSON string (OpenAI's wire form) or an
// object (MiniMind's datasets): the chat templates print nothing else
// sensibly, and HF's raise on a call without them.
func (f *FunctionCall) UnmarshalJSON(data []byte) error {
	var aux struct {
		Name      *string         `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	if aux.Name == nil || *aux.Name == "" {
		return ErrNoFunctionName
	}
	f.Name, f.Arguments = *aux.Name, nil
	a := bytes.TrimSpace(aux.Arguments)
	if len(a) == 0 || bytes.Equal(a, []byte("null")) {
		return fmt.Errorf("function %q: no arguments (want a JSON string or object)", f.Name)
	}
	v, err := DecodeJSON(a)
	if err != nil {
		return fmt.Errorf("function %q arguments: %w", f.Name, err)
	}
	switch v.(type) {
	case string, Object:
		f.Arguments = v
	default:
		return fmt.Errorf("function %q arguments: want a JSON string or object, got %.20s", f.Name, a)
	}
	return nil
}

// UnmarshalJSON accepts OpenAI's {"id", "type", "function": {"name",
// "arguments"}} and the flat {"name", "arguments"} that MiniMind's
// template also renders (its "function" wrapper is optional).
func (c *ToolCall) UnmarshalJSON(data []byte) error {
	d := bytes.TrimSpace(data)
	if len(d) == 0 || d[0] != '{' {
		return fmt.Errorf("tool call: want an object, got %.20s", d)
	}
	var aux struct {
		ID       string          `json:"id"`
		Type     string          `json:"type"`
		Function json.RawMessage `json:"function"`
	}
	if err := json.Unmarshal(d, &aux); err != nil {
		return fmt.Errorf("tool call: %w", err)
	}
	c.ID, c.Type = aux.ID, aux.Type
	fn := bytes.TrimSpace(aux.Function)
	if len(fn) == 0 || bytes.Equal(fn, []byte("null")) {
		fn = d // the flat form
	} else if fn[0] != '{' {
		return fmt.Errorf("tool call: function: want an object, got %.20s", fn)
	}
	if err := json.Unmarshal(fn, &c.Function); err != nil {
		return fmt.Errorf("tool call: %w", err)
	}
	return nil
}

// parseToolCalls decodes a message's tool_calls: a list of calls, or a
// JSON string holding one (MiniMind-3's SFT data stores them so, and its
// dataset code json.loads them). null and "" mean none.
func parseToolCalls(raw json.RawMessage) ([]ToolCall, error) {
	r := bytes.TrimSpace(raw)
	if len(r) == 0 || bytes.Equal(r, []byte("null")) {
		return nil, nil
	}
	if r[0] == '"' {
		var s string
		if err := json.Unmarshal(r, &s); err != nil {
			return nil, fmt.Errorf("tool_calls: %w", err)
		}
		if s == "" {
			return nil, nil
		}
		r = bytes.TrimSpace([]byte(s))
		if len(r) == 0 || r[0] != '[' {
			return nil, fmt.Errorf("tool_calls: the string does not hold a JSON list: %.30q", s)
		}
	}
	if r[0] != '[' {
		return nil, fmt.Errorf("tool_calls: want a list, got %.20s", r)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(r, &items); err != nil {
		return nil, fmt.Errorf("tool_calls: %w", err)
	}
	calls := make([]ToolCall, len(items))
	for i, it := range items {
		if err := json.Unmarshal(it, &calls[i]); err != nil {
			return nil, &ToolCallError{Index: i, Err: err}
		}
	}
	return calls, nil
}

// UnmarshalJSON accepts content as a string, null, or OpenAI's list of
// parts, of which the text parts are concatenated, and tool_calls as a list
// or a JSON string holding one (see parseToolCalls). A malformed tool call
// is an error naming its index.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var aux struct {
		plain
		Content   json.RawMessage `json:"content"`
		ToolCalls json.RawMessage `json:"tool_calls"`
		Reasoning *string         `json:"reasoning_content"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*m = Message(aux.plain)
	if aux.Reasoning != nil {
		m.ReasoningContent, m.reasoningSet = *aux.Reasoning, true
	}
	calls, err := parseToolCalls(aux.ToolCalls)
	if err != nil {
		return err
	}
	m.ToolCalls = calls
	c := bytes.TrimSpace(aux.Content)
	switch {
	case len(c) == 0 || bytes.Equal(c, []byte("null")):
		m.Content = ""
	case c[0] == '"':
		return json.Unmarshal(c, &m.Content)
	case c[0] == '[':
		var parts []struct {
			Type string `json:"type"`
			Text string `json:"text"`
		}
		if err := json.Unmarshal(c, &parts); err != nil {
			return fmt.Errorf("message content: %w", err)
		}
		for _, p := range parts {
			if p.Type == "text" {
				m.Content += p.Text
			}
		}
	default:
		return fmt.Errorf("message content: want a string, null or a list of parts, got %.20s", c)
	}
	return nil
}

// templateValue is the message as the Jinja template sees it: a dict with
// only the fields that are set, as HF passes the caller's dicts through.
func (m Message) templateValue() map[string]any {
	v := map[string]any{"role": m.Role, "content": m.Content}
	if m.ReasoningContent != "" || m.reasoningSet {
		v["reasoning_content"] = m.ReasoningContent
	}
	if m.Name != "" {
		v["name"] = m.Name
	}
	if m.ToolCallID != "" {
		v["tool_call_id"] = m.ToolCallID
	}
	if len(m.ToolCalls) > 0 {
		calls := make([]any, len(m.ToolCalls))
		for i, c := range m.ToolCalls {
			call := map[string]any{"function": map[string]any{"name": c.Function.Name, "arguments": templateValue(c.Function.Arguments)}}
			if c.ID != "" {
				call["id"] = c.ID
			}
			if c.Type != "" {
				call["type"] = c.Type
			}
			calls[i] = call
		}
		v["tool_calls"] = calls
	}
	return v
}
