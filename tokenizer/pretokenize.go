package tokenizer

import (
	"unicode"
	"unicode/utf8"
)

// The GPT-2 split pattern that HF's ByteLevel pre-tokenizer applies:
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//
// Go's regexp has no look-ahead, so splitGPT2 implements the pattern by hand.
// Oniguruma (which HF uses) tries the alternatives left to right at each
// position; the comments in splitGPT2 follow that order. \s is Unicode
// White_Space (the same set as unicode.IsSpace), \p{L} and \p{N} are the
// Unicode letter and number categories.

// Character classes of the pattern.
const (
	classOther  = iota // [^\s\p{L}\p{N}]
	classLetter        // \p{L}
	classNumber        // \p{N}
	classSpace         // \s
)

// asciiClass is the class of each ASCII byte; a table keeps the common case
// out of the unicode range tables.
var asciiClass = func() (t [128]uint8) {
	for c := 0; c < 128; c++ {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
			t[c] = classLetter
		case c >= '0' && c <= '9':
			t[c] = classNumber
		case c == ' ', c >= '\t' && c <= '\r':
			t[c] = classSpace
		default:
			t[c] = classOther
		}
	}
	return t
}()

// classAt returns the class of the character at s[i] and its byte length.
// Invalid UTF-8 bytes count as one "other" character each, as the byte
// itself is still encoded.
func classAt(s string, i int) (uint8, int) {
	c := s[i]
	if c < utf8.RuneSelf {
		return asciiClass[c], 1
	}
	r, n := utf8.DecodeRuneInString(s[i:])
	switch {
	case r >= 0x4E00 && r <= 0x9FFF:
		// CJK Unified Ideographs are all letters (Lo); checked first
		// because they are most of the Chinese corpus.
		return classLetter, n
	case r == utf8.RuneError && n == 1:
		return classOther, 1
	case unicode.IsLetter(r):
		return classLetter, n
	case unicode.IsNumber(r):
		return classNumber, n
	case unicode.IsSpace(r):
		return classSpace, n
	}
	return classOther, n
}

// runEnd returns the end of the run of characters of class cls starting at i.
func runEnd(s string, i int, cls uint8) int {
	for i < len(s) {
		c, n := classAt(s, i)
		if c != cls {
			break
		}
		i += n
	}
	return i
}

// splitGPT2 calls fn with each piece of s that the GPT-2 pattern matches, in
// order. The pieces concatenate to s.
func splitGPT2(s string, fn func(piece string)) {
	for i := 0; i < len(s); {
		j := matchGPT2(s, i)
		fn(s[i:j])
		i = j
	}
}

// matchGPT2 returns the end of the pattern's match that starts at i.
func matchGPT2(s string, i int) int {
	c := s[i]
	// 's|'t|'re|'ve|'m|'ll|'d (case-sensitive)
	if c == '\'' && i+1 < len(s) {
		switch s[i+1] {
		case 's', 't', 'm', 'd':
			return i + 2
		case 'r', 'v':
			if i+2 < len(s) && s[i+2] == 'e' {
				return i + 3
			}
		case 'l':
			if i+2 < len(s) && s[i+2] == 'l' {
				return i + 3
			}
		}
	}
	// ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional ASCII space
	// followed by a run of one class.
	start := i
	if c == ' ' && i+1 < len(s) {
		if cls, _ := classAt(s, i+1); cls != classSpace {
			return runEnd(s, i+1, cls)
		}
	}
	cls, n := classAt(s, start)
	if cls != classSpace {
		return runEnd(s, start, cls)
	}
	// \s+(?!\S) then \s+: take the whole whitespace run; if it ends the text
	// it matches whole. Otherwise a non-space follows, so back off one
	// character, leaving it to prefix the next word (` ?\p{L}+` ...); a run
	// of one character falls through to the plain \s+ and matches whole.
	end := runEnd(s, start+n, classSpace)
	if end == len(s) {
		return end
	}
	_, last := lastRune(s[start:end])
	if end-last > start {
		return end - last
	}
	return end
}

// lastRune returns the last character of s and its byte length.
func lastRune(s string) (rune, int) {
	return utf8.DecodeLastRuneInString(s)
}
