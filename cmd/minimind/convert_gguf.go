package main

import (
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/minimind-go/minimind/gguf"
	"github.com/minimind-go/minimind/internal/atomicfile"
	"github.com/minimind-go/minimind/model"
)

// runConvertGGUF is `convert --to gguf|ollama`: the model as one GGUF file
// for llama.cpp / Ollama (weights, config and tokenizer), and for ollama
// also a Modelfile next to it.
func runConvertGGUF(opts ConvertOptions, out io.Writer) error {
	if !strings.HasSuffix(strings.ToLower(opts.Out), ".gguf") {
		return fmt.Errorf("%w: --to %s writes one file: give --out a path ending in .gguf", errUsage, opts.To)
	}
	if opts.MergeLoRA != "" {
		return fmt.Errorf("%w: --merge_lora with --to %s: merge into a .pth or HF directory first, then export that", errUsage, opts.To)
	}
	typ, err := gguf.ParseDType(opts.DType)
	if err != nil {
		return fmt.Errorf("%w: --dtype: %v", errUsage, err)
	}
	p, err := loadModelParams(opts.In, opts.Model.NumAttentionHeads)
	if err != nil {
		return err
	}
	tok, tokSource, err := modelTokenizer(opts.Tokenizer, opts.In)
	if err != nil {
		return err
	}
	if err := checkVocab(tok, tokSource, opts.Tokenizer != "", p.Config.VocabSize, opts.In); err != nil {
		return err
	}
	if _, err := gguf.Arch(&p.Config); err != nil {
		return fmt.Errorf("%w: --model %s: %v", errUsage, opts.In, err)
	}
	if err := makeParent(opts.Out); err != nil {
		return err
	}
	name := strings.TrimSuffix(filepath.Base(opts.Out), filepath.Ext(opts.Out))
	if err := gguf.Export(opts.Out, p, tok, gguf.ExportOptions{Type: typ, Name: name}); err != nil {
		return err
	}
	arch, _ := gguf.Arch(&p.Config)
	fmt.Fprintf(out, "wrote %s (%s, %s parameters, %s weights, tokenizer from %s)\n", opts.Out, arch, humanCount(len(p.Data)), typ, tokSource)
	if opts.To != "ollama" {
		return nil
	}
	mf := filepath.Join(filepath.Dir(opts.Out), "Modelfile")
	text := modelfile(filepath.Base(opts.Out), &p.Config, tok.ChatTemplate())
	if err := atomicfile.Write(mf, 0o644, func(w io.Writer) error {
		_, err := io.WriteString(w, text)
		return err
	}); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s; create the model with: ollama create minimind -f %s\n", mf, mf)
	return nil
}

// modelfile is an Ollama Modelfile for the GGUF file gguf: MiniMind's
// ChatML template in Ollama's Go-template syntax (MiniMind2's default
// system prompt when its chat template has one; minimind-3's empty think
// block on past answers and after the generation prompt, as its template
// renders by default), the end-of-turn stop tokens and upstream's eval
// sampling (eval_llm.py: temperature 0.85, top_p 0.85 for MiniMind2 and
// 0.95 for minimind-3, top_k 50).
//
// When the chat template renders tools (it has <tool_call>: MiniMind's
// 2510 template and minimind-3's), so does the TEMPLATE, in Ollama's
// conventions and as chat.Render lays them out: .Tools in the system turn's
// "# Tools" block, an assistant's .ToolCalls as <tool_call> blocks, and
// consecutive "tool" messages as <tool_response> blocks of one user turn.
// Ollama then offers the model tools and parses its <tool_call> output.
// The JSON inside differs from chat.Render's (Ollama re-encodes what it
// parsed; see toolsSystem).
func modelfile(ggufName string, c *model.Config, chatTemplate string) string {
	noSystem := ""
	if strings.Contains(chatTemplate, "You are a helpful assistant") {
		noSystem = "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n"
	}
	think, topP := "", "0.85"
	if c.IsMiniMind3() {
		think, topP = "<think>\n\n</think>\n\n", "0.95"
	}
	tools := strings.Contains(chatTemplate, "<tool_call>")
	var b strings.Builder
	fmt.Fprintf(&b, "FROM ./%s\n\n", ggufName)
	b.WriteString(`TEMPLATE """`)
	if tools {
		b.WriteString(`{{- if .Tools }}` + toolsSystem + `{{ else if .System }}`)
	} else {
		b.WriteString(`{{- if .System }}`)
	}
	b.WriteString("<|im_start|>system\n{{ .System }}<|im_end|>\n")
	if noSystem != "" {
		b.WriteString("{{ else }}" + noSystem)
	}
	b.WriteString("{{ end }}")
	if tools {
		b.WriteString("\n{{- $prev := \"\" }}") // the role before, for grouping tool results
	}
	b.WriteString(`
{{- range $i, $_ := .Messages }}
{{- $last := eq (len (slice $.Messages $i)) 1 }}
{{- if eq .Role "user" }}<|im_start|>user
{{ .Content }}<|im_end|>
{{ else if eq .Role "assistant" }}<|im_start|>assistant
` + think + `{{ .Content }}`)
	if tools {
		b.WriteString(toolCalls)
	}
	b.WriteString(`{{ if not $last }}<|im_end|>
{{ end }}`)
	if tools {
		b.WriteString(toolResponses)
	}
	b.WriteString(`
{{- end }}
{{- if and (ne .Role "assistant") $last }}<|im_start|>assistant
` + think + `{{ end }}`)
	if tools {
		b.WriteString("\n{{- $prev = .Role }}")
	}
	b.WriteString(`
{{- end }}"""

`)
	b.WriteString("PARAMETER stop \"<|im_end|>\"\nPARAMETER stop \"<|im_start|>\"\nPARAMETER stop \"<|endoftext|>\"\n")
	fmt.Fprintf(&b, "PARAMETER temperature 0.85\nPARAMETER top_p %s\nPARAMETER top_k 50\nPARAMETER repeat_penalty 1\nPARAMETER num_ctx 8192\n", topP)
	return b.String()
}

// The tool parts of the Modelfile TEMPLATE, MiniMind's chat template
// (tokenizer.MiniMindChatTemplate, minimind-3's) in Ollama's Go-template
// data: .Tools ([]api.Tool), .Messages with .ToolCalls (.Function.Name,
// .Function.Arguments) and role "tool". Everything but the JSON renders as
// chat.Render does. The JSON cannot: Ollama has parsed the request's tools
// and arguments into its own types and prints them with encoding/json
// ({{ .Function }} and {{ .Function.Arguments }} call their String
// methods): compact, fields in Ollama's struct order, object keys sorted,
// non-ASCII as is; chat.Render prints the tool objects with Python's
// json.dumps (", " and ": " separators, the request's key order, non-ASCII
// escaped) and string arguments (OpenAI's wire form) as given. Older
// Ollama versions also merge consecutive tool messages into one (their
// contents joined by a blank line), which then renders as one
// <tool_response>.
const (
	toolsSystem = `<|im_start|>system
{{ if .System }}{{ .System }}

{{ end }}# Tools

You may call one or more functions to assist with the user query.

You are provided with function signatures within <tools></tools> XML tags:
<tools>
{{- range .Tools }}
{"type": "function", "function": {{ .Function }}}
{{- end }}
</tools>

For each function call, return a json object with function name and arguments within <tool_call></tool_call> XML tags:
<tool_call>
{"name": <function-name>, "arguments": <args-json-object>}
</tool_call><|im_end|>
`
	// A newline before every call but a first one after empty content.
	toolCalls = `{{ $content := .Content }}
{{- range $j, $call := .ToolCalls }}{{ if or $j $content }}
{{ end }}<tool_call>
{"name": "{{ $call.Function.Name }}", "arguments": {{ $call.Function.Arguments }}}
</tool_call>
{{- end }}`
	// Consecutive tool results share one user turn.
	toolResponses = `
{{- else if eq .Role "tool" }}{{ if ne $prev "tool" }}<|im_start|>user{{ end }}
<tool_response>
{{ .Content }}
</tool_response>
{{- if or $last (ne (index (slice $.Messages $i) 1).Role "tool") }}<|im_end|>
{{ end }}`
)
