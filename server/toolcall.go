package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"

	"github.com/minimind-go/minimind/chat"
)

// This file splits a chat reply as the model writes it into OpenAI's
// parts: the thinking between <think> and </think> (reasoning_content),
// the answer (content) and <tool_call>{json}</tool_call> blocks
// (tool_calls). MiniMind's templates render turns that way, and
// minimind-3's generation prompt may leave a <think> block open for the
// reply to continue.

// Tags of the reply format.
const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
	callOpen   = "<tool_call>"
	callClose  = "</tool_call>"
)

// partKind says which field of the reply a piece of text belongs to.
type partKind int

const (
	partContent partKind = iota
	partReasoning
	partToolCall
)

// replyPart is a piece of a reply: text for content or reasoning, or a
// whole parsed tool call.
type replyPart struct {
	kind partKind
	text string
	call *toolCall
}

// toolCall is OpenAI's tool call object; Arguments is a JSON string.
type toolCall struct {
	Index    *int         `json:"index,omitempty"` // streaming deltas only
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Function functionCall `json:"function"`
}

type functionCall struct {
	Name      string `json:"name"`
	Arguments string `json:"arguments"`
}

type splitState int

const (
	stateStart   splitState = iota // nothing but whitespace yet: a <think> may open
	stateThink                     // inside <think>
	stateContent                   // the answer
	stateCall                      // inside <tool_call>
)

// replySplitter splits streamed reply text into parts. Text that might be
// the start of a tag, and newlines that might only pad one, are held back
// until the next piece shows what they are, so tags never reach the
// client. A <tool_call> block whose body is not a JSON object with a
// string "name" is passed on as content, tags and all: the model's text
// is never lost and never a server error.
type replySplitter struct {
	state   splitState
	tools   bool // tools were offered: parse <tool_call> blocks
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

// newReplySplitter returns a splitter for a reply to prompt (the rendered
// template text): when the prompt leaves a <think> block open, the reply
// starts inside it.
func newReplySplitter(prompt string, tools bool) *replySplitter {
	s := &replySplitter{tools: tools}
	if strings.LastIndex(prompt, thinkOpen) > strings.LastIndex(prompt, thinkClose) {
		s.state, s.trimLead = stateThink, true
	}
	return s
}

// push adds reply text and returns the parts it completes.
func (s *replySplitter) push(text string) []replyPart {
	s.pending += text
	var out []replyPart
	for {
		out = s.step(out, false)
		if !s.progressed {
			return out
		}
		s.progressed = false
	}
}

// flush ends the reply and returns what was held back. An unfinished
// tool call is content.
func (s *replySplitter) flush() []replyPart {
	var out []replyPart
	for {
		out = s.step(out, true)
		if !s.progressed {
			break
		}
		s.progressed = false
	}
	if s.state == stateCall {
		out = appendText(out, partContent, callOpen+s.call.String()+s.pending)
		s.call.Reset()
	} else if s.pending != "" && s.state != stateStart {
		out = appendText(out, s.textKind(), s.pending)
	}
	s.pending = ""
	return out
}

func (s *replySplitter) textKind() partKind {
	if s.state == stateThink {
		return partReasoning
	}
	return partContent
}

// step consumes what it can of pending. At the end (final) nothing more
// comes, so nothing is held back for a tag that might follow.
func (s *replySplitter) step(out []replyPart, final bool) []replyPart {
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
			out = appendText(out, partReasoning, strings.TrimRight(s.pending[:i], "\n"))
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
		out = appendText(out, partReasoning, emit)
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
				out = appendText(out, partContent, body)
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
		out = appendText(out, partContent, emit)
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
		if c, ok := parseToolCall(body); ok {
			s.calls++
			return append(out, replyPart{kind: partToolCall, call: c})
		}
		return appendText(out, partContent, callOpen+body+callClose)
	}
	return out
}

// appendText appends a text part, merging it into a last part of the same
// kind; empty text adds nothing.
func appendText(out []replyPart, kind partKind, text string) []replyPart {
	if text == "" {
		return out
	}
	if n := len(out); n > 0 && out[n-1].kind == kind && kind != partToolCall {
		out[n-1].text += text
		return out
	}
	return append(out, replyPart{kind: kind, text: text})
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

// parseToolCall reads a <tool_call> body: {"name": ..., "arguments": ...}
// as MiniMind's template writes it. The arguments become a JSON string (an
// object is re-encoded compactly; a string is taken as the JSON text it
// should hold). ok is false for anything else.
func parseToolCall(body string) (*toolCall, bool) {
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
	return &toolCall{ID: newCallID(), Type: "function", Function: functionCall{Name: *raw.Name, Arguments: args}}, true
}

// newCallID returns an OpenAI-style tool call id.
func newCallID() string {
	return fmt.Sprintf("call_%016x%08x", rand.Uint64(), rand.Uint32())
}

// toolNameRE is OpenAI's rule for function names.
var toolNameRE = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// checkTools validates a request's tools: each {"type": "function",
// "function": {"name": ..., "description"?: string, "parameters"?:
// object}}. The error names the parameter at fault.
func checkTools(tools []chat.Object) *apiError {
	for i, t := range tools {
		p := fmt.Sprintf("tools[%d]", i)
		if typ, ok := t.Get("type"); !ok || typ != "function" {
			return badRequest(p+".type", "%s.type must be \"function\"", p)
		}
		fv, ok := t.Get("function")
		f, isObj := fv.(chat.Object)
		if !ok || !isObj {
			return badRequest(p+".function", "%s.function must be an object with a name", p)
		}
		name, _ := f.Get("name")
		if n, isStr := name.(string); !isStr || !toolNameRE.MatchString(n) {
			return badRequest(p+".function.name", "%s.function.name must be a string of 1-64 letters, digits, _ or -", p)
		}
		if d, ok := f.Get("description"); ok {
			if _, isStr := d.(string); !isStr {
				return badRequest(p+".function.description", "%s.function.description must be a string", p)
			}
		}
		if params, ok := f.Get("parameters"); ok {
			if _, isObj := params.(chat.Object); !isObj {
				return badRequest(p+".function.parameters", "%s.function.parameters must be a JSON Schema object", p)
			}
		}
	}
	return nil
}

// toolName returns a tool's function name (checkTools has passed).
func toolName(t chat.Object) string {
	fv, _ := t.Get("function")
	f, _ := fv.(chat.Object)
	n, _ := f.Get("name")
	s, _ := n.(string)
	return s
}
