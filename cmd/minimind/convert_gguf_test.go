package main

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"text/template"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// TestConvertGGUF: `export --to ollama` (the convert alias) writes a GGUF
// and a Modelfile; the f32 GGUF, given back as --model, generates exactly
// what the original does; bad targets and models the target cannot
// represent are usage errors naming the reason.
func TestConvertGGUF(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "m2")
	arch := []string{"--hidden_size", "64", "--num_hidden_layers", "2", "--num_attention_heads", "4", "--num_key_value_heads", "2", "--intermediate_size", "128"}
	if out, err := runRoot(t, append([]string{"init", "--out", src}, arch...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	q8 := filepath.Join(dir, "ollama", "m2-q8.gguf") // convert makes the folder
	out, err := runRoot(t, "export", "--model", src, "--to", "ollama", "--out", q8, "--dtype", "q8_0")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if !strings.Contains(out, "llama") || !strings.Contains(out, "Q8_0") {
		t.Errorf("output does not name the architecture and type:\n%s", out)
	}
	mf, err := os.ReadFile(filepath.Join(dir, "ollama", "Modelfile"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FROM ./m2-q8.gguf\n", `PARAMETER stop "<|im_end|>"`, "PARAMETER temperature 0.85", "PARAMETER top_p 0.85",
		"{{ .Content }}<|im_end|>", "<|im_start|>assistant\n", "You are a helpful assistant"} {
		if !strings.Contains(string(mf), want) {
			t.Errorf("Modelfile lacks %q:\n%s", want, mf)
		}
	}

	f32 := filepath.Join(dir, "m2.gguf")
	if out, err := runRoot(t, "convert", "--model", src, "--to", "gguf", "--out", f32); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	gen := func(model string) string {
		out, err := runRoot(t, "generate", "--model", model, "--prompt", "你好", "--temperature", "0", "--max_new_tokens", "8", "--threads", "1")
		if err != nil {
			t.Fatalf("generate --model %s: %v\n%s", model, err, out)
		}
		// Drop the timing line; the text must be identical.
		var text []string
		for _, l := range strings.Split(out, "\n") {
			if !strings.HasPrefix(l, "[") {
				text = append(text, l)
			}
		}
		return strings.Join(text, "\n")
	}
	if a, b := gen(src), gen(f32); a != b {
		t.Errorf("generate from the HF directory:\n%s\nfrom its f32 GGUF:\n%s", a, b)
	}

	yarn := filepath.Join(dir, "yarn")
	if out, err := runRoot(t, append([]string{"init", "--out", yarn, "--inference_rope_scaling"}, arch...)...); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", src, "--to", "gguf", "--out", filepath.Join(dir, "x.bin")}, "ending in .gguf"},
		{[]string{"--model", src, "--to", "onnx", "--out", filepath.Join(dir, "x.onnx")}, `--to "onnx"`},
		{[]string{"--model", src, "--to", "gguf", "--dtype", "q4_0", "--out", filepath.Join(dir, "x.gguf")}, "q4_0"},
		{[]string{"--model", yarn, "--to", "gguf", "--out", filepath.Join(dir, "y.gguf")}, "YaRN"},
	} {
		out, err := runRoot(t, append([]string{"convert"}, c.args...)...)
		if !errors.Is(err, errUsage) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("convert %v: %v, want a usage error naming %q\n%s", c.args, err, c.want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "y.gguf")); err == nil {
		t.Error("a refused export left a file behind")
	}
}

// TestModelfileTemplate renders the Modelfile's TEMPLATE with Go's
// text/template (the engine Ollama uses) on Ollama's data — .System (every
// system message), .Messages (consecutive same-role messages merged, tool
// results kept apart, as Ollama's collate does) and .Tools, with types
// shaped like Ollama's api ones (String methods on pointer receivers) — and
// compares it with the tokenizer's own chat template, byte for byte, for
// MiniMind2's and (fixture present) minimind-3's, with and without tools.
// The JSON of tools and arguments is the one construct that cannot match
// (see toolsSystem in convert_gguf.go): the stand-ins print what
// chat.Render prints for them, Python-style tool JSON and the argument
// strings as given, so that the test covers everything around them.
func TestModelfileTemplate(t *testing.T) {
	def, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		tok *tokenizer.Tokenizer
		cfg model.Config
	}{"minimind2": {def, model.DefaultConfig()}}
	if dir := filepath.Join("..", "..", "..", "shared", "fixtures", "minimind3-tokenizer"); dirExists(dir) {
		tok3, err := tokenizer.Load(dir)
		if err != nil {
			t.Fatal(err)
		}
		cases["minimind3"] = struct {
			tok *tokenizer.Tokenizer
			cfg model.Config
		}{tok3, model.DefaultConfig3()}
	}
	// Tool schemas in OpenAI's form, written as json.dumps prints them.
	toolJSON := []string{
		`{"type": "function", "function": {"name": "get_weather", "description": "Current weather of a city", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}`,
		`{"type": "function", "function": {"name": "add", "parameters": {"type": "object", "properties": {"a": {"type": "number"}, "b": {"type": "number"}}}}}`,
	}
	tools, err := chat.ParseTools([]byte("[" + strings.Join(toolJSON, ",") + "]"))
	if err != nil {
		t.Fatal(err)
	}
	call := func(name, args string) chat.ToolCall {
		return chat.ToolCall{ID: "call_" + name, Type: "function", Function: chat.FunctionCall{Name: name, Arguments: args}}
	}
	type conv struct {
		msgs  []chat.Message
		tools bool
	}
	convs := []conv{
		{msgs: []chat.Message{{Role: "user", Content: "你好"}}},
		{msgs: []chat.Message{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hi"}}},
		{msgs: []chat.Message{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}}},
		{msgs: []chat.Message{{Role: "system", Content: "S"}, {Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}}},
		{tools: true, msgs: []chat.Message{{Role: "user", Content: "Weather in Paris?"}}},
		{tools: true, msgs: []chat.Message{
			{Role: "system", Content: "You are terse."},
			{Role: "user", Content: "Weather in Paris and Rome?"},
			{Role: "assistant", ToolCalls: []chat.ToolCall{call("get_weather", `{"city": "Paris"}`), call("get_weather", `{"city":"Rome"}`)}},
			{Role: "tool", ToolCallID: "call_get_weather", Content: `{"temp": 21}`},
			{Role: "tool", ToolCallID: "call_get_weather", Content: "sunny, 25°C"},
		}},
		{tools: true, msgs: []chat.Message{
			{Role: "user", Content: "2+3?"},
			{Role: "assistant", Content: "Let me add.", ToolCalls: []chat.ToolCall{call("add", `{"a": 2, "b": 3}`)}},
			{Role: "tool", Content: "5"},
			{Role: "assistant", Content: "It is 5."},
			{Role: "user", Content: "thanks"},
		}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mf := modelfile("m.gguf", &c.cfg, c.tok.ChatTemplate())
			_, src, ok := strings.Cut(mf, `TEMPLATE """`)
			src, _, ok2 := strings.Cut(src, `"""`)
			if !ok || !ok2 {
				t.Fatalf("no TEMPLATE in:\n%s", mf)
			}
			if !strings.Contains(src, ".Tools") || !strings.Contains(src, ".ToolCalls") {
				t.Fatalf("the TEMPLATE renders no tools:\n%s", src)
			}
			tmpl, err := template.New("ollama").Option("missingkey=zero").Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			jinja, err := chat.ForTokenizer(c.tok)
			if err != nil {
				t.Fatal(err)
			}
			for _, cv := range convs {
				opt := chat.Options{AddGenerationPrompt: true}
				var otools []ollamaTool
				if cv.tools {
					opt.Tools = tools
					for _, j := range toolJSON {
						fn := strings.TrimSuffix(strings.TrimPrefix(j, `{"type": "function", "function": `), "}")
						otools = append(otools, ollamaTool{Type: "function", Function: ollamaJSON{fn}})
					}
				}
				want, err := jinja.Render(cv.msgs, opt)
				if err != nil {
					t.Fatal(err)
				}
				system, msgs := ollamaCollate(cv.msgs)
				data := map[string]any{"System": system, "Messages": msgs, "Tools": otools, "Response": ""}
				var got strings.Builder
				if err := tmpl.Execute(&got, data); err != nil {
					t.Fatal(err)
				}
				if got.String() != want {
					t.Errorf("messages %+v (tools %v):\nModelfile renders %q\nchat template     %q", cv.msgs, cv.tools, got.String(), want)
				}
			}
		})
	}
	t.Run("template without tools", func(t *testing.T) {
		c := model.DefaultConfig()
		mf := modelfile("m.gguf", &c, "{% for m in messages %}{{ m.content }}{% endfor %}")
		if strings.Contains(mf, "Tools") || strings.Contains(mf, "tool") {
			t.Errorf("a chat template without tools got a TEMPLATE with them:\n%s", mf)
		}
	})
}

// Stand-ins for Ollama's api types as its TEMPLATE sees them: the tool
// function and the arguments print through a String method on a pointer
// receiver (Ollama's print json.Marshal; these print fixed text).
type (
	ollamaJSON struct{ s string }
	ollamaTool struct {
		Type     string
		Function ollamaJSON
	}
	ollamaCall struct {
		Function struct {
			Name      string
			Arguments ollamaJSON
		}
	}
	ollamaMessage struct {
		Role, Content string
		ToolCalls     []ollamaCall
	}
)

func (j *ollamaJSON) String() string { return j.s }

// ollamaCollate is Ollama's template collate: .System joins every system
// message; .Messages keeps them all, merging consecutive messages of one
// role (but tool results) with a blank line.
func ollamaCollate(msgs []chat.Message) (string, []*ollamaMessage) {
	var system []string
	var out []*ollamaMessage
	for _, m := range msgs {
		if m.Role == "system" {
			system = append(system, m.Content)
		}
		if n := len(out); n > 0 && out[n-1].Role == m.Role && m.Role != "tool" {
			out[n-1].Content += "\n\n" + m.Content
			continue
		}
		om := &ollamaMessage{Role: m.Role, Content: m.Content}
		for _, c := range m.ToolCalls {
			var oc ollamaCall
			oc.Function.Name = c.Function.Name
			oc.Function.Arguments = ollamaJSON{c.Function.Arguments.(string)}
			om.ToolCalls = append(om.ToolCalls, oc)
		}
		out = append(out, om)
	}
	return strings.Join(system, "\n\n"), out
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
