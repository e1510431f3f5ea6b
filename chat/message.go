package chat

import (
	"bytes"
	"encoding/json"
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

// UnmarshalJSON keeps object arguments in key order (see Object).
func (f *FunctionCall) UnmarshalJSON(data []byte) error {
	var aux struct {
		Name      string          `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	f.Name, f.Arguments = aux.Name, nil
	if a := bytes.TrimSpace(aux.Arguments); len(a) > 0 {
		v, err := DecodeJSON(a)
		if err != nil {
			return fmt.Errorf("function arguments: %w", err)
		}
		f.Arguments = v
	}
	return nil
}

// UnmarshalJSON accepts content as a string, null, or OpenAI's list of
// parts, of which the text parts are concatenated.
func (m *Message) UnmarshalJSON(data []byte) error {
	type plain Message
	var aux struct {
		plain
		Content json.RawMessage `json:"content"`
	}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	*m = Message(aux.plain)
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
	if m.ReasoningContent != "" {
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
