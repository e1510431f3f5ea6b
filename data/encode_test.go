package data_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/data"
)

func noAugment(maxLen int) data.EncodeOptions {
	return data.EncodeOptions{MaxSeqLen: maxLen}
}

// sample parses line as kind and encodes it with key 0.
func sample(t *testing.T, enc *data.Encoder, kind data.Kind, line string) data.Sample {
	t.Helper()
	rec, err := data.ParseRecord(kind, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	var s data.Sample
	if err := enc.Sample(kind, 0, &rec, &s); err != nil {
		t.Fatal(err)
	}
	return s
}

// checkSample compares s with the padded ids and the label positions
// (indices into ids whose label is the id).
func checkSample(t *testing.T, s *data.Sample, ids []int32, labels []int) {
	t.Helper()
	n := len(ids) - 1
	var mask []float32 = ones(n)
	for _, j := range labels {
		mask[j-1] = 1
	}
	if diff := diff(ids[:n], s.X); diff != "" {
		t.Errorf("X (-want +got):\n%s", diff)
	}
	if diff := diff(ids[1:], s.Y); diff != "" {
		t.Errorf("Y (-want +got):\n%s", diff)
	}
	if diff := diff(mask, s.LossMask); diff != "" {
		t.Errorf("LossMask (-want +got):\n%s", diff)
	}
}

// TestSFTWorkedExample is SPEC §5.2's example: supervised labels at 25..33.
func TestSFTWorkedExample(t *testing.T) {
	t.Parallel()
	line := `{"conversations": [{"role": "system", "content": "你是minimind。"}, {"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！有什么可以帮你？"}]}`
	ids := padTo([]int32{1, 85, 736, 201, 608, 345, 79, 261, 334, 807, 286, 2, 201,
		1, 320, 275, 201, 5134, 2, 201,
		1, 1078, 538, 501, 201,
		5134, 2207, 5183, 451, 1086, 608, 814, 2, 201}, 36)
	tok := minimindTokenizer(t)
	jinja, err := chat.NewTemplate(tok.ChatTemplate())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		tmpl *chat.Template
	}{
		{"builtin", nil},
		{"jinja", jinja},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := data.DefaultEncodeOptions(36) // augmentation on: a system message is present, no think block
			opts.Template = tc.tmpl
			s := sample(t, newEncoder(t, opts), data.KindSFT, line)
			checkSample(t, &s, ids, span(25, 34))
			if s.Rejected != nil {
				t.Error("SFT sample has a rejected side")
			}
		})
	}
}

func TestSFTMasks(t *testing.T) {
	t.Parallel()
	sys := []int32{1, 85, 736, 201, 59, 292, 389, 260, 3836, 1861, 501, 2, 201} // default system prompt
	user := []int32{1, 320, 275, 201, 51, 2, 201}                               // user "Q"
	head := []int32{1, 1078, 538, 501, 201}
	good := []int32{587, 2, 201} // "好" <|im_end|> \n
	cat := func(parts ...[]int32) []int32 { return slices.Concat(parts...) }
	tests := []struct {
		name   string
		maxLen int
		line   string
		ids    []int32
		labels []int
	}{
		{
			name:   "default system prompt",
			maxLen: 32,
			line:   `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "好"}]}`,
			ids:    padTo(cat(sys, user, head, good), 32),
			labels: span(25, 28),
		},
		{
			name:   "multi-turn supervises every assistant turn",
			maxLen: 50,
			line:   `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "好"}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "好"}]}`,
			ids:    padTo(cat(sys, user, head, good, user, head, good), 50),
			labels: append(span(25, 28), span(40, 43)...),
		},
		{
			name:   "truncated inside the answer: span runs to the end",
			maxLen: 26,
			line:   `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "好"}]}`,
			ids:    cat(sys, user, head, good)[:26],
			labels: []int{25},
		},
		{
			name:   "truncated inside the header: nothing supervised",
			maxLen: 23,
			line:   `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "好"}]}`,
			ids:    cat(sys, user, head, good)[:23],
			labels: nil,
		},
		{
			name:   "no assistant turn",
			maxLen: 24,
			line:   `{"conversations": [{"role": "user", "content": "Q"}]}`,
			ids:    padTo(cat(sys, user), 24),
			labels: nil,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := sample(t, newEncoder(t, noAugment(tc.maxLen)), data.KindSFT, tc.line)
			checkSample(t, &s, tc.ids, tc.labels)
		})
	}
}

func TestPretrainMasks(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		maxLen int
		text   string
		ids    []int32
		labels []int
	}{
		{"SPEC example", 12, "你好，世界。", []int32{1, 5134, 270, 2219, 286, 2, 0, 0, 0, 0, 0, 0}, span(1, 6)},
		{"exactly full", 6, "你好，世界。", []int32{1, 5134, 270, 2219, 286, 2}, span(1, 6)},
		{"truncated keeps bos and eos", 5, "你好，世界。", []int32{1, 5134, 270, 2219, 2}, span(1, 5)},
		{"empty text", 4, "", []int32{1, 2, 0, 0}, []int{1}},
		{"a genuine <|endoftext|> is ignored like a pad", 8, "你好<|endoftext|>你好", []int32{1, 5134, 0, 5134, 2, 0, 0, 0}, []int{1, 3, 4}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			line, _ := json.Marshal(map[string]string{"text": tc.text})
			s := sample(t, newEncoder(t, noAugment(tc.maxLen)), data.KindPretrain, string(line))
			checkSample(t, &s, tc.ids, tc.labels)
		})
	}
}

func TestDPOBothSides(t *testing.T) {
	t.Parallel()
	line := `{"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "好"}], "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "你好"}]}`
	prefix := []int32{1, 85, 736, 201, 59, 292, 389, 260, 3836, 1861, 501, 2, 201, 1, 320, 275, 201, 51, 2, 201, 1, 1078, 538, 501, 201}
	s := sample(t, newEncoder(t, data.DefaultEncodeOptions(30)), data.KindDPO, line)
	// SPEC §5.3: mask = 1 at positions 25 (好), 26 (<|im_end|>), 27 (\n).
	checkSample(t, &s, padTo(slices.Concat(prefix, []int32{587, 2, 201}), 30), span(25, 28))
	if s.Rejected == nil {
		t.Fatal("no rejected side")
	}
	checkSample(t, s.Rejected, padTo(slices.Concat(prefix, []int32{5134, 2, 201}), 30), span(25, 28))
}

func TestRLAIFPrompt(t *testing.T) {
	t.Parallel()
	enc := newEncoder(t, data.DefaultEncodeOptions(66))
	tests := []struct {
		name string
		line string
		want data.RLAIFPrompt
	}{
		{
			name: "user and answer",
			line: `{"conversations": [{"role": "user", "content": "你好"}, {"role": "assistant", "content": "你好！有什么可以帮你？"}]}`,
			want: data.RLAIFPrompt{
				Prompt: "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
				Answer: "你好！有什么可以帮你？",
			},
		},
		{
			name: "roles re-assigned by position",
			line: `{"conversations": [{"role": "system", "content": "a"}, {"role": "system", "content": "b"}, {"role": "user", "content": "c"}, {"role": "x", "content": "d"}]}`,
			want: data.RLAIFPrompt{
				Prompt: "<|im_start|>system\nYou are a helpful assistant<|im_end|>\n<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n<|im_start|>user\nc<|im_end|>\n<|im_start|>assistant\n",
				Answer: "d",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := data.ParseRecord(data.KindRLAIF, []byte(tc.line))
			if err != nil {
				t.Fatal(err)
			}
			got, err := enc.RLAIF(0, rec.Conversations)
			if err != nil {
				t.Fatal(err)
			}
			if diff := diff(tc.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	ids := enc.PromptIDs("<|im_start|>assistant\n", 3)
	if diff := diff([]int32{538, 501, 201}, ids); diff != "" {
		t.Errorf("PromptIDs keeps the last ids (-want +got):\n%s", diff)
	}
}

// TestSFTAugmentation checks 2510's random system prompt and empty-think
// removal: deterministic per (seed, key), switchable, at the right rate.
func TestSFTAugmentation(t *testing.T) {
	t.Parallel()
	tok := minimindTokenizer(t)
	rec := data.Record{Conversations: []chat.Message{
		{Role: "user", Content: "你好"},
		{Role: "assistant", Content: "<think>\n\n</think>\n\n答案"},
	}}
	render := func(opts data.EncodeOptions, key int) string {
		enc := newEncoder(t, opts)
		ids, err := enc.SFT(key, rec.Conversations, nil)
		if err != nil {
			t.Fatal(err)
		}
		return tok.Decode(ids)
	}
	off := noAugment(4096)
	if got := render(off, 7); !strings.HasPrefix(got, "<|im_start|>system\nYou are a helpful assistant<|im_end|>") || !strings.Contains(got, "<think>") {
		t.Errorf("augmentation off changed the text: %q", got)
	}
	always := off
	always.SystemPromptProb, always.DropEmptyThinkProb = 1, 1
	if got := render(always, 7); strings.Contains(got, "You are a helpful assistant<") || strings.Contains(got, "<think>") {
		t.Errorf("augmentation always on left the default prompt or the think block: %q", got)
	}
	def := data.DefaultEncodeOptions(4096)
	sys, think := 0, 0
	const n = 2000
	for key := range n {
		got := render(def, key)
		if got != render(def, key) {
			t.Fatalf("key %d: not deterministic", key)
		}
		if !strings.Contains(got, "You are a helpful assistant<") {
			sys++
		}
		if strings.Contains(got, "<think>") {
			think++
		}
	}
	// Expect 20% ± 3% random system prompts and 5% ± 2% kept think blocks.
	if sys < n*17/100 || sys > n*23/100 || think < n*3/100 || think > n*7/100 {
		t.Errorf("over %d keys: %d random system prompts (want ~20%%), %d think blocks kept (want ~5%%)", n, sys, think)
	}
	other := def
	other.Seed = 43
	same := 0
	for key := range 200 {
		if render(def, key) == render(other, key) {
			same++
		}
	}
	if same == 200 {
		t.Error("a different seed gave identical augmentation for 200 keys")
	}
}

// TestSFTFunctionsKeepOrder: the tool schemas of an SFT record reach the
// prompt with their keys in file order, as MiniMind's json.loads + tojson
// keeps them (a Go map would have sorted them).
func TestSFTFunctionsKeepOrder(t *testing.T) {
	line := `{"conversations": [{"role": "system", "content": "S", "functions": [{"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}]}, {"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}`
	rec, err := data.ParseRecord(data.KindSFT, []byte(line))
	if err != nil {
		t.Fatal(err)
	}
	got, err := chat.ChatML().Render(rec.Conversations, chat.Options{Tools: rec.Tools})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}`
	if !strings.Contains(got, want) {
		t.Fatalf("prompt lacks %s in order:\n%s", want, got)
	}
}
