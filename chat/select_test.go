package chat

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/tokenizer"
)

// tinyTokenizer returns a one-token tokenizer whose tokenizer_config.json
// has the given chat_template (none when template is nil).
func tinyTokenizer(tb testing.TB, template *string) *tokenizer.Tokenizer {
	tb.Helper()
	var cfg []byte
	if template != nil {
		var err error
		if cfg, err = json.Marshal(map[string]string{"chat_template": *template}); err != nil {
			tb.Fatal(err)
		}
	}
	tok, err := tokenizer.Parse([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}`), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func TestForTokenizer(t *testing.T) {
	t.Parallel()
	str := func(s string) *string { return &s }
	tests := []struct {
		name     string
		template *string
		builtin  bool
		render   string // of one user message "x", when not builtin
		wantErr  bool
	}{
		{name: "no tokenizer_config.json", builtin: true},
		{name: "no chat_template", template: str(""), builtin: true},
		{name: "MiniMind 2510 template", template: str(tokenizer.MiniMindChatTemplate), builtin: true},
		{name: "own template", template: str("{% for m in messages %}{{ m.role }}:{{ m.content }};{% endfor %}"), render: "user:x;"},
		{name: "uncompilable template", template: str("{% if %}"), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tpl, err := ForTokenizer(tinyTokenizer(t, tc.template))
			if tc.wantErr {
				if !errors.Is(err, ErrTemplate) {
					t.Fatalf("err = %v, want ErrTemplate", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tpl.IsBuiltin() != tc.builtin {
				t.Fatalf("IsBuiltin = %v, want %v", tpl.IsBuiltin(), tc.builtin)
			}
			if tc.builtin {
				return
			}
			if got, err := tpl.Render([]Message{{Role: "user", Content: "x"}}, Options{}); err != nil || got != tc.render {
				t.Errorf("Render = %q, %v; want %q", got, err, tc.render)
			}
		})
	}
}

// TestForTokenizerShipped checks the tokenizers the project ships and reads:
// the built-in default and MiniMind's own both get the ChatML renderer.
func TestForTokenizerShipped(t *testing.T) {
	t.Parallel()
	def, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	if tpl, err := ForTokenizer(def); err != nil || !tpl.IsBuiltin() {
		t.Errorf("default tokenizer: %v, %v; want the built-in ChatML", tpl, err)
	}
	mm, err := tokenizer.Load(fixture.Shared(t, "minimind"))
	if err != nil {
		t.Fatal(err)
	}
	if tpl, err := ForTokenizer(mm); err != nil || !tpl.IsBuiltin() {
		t.Errorf("MiniMind tokenizer: %v, %v; want the built-in ChatML", tpl, err)
	}
}
