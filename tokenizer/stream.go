package tokenizer

// StreamDecoder turns ids into text one id at a time, for streaming
// generation. It never emits half of a multi-byte character: bytes that could
// still become a valid character wait for the next id. The concatenation of
// everything Add and Flush return equals Decode of all ids.
type StreamDecoder struct {
	t           *Tokenizer
	skipSpecial bool
	pending     []byte
}

// NewStreamDecoder returns a StreamDecoder that keeps special tokens (like
// Decode).
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder {
	return &StreamDecoder{t: t}
}

// NewStreamDecoderSkipSpecial returns a StreamDecoder that drops special
// tokens (like DecodeSkipSpecial).
func (t *Tokenizer) NewStreamDecoderSkipSpecial() *StreamDecoder {
	return &StreamDecoder{t: t, skipSpecial: true}
}

// Add appends id and returns the text that is now complete (possibly "").
func (d *StreamDecoder) Add(id int32) string {
	t := d.t
	if id < 0 || int(id) >= len(t.bytes) || (d.skipSpecial && t.special[id]) {
		return ""
	}
	d.pending = append(d.pending, t.bytes[id]...)
	keep := incompleteTail(d.pending)
	ready := d.pending[:len(d.pending)-keep]
	if len(ready) == 0 {
		return ""
	}
	out := string(appendLossy(nil, ready))
	d.pending = append(d.pending[:0], d.pending[len(ready):]...)
	return out
}

// Flush returns whatever is still held back (as U+FFFD if it never became a
// valid character) and resets the decoder.
func (d *StreamDecoder) Flush() string {
	out := string(appendLossy(nil, d.pending))
	d.pending = d.pending[:0]
	return out
}
