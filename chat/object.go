package chat

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// Object is a JSON object that keeps its keys in document order, as a
// Python dict does. HF's tojson prints a dict in insertion order, so a tool
// schema decoded into a Go map (whose keys tojson would have to sort) would
// render differently from the prompt MiniMind saw in training; decoded into
// an Object it renders the same.
//
// Values are nil, bool, string, json.Number (the literal as written, so
// 1 stays 1 and 1.0 stays 1.0, as Python's int and float do), []any and
// Object.
type Object struct {
	Keys   []string
	Values []any
}

// Get returns the value of key and whether it is present.
func (o Object) Get(key string) (any, bool) {
	if i := slices.Index(o.Keys, key); i >= 0 {
		return o.Values[i], true
	}
	return nil, false
}

// UnmarshalJSON decodes a JSON object, keeping key order.
func (o *Object) UnmarshalJSON(b []byte) error {
	v, err := DecodeJSON(b)
	if err != nil {
		return err
	}
	obj, ok := v.(Object)
	if !ok {
		return fmt.Errorf("chat: want a JSON object, got %.20s", bytes.TrimSpace(b))
	}
	*o = obj
	return nil
}

// MarshalJSON writes the object with its keys in order.
func (o Object) MarshalJSON() ([]byte, error) {
	var sb strings.Builder
	if err := pyJSON(&sb, o, "", 0); err != nil {
		return nil, err
	}
	return []byte(sb.String()), nil
}

// DecodeJSON decodes one JSON value with objects as Object (see Object
// for the value types). Nesting deeper than 64 levels is an error.
func DecodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	v, err := decodeValue(d, 0)
	if err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("chat: trailing data after a JSON value")
	}
	return v, nil
}

func decodeValue(d *json.Decoder, depth int) (any, error) {
	if depth > 64 {
		return nil, errors.New("chat: JSON nested deeper than 64 levels")
	}
	tok, err := d.Token()
	if err != nil {
		return nil, fmt.Errorf("chat: %w", err)
	}
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			o := Object{Keys: []string{}, Values: []any{}}
			for d.More() {
				k, err := d.Token()
				if err != nil {
					return nil, fmt.Errorf("chat: %w", err)
				}
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				key := k.(string) // object keys are always strings
				if i := slices.Index(o.Keys, key); i >= 0 {
					o.Values[i] = v // a repeated key: Python keeps its place and the last value
					continue
				}
				o.Keys = append(o.Keys, key)
				o.Values = append(o.Values, v)
			}
			_, err := d.Token() // '}'
			return o, err
		case '[':
			a := []any{}
			for d.More() {
				v, err := decodeValue(d, depth+1)
				if err != nil {
					return nil, err
				}
				a = append(a, v)
			}
			_, err := d.Token() // ']'
			return a, err
		}
		return nil, fmt.Errorf("chat: unexpected %v", t)
	default:
		return t, nil // nil, bool, string, json.Number
	}
}

// templateValue converts Objects (at any depth) to gonja's ordered dicts,
// which templates can index (tool.function.name) and tojson prints in
// order.
func templateValue(v any) any {
	switch x := v.(type) {
	case Object:
		d := exec.NewDict()
		for i, k := range x.Keys {
			d.Pairs = append(d.Pairs, &exec.Pair{Key: exec.AsValue(k), Value: exec.AsValue(templateValue(x.Values[i]))})
		}
		return d
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = templateValue(e)
		}
		return out
	}
	return v
}
