package pickle

import (
	"archive/zip"
	"bytes"
	"encoding/hex"
	"io"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
)

// Pickles produced by CPython 3.11 pickle.dumps; see each case for the
// Python value and protocol.
const (
	pyInts      = "80025d7100284b004b014bff4d00014dffff4a000001004affffffff4a000000804affffff7f8a0500000080008a05ffffff7fff8a08ffffffffffffff7f8a080000000000000080652e"
	pyMixedP4   = "8004953f000000000000007d94288c016194284b014740040000000000004e888974948c0162945d94288c0178948c0668c3a96c6c6f9429658c016394284b014b024b034b047494752e"
	pyMixedP5   = "80059526000000000000007d94288c016b945d94284b015d94284b025d944b036165658c0174948c016e9485948594752e"
	pyOrdered   = "800263636f6c6c656374696f6e730a4f726465726564446963740a7100295271012858010000007771024b0158010000007671034b02752e"
	pyBytesP3   = "80034305000161626371002e"
	pySelfRef   = "80025d7100284b016800652e"
	pyShared    = "80025d7100284b014b028671016801652e"
	pyEvilP2    = "800263706f7369780a73797374656d0a710058070000006563686f20686971018571025271032e"
	pyEvilP4    = "80049522000000000000008c05706f736978948c0673797374656d9493948c076563686f20686994859452942e"
	pySetP4     = "80049509000000000000008f94284b014b02902e"
	minimalDict = "80027d71002e" // {}
)

func unhex(tb testing.TB, s string) []byte {
	tb.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func mustUnmarshal(tb testing.TB, data []byte) any {
	tb.Helper()
	v, err := Unmarshal(data, nil)
	if err != nil {
		tb.Fatalf("Unmarshal: %v", err)
	}
	return v
}

func dictOf(tb testing.TB, ordered bool, kv ...any) *Dict {
	tb.Helper()
	d := NewDict()
	d.Ordered = ordered
	for i := 0; i < len(kv); i += 2 {
		if err := d.Set(kv[i], kv[i+1]); err != nil {
			tb.Fatal(err)
		}
	}
	return d
}

func TestUnmarshalPython(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		hex  string
		want func(testing.TB) any
	}{
		{"ints protocol 2", pyInts, func(testing.TB) any {
			return &List{Items: []any{int64(0), int64(1), int64(255), int64(256), int64(65535), int64(65536), int64(-1),
				int64(math.MinInt32), int64(math.MaxInt32), int64(1 << 31), int64(math.MinInt32 - 1), int64(math.MaxInt64), int64(math.MinInt64)}}
		}},
		{"mixed protocol 4", pyMixedP4, func(tb testing.TB) any {
			return dictOf(tb, false,
				"a", Tuple{int64(1), 2.5, nil, true, false},
				"b", &List{Items: []any{"x", "héllo", Tuple{}}},
				"c", Tuple{int64(1), int64(2), int64(3), int64(4)})
		}},
		{"mixed protocol 5", pyMixedP5, func(tb testing.TB) any {
			return dictOf(tb, false,
				"k", &List{Items: []any{int64(1), &List{Items: []any{int64(2), &List{Items: []any{int64(3)}}}}}},
				"t", Tuple{Tuple{"n"}})
		}},
		{"OrderedDict", pyOrdered, func(tb testing.TB) any { return dictOf(tb, true, "w", int64(1), "v", int64(2)) }},
		{"bytes protocol 3", pyBytesP3, func(testing.TB) any { return []byte("\x00\x01abc") }},
		{"empty dict", minimalDict, func(tb testing.TB) any { return dictOf(tb, false) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustUnmarshal(t, unhex(t, tt.hex))
			if want := tt.want(t); !reflect.DeepEqual(got, want) {
				t.Errorf("got %#v\nwant %#v", got, want)
			}
		})
	}
}

func TestUnmarshalSharing(t *testing.T) {
	t.Parallel()
	l := mustUnmarshal(t, unhex(t, pySelfRef)).(*List)
	if len(l.Items) != 2 || l.Items[1] != any(l) {
		t.Errorf("self-referencing list not rebuilt: %v", l.Items)
	}
	s := mustUnmarshal(t, unhex(t, pyShared)).(*List)
	if len(s.Items) != 2 || !reflect.DeepEqual(s.Items[0], Tuple{int64(1), int64(2)}) || !reflect.DeepEqual(s.Items[0], s.Items[1]) {
		t.Errorf("shared tuple: %v", s.Items)
	}
}

func TestUnmarshalErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		data []byte
		opts *Options
		want string
	}{
		{"os.system protocol 2", unhex(t, pyEvilP2), nil, "pickle: global posix.system not allowed"},
		{"os.system protocol 4", unhex(t, pyEvilP4), nil, "pickle: global posix.system not allowed"},
		{"os.system literal", []byte("\x80\x02cos\nsystem\n."), nil, "pickle: global os.system not allowed"},
		{"builtins eval", []byte("\x80\x02cbuiltins\neval\n."), nil, "global builtins.eval not allowed"},
		{"set", unhex(t, pySetP4), nil, "unsupported opcode EMPTY_SET"},
		{"protocol 0 int", []byte("I1\n."), nil, "unsupported opcode INT"},
		{"bad protocol", []byte{0x80, 9, 'N', '.'}, nil, "unsupported protocol 9"},
		{"empty", nil, nil, "ended before STOP"},
		{"no stop", []byte{0x80, 2, 'N'}, nil, "ended before STOP"},
		{"truncated string", []byte{0x80, 2, 'X', 10, 0, 0, 0, 'a'}, nil, "BINUNICODE at offset 2: string of 10 bytes"},
		{"huge string length", []byte{0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f}, nil, "BINUNICODE8"},
		{"truncated int", []byte{0x80, 2, 'J', 1}, nil, "BININT at offset 2: needs 4 bytes"},
		{"underflow", []byte{0x80, 2, 't', '.'}, nil, "no MARK"},
		{"pop empty", []byte{0x80, 2, 0x85, '.'}, nil, "TUPLE1 at offset 2: stack underflow"},
		{"pop across mark", []byte{0x80, 2, 'N', '(', 0x85, '.'}, nil, "stack underflow"},
		{"missing memo", []byte{0x80, 2, 'h', 3, '.'}, nil, "memo key 3 not found"},
		{"two values at stop", []byte{0x80, 2, 'N', 'N', '.'}, nil, "stack holds 2 values"},
		{"unclosed mark", []byte{0x80, 2, '(', 'N', '.'}, nil, "unclosed MARK"},
		{"setitem on list", []byte{0x80, 2, ']', 'N', 'N', 's', '.'}, nil, "not a dict"},
		{"unhashable key", []byte{0x80, 2, '}', ']', 'N', 's', '.'}, nil, "dict key of type list"},
		{"append to dict", []byte{0x80, 2, '}', 'N', 'a', '.'}, nil, "not a list"},
		{"reduce non-global", []byte{0x80, 2, 'N', ')', 'R', '.'}, nil, "callable is None"},
		{"reduce non-tuple args", []byte("\x80\x02ccollections\nOrderedDict\nN" + "R."), nil, "arguments are None"},
		{"build on int", []byte{0x80, 2, 'K', 1, 'N', 'b', '.'}, nil, "BUILD on int"},
		{"long too big", []byte{0x80, 2, 0x8a, 9, 1, 2, 3, 4, 5, 6, 7, 8, 9, '.'}, nil, "does not fit in int64"},
		{"invalid utf8", []byte{0x80, 2, 'X', 1, 0, 0, 0, 0xff, '.'}, nil, "not valid UTF-8"},
		{"step limit", bytes.Repeat([]byte{'N', '0'}, 100), &Options{Limits: Limits{MaxSteps: 50}}, "more than 50 opcodes"},
		{"stack limit", bytes.Repeat([]byte{'N'}, 100), &Options{Limits: Limits{MaxStack: 10}}, "stack depth exceeds limit 10"},
		{"memo limit", []byte{'N', 0x94, 0x94, 0x94, '.'}, &Options{Limits: Limits{MaxMemo: 2}}, "memo exceeds limit 2"},
		{"custom allow-list", []byte("\x80\x02ccollections\nOrderedDict\n."), &Options{Allow: func(Global) bool { return false }}, "global collections.OrderedDict not allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := Unmarshal(tt.data, tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Unmarshal = %v, %v; want error containing %q", v, err, tt.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	self := &List{}
	self.Items = []any{int64(1), self}
	shared := &List{Items: []any{"s"}}
	obj := &Object{Callable: Global{"torch._utils", "_rebuild_tensor_v2"},
		Args: Tuple{PersistentID{Tuple{"storage", Global{"torch", "HalfStorage"}, "0", "cpu", int64(4)}},
			int64(0), Tuple{int64(2), int64(2)}, Tuple{int64(2), int64(1)}, false, dictOf(t, true)}}
	many := &List{}
	for i := range 2500 { // more than one APPENDS batch
		many.Items = append(many.Items, int64(i*i))
	}
	tests := []struct {
		name string
		v    any
	}{
		{"scalars", Tuple{nil, true, false, int64(0), int64(-1), int64(255), int64(256), int64(65536), int64(-129),
			int64(math.MaxInt32 + 1), int64(math.MinInt64), int64(math.MaxInt64), 3.5, math.Inf(-1), "", "héllo"}},
		{"containers", dictOf(t, false, "a", Tuple{}, "b", Tuple{int64(1)}, "c", Tuple{int64(1), int64(2), int64(3), int64(4)}, int64(7), &List{})},
		{"ordered with state", func() any {
			d := dictOf(t, true, "x", 1.0)
			d.State = dictOf(t, false, "_metadata", dictOf(t, true))
			return d
		}()},
		{"self reference", self},
		{"shared", Tuple{shared, shared}},
		{"tensor object", dictOf(t, false, "w", obj, "tied", obj)},
		{"many items", many},
		{"newobj with state", &Object{Callable: Global{"torch", "float32"}, Args: Tuple{}, New: true, State: "s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b1, err := Marshal(tt.v)
			if err != nil {
				t.Fatalf("Marshal: %v", err)
			}
			got := mustUnmarshal(t, b1)
			if !reflect.DeepEqual(got, tt.v) {
				t.Errorf("round trip changed the value:\n got %#v\nwant %#v", got, tt.v)
			}
			b2, err := Marshal(got)
			if err != nil || !bytes.Equal(b1, b2) {
				t.Errorf("re-Marshal differs (%v)", err)
			}
		})
	}
	// Sharing survives: both entries are the same object again.
	b, _ := Marshal(Tuple{shared, shared})
	tup := mustUnmarshal(t, b).(Tuple)
	if tup[0] != tup[1] {
		t.Error("shared list was duplicated")
	}
}

func TestMarshalErrors(t *testing.T) {
	t.Parallel()
	deep := &List{}
	cur := deep
	for range maxWriteDepth + 5 {
		next := &List{}
		cur.Items = []any{next}
		cur = next
	}
	tests := []struct {
		name string
		v    any
		want string
	}{
		{"bytes", []byte("x"), "cannot encode bytes"},
		{"float32", float32(1), "cannot encode float32"},
		{"too deep", deep, "nested more than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Marshal(tt.v); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Marshal error = %v, want containing %q", err, tt.want)
			}
		})
	}
}

// readDataPkl returns the data.pkl record of a torch zip checkpoint.
func readDataPkl(tb testing.TB, path string) []byte {
	tb.Helper()
	zr, err := zip.OpenReader(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer zr.Close()
	for _, f := range zr.File {
		if strings.HasSuffix(f.Name, "/data.pkl") {
			rc, err := f.Open()
			if err != nil {
				tb.Fatal(err)
			}
			defer rc.Close()
			b, err := io.ReadAll(rc)
			if err != nil {
				tb.Fatal(err)
			}
			return b
		}
	}
	tb.Fatalf("%s has no data.pkl", path)
	return nil
}

func TestTorchStateDicts(t *testing.T) {
	t.Parallel()
	dir := fixture.Dir(t, "pth")
	tests := []struct {
		file    string
		n       int
		ordered bool
		storage string
	}{
		{"tiny-dense.fp16.pth", 21, false, "HalfStorage"},
		{"tiny-dense.fp32.pth", 21, true, "FloatStorage"},
		{"tiny-dense.bf16.pth", 21, false, "BFloat16Storage"},
		{"tiny-moe.fp16.pth", 47, false, "HalfStorage"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			data := readDataPkl(t, filepath.Join(dir, tt.file))
			d, ok := mustUnmarshal(t, data).(*Dict)
			if !ok {
				t.Fatal("top level is not a dict")
			}
			if d.Len() != tt.n || d.Ordered != tt.ordered {
				t.Errorf("got %d keys (ordered %v), want %d (ordered %v)", d.Len(), d.Ordered, tt.n, tt.ordered)
			}
			for i, v := range d.Values() {
				o, ok := v.(*Object)
				if !ok || o.Callable != (Global{"torch._utils", "_rebuild_tensor_v2"}) || len(o.Args) != 6 {
					t.Fatalf("value %d (%v) is %s", i, d.Keys()[i], TypeName(v))
				}
				pid, ok := o.Args[0].(PersistentID)
				if !ok {
					t.Fatalf("storage arg is %s", TypeName(o.Args[0]))
				}
				id := pid.ID.(Tuple)
				if id[0] != "storage" || id[1] != (Global{"torch", tt.storage}) || id[3] != "cpu" {
					t.Errorf("persistent id %v", id)
				}
			}
			// Our writer reproduces a value that reads back identically.
			b, err := Marshal(d)
			if err != nil {
				t.Fatal(err)
			}
			if again := mustUnmarshal(t, b); !reflect.DeepEqual(again, d) {
				t.Error("Marshal/Unmarshal of a torch state dict changed it")
			}
		})
	}
}

// python returns a python3 interpreter, skipping the test when none runs.
func python(tb testing.TB) string {
	tb.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	tb.Skip("python3 not found")
	return ""
}

// TestPythonReadsMarshal checks that CPython's pickle.loads accepts what
// Marshal writes and sees the same value.
func TestPythonReadsMarshal(t *testing.T) {
	t.Parallel()
	py := python(t)
	v := dictOf(t, false,
		"ints", Tuple{int64(0), int64(-1), int64(300), int64(70000), int64(math.MaxInt64), int64(math.MinInt64)},
		"list", &List{Items: []any{"héllo", 2.5, nil, true, false}},
		"od", dictOf(t, true, "a", int64(1), "b", Tuple{}),
	)
	b, err := Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(t.TempDir(), "v.pkl")
	if err := os.WriteFile(f, b, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(py, "-c", `import pickle,sys
v = pickle.load(open(sys.argv[1], "rb"))
print(repr(v))`, f).CombinedOutput()
	if err != nil {
		t.Fatalf("python: %v\n%s", err, out)
	}
	want := "{'ints': (0, -1, 300, 70000, 9223372036854775807, -9223372036854775808), 'list': ['héllo', 2.5, None, True, False], 'od': OrderedDict([('a', 1), ('b', ())])}"
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("python read\n %s\nwant\n %s", got, want)
	}
}

func FuzzUnpickle(f *testing.F) {
	for _, h := range []string{pyInts, pyMixedP4, pyMixedP5, pyOrdered, pyBytesP3, pySelfRef, pyShared, pyEvilP2, pySetP4} {
		b, _ := hex.DecodeString(h)
		f.Add(b)
	}
	if dir, err := filepath.Abs("../../../shared/fixtures/pth/tiny-dense.fp32.pth"); err == nil {
		if _, err := os.Stat(dir); err == nil {
			data := readDataPkl(f, dir)
			f.Add(data)
			f.Add(data[:len(data)/2])
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Unmarshal(data, &Options{Limits: Limits{MaxSteps: 1 << 16}})
		if err != nil {
			return
		}
		// Whatever decodes must encode, and encoding is stable from then on.
		b1, err := Marshal(v)
		if err != nil {
			return // bytes values or absurd nesting: not encodable by design
		}
		v2, err := Unmarshal(b1, nil)
		if err != nil {
			t.Fatalf("Unmarshal of Marshal output: %v", err)
		}
		b2, err := Marshal(v2)
		if err != nil {
			t.Fatalf("re-Marshal: %v", err)
		}
		if !bytes.Equal(b1, b2) {
			t.Fatalf("Marshal not stable:\n%x\n%x", b1, b2)
		}
	})
}
