package chat

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestObjectKeepsOrder: decoding keeps key order at every depth, numbers
// keep Python's int/float distinction, and tojson (pyJSON) writes what
// Python's json.dumps(json.loads(s), ensure_ascii=False) writes.
func TestObjectKeepsOrder(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"b": 1, "a": {"z": [1, 2.0, 1e2, -0, "x"], "y": null}, "c": true}`,
			`{"b": 1, "a": {"z": [1, 2.0, 100.0, 0, "x"], "y": null}, "c": true}`},
		{`{}`, `{}`},
		{`{"k": 123456789012345678901234567890}`, `{"k": 123456789012345678901234567890}`},
		{`{"名": "天气 \"now\"", "a": 1.5e-7}`, `{"名": "天气 \"now\"", "a": 1.5e-07}`},
		{`{"dup": 1, "x": 0, "dup": 2}`, `{"dup": 2, "x": 0}`},
		{`[12345678.5, 1e16, 1e15, 0.0001, 0.00001, 1e400, -0.0, -1e400]`, `[12345678.5, 1e+16, 1000000000000000.0, 0.0001, 1e-05, Infinity, -0.0, -Infinity]`},
	}
	for _, tc := range tests {
		v, err := DecodeJSON([]byte(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.in, err)
		}
		var sb strings.Builder
		if err := pyJSON(&sb, v, "", 0); err != nil {
			t.Fatal(err)
		}
		if got := sb.String(); got != tc.want {
			t.Errorf("tojson(%s)\n got %s\nwant %s", tc.in, got, tc.want)
		}
	}
	var o Object
	json.Unmarshal([]byte(`{"dup": 1, "dup": 2}`), &o)
	if v, ok := o.Get("dup"); !ok || v.(json.Number) != "2" {
		t.Errorf(`Get("dup") = %v, %v; want the last value, 2`, v, ok)
	}
}

// TestDecodeJSONErrors: what is not one JSON value, or not an object for an
// Object, is an error, never a panic.
func TestDecodeJSONErrors(t *testing.T) {
	for _, in := range []string{``, `{`, `{"a" 1}`, `[1,]`, `{} {}`, `1 2`, strings.Repeat("[", 70) + strings.Repeat("]", 70)} {
		if _, err := DecodeJSON([]byte(in)); err == nil {
			t.Errorf("DecodeJSON(%.30q): no error", in)
		}
	}
	var o Object
	if err := json.Unmarshal([]byte(`[1]`), &o); err == nil {
		t.Error("an array decoded into an Object")
	}
}

// TestToolCallArgumentsOrder: object arguments of a tool call keep their
// key order through the template, as HF renders them.
func TestToolCallArgumentsOrder(t *testing.T) {
	var m Message
	if err := json.Unmarshal([]byte(`{"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {"name": "f", "arguments": {"z": 1, "a": 2}}}]}`), &m); err != nil {
		t.Fatal(err)
	}
	jinja := mustTemplate(t, configTemplate(t, "minimind/tokenizer_config.json"))
	for name, tpl := range map[string]*Template{"jinja": jinja, "builtin": ChatML()} {
		got, err := tpl.Render([]Message{{Role: "user", Content: "q"}, m}, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(got, `"arguments": {"z": 1, "a": 2}`) {
			t.Errorf("%s: arguments not in order:\n%s", name, got)
		}
	}
}

func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{`{"a": [1, 2.5, "x", null, true, {"b": {}}]}`, `[]`, `"s"`, `1e400`, `{"a":1}{`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		v, err := DecodeJSON([]byte(s))
		if err != nil {
			return
		}
		var sb strings.Builder
		if err := pyJSON(&sb, v, "", 0); err != nil {
			return // e.g. a number float64 cannot hold
		}
		if strings.Contains(sb.String(), "Infinity") {
			return // Python's out-of-range floats: not JSON, as in Python
		}
		// What tojson writes is JSON that decodes to the same output again.
		v2, err := DecodeJSON([]byte(sb.String()))
		if err != nil {
			t.Fatalf("tojson output %q of %q does not decode: %v", sb.String(), s, err)
		}
		var sb2 strings.Builder
		if err := pyJSON(&sb2, v2, "", 0); err != nil || sb2.String() != sb.String() {
			t.Fatalf("not stable: %q -> %q (%v)", sb.String(), sb2.String(), err)
		}
	})
}
