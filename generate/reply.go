package generate

import (
	"bytes"
	"encoding/json"
	"strings"
)

// This file splits a chat reply as the model writes it into its parts:
// the thinking between <think> and </think>, the answer, and
// <tool_call>{json}</tool_call> blocks. MiniMind's templates render turns
// that way, and minimind-3's generation prompt may leave a <think> block
// open for the reply to continue.

// Tags of the reply format.
const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
	callOpen   = "<tool_call>"
	callClose  = "</tool_call>"
)

// PartKind says which part of a reply a piece of text belongs to.
type PartKind int

// The parts of a reply.
const (
	PartContent   PartKind = iota // the answer
	PartReasoning                 // the thinking, between <think> and </think>
	PartToolCall                  // a parsed <tool_call> block
)

// Part is a piece of a reply: text of the answer or of the thinking, or a
// whole parsed tool call.
type Part struct {
	Kind PartKind
	Text string    // PartContent, PartReasoning
	Call *ToolCall // PartToolCall
}

// ToolCall is a function call the model made.
type ToolCall struct {
	Name string
	// Arguments is JSON text (an object, as the model wrote it, compacted).
	Arguments string
}

type splitState int

const (
	stateStart   splitState = iota // nothing but whitespace yet: a <think> may open
	stateThink                     // inside <think>
	stateContent                   // the answer
	stateCall                      // inside <tool_call>
)

// ReplySplitter splits streamed reply text into parts. Text that might be
// the start of a tag, and newlines that might only pad one, are held back
// until the next piece shows what they are, so tags never reach the
// reader. A <tool_call> block whose body is not a JSON object with a
// string "name" is passed on as content, tags and all: the model's text
// is never lost and never an error.
type ReplySplitter struct {
	state   splitState
	tools   bool // parse <tool_call> blocks
	pending string
	call    strings.Builder // the body of the open tool call
	calls   int
	// trimLead drops the newlines that pad the start of the thinking
	// and of the answer (the template writes "<think>\n" and
	// "</think>\n\n").
	trimLead bool
	// progressed: the last step changed state, so another may follow.
	progressed bool
}

// NewReplySplitter returns a splitter for a reply to prompt (the rendered
// template text): when the prompt leaves a <think> block open, the reply
// starts inside it. tools says whether to parse tool calls (were tools
// offered?).
func NewReplySplitter(prompt string, tools bool) *ReplySplitter {
	s := &ReplySplitter{tools: tools}
	if strings.LastIndex(prompt, thinkOpen) > strings.LastIndex(prompt, thinkClose) {
		s.state, s.trimLead = stateThink, true
	}
	return s
}

// Push adds reply text and returns the parts it completes.
func (s *ReplySplitter) Push(text string) []Part {
	s.pending += text
	var out []Part
	for {
		out = s.step(out, false)
		if !s.progressed {
			return out
		}
		s.progressed = false
	}
}

// Flush ends the reply and returns what was held back. An unfinished
// tool call is content.
func (s *ReplySplitter) Flush() []Part {
	var out []Part
	for {
		out = s.step(out, true)
		if !s.progressed {
			break
		}
		s.progressed = false
	}
	if s.state == stateCall {
		out = appendText(out, PartContent, callOpen+s.call.String()+s.pending)
		s.call.Reset()
	} else if s.pending != "" && s.state != stateStart {
		out = appendText(out, s.textKind(), s.pending)
	}
	s.pending = ""
	return out
}

func (s *ReplySplitter) textKind() PartKind {
	if s.state == stateThink {
		return PartReasoning
	}
	return PartContent
}

// step consumes what it can of pending. At the end (final) nothing more
// comes, so nothing is held back for a tag that might follow.
func (s *ReplySplitter) step(out []Part, final bool) []Part {
	if s.trimLead && (s.state == stateThink || s.state == stateContent) {
		s.pending = strings.TrimLeft(s.pending, "\n")
		if s.pending == "" {
			return out
		}
		s.trimLead = false
	}
	switch s.state {
	case stateStart:
		t := strings.TrimLeft(s.pending, " \t\r\n")
		switch {
		case strings.HasPrefix(t, thinkOpen):
			s.pending = t[len(thinkOpen):]
			s.state, s.trimLead = stateThink, true
			s.progressed = true
		case t == "" || (!final && strings.HasPrefix(thinkOpen, t)):
			// Whitespace only, or maybe the start of <think>: wait.
			if final {
				s.pending = ""
			}
		default:
			s.pending = t
			s.state = stateContent
			s.progressed = true
		}
		return out
	case stateThink:
		if i := strings.Index(s.pending, thinkClose); i >= 0 {
			out = appendText(out, PartReasoning, strings.TrimRight(s.pending[:i], "\n"))
			s.pending = s.pending[i+len(thinkClose):]
			s.state, s.trimLead = stateContent, true
			s.progressed = true
			return out
		}
		emit := s.pending
		if !final {
			// Held back: a possible start of </think>, and newlines that
			// may only pad it.
			emit = strings.TrimRight(emit[:len(emit)-holdBack(emit, thinkClose)], "\n")
		}
		out = appendText(out, PartReasoning, emit)
		s.pending = s.pending[len(emit):]
		return out
	case stateContent:
		if s.tools {
			if i := strings.Index(s.pending, callOpen); i >= 0 {
				body := s.pending[:i]
				if s.calls == 0 || strings.TrimSpace(body) != "" {
					// The template puts "\n" between content and a call.
					body = strings.TrimRight(body, "\n")
				} else {
					body = ""
				}
				out = appendText(out, PartContent, body)
				s.pending = s.pending[i+len(callOpen):]
				s.state = stateCall
				s.progressed = true
				return out
			}
		}
		keep := 0
		if !final && s.tools {
			keep = holdBack(s.pending, callOpen)
		}
		emit := s.pending[:len(s.pending)-keep]
		if !final && s.tools {
			// Newlines may only separate the content from a call.
			trimmed := strings.TrimRight(emit, "\n")
			keep += len(emit) - len(trimmed)
			emit = trimmed
		}
		if final && s.calls > 0 {
			emit = strings.TrimRight(emit, " \t\r\n")
		}
		out = appendText(out, PartContent, emit)
		s.pending = s.pending[len(s.pending)-keep:]
		return out
	case stateCall:
		i := strings.Index(s.pending, callClose)
		if i < 0 {
			if !final {
				keep := holdBack(s.pending, callClose)
				s.call.WriteString(s.pending[:len(s.pending)-keep])
				s.pending = s.pending[len(s.pending)-keep:]
			}
			return out
		}
		s.call.WriteString(s.pending[:i])
		s.pending = s.pending[i+len(callClose):]
		body := s.call.String()
		s.call.Reset()
		s.state = stateContent
		s.progressed = true
		if c, ok := ParseToolCall(body); ok {
			s.calls++
			return append(out, Part{Kind: PartToolCall, Call: c})
		}
		return appendText(out, PartContent, callOpen+body+callClose)
	}
	return out
}

// appendText appends a text part, merging it into a last part of the same
// kind; empty text adds nothing.
func appendText(out []Part, kind PartKind, text string) []Part {
	if text == "" {
		return out
	}
	if n := len(out); n > 0 && out[n-1].Kind == kind && kind != PartToolCall {
		out[n-1].Text += text
		return out
	}
	return append(out, Part{Kind: kind, Text: text})
}

// holdBack is the length of the longest suffix of text that is a proper
// prefix of tag.
func holdBack(text, tag string) int {
	for n := min(len(tag)-1, len(text)); n > 0; n-- {
		if strings.HasSuffix(text, tag[:n]) {
			return n
		}
	}
	return 0
}

// ParseToolCall reads a <tool_call> body: {"name": ..., "arguments": ...}
// as MiniMind's template writes it. The arguments become a JSON string (an
// object is re-encoded compactly; a string is taken as the JSON text it
// should hold). ok is false for anything else.
func ParseToolCall(body string) (*ToolCall, bool) {
	var raw struct {
		Name      *string         `json:"name"`
		Arguments json.RawMessage `json:"arguments"`
	}
	dec := json.NewDecoder(strings.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw.Name == nil || *raw.Name == "" {
		return nil, false
	}
	if dec.More() {
		return nil, false
	}
	args := "{}"
	if a := bytes.TrimSpace(raw.Arguments); len(a) > 0 && !bytes.Equal(a, []byte("null")) {
		var s string
		if a[0] == '"' && json.Unmarshal(a, &s) == nil {
			args = s
		} else {
			var buf bytes.Buffer
			if json.Compact(&buf, a) != nil {
				return nil, false
			}
			args = buf.String()
		}
	}
	return &ToolCall{Name: *raw.Name, Arguments: args}, true
}
