package pickle

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TupleBomb returns a pickle of t_depth where t0 = () and t_k = (t_{k-1},
// t_{k-1}) through memo references: a few bytes per level, 2^depth leaves
// when expanded. With a MARK/TUPLE wrapper around bomb, the outer value is
// a list holding it, so the bomb sits inside a container as in a state dict.
func tupleBomb(depth int) []byte {
	b := []byte{opProto, 2, opEmptyTuple, opLongBinPut, 0, 0, 0, 0}
	for i := 1; i <= depth; i++ {
		get := []byte{opLongBinGet, byte(i - 1), byte((i - 1) >> 8), 0, 0}
		b = append(b, opPop)
		b = append(b, get...)
		b = append(b, get...)
		b = append(b, opTuple2, opLongBinPut, byte(i), byte(i>>8), 0, 0)
	}
	return append(b, opStop)
}

// listBomb is tupleBomb with lists: l_k = [l_{k-1}, l_{k-1}], each list
// memoized while still empty, as Python's pickler does.
func listBomb(depth int) []byte {
	b := []byte{opProto, 2, opEmptyList, opLongBinPut, 0, 0, 0, 0}
	for i := 1; i <= depth; i++ {
		b = append(b, opPop, opEmptyList, opLongBinPut, byte(i), byte(i>>8), 0, 0, opMark)
		get := []byte{opLongBinGet, byte(i - 1), byte((i - 1) >> 8), 0, 0}
		b = append(b, get...)
		b = append(b, get...)
		b = append(b, opAppends)
	}
	return append(b, opStop)
}

// nested returns depth nested one-element tuples (((...),),).
func nested(depth int) []byte {
	b := []byte{opProto, 2, opEmptyTuple}
	for range depth {
		b = append(b, opTuple1)
	}
	return append(b, opStop)
}

func TestUnmarshalLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		data    []byte
		opts    *Options
		wantErr string // "" means it decodes
		limit   bool   // the error wraps ErrLimit
	}{
		{"tuple bomb depth 20 decodes", tupleBomb(20), nil, "", false},
		{"tuple bomb depth 24", tupleBomb(24), nil, "value expands to 33554431 values, over the limit 16777216", true},
		{"tuple bomb depth 40", tupleBomb(40), nil, "over the limit 16777216", true},
		{"tuple bomb small limit", tupleBomb(8), &Options{Limits: Limits{MaxNodes: 100}}, "value expands to 127 values", true},
		{"list bomb depth 40 decodes", listBomb(40), nil, "", false}, // lists are walked by identity: 80 adds
		{"nesting 1000 decodes", nested(999), nil, "", false},
		{"nesting 1001", nested(1001), nil, "values nest 1001 deep, over the limit 1000", true},
		{"nesting small limit", nested(10), &Options{Limits: Limits{MaxDepth: 5}}, "values nest 6 deep", true},
		{"memo index 2^32-1", []byte{opProto, 2, opNone, opLongBinPut, 0xff, 0xff, 0xff, 0xff, opStop}, nil, "", false},
		{"memo get huge index", []byte{opProto, 2, opLongBinGet, 0xff, 0xff, 0xff, 0xff, opStop}, nil, "memo key 4294967295 not found", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start := time.Now()
			_, err := Unmarshal(tt.data, tt.opts)
			// A hang guard, far above the milliseconds these take: before
			// the limits, depth 24 took 17 s in a caller that printed it.
			if d := time.Since(start); d > time.Minute {
				t.Errorf("took %v", d)
			}
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Unmarshal: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || errors.Is(err, ErrLimit) != tt.limit {
				t.Fatalf("Unmarshal error = %v; want one containing %q (wrapping ErrLimit: %v)", err, tt.wantErr, tt.limit)
			}
			if len(err.Error()) > 300 {
				t.Errorf("error of %d bytes: %.300s", len(err.Error()), err)
			}
		})
	}
}

func TestDescribe(t *testing.T) {
	t.Parallel()
	bomb, err := Unmarshal(tupleBomb(20), nil)
	if err != nil {
		t.Fatal(err)
	}
	l := &List{}
	l.Items = append(l.Items, l) // cyclic: Describe must not walk it
	tests := []struct {
		v    any
		want string
	}{
		{nil, "None"},
		{true, "bool True"},
		{int64(-3), "int -3"},
		{1.5, "float 1.5"},
		{"ab", `str "ab"`},
		{strings.Repeat("x", 1000), `str "` + strings.Repeat("x", 48) + `"... (1000 bytes)`},
		{[]byte("abc"), "bytes of length 3"},
		{bomb, "tuple of 2 items"},
		{l, "list of 1 items"},
		{NewDict(), "dict of 0 entries"},
		{Global{"torch", "FloatStorage"}, "global torch.FloatStorage"},
		{&Object{Callable: Global{"torch._utils", "_rebuild_tensor_v2"}, Args: Tuple{1, 2}}, "object from torch._utils._rebuild_tensor_v2 with 2 arguments"},
		{PersistentID{ID: bomb}, "persistent id holding tuple"},
	}
	for _, tt := range tests {
		if got := Describe(tt.v); got != tt.want {
			t.Errorf("Describe(%T) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

// walk counts the values a walk of v visits, expanding tuples and visiting
// each list, dict and object once, as the Limits doc describes. It gives up
// (returning over) once the count passes limit.
func walk(v any, seen map[any]bool, count *int, limit int) {
	if *count++; *count > limit {
		return
	}
	switch v := v.(type) {
	case Tuple:
		for _, x := range v {
			walk(x, seen, count, limit)
		}
	case PersistentID:
		walk(v.ID, seen, count, limit)
	case *List, *Dict, *Object:
		if seen[v] {
			return
		}
		seen[v] = true
		switch v := v.(type) {
		case *List:
			for _, x := range v.Items {
				walk(x, seen, count, limit)
			}
		case *Dict:
			for _, x := range v.Values() {
				walk(x, seen, count, limit)
			}
			walk(v.State, seen, count, limit)
		case *Object:
			walk(v.Args, seen, count, limit)
			walk(v.State, seen, count, limit)
		}
	}
}

// FuzzUnmarshalBounded checks the class behind the tuple bomb: whatever the
// input, errors stay short, and what decodes can be described and walked in
// bounded work.
func FuzzUnmarshalBounded(f *testing.F) {
	f.Add(tupleBomb(12))
	f.Add(listBomb(12))
	f.Add(nested(40))
	f.Add([]byte{opProto, 2, opEmptyList, opBinPut, 0, opMark, opBinGet, 0, opBinGet, 0, opAppends, opStop})
	f.Add([]byte("\x80\x02cos\nsystem\nX\x02\x00\x00\x00hi\x85R."))
	lim := Limits{MaxSteps: 1 << 16, MaxNodes: 1000, MaxDepth: 30}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data, &Options{Limits: lim})
		if err != nil {
			// Opcode names, offsets, limits and at most a cut global name.
			if len(err.Error()) > 400 {
				t.Fatalf("error of %d bytes: %.400s", len(err.Error()), err)
			}
			return
		}
		if d := Describe(v); len(d) > 200 {
			t.Fatalf("Describe gave %d bytes", len(d))
		}
		// Lists, dicts and objects count their content once, the root
		// tuple expansion once more, and the walk counts each reference.
		n := 0
		walk(v, map[any]bool{}, &n, 10*lim.MaxNodes)
		if n > 3*lim.MaxNodes+1 {
			t.Fatalf("a walk visits more than %d values (limit %d)", n, lim.MaxNodes)
		}
	})
}

func ExampleDescribe() {
	v, err := Unmarshal(tupleBomb(3), nil)
	fmt.Println(Describe(v), err)
	// Output: tuple of 2 items <nil>
}
