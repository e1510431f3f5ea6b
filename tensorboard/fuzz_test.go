package tensorboard

import (
	"math"
	"os"
	"testing"
)

// FuzzRead: Parse never panics, and it reads back what the writer framed.
// Whole records plus a torn tail account for every input byte; any events
// Parse returns re-encode to input it reads back to the same events.
func FuzzRead(f *testing.F) {
	dir := f.TempDir()
	path, _ := writeRun(f, dir)
	b, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add(b[:len(b)-3])
	f.Add([]byte{})
	f.Add(appendRecord(nil, []byte{0x2a, 0x05, 0x0a, 0x03, 0x0a, 0x01, 'x'})) // a summary value with a tag only
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := Parse(b)
		if err != nil {
			return
		}
		if got.Torn < 0 || got.Torn > len(b) || len(got.Events)*(headerSize+4) > len(b)-got.Torn {
			t.Fatalf("%d events and %d torn bytes from %d bytes", len(got.Events), got.Torn, len(b))
		}
		var again []byte
		for i := range got.Events {
			again = appendRecord(again, appendEvent(nil, canonical(got.Events[i])))
		}
		back, err := Parse(again)
		if err != nil {
			t.Fatalf("re-encoded events do not parse: %v", err)
		}
		if len(back.Events) != len(got.Events) {
			t.Fatalf("re-encoded %d events, read %d", len(got.Events), len(back.Events))
		}
		for i := range back.Events {
			if d := diff(eventKey(canonical(got.Events[i])), eventKey(&back.Events[i])); d != "" {
				t.Fatalf("event %d: %s", i, d)
			}
		}
	})
}

// canonical is e as the writer would have written it: one member of the
// event's oneof (decoding hostile input may set several).
func canonical(e Event) *Event {
	switch {
	case e.FileVersion != "":
		e.SessionStart, e.Values = false, nil
	case e.SessionStart:
		e.Values = nil
	case e.Values == nil:
		e.Values = []Value{}
	}
	return &e
}

// eventKey makes NaNs comparable: floats as their bits.
type eventKeyT struct {
	Wall   uint64
	Event  Event
	Values []uint32
}

func eventKey(e *Event) eventKeyT {
	k := eventKeyT{Wall: math.Float64bits(e.WallTime), Event: *e}
	k.Event.WallTime = 0
	k.Event.Values = append([]Value{}, e.Values...)
	for i := range k.Event.Values {
		k.Values = append(k.Values, math.Float32bits(k.Event.Values[i].Scalar))
		k.Event.Values[i].Scalar = 0
	}
	return k
}

// FuzzWriteRead: whatever a caller logs is read back exactly.
func FuzzWriteRead(f *testing.F) {
	f.Add(int64(1), 1.5, "loss", float32(2.25), "flags", "| flag | value |")
	f.Add(int64(-1), math.Inf(1), "", float32(math.NaN()), "", "")
	f.Fuzz(func(t *testing.T, step int64, wall float64, tag string, v float32, textTag, text string) {
		want := []Event{
			{WallTime: wall, Step: step, Values: []Value{{Tag: tag, Kind: KindScalar, Scalar: v}}},
			{WallTime: wall, Step: step, Values: []Value{{Tag: textTag, Kind: KindText, Text: text, Plugin: "text"}}},
		}
		// What Writer.add buffers, in memory: a file per input is slow.
		var b []byte
		for i := range want {
			b = appendRecord(b, appendEvent(nil, &want[i]))
		}
		got, err := Parse(b)
		if err != nil {
			t.Fatal(err)
		}
		if !validText(text) { // not text TensorBoard can show: read as an opaque tensor
			want[1].Values[0] = Value{Tag: textTag, Kind: KindOther, Plugin: "text"}
		}
		if len(got.Events) != len(want) {
			t.Fatalf("read %d events, want %d", len(got.Events), len(want))
		}
		for i := range want {
			if d := diff(eventKey(&want[i]), eventKey(&got.Events[i])); d != "" {
				t.Errorf("event %d: %s", i, d)
			}
		}
	})
}

func validText(s string) bool {
	_, ok, _ := decodeStringScalar(appendStringField(appendVarintField(nil, tensorDType, dtString), tensorStringVal, s))
	return ok
}
