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
// text/template (the engine Ollama uses) on Ollama's data — .System and the
// non-system .Messages — and compares it with the tokenizer's own chat
// template, for MiniMind2's and (fixture present) minimind-3's.
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
	convs := [][]chat.Message{
		{{Role: "user", Content: "你好"}},
		{{Role: "system", Content: "Be brief."}, {Role: "user", Content: "hi"}},
		{{Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}},
		{{Role: "system", Content: "S"}, {Role: "user", Content: "a"}, {Role: "assistant", Content: "b"}, {Role: "user", Content: "c"}},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			mf := modelfile("m.gguf", &c.cfg, c.tok.ChatTemplate())
			_, src, ok := strings.Cut(mf, `TEMPLATE """`)
			src, _, ok2 := strings.Cut(src, `"""`)
			if !ok || !ok2 {
				t.Fatalf("no TEMPLATE in:\n%s", mf)
			}
			tmpl, err := template.New("ollama").Parse(src)
			if err != nil {
				t.Fatal(err)
			}
			jinja, err := chat.ForTokenizer(c.tok)
			if err != nil {
				t.Fatal(err)
			}
			for _, msgs := range convs {
				want, err := jinja.Render(msgs, chat.Options{AddGenerationPrompt: true})
				if err != nil {
					t.Fatal(err)
				}
				type msg struct{ Role, Content string }
				data := struct {
					System   string
					Messages []msg
				}{}
				for _, m := range msgs {
					if m.Role == "system" {
						data.System = m.Content
						continue
					}
					data.Messages = append(data.Messages, msg{m.Role, m.Content})
				}
				var got strings.Builder
				if err := tmpl.Execute(&got, data); err != nil {
					t.Fatal(err)
				}
				if got.String() != want {
					t.Errorf("messages %v:\nModelfile renders %q\nchat template     %q", msgs, got.String(), want)
				}
			}
		})
	}
}

func dirExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}
