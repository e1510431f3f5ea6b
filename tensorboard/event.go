package tensorboard

import (
	"fmt"
	"math"
	"unicode/utf8"
)

// FileVersion is the file_version of the first record of every event file
// (event.proto: all versions start with "brain.Event:").
const FileVersion = "brain.Event:2"

// Field numbers of tensorboard/compat/proto (event.proto, summary.proto,
// tensor.proto, tensor_shape.proto), kept as the official files number them.
const (
	eventWallTime    = 1 // double
	eventStep        = 2 // int64
	eventFileVersion = 3 // string, oneof what
	eventSummary     = 5 // Summary, oneof what
	eventSessionLog  = 7 // SessionLog, oneof what

	sessionStatus = 1 // SessionLog.status: SessionStatus enum
	statusStart   = 1 // SessionStatus START

	summaryValue = 1 // repeated Summary.Value

	valueTag         = 1 // string
	valueSimpleValue = 2 // float, oneof value
	valueTensor      = 8 // TensorProto, oneof value
	valueMetadata    = 9 // SummaryMetadata

	metadataPluginData = 1 // SummaryMetadata.plugin_data
	pluginName         = 1 // PluginData.plugin_name

	tensorDType     = 1 // DataType enum
	tensorShape     = 2 // TensorShapeProto (no dims: a scalar)
	tensorStringVal = 8 // repeated bytes

	dtString = 7 // DataType DT_STRING
)

// Kind says what a Value holds.
type Kind int

const (
	KindOther  Kind = iota // an image, histogram, audio or other tensor: not decoded
	KindScalar             // simple_value, in Value.Scalar
	KindText               // a scalar DT_STRING tensor, in Value.Text
)

// Event is one record of an event file.
type Event struct {
	WallTime     float64 // seconds since the Unix epoch
	Step         int64
	FileVersion  string  // FileVersion in a file's first record, else ""
	SessionStart bool    // a SessionLog START: a run (re)started at Step
	Values       []Value // the Summary's values; nil when the event holds no summary
}

// Value is one tagged value of a Summary.
type Value struct {
	Tag    string
	Kind   Kind
	Scalar float32 // simple_value, for KindScalar
	Text   string  // the string tensor's value, for KindText
	Plugin string  // metadata.plugin_data.plugin_name ("text" for AddText), "" when absent
}

// appendEvent appends the protobuf encoding of e to b. Fields go in
// field-number order and proto3 defaults (step 0) are left out, which is
// what every protobuf runtime writes: our records re-serialize byte for
// byte (the Python test checks it). A oneof member is written even when
// zero, as proto3 requires (a 0 loss must still be a point).
func appendEvent(b []byte, e *Event) []byte {
	b = appendDoubleField(b, eventWallTime, e.WallTime)
	if e.Step != 0 {
		b = appendVarintField(b, eventStep, uint64(e.Step))
	}
	switch {
	case e.FileVersion != "":
		b = appendStringField(b, eventFileVersion, e.FileVersion)
	case e.SessionStart:
		b = appendBytesField(b, eventSessionLog, appendVarintField(nil, sessionStatus, statusStart))
	default:
		var s []byte
		for i := range e.Values {
			s = appendBytesField(s, summaryValue, appendValue(nil, &e.Values[i]))
		}
		b = appendBytesField(b, eventSummary, s)
	}
	return b
}

func appendValue(b []byte, v *Value) []byte {
	b = appendStringField(b, valueTag, v.Tag)
	switch v.Kind {
	case KindScalar:
		b = appendFloatField(b, valueSimpleValue, v.Scalar)
	case KindText:
		t := appendVarintField(nil, tensorDType, dtString)
		t = appendBytesField(t, tensorShape, nil) // present and empty: rank 0
		t = appendStringField(t, tensorStringVal, v.Text)
		b = appendBytesField(b, valueTensor, t)
	}
	if v.Plugin != "" {
		pd := appendStringField(nil, pluginName, v.Plugin)
		b = appendBytesField(b, valueMetadata, appendBytesField(nil, metadataPluginData, pd))
	}
	return b
}

// decodeEvent decodes an Event message. Fields it does not know are skipped,
// as protobuf readers do; a known field with the wrong wire type or a
// malformed encoding is an error.
func decodeEvent(b []byte) (Event, error) {
	var e Event
	err := fields(b, func(f field) error {
		switch f.num {
		case eventWallTime:
			if err := f.want(wireFixed64); err != nil {
				return err
			}
			e.WallTime = math.Float64frombits(f.u)
		case eventStep:
			if err := f.want(wireVarint); err != nil {
				return err
			}
			e.Step = int64(f.u)
		case eventFileVersion:
			if err := f.want(wireBytes); err != nil {
				return err
			}
			e.FileVersion = string(f.data)
		case eventSummary:
			if err := f.want(wireBytes); err != nil {
				return err
			}
			e.Values = []Value{}
			return fields(f.data, func(f field) error {
				if f.num != summaryValue {
					return nil
				}
				if err := f.want(wireBytes); err != nil {
					return fmt.Errorf("summary: %w", err)
				}
				v, err := decodeValue(f.data)
				if err != nil {
					return fmt.Errorf("summary value %d: %w", len(e.Values), err)
				}
				e.Values = append(e.Values, v)
				return nil
			})
		case eventSessionLog:
			if err := f.want(wireBytes); err != nil {
				return err
			}
			return fields(f.data, func(f field) error {
				if f.num == sessionStatus && f.wire == wireVarint {
					e.SessionStart = f.u == statusStart
				}
				return nil
			})
		}
		return nil
	})
	return e, err
}

func decodeValue(b []byte) (Value, error) {
	var v Value
	err := fields(b, func(f field) error {
		switch f.num {
		case valueTag:
			if err := f.want(wireBytes); err != nil {
				return err
			}
			v.Tag = string(f.data)
		case valueSimpleValue:
			if err := f.want(wireFixed32); err != nil {
				return err
			}
			v.Kind, v.Scalar, v.Text = KindScalar, math.Float32frombits(uint32(f.u)), ""
		case valueTensor:
			if err := f.want(wireBytes); err != nil {
				return err
			}
			text, ok, err := decodeStringScalar(f.data)
			if err != nil {
				return fmt.Errorf("tensor: %w", err)
			}
			v.Kind, v.Scalar, v.Text = KindOther, 0, ""
			if ok {
				v.Kind, v.Text = KindText, text
			}
		case valueMetadata:
			if err := f.want(wireBytes); err != nil {
				return err
			}
			return fields(f.data, func(f field) error {
				if f.num != metadataPluginData || f.wire != wireBytes {
					return nil
				}
				return fields(f.data, func(f field) error {
					if f.num == pluginName && f.wire == wireBytes {
						v.Plugin = string(f.data)
					}
					return nil
				})
			})
		case 3, 4, 5, 6: // the other members of oneof value: image, histogram, audio
			v.Kind, v.Scalar, v.Text = KindOther, 0, ""
		}
		return nil
	})
	return v, err
}

// decodeStringScalar returns the value of a TensorProto that is a rank-0
// DT_STRING tensor with one valid UTF-8 string; ok is false for any other
// tensor.
func decodeStringScalar(b []byte) (text string, ok bool, err error) {
	var dtype uint64
	rank, n := 0, 0
	err = fields(b, func(f field) error {
		switch {
		case f.num == tensorDType && f.wire == wireVarint:
			dtype = f.u
		case f.num == tensorShape && f.wire == wireBytes:
			return fields(f.data, func(f field) error {
				if f.num == 2 { // TensorShapeProto.dim
					rank++
				}
				return nil
			})
		case f.num == tensorStringVal && f.wire == wireBytes:
			text, n = string(f.data), n+1
		}
		return nil
	})
	return text, err == nil && dtype == dtString && rank == 0 && n == 1 && utf8.ValidString(text), err
}
