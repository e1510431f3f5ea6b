package chat

import (
	"fmt"
	"math"
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
// One difference cannot be avoided: Python keeps a dict's insertion order,
// while a Go map has none, so map keys are written sorted. Ordered gonja
// dicts (built inside the template) keep their order.
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
		sb.WriteString(strconv.FormatFloat(f, 'g', -1, 64))
	}
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
