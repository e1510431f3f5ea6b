package data_test

import (
	"encoding/json"
	"io"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/jsonl"
	"github.com/minimind-go/minimind/tokenizer"
)

// m3Fixture loads the minimind-3 tokenizer and the renderings of
// ../shared/fixtures/minimind3-tokenizer/chat.jsonl.
func m3Fixture(t *testing.T) (*tokenizer.Tokenizer, []string) {
	t.Helper()
	dir := fixture.Dir(t, "minimind3-tokenizer")
	tok, err := tokenizer.Load(dir)
	if err != nil {
		t.Fatal(err)
	}
	r, err := jsonl.Open(dir + "/chat.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var rendered []string
	for {
		line, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		var row struct {
			Rendered string `json:"rendered"`
		}
		if err := json.Unmarshal(line, &row); err != nil {
			t.Fatal(r.Errorf("%w", err))
		}
		rendered = append(rendered, row.Rendered)
	}
	if len(rendered) != 16 {
		t.Fatalf("chat.jsonl: %d rows, want 16", len(rendered))
	}
	return tok, rendered
}

// m3ToolLine is an SFT line as minimind-3's data stores tool use: the
// schemas as a JSON string in the system message's "tools", the calls as a
// JSON string in "tool_calls", the thinking in "reasoning_content". Its
// tools are those of chat.jsonl rows 10 and 13.
const m3ToolLine = `{"conversations": [` +
	`{"role": "system", "content": "你是minimind。", "tools": "[{\"type\": \"function\", \"function\": {\"name\": \"get_current_weather\", \"description\": \"获取指定城市的当前天气信息\", \"parameters\": {\"type\": \"object\", \"properties\": {\"location\": {\"type\": \"string\", \"description\": \"城市名称，如北京、上海、New York\"}, \"unit\": {\"type\": \"string\", \"enum\": [\"celsius\", \"fahrenheit\"], \"default\": \"celsius\"}}, \"required\": [\"location\"]}}}, {\"type\": \"function\", \"function\": {\"name\": \"calculate_math\", \"description\": \"Evaluate a math expression, e.g. \\\"2**10\\\" & <tags>\", \"parameters\": {\"type\": \"object\", \"properties\": {\"expression\": {\"type\": \"string\", \"description\": \"数学表达式，如123+456\"}}, \"required\": [\"expression\"]}}}]"}, ` +
	`{"role": "user", "content": "算 2**10"}, ` +
	`{"role": "assistant", "content": "我来计算。", "reasoning_content": "需要调用工具", "tool_calls": "[{\"name\": \"calculate_math\", \"arguments\": \"{\\\"expression\\\": \\\"2**10\\\"}\"}]"}, ` +
	`{"role": "tool", "content": "1024"}, ` +
	`{"role": "assistant", "content": "2**10 = 1024。"}]}`

// m3ToolWant is what upstream renders for m3ToolLine (checked with Python
// jinja2 as HF runs it), assembled from the fixture: row 10's system block
// (system content + tools), row 13's user turn, assistant turn with
// reasoning and a tool call, and tool response, then a final assistant turn
// with the empty think block.
func m3ToolWant(t *testing.T, rendered []string) string {
	t.Helper()
	sys := rendered[9][:strings.Index(rendered[9], "<|im_end|>\n")+len("<|im_end|>\n")]
	r13 := rendered[12]
	lo := strings.Index(r13, "<|im_start|>user\n算")
	hi := strings.LastIndex(r13, "<|im_start|>assistant\n")
	if !strings.HasPrefix(sys, "<|im_start|>system\n你是minimind。\n\n# Tools") || lo < 0 || hi < lo {
		t.Fatal("fixture rows 10 and 13 are not the expected conversations")
	}
	return sys + r13[lo:hi] + "<|im_start|>assistant\n<think>\n\n</think>\n\n2**10 = 1024。<|im_end|>\n"
}

// supervisedRuns returns the texts of the runs of consecutive supervised
// ids of s (a label at id position j+1 for LossMask[j] = 1) and the
// position of the first one.
func supervisedRuns(tok *tokenizer.Tokenizer, s *data.Sample) (runs []string, first int) {
	first = -1
	var cur []int32
	flush := func() {
		if len(cur) > 0 {
			runs = append(runs, tok.Decode(cur))
			cur = nil
		}
	}
	for j, m := range s.LossMask {
		if m == 0 {
			flush()
			continue
		}
		if first < 0 {
			first = j + 1
		}
		cur = append(cur, s.Y[j])
	}
	flush()
	return runs, first
}

// An SFT record with reasoning_content, tools and tool_calls renders
// through the minimind-3 template exactly as upstream, and the loss covers
// exactly the two assistant bodies (think block, content, tool call,
// <|im_end|>\n), nothing of the system, user or tool turns.
func TestMiniMind3SFTToolsAndMask(t *testing.T) {
	t.Parallel()
	tok, rendered := m3Fixture(t)
	want := m3ToolWant(t, rendered)
	rec, err := data.ParseRecord(data.KindSFT, []byte(m3ToolLine))
	if err != nil {
		t.Fatal(err)
	}
	const maxLen = 600
	enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: maxLen})
	if err != nil {
		t.Fatal(err)
	}
	ids, err := enc.SFT(0, rec.Conversations, rec.Tools)
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Decode(ids); got != want {
		t.Fatalf("rendered:\n want %q\n  got %q", want, got)
	}
	var s data.Sample
	if err := enc.Sample(data.KindSFT, 0, &rec, &s); err != nil {
		t.Fatal(err)
	}
	body1 := "<think>\n需要调用工具\n</think>\n\n我来计算。\n<tool_call>\n{\"name\": \"calculate_math\", \"arguments\": {\"expression\": \"2**10\"}}\n</tool_call><|im_end|>\n"
	body2 := "<think>\n\n</think>\n\n2**10 = 1024。<|im_end|>\n"
	runs, first := supervisedRuns(tok, &s)
	if len(runs) != 2 || runs[0] != body1 || runs[1] != body2 {
		t.Fatalf("supervised runs = %q, want %q", runs, []string{body1, body2})
	}
	// The first target is the token right after the first assistant header.
	head := want[:strings.Index(want, "<|im_start|>assistant\n")+len("<|im_start|>assistant\n")]
	if n := len(tok.Encode(head)); first != n {
		t.Errorf("first supervised id at %d, want %d (right after the assistant header)", first, n)
	}
}

// The augmentation of minimind-3's lm_dataset.py: empty think blocks go
// with probability 0.8 by default for its tokenizer (0.95 for MiniMind2's),
// a tool-use conversation never gets a random system prompt, and a
// non-empty think block is never removed.
func TestMiniMind3Augmentation(t *testing.T) {
	t.Parallel()
	tok, _ := m3Fixture(t)
	if !tok.HasThinkTokens() || minimindTokenizer(t).HasThinkTokens() {
		t.Fatal("HasThinkTokens: want true for minimind-3's tokenizer only")
	}
	def, err := data.NewEncoder(tok, data.DefaultEncodeOptions(600))
	if err != nil {
		t.Fatal(err)
	}
	if p := def.Options().DropEmptyThinkProb; p != 0.8 {
		t.Errorf("minimind-3 default DropEmptyThinkProb = %g, want 0.8", p)
	}
	if p := newEncoder(t, data.DefaultEncodeOptions(64)).Options().DropEmptyThinkProb; p != 0.95 {
		t.Errorf("MiniMind2 default DropEmptyThinkProb = %g, want 0.95", p)
	}

	plain, err := data.ParseRecord(data.KindSFT, []byte(`{"conversations": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	const n = 2000
	kept, sys := 0, 0
	for key := range n {
		ids, err := def.SFT(key, plain.Conversations, plain.Tools)
		if err != nil {
			t.Fatal(err)
		}
		text := tok.Decode(ids)
		if strings.Contains(text, "<think>") {
			kept++
		}
		if strings.HasPrefix(text, "<|im_start|>system\n") {
			sys++
		}
	}
	// Expect 20% ± 3% kept think blocks and 20% ± 3% system prompts.
	if kept < n*17/100 || kept > n*23/100 || sys < n*17/100 || sys > n*23/100 {
		t.Errorf("over %d keys: %d think blocks kept (want ~20%%), %d system prompts (want ~20%%)", n, kept, sys)
	}

	always, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: 600, SystemPromptProb: 1, DropEmptyThinkProb: 1})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := data.ParseRecord(data.KindSFT, []byte(m3ToolLine))
	if err != nil {
		t.Fatal(err)
	}
	ids, err := always.SFT(0, rec.Conversations, rec.Tools)
	if err != nil {
		t.Fatal(err)
	}
	text := tok.Decode(ids)
	if strings.Contains(text, "<think>\n\n</think>\n\n") || !strings.Contains(text, "<think>\n需要调用工具\n</think>\n\n") {
		t.Errorf("removal took the wrong think blocks: %q", text)
	}
	// "tools" on a user message: upstream renders no tools but still adds
	// no system prompt.
	userTools, err := data.ParseRecord(data.KindSFT, []byte(`{"conversations": [{"role": "user", "content": "hi", "tools": "[{\"name\": \"f\"}]"}, {"role": "assistant", "content": "ok"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	ids, err = always.SFT(0, userTools.Conversations, userTools.Tools)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tok.Decode(ids), "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nok<|im_end|>\n"; got != want {
		t.Errorf("tool-use conversation:\n want %q\n  got %q", want, got)
	}
}

// minimind-3's RLAIF prompts keep the roles, open the think block for about
// half the keys (thinking_ratio 0.5) and get a random system prompt for
// about a fifth.
func TestMiniMind3RLAIF(t *testing.T) {
	t.Parallel()
	tok, _ := m3Fixture(t)
	rec, err := data.ParseRecord(data.KindRLAIF, []byte(`{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, {"role": "user", "content": "Q2"}, {"role": "assistant", "content": "A2"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	enc, err := data.NewEncoder(tok, data.DefaultEncodeOptions(600))
	if err != nil {
		t.Fatal(err)
	}
	const body = "<|im_start|>user\nQ<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nA<|im_end|>\n<|im_start|>user\nQ2<|im_end|>\n<|im_start|>assistant\n"
	const n = 2000
	open, sys := 0, 0
	for key := range n {
		p, err := enc.RLAIF(key, rec.Conversations)
		if err != nil {
			t.Fatal(err)
		}
		if p.Answer != "A2" {
			t.Fatalf("answer %q, want A2", p.Answer)
		}
		text := p.Prompt
		if strings.HasPrefix(text, "<|im_start|>system\n") {
			sys++
			text = text[strings.Index(text, "<|im_end|>\n")+len("<|im_end|>\n"):]
		}
		switch text {
		case body + "<think>\n":
			open++
		case body + "<think>\n\n</think>\n\n":
		default:
			t.Fatalf("key %d: prompt %q", key, p.Prompt)
		}
	}
	// Expect 50% ± 4% open think blocks and 20% ± 3% system prompts.
	if open < n*46/100 || open > n*54/100 || sys < n*17/100 || sys > n*23/100 {
		t.Errorf("over %d keys: %d open think blocks (want ~50%%), %d system prompts (want ~20%%)", n, open, sys)
	}
}
