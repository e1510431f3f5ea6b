package server

import (
	"fmt"
	"math/rand/v2"
	"regexp"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
)

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

// wireCall gives a parsed call its id, in OpenAI's form.
func wireCall(c *generate.ToolCall) toolCall {
	return toolCall{ID: newCallID(), Type: "function", Function: functionCall{Name: c.Name, Arguments: c.Arguments}}
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
