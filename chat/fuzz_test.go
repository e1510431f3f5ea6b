package chat

import "testing"

// The Jinja 2510 template and the built-in renderer agree on any
// conversation of plain roles, and neither panics.
func FuzzRenderAgrees(f *testing.F) {
	src := configTemplate(f, "minimind/tokenizer_config.json")
	jinja, err := NewTemplate(src)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("system", "你是minimind。", "user", "你好", "assistant", "hi", true)
	f.Add("user", "{{ x }} {% if %}", "tool", "<tool_response>", "tool", "", false)
	f.Add("assistant", "", "system", "later system", "user", "\n", true)
	f.Fuzz(func(t *testing.T, r1, c1, r2, c2, r3, c3 string, gen bool) {
		msgs := []Message{{Role: r1, Content: c1}, {Role: r2, Content: c2}, {Role: r3, Content: c3}}
		want, err := ChatML().Render(msgs, Options{AddGenerationPrompt: gen})
		if err != nil {
			t.Fatal(err)
		}
		got, err := jinja.Render(msgs, Options{AddGenerationPrompt: gen})
		if err != nil {
			t.Fatalf("jinja: %v", err)
		}
		if got != want {
			t.Fatalf("jinja %q\n builtin %q", got, want)
		}
	})
}
