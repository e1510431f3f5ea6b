package server

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
)

func TestWireCallIDs(t *testing.T) {
	a, b := wireCall(&generate.ToolCall{Name: "f", Arguments: "{}"}), wireCall(&generate.ToolCall{Name: "f", Arguments: "{}"})
	if !strings.HasPrefix(a.ID, "call_") || len(a.ID) != len("call_")+24 || a.ID == b.ID || a.Type != "function" || a.Function.Name != "f" || a.Function.Arguments != "{}" {
		t.Fatalf("got %+v and %+v", a, b)
	}
}

func TestCheckTools(t *testing.T) {
	cases := []struct{ tools, param string }{
		{`[{"type": "function", "function": {"name": "get_weather", "description": "d", "parameters": {"type": "object"}}}]`, ""},
		{`[{"function": {"name": "f"}}]`, "tools[0].type"},
		{`[{"type": "function"}]`, "tools[0].function"},
		{`[{"type": "function", "function": {"name": "f"}}, {"type": "function", "function": {}}]`, "tools[1].function.name"},
		{`[{"type": "function", "function": {"name": "has space"}}]`, "tools[0].function.name"},
		{`[{"type": "function", "function": {"name": "f", "parameters": []}}]`, "tools[0].function.parameters"},
		{`[{"type": "function", "function": {"name": "f", "description": 1}}]`, "tools[0].function.description"},
	}
	for _, c := range cases {
		var tools []chat.Object
		if err := json.Unmarshal([]byte(c.tools), &tools); err != nil {
			t.Fatal(err)
		}
		e := checkTools(tools)
		switch {
		case c.param == "" && e != nil:
			t.Errorf("%s: %v", c.tools, e)
		case c.param != "" && (e == nil || e.Param == nil || *e.Param != c.param):
			t.Errorf("%s: got %v, want a 400 naming %s", c.tools, e, c.param)
		}
	}
}
