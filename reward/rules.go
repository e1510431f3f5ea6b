package reward

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

const thinkEnd = "</think>"

// RuleScore is upstream's rule reward of one response
// (train_grpo.py calculate_rewards, lines 54-60 at HEAD d65ef2c):
//
//	+0.5 if 20 <= len(strip(response)) <= 800 else -0.5   (len in code points)
//	if "</think>" in response: split at the first one into thinking, answer;
//	    +1.0 if 20 <= len(strip(thinking)) <= 300 else -0.5
//	    +0.25 if response holds exactly one "</think>" else -0.25
//	    answer = strip(answer)   (else answer = response, unstripped)
//	-RepPenalty(answer)
//
// Upstream sums in float32; this sums in float64 (differences ~1e-8).
func RuleScore(response string) float64 {
	r := 0.0
	if n := utf8.RuneCountInString(pyStrip(response)); 20 <= n && n <= 800 {
		r += 0.5
	} else {
		r -= 0.5
	}
	answer := response
	if thinking, rest, ok := strings.Cut(response, thinkEnd); ok {
		if n := utf8.RuneCountInString(pyStrip(thinking)); 20 <= n && n <= 300 {
			r += 1.0
		} else {
			r -= 0.5
		}
		if strings.Count(response, thinkEnd) == 1 {
			r += 0.25
		} else {
			r -= 0.25
		}
		answer = pyStrip(rest)
	}
	return r - RepPenalty(answer)
}

// RepPenalty is upstream's rep_penalty(text, n=3, cap=0.5): the share of
// repeated 3-grams of tokens (regex \w+|[^\w\s] on the lower-cased text),
// times 2·cap, capped at cap; 0 when there is no 3-gram.
func RepPenalty(text string) float64 {
	const n, cap = 3, 0.5
	toks := pyTokens(pyLower(text))
	if len(toks) < n {
		return 0
	}
	grams := len(toks) - n + 1
	seen := make(map[[n]string]bool, grams)
	for i := 0; i < grams; i++ {
		seen[[n]string{toks[i], toks[i+1], toks[i+2]}] = true
	}
	// Same operation order as Python: (dup * cap * 2) / len(grams).
	return min(cap, float64(grams-len(seen))*cap*2/float64(grams))
}

// pyIsSpace is Python's str.isspace (and re's \s on str): Unicode White_Space
// plus the separators U+001C..U+001F that Go's unicode.IsSpace leaves out.
func pyIsSpace(r rune) bool {
	return unicode.IsSpace(r) || (r >= 0x1c && r <= 0x1f)
}

// pyIsWord is re's \w on str: str.isalnum() (letters and all numerics, but
// not combining marks) or '_'.
func pyIsWord(r rune) bool {
	return r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// pyStrip is Python's str.strip().
func pyStrip(s string) string { return strings.TrimFunc(s, pyIsSpace) }

// pyLower is Python's str.lower() up to its one unconditional multi-rune
// mapping (U+0130 → "i̇"); the final-sigma rule is not reproduced.
func pyLower(s string) string {
	return strings.ToLower(strings.ReplaceAll(s, "\u0130", "i\u0307"))
}

// pyTokens splits as re.findall(r"\w+|[^\w\s]", s).
func pyTokens(s string) []string {
	var toks []string
	start := -1
	for i, r := range s {
		if pyIsWord(r) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 {
			toks = append(toks, s[start:i])
			start = -1
		}
		if !pyIsSpace(r) {
			toks = append(toks, string(r))
		}
	}
	if start >= 0 {
		toks = append(toks, s[start:])
	}
	return toks
}
