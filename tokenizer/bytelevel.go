package tokenizer

// byteLevelAlphabet returns GPT-2's bytes→unicode table: the 188 printable
// Latin-1 bytes map to themselves and the other 68 bytes to U+0100 onwards,
// so every byte is one visible character in tokenizer.json.
func byteLevelAlphabet() [256]rune {
	var m [256]rune
	n := 0
	for b := 0; b < 256; b++ {
		if (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			m[b] = rune(b)
		} else {
			m[b] = rune(256 + n)
			n++
		}
	}
	return m
}

// byteLevelDecode maps a token's byte-level text back to raw bytes. ok is false if s holds a character
// outside the alphabet; HF then uses the token's own UTF-8 bytes instead
// (ByteLevel decoder), which is what the caller does.
func byteLevelDecode(inv map[rune]byte, s string) ([]byte, bool) {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		b, ok := inv[r]
		if !ok {
			return nil, false
		}
		out = append(out, b)
	}
	return out, true
}

// appendLossy appends b to dst as valid UTF-8, replacing each maximal invalid
// subsequence by U+FFFD exactly as Rust's String::from_utf8_lossy does (HF's
// ByteLevel decoder calls it). Go's own conversions replace byte by byte, which
// would differ for truncated multi-byte sequences.
func appendLossy(dst, b []byte) []byte {
	for i := 0; i < len(b); {
		c := b[i]
		if c < 0x80 {
			dst = append(dst, c)
			i++
			continue
		}
		n := validPrefixLen(b[i:])
		if n > 0 {
			dst = append(dst, b[i:i+n]...)
			i += n
			continue
		}
		// Invalid: skip the maximal subpart (a lead byte plus the
		// continuation bytes that were still valid for it), emit one U+FFFD.
		i += maximalSubpart(b[i:])
		dst = append(dst, "\uFFFD"...)
	}
	return dst
}

// seqLen returns the length of the UTF-8 sequence that lead byte c starts
// and the allowed range of its second byte (Unicode Table 3-7), or 0 if c
// cannot start a sequence.
func seqLen(c byte) (n int, lo, hi byte) {
	switch {
	case c >= 0xC2 && c <= 0xDF:
		return 2, 0x80, 0xBF
	case c == 0xE0:
		return 3, 0xA0, 0xBF
	case c >= 0xE1 && c <= 0xEC, c == 0xEE, c == 0xEF:
		return 3, 0x80, 0xBF
	case c == 0xED:
		return 3, 0x80, 0x9F
	case c == 0xF0:
		return 4, 0x90, 0xBF
	case c >= 0xF1 && c <= 0xF3:
		return 4, 0x80, 0xBF
	case c == 0xF4:
		return 4, 0x80, 0x8F
	}
	return 0, 0, 0
}

// validPrefixLen returns the length of the complete valid multi-byte
// character at the start of b, or 0.
func validPrefixLen(b []byte) int {
	n := maximalSubpart(b)
	if want, _, _ := seqLen(b[0]); want > 0 && n == want {
		return n
	}
	return 0
}

// maximalSubpart returns how many bytes at the start of b form the longest
// prefix of a well-formed sequence (at least 1).
func maximalSubpart(b []byte) int {
	n, lo, hi := seqLen(b[0])
	if n == 0 {
		return 1
	}
	i := 1
	for ; i < n && i < len(b); i++ {
		c := b[i]
		if i == 1 {
			if c < lo || c > hi {
				break
			}
		} else if c < 0x80 || c > 0xBF {
			break
		}
	}
	return i
}

// incompleteTail returns how many bytes at the end of b are the valid start
// of a multi-byte character that more bytes could complete. A stream decoder
// holds them back instead of emitting U+FFFD.
func incompleteTail(b []byte) int {
	for k := 1; k <= 3 && k <= len(b); k++ {
		start := len(b) - k
		c := b[start]
		if c < 0x80 {
			return 0
		}
		if c >= 0xC0 { // a lead byte (or an invalid one)
			n, _, _ := seqLen(c)
			if n > k && maximalSubpart(b[start:]) == k {
				return k
			}
			return 0
		}
	}
	return 0
}
