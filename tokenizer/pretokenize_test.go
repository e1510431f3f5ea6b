package tokenizer

import (
	"slices"
	"strings"
	"testing"
)

func split(s string) []string {
	var out []string
	splitGPT2(s, func(p string) { out = append(out, p) })
	return out
}

// Expected splits worked out by hand from the regex semantics
// (leftmost alternative wins; \s+(?!\S) leaves the last space of a run for
// the next word).
func TestSplitGPT2(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []string
	}{
		{"empty", "", nil},
		{"words", "Hello world", []string{"Hello", " world"}},
		{"contractions", "I'm can't we'll they've you're he'd it's", []string{"I", "'m", " can", "'t", " we", "'ll", " they", "'ve", " you", "'re", " he", "'d", " it", "'s"}},
		{"uppercase contraction is not one", "IT'S", []string{"IT", "'", "S"}},
		{"space runs", "a   b", []string{"a", "  ", " b"}},
		{"trailing spaces", "a  ", []string{"a", "  "}},
		{"newline before word", "a\n\nb", []string{"a", "\n", "\n", "b"}},
		{"space then newline", "a \nb", []string{"a", " ", "\n", "b"}},
		{"numbers", "abc123 456", []string{"abc", "123", " 456"}},
		{"punctuation", "x?! (y)", []string{"x", "?!", " (", "y", ")"}},
		{"quote inside punctuation run", "?'s", []string{"?'", "s"}},
		{"cjk", "你好，世界。", []string{"你好", "，", "世界", "。"}},
		{"ideographic space", "\u3000全角空格\u3000", []string{"\u3000", "全角空格", "\u3000"}},
		{"nbsp is space", "1.\u00a0从", []string{"1", ".", "\u00a0", "从"}},
		{"emoji", "👍 ok", []string{"👍", " ok"}},
		{"invalid utf8", "a\xffb", []string{"a", "\xff", "b"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := split(tc.in)
			if !slices.Equal(got, tc.want) {
				t.Errorf("split(%q)\n want %q\n  got %q", tc.in, tc.want, got)
			}
			if strings.Join(got, "") != tc.in {
				t.Errorf("pieces do not concatenate to the input")
			}
		})
	}
}

func TestAppendLossy(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"valid", "héllo 你好 😀", "héllo 你好 😀"},
		{"truncated 3-byte is one replacement", "a\xe4\xb8b", "a\uFFFDb"},
		{"lone continuation bytes", "\x80\x80", "\uFFFD\uFFFD"},
		{"surrogate", "\xed\xa0\x80", "\uFFFD\uFFFD\uFFFD"},
		{"overlong", "\xc0\xaf", "\uFFFD\uFFFD"},
		{"truncated 4-byte", "\xf0\x9f\x98", "\uFFFD"},
		{"too large", "\xf4\x90\x80\x80", "\uFFFD\uFFFD\uFFFD\uFFFD"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := string(appendLossy(nil, []byte(tc.in))); got != tc.want {
				t.Errorf("appendLossy(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
