package reward

import (
	"context"
	"math"
	"strings"
	"testing"
)

// Expected values are worked out by hand from upstream's calculate_rewards
// and rep_penalty (trainer/train_grpo.py at HEAD d65ef2c); the comment on
// each case gives the terms: length, think length, think count, -penalty.
var ruleCases = []struct {
	name     string
	response string
	want     float64
}{
	// len 0 -> -0.5; no </think>; no 3-gram.
	{"empty", "", -0.5},
	// len 27 -> +0.5; tokens hello , world ! this is fine . : 6 distinct 3-grams.
	{"plain", "Hello, world! This is fine.", 0.5},
	// len 9 -> -0.5; a a a a a: 3 grams, 1 distinct: min(0.5, 2*1/3) = 0.5.
	{"all repeated", "a a a a a", -1.0},
	// len 58 -> +0.5; thinking "<think>\nI should add two and two carefully." is 43 -> +1.0;
	// one </think> -> +0.25; answer "The answer is 4." 3 distinct grams.
	{"think", "<think>\nI should add two and two carefully.\n</think>\nThe answer is 4.", 1.75},
	// len 18 -> -0.5; thinking "" -> -0.5; two </think> -> -0.25; answer "</think>ok"
	// tokens < / think > ok: 3 distinct grams.
	{"two think ends", "</think></think>ok", -1.25},
	// len 23 -> +0.5; 4 grams, 3 distinct: 1*0.5*2/4 = 0.25.
	{"partial repeat", "the cat sat the cat sat", 0.25},
	// len 13 -> -0.5; lower-cased a b c a b c x: 5 grams, 4 distinct: 0.2.
	{"case folded", "A b c a B C x", -0.7},
	// 800 and 801 code points, one token.
	{"len 800", strings.Repeat("x", 800), 0.5},
	{"len 801", strings.Repeat("x", 801), -0.5},
	// 300 code points (900 bytes): length counts code points.
	{"cjk", strings.Repeat("你", 300), 0.5},
	// strip leaves 19 -> -0.5.
	{"stripped 19", "   " + strings.Repeat("y", 19) + "\n\t ", -0.5},
	// Python strips U+001C too: 800 -> +0.5.
	{"py whitespace", "\x1c" + strings.Repeat("z", 800), 0.5},
	// thinking 20 -> +1.0 (full 32 -> +0.5, once +0.25), 19 and 301 -> -0.5.
	{"think 20", strings.Repeat("t", 20) + "</think>done", 1.75},
	{"think 19", strings.Repeat("t", 19) + "</think>done", 0.25},
	{"think 301", strings.Repeat("t", 301) + "</think>done", 0.25},
	// len 32 -> +0.5; '_' is a word character: one gram.
	{"underscore", "snake_case snake_case snake_case", 0.5},
	// len 8 -> -0.5; a combining mark is not \w in Python: tokens e ́ e ́ e ́,
	// 4 grams, 2 distinct: min(0.5, 2*1/4) = 0.5.
	{"combining mark", "e\u0301 e\u0301 e\u0301", -1.0},
	// Penalty only on the answer after </think>: thinking repeats, answer doesn't.
	// len 65 -> +0.5; thinking "go go go go go go go go go go go" (32) -> +1.0; once +0.25.
	{"penalty on answer", "go go go go go go go go go go go</think> The answer is four today.", 1.75},
}

func TestRuleScore(t *testing.T) {
	for _, c := range ruleCases {
		if got := RuleScore(c.response); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%s: RuleScore(%q) = %v, want %v", c.name, c.response, got, c.want)
		}
	}
}

func TestRepPenalty(t *testing.T) {
	for _, c := range []struct {
		text string
		want float64
	}{
		{"", 0},
		{"one two", 0},                     // 2 tokens: no 3-gram
		{"x y z x y z x y z", 0.5},         // 7 grams, 3 distinct: min(0.5, 4/7)
		{"a b c d a b c e", 1.0 / 6},       // 6 grams, 5 distinct
		{"İ i̇ x İ i̇ x", 0.375},           // İ lowers to i + U+0307: tokens i ̇ i ̇ x i ̇ i ̇ x, 8 grams, 5 distinct
		{"don't don't", 1.0 / 4 * 0.5 * 2}, // don ' t don ' t: 4 grams, 3 distinct
	} {
		if got := RepPenalty(c.text); math.Abs(got-c.want) > 1e-12 {
			t.Errorf("RepPenalty(%q) = %v, want %v", c.text, got, c.want)
		}
	}
}

func TestRulesFunc(t *testing.T) {
	batch := make([]Sample, len(ruleCases))
	for i, c := range ruleCases {
		batch[i] = Sample{Prompt: "p", Response: c.response}
	}
	got, err := Rules().Score(context.Background(), batch)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range ruleCases {
		if math.Abs(got[i]-c.want) > 1e-12 {
			t.Errorf("sample %d (%s) = %v, want %v", i, c.name, got[i], c.want)
		}
	}
}
