// Package pickle reads and writes the subset of Python's pickle format
// (protocols 2 to 5) that PyTorch uses for state dicts: the data.pkl record
// inside a torch.save zip archive.
//
// Reading runs a small stack machine over the opcodes torch.save emits, and
// nothing else. Globals are looked up in an allow-list (collections.OrderedDict,
// torch._utils._rebuild_* functions, torch.*Storage classes and torch dtype
// objects by default); calling one never executes anything: REDUCE and NEWOBJ
// build an inert *Object that records the callable and its arguments, which
// the caller (package pth) interprets.
//
// Values map to Go as: None → nil, bool → bool, int → int64, float →
// float64, str → string, bytes → []byte, tuple → Tuple, list → *List,
// dict → *Dict, a global → Global, a persistent id → PersistentID, a call
// → *Object.
//
// Error policy: Unmarshal never panics and never executes code. Unknown
// opcodes, disallowed globals, malformed or truncated input and inputs that
// exceed the step or memory limits are errors prefixed "pickle:" that name
// the opcode (and its offset) or the global. Every opcode consumes at least
// one input byte and no opcode copies a value, so memory use is linear in
// the input size; Limits bound it further, and bound the size and depth of
// the result as a walk sees it (memo references can share a sub-value
// 2^40 times in a few hundred bytes); their errors wrap ErrLimit. Error
// messages describe values with Describe (type and size, never the full
// value) so that they stay short whatever the input.
package pickle

import (
	"fmt"
)

// Tuple is a Python tuple.
type Tuple []any

// List is a Python list. It is a pointer type because pickles may append to
// a list after it has been memoized and shared.
type List struct {
	Items []any
}

// Dict is a Python dict (or collections.OrderedDict) that keeps insertion
// order. Keys are restricted to hashable scalars: string, int64, bool,
// float64 and nil.
type Dict struct {
	// Ordered is true for a collections.OrderedDict.
	Ordered bool
	// State is the argument of a BUILD applied to the dict (torch stores the
	// state dict's _metadata attribute there); nil when there was none.
	State any

	keys   []any
	values []any
	index  map[any]int
}

// NewDict returns an empty dict.
func NewDict() *Dict { return &Dict{index: map[any]int{}} }

// Len returns the number of entries.
func (d *Dict) Len() int { return len(d.keys) }

// Keys returns the keys in insertion order. The slice must not be modified.
func (d *Dict) Keys() []any { return d.keys }

// Values returns the values in insertion order. The slice must not be modified.
func (d *Dict) Values() []any { return d.values }

// Get returns the value stored under key.
func (d *Dict) Get(key any) (any, bool) {
	i, ok := d.index[key]
	if !ok {
		return nil, false
	}
	return d.values[i], true
}

// Set stores value under key. As in Python, re-setting an existing key
// keeps its original position. Keys of unhashable types are an error.
func (d *Dict) Set(key, value any) error {
	switch key.(type) {
	case string, int64, bool, float64, nil:
	default:
		return fmt.Errorf("dict key of type %s is not supported", typeName(key))
	}
	if d.index == nil {
		d.index = map[any]int{}
	}
	if i, ok := d.index[key]; ok {
		d.values[i] = value
		return nil
	}
	d.index[key] = len(d.keys)
	d.keys = append(d.keys, key)
	d.values = append(d.values, value)
	return nil
}

// Global names a Python object by module and qualified name, such as
// {"torch._utils", "_rebuild_tensor_v2"}.
type Global struct {
	Module, Name string
}

// String returns "module.name".
func (g Global) String() string { return g.Module + "." + g.Name }

// Object is the inert result of calling an allowed global: REDUCE
// (Callable(*Args)) or NEWOBJ (Callable.__new__(Callable, *Args)), with the
// argument of a following BUILD, if any, in State.
type Object struct {
	Callable Global
	Args     Tuple
	// New is true when the object came from NEWOBJ rather than REDUCE.
	New bool
	// State is the BUILD argument; nil when there was no BUILD.
	State any
}

// PersistentID is a reference to data stored outside the pickle, produced
// by BINPERSID. torch uses ("storage", storage class, key, location, numel).
type PersistentID struct {
	ID any
}

// typeName names v's pickle type for error messages.
func typeName(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case []byte:
		return "bytes"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case Global:
		return "global " + describeGlobal(v)
	case *Object:
		return "object from " + describeGlobal(v.Callable)
	case PersistentID:
		return "persistent id"
	}
	return fmt.Sprintf("%T", v)
}

// TypeName returns the Python-ish type name of a decoded value, for error
// messages in callers.
func TypeName(v any) string { return typeName(v) }

// maxDescribe bounds the bytes of a string, a global's name or a key that
// Describe quotes; longer ones are cut, with their length given.
const maxDescribe = 48

// Describe names a decoded value for an error message: its type and size,
// and the value itself only for scalars, cut to a few dozen bytes. It never
// walks into a container, so its cost and length are bounded whatever the
// value; messages must use it (or TypeName) rather than %v, because a value
// built from shared memo references can expand to 2^40 entries.
func Describe(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "bool True"
		}
		return "bool False"
	case int64:
		return fmt.Sprintf("int %d", v)
	case float64:
		return fmt.Sprintf("float %g", v)
	case string:
		return "str " + Quote(v)
	case []byte:
		return fmt.Sprintf("bytes of length %d", len(v))
	case Tuple:
		return fmt.Sprintf("tuple of %d items", len(v))
	case *List:
		return fmt.Sprintf("list of %d items", len(v.Items))
	case *Dict:
		return fmt.Sprintf("dict of %d entries", v.Len())
	case Global:
		return "global " + describeGlobal(v)
	case *Object:
		return fmt.Sprintf("object from %s with %d arguments", describeGlobal(v.Callable), len(v.Args))
	case PersistentID:
		return "persistent id holding " + typeName(v.ID)
	}
	return fmt.Sprintf("%T", v)
}

// Quote returns s quoted as %q does, cut to a few dozen bytes (with the
// full length given) so that error messages stay short.
func Quote(s string) string {
	if len(s) <= maxDescribe {
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprintf("%q... (%d bytes)", s[:maxDescribe], len(s))
}

// describeGlobal is g.String() cut to a bounded length.
func describeGlobal(g Global) string {
	s := g.Module + "." + g.Name
	if len(s) <= 2*maxDescribe {
		return s
	}
	return Quote(s)
}
