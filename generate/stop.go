package generate

import "strings"

// stopper holds back text that might be the start of a stop string, so a
// stop string is never streamed, and cuts the reply where one first
// appears. Pieces come from a StreamDecoder (whole characters), so what it
// releases is whole characters too: a held-back suffix that matches the
// start of a valid UTF-8 stop string begins on a character boundary.
type stopper struct {
	stops   []string
	pending strings.Builder
}

// push adds a piece of text and returns what can be released now, and
// whether a stop string was found (everything from it on is dropped).
func (s *stopper) push(piece string) (out string, hit bool) {
	if len(s.stops) == 0 {
		return piece, false
	}
	s.pending.WriteString(piece)
	text := s.pending.String()
	cut := -1
	for _, st := range s.stops {
		if i := strings.Index(text, st); i >= 0 && (cut < 0 || i < cut) {
			cut = i
		}
	}
	if cut >= 0 {
		s.pending.Reset()
		return text[:cut], true
	}
	// Keep the longest suffix that is a proper prefix of a stop string.
	keep := 0
	for _, st := range s.stops {
		for n := min(len(st)-1, len(text)); n > keep; n-- {
			if strings.HasSuffix(text, st[:n]) {
				keep = n
				break
			}
		}
	}
	s.pending.Reset()
	s.pending.WriteString(text[len(text)-keep:])
	return text[:len(text)-keep], false
}

// flush releases whatever is held back (the reply ended without a stop
// string).
func (s *stopper) flush() string {
	out := s.pending.String()
	s.pending.Reset()
	return out
}
