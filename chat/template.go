package chat

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/nikolalohinski/gonja/v2/builtins"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/exec"
	"github.com/nikolalohinski/gonja/v2/loaders"
)

// ErrTemplate is wrapped by every error about a chat template that cannot be
// compiled or executed. The built-in ChatML template is the fallback.
var ErrTemplate = errors.New("chat template")

// Options are the apply_chat_template arguments.
type Options struct {
	// AddGenerationPrompt appends the header of an assistant turn.
	AddGenerationPrompt bool
	// EnableThinking, when set, is passed to the template as
	// enable_thinking; nil leaves it undefined (MiniMind's default).
	EnableThinking *bool
	// OpenThinking, when set, is passed to the template as open_thinking
	// (minimind-3's switch: true opens a <think> block after the
	// generation prompt); nil leaves it undefined.
	OpenThinking *bool
	// Tools are the function schemas offered to the model (OpenAI's
	// {"type": "function", "function": {...}} objects), in key order as
	// given: they are printed with tojson, which keeps it.
	Tools []Object
	// Vars are extra template variables, such as bos_token, eos_token or a
	// request's chat_template_kwargs (values as DecodeJSON gives them).
	// The fields above win over a Var of the same name when they are set.
	Vars map[string]any
}

// Template renders conversations. The zero value is not usable; get one from
// NewTemplate or ChatML.
type Template struct {
	jinja *exec.Template // nil for the built-in ChatML renderer
}

// NewTemplate compiles a Jinja chat_template (from tokenizer_config.json).
// A template the engine cannot parse is an error wrapping ErrTemplate.
func NewTemplate(source string) (t *Template, err error) {
	if strings.TrimSpace(source) == "" {
		return nil, fmt.Errorf("%w: empty template", ErrTemplate)
	}
	// The engine is third-party code fed user input: a panic inside it must
	// become an error, not take the program down.
	defer func() {
		if r := recover(); r != nil {
			t, err = nil, fmt.Errorf("%w: the Jinja engine cannot compile it: %v (use the built-in ChatML template instead)", ErrTemplate, r)
		}
	}()
	cfg := config.New()
	// HF compiles chat templates with trim_blocks and lstrip_blocks.
	cfg.TrimBlocks = true
	cfg.LeftStripBlocks = true
	cfg.KeepTrailingNewline = false
	filters := exec.NewFilterSet(map[string]exec.FilterFunction{}).Update(builtins.Filters)
	if err := filters.Replace("tojson", filterToJSON); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTemplate, err)
	}
	globals := exec.EmptyContext().Update(builtins.GlobalFunctions).Update(builtins.GlobalVariables)
	globals.Set("raise_exception", raiseException)
	env := &exec.Environment{
		Context:           globals,
		Filters:           filters,
		Tests:             builtins.Tests,
		ControlStructures: builtins.ControlStructures,
		Methods:           builtins.Methods,
	}
	const name = "chat_template"
	jt, err := exec.NewTemplate(name, cfg, sourceLoader{name: name, source: source}, env)
	if err != nil {
		return nil, fmt.Errorf("%w: the Jinja engine cannot compile it: %v (use the built-in ChatML template instead)", ErrTemplate, err)
	}
	return &Template{jinja: jt}, nil
}

// ChatML returns the built-in renderer: Go code with the behaviour of the
// MiniMind 2510 template (ChatML turns, a default system prompt, tools,
// tool responses grouped in one user turn, enable_thinking=false adding an
// empty think block). It always works, so it is the fallback when a
// tokenizer's own template cannot be run.
func ChatML() *Template { return &Template{} }

// IsBuiltin reports whether t is the built-in ChatML renderer.
func (t *Template) IsBuiltin() bool { return t.jinja == nil }

// Render returns the prompt text for msgs, like HF's
// apply_chat_template(msgs, tokenize=False, ...).
func (t *Template) Render(msgs []Message, opt Options) (out string, err error) {
	if t.jinja == nil {
		return renderChatML(msgs, opt)
	}
	defer func() {
		if r := recover(); r != nil {
			out, err = "", fmt.Errorf("%w: rendering failed: %v", ErrTemplate, r)
		}
	}()
	data := map[string]any{}
	for k, v := range opt.Vars {
		data[k] = templateValue(v) // chat_template_kwargs may hold decoded objects
	}
	ms := make([]any, len(msgs))
	for i, m := range msgs {
		ms[i] = m.templateValue()
	}
	data["messages"] = ms
	data["add_generation_prompt"] = opt.AddGenerationPrompt
	if opt.Tools != nil {
		tools := make([]any, len(opt.Tools))
		for i, tool := range opt.Tools {
			tools[i] = templateValue(tool)
		}
		data["tools"] = tools
	} else {
		data["tools"] = nil
	}
	if opt.EnableThinking != nil {
		data["enable_thinking"] = *opt.EnableThinking
	}
	if opt.OpenThinking != nil {
		data["open_thinking"] = *opt.OpenThinking
	}
	s, err := t.jinja.ExecuteToString(exec.NewContext(data))
	if err != nil {
		return "", fmt.Errorf("%w: rendering failed: %v", ErrTemplate, err)
	}
	return s, nil
}

// filterToJSON replaces gonja's tojson, which escapes differently from
// HF's json.dumps-based one. Supports indent=N like HF.
func filterToJSON(_ *exec.Evaluator, in *exec.Value, params *exec.VarArgs) *exec.Value {
	if in.IsError() {
		return in
	}
	indent := ""
	if v, ok := params.KwArgs["indent"]; ok && v.IsInteger() {
		indent = strings.Repeat(" ", v.Integer())
	}
	var sb strings.Builder
	if err := pyJSON(&sb, in.Interface(), indent, 0); err != nil {
		return exec.AsValue(err)
	}
	return exec.AsSafeValue(sb.String())
}

// raiseException is HF's raise_exception(msg) template global.
func raiseException(_ *exec.Evaluator, params *exec.VarArgs) (string, error) {
	msg := "raise_exception called"
	if len(params.Args) > 0 {
		msg = params.Args[0].String()
	}
	return "", errors.New(msg)
}

// sourceLoader serves the one template and refuses include/import/extends:
// a chat template has no business reading files.
type sourceLoader struct{ name, source string }

func (l sourceLoader) Read(path string) (io.Reader, error) {
	if path != l.name {
		return nil, fmt.Errorf("chat templates cannot load %q", path)
	}
	return strings.NewReader(l.source), nil
}

func (l sourceLoader) Resolve(path string) (string, error) { return path, nil }

func (l sourceLoader) Inherit(string) (loaders.Loader, error) { return l, nil }
