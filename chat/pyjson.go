package chat

import (
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/exec"
)

// pyJSON writes v as Python's json.dumps(v, ensure_ascii=False) does, which
// is what HF's tojson filter calls: ", " and ": " separators (or "," and
// ": " with an indent), non-ASCII kept, no HTML escaping.
//
// Python keeps a dict's insertion order, while a Go map has none, so map
// keys are written sorted; Objects (decoded JSON) and gonja dicts (built
// inside the template) keep their order.
func pyJSON(sb *strings.Builder, v any, indent string, depth int) error {
	if depth > 64 {
		return fmt.Errorf("tojson: nesting deeper than 64")
	}
	switch x := v.(type) {
	case nil:
		sb.WriteString("null")
		return nil
	case *exec.Value:
		if x == nil {
			sb.WriteString("null")
			return nil
		}
		return pyJSON(sb, x.Interface(), indent, depth)
	case *exec.Dict:
		keys := make([]string, len(x.Pairs))
		vals := make([]any, len(x.Pairs))
		for i, p := range x.Pairs {
			keys[i] = p.Key.String()
			vals[i] = p.Value
		}
		return pyObject(sb, keys, vals, indent, depth)
	case Object:
		return pyObject(sb, x.Keys, x.Values, indent, depth)
	case json.Number:
		return pyNumber(sb, x)
	case string:
		pyString(sb, x)
		return nil
	case bool:
		if x {
			sb.WriteString("true")
		} else {
			sb.WriteString("false")
		}
		return nil
	case float64:
		pyFloat(sb, x)
		return nil
	case float32:
		pyFloat(sb, float64(x))
		return nil
	}
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		sb.WriteString(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		sb.WriteString(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Pointer, reflect.Interface:
		if rv.IsNil() {
			sb.WriteString("null")
			return nil
		}
		return pyJSON(sb, rv.Elem().Interface(), indent, depth)
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.IsNil() {
			sb.WriteString("[]")
			return nil
		}
		sb.WriteByte('[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				sb.WriteByte(',')
				if indent == "" {
					sb.WriteByte(' ')
				}
			}
			newline(sb, indent, depth+1)
			if err := pyJSON(sb, rv.Index(i).Interface(), indent, depth+1); err != nil {
				return err
			}
		}
		if rv.Len() > 0 {
			newline(sb, indent, depth)
		}
		sb.WriteByte(']')
	case reflect.Map:
		keys := make([]string, 0, rv.Len())
		byKey := map[string]any{}
		for it := rv.MapRange(); it.Next(); {
			k := fmt.Sprint(it.Key().Interface())
			keys = append(keys, k)
			byKey[k] = it.Value().Interface()
		}
		sort.Strings(keys)
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = byKey[k]
		}
		return pyObject(sb, keys, vals, indent, depth)
	default:
		return fmt.Errorf("tojson: cannot encode %T", v)
	}
	return nil
}

func pyObject(sb *strings.Builder, keys []string, vals []any, indent string, depth int) error {
	sb.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(',')
			if indent == "" {
				sb.WriteByte(' ')
			}
		}
		newline(sb, indent, depth+1)
		pyString(sb, k)
		sb.WriteString(": ")
		if err := pyJSON(sb, vals[i], indent, depth+1); err != nil {
			return err
		}
	}
	if len(keys) > 0 {
		newline(sb, indent, depth)
	}
	sb.WriteByte('}')
	return nil
}

func newline(sb *strings.Builder, indent string, depth int) {
	if indent == "" {
		return
	}
	sb.WriteByte('\n')
	for range depth {
		sb.WriteString(indent)
	}
}

// pyFloat prints integral values without a fraction: Go decodes every JSON
// number as float64, and the tool schemas these come from held integers.
func pyFloat(sb *strings.Builder, f float64) {
	switch {
	case math.IsNaN(f):
		sb.WriteString("NaN")
	case math.IsInf(f, 1):
		sb.WriteString("Infinity")
	case math.IsInf(f, -1):
		sb.WriteString("-Infinity")
	case f == math.Trunc(f) && math.Abs(f) < 1e16:
		sb.WriteString(strconv.FormatInt(int64(f), 10))
	default:
		sb.WriteString(pyRepr(f))
	}
}

// pyRepr is Python's repr of a finite float: the shortest digits that
// round-trip, in exponent form when the exponent is below -4 or at least
// 16, otherwise positional with at least one decimal ("2.0").
func pyRepr(f float64) string {
	e := strconv.FormatFloat(f, 'e', -1, 64)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	if exp < -4 || exp >= 16 {
		return e
	}
	s := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsRune(s, '.') {
		s += ".0"
	}
	return s
}

// pyString quotes s like Python's json with ensure_ascii=False.
func pyString(sb *strings.Builder, s string) {
	sb.WriteByte('"')
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		i += n
		switch r {
		case '"':
			sb.WriteString(`\"`)
		case '\\':
			sb.WriteString(`\\`)
		case '\n':
			sb.WriteString(`\n`)
		case '\r':
			sb.WriteString(`\r`)
		case '\t':
			sb.WriteString(`\t`)
		case '\b':
			sb.WriteString(`\b`)
		case '\f':
			sb.WriteString(`\f`)
		default:
			if r < 0x20 {
				fmt.Fprintf(sb, `\u%04x`, r)
			} else {
				sb.WriteRune(r)
			}
		}
	}
	sb.WriteByte('"')
}

// pyNumber writes a JSON number literal as Python's json.dumps(json.loads(n))
// does: an integer literal as the integer, anything with a fraction or an
// exponent as a float.
func pyNumber(sb *strings.Builder, n json.Number) error {
	s := n.String()
	if !strings.ContainsAny(s, ".eE") { // Python int: exact, however long
		i, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return fmt.Errorf("tojson: bad number %q", s)
		}
		sb.WriteString(i.String())
		return nil
	}
	f, err := n.Float64()
	if math.IsInf(f, 0) { // out of range: Python's float() gives inf too
		pyFloat(sb, f)
		return nil
	}
	if err != nil {
		return fmt.Errorf("tojson: number %q: %w", s, err)
	}
	sb.WriteString(pyRepr(f))
	return nil
}
