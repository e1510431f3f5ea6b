package chat

import (
	"strings"
	"testing"
)

func TestParseTools(t *testing.T) {
	for _, in := range []string{
		`[{"type": "function", "function": {"name": "f", "parameters": {}}}, {"name": "g"}]`,
		`"[{\"type\": \"function\", \"function\": {\"name\": \"f\"}}, {\"name\": \"g\"}]"`,
	} {
		tools, err := ParseTools([]byte(in))
		if err != nil {
			t.Fatalf("%s: %v", in, err)
		}
		if len(tools) != 2 || tools[0].Keys[0] != "type" || tools[1].Keys[0] != "name" {
			t.Errorf("%s: tools = %+v", in, tools)
		}
	}
	for in, want := range map[string]string{
		`{"name": "f"}`:                     "want a list of tool objects",
		`"{}"`:                              "does not hold a JSON list",
		`[{"name": "f"}, 3]`:                "[1]: want a tool object",
		`[{"function": {"name": ""}}]`:      "[0]: no function name",
		`[{"function": "f"}]`:               "[0]: no function name",
		`[{"type": "function"}]`:            "[0]: no function name",
		`[{"name": "f"}`:                    "unexpected end",
		`[{"name": "f", "name": 3}]`:        "[0]: no function name",
		`[{"function": {"name": ["f"]}}]`:   "[0]: no function name",
		`"[{\"function\": {\"name\": 1}}]"`: "[0]: no function name",
	} {
		if _, err := ParseTools([]byte(in)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one containing %q", in, err, want)
		}
	}
}
