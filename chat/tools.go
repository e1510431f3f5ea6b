package chat

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// ParseTools decodes a list of tool schemas, or a JSON string holding one
// (both occur in MiniMind data), keeping key order as Python's json.loads
// does. Each entry must be an object naming its function: OpenAI's
// {"type": "function", "function": {"name", ...}} or 2510's flat
// {"name", ...}. Errors name the bad entry ("[1]: ...").
func ParseTools(raw []byte) ([]Object, error) {
	f := bytes.TrimSpace(raw)
	if len(f) > 0 && f[0] == '"' {
		var s string
		if err := json.Unmarshal(f, &s); err != nil {
			return nil, err
		}
		f = bytes.TrimSpace([]byte(s))
		if len(f) == 0 || f[0] != '[' {
			return nil, fmt.Errorf("the string does not hold a JSON list: %.30q", s)
		}
	}
	if len(f) == 0 || f[0] != '[' {
		return nil, fmt.Errorf("want a list of tool objects, got %.20s", f)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(f, &items); err != nil {
		return nil, err
	}
	tools := make([]Object, len(items))
	for i, it := range items {
		v, err := DecodeJSON(it)
		if err != nil {
			return nil, fmt.Errorf("[%d]: %w", i, err)
		}
		o, ok := v.(Object)
		if !ok {
			return nil, fmt.Errorf("[%d]: want a tool object, got %.20s", i, bytes.TrimSpace(it))
		}
		if !namesFunction(o) {
			return nil, fmt.Errorf(`[%d]: no function name (want {"type": "function", "function": {"name": ...}} or {"name": ...})`, i)
		}
		tools[i] = o
	}
	return tools, nil
}

// namesFunction reports whether a tool object has a non-empty string name,
// directly or in its "function" object.
func namesFunction(o Object) bool {
	if fn, ok := o.Get("function"); ok {
		f, ok := fn.(Object)
		if !ok {
			return false
		}
		o = f
	}
	name, ok := o.Get("name")
	s, isStr := name.(string)
	return ok && isStr && s != ""
}
