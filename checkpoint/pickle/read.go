package pickle

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode/utf8"
)

// ErrLimit is wrapped by every error for an input that exceeds one of the
// Limits.
var ErrLimit = errors.New("pickle limit exceeded")

// Limits bound the work and memory Unmarshal may spend, and the work a
// caller may spend walking its result. Zero fields take the defaults.
//
// Memo references make values cheap to share: a few hundred bytes of
// t1=(t0,t0), t2=(t1,t1), ... describe a tuple of 2^40 leaves. Decoding
// stays linear (nothing is copied), but any code that walks or prints such
// a value expands it, so MaxNodes and MaxDepth bound the value as a walk
// sees it.
type Limits struct {
	// MaxSteps bounds the number of opcodes executed (default 1<<26).
	MaxSteps int
	// MaxStack bounds the stack depth, marks included (default 1<<22).
	MaxStack int
	// MaxMemo bounds the number of memo entries (default 1<<22).
	MaxMemo int
	// MaxNodes bounds the values a walk of the result visits when it
	// expands tuples and visits each list, dict and object once (by
	// identity, as Marshal does), shared tuples counted at each reference
	// (default 1<<24; a state dict needs about 20 per tensor).
	MaxNodes int
	// MaxDepth bounds how deeply values nest, as built (default 1000, the
	// Python recursion limit that bounds what Python itself can pickle; a
	// state dict nests about 6 deep).
	MaxDepth int
}

func (l Limits) withDefaults() Limits {
	if l.MaxSteps <= 0 {
		l.MaxSteps = 1 << 26
	}
	if l.MaxStack <= 0 {
		l.MaxStack = 1 << 22
	}
	if l.MaxMemo <= 0 {
		l.MaxMemo = 1 << 22
	}
	if l.MaxNodes <= 0 {
		l.MaxNodes = 1 << 24
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = 1000
	}
	return l
}

// Options configure Unmarshal.
type Options struct {
	Limits Limits
	// Allow decides which globals may be referenced; nil means
	// TorchAllowed. Referencing any other global is an error.
	Allow func(Global) bool
}

// TorchAllowed reports whether g is one of the globals a PyTorch state
// dict needs: collections.OrderedDict, the torch._utils tensor and
// parameter rebuild functions, the torch.*Storage classes and torch dtype
// objects (torch.float32 and friends).
func TorchAllowed(g Global) bool {
	switch g.Module {
	case "collections":
		return g.Name == "OrderedDict"
	case "torch._utils":
		switch g.Name {
		case "_rebuild_tensor_v2", "_rebuild_parameter", "_rebuild_parameter_with_state":
			return true
		}
	case "torch":
		switch g.Name {
		case "FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
			"LongStorage", "IntStorage", "ShortStorage", "CharStorage", "ByteStorage", "BoolStorage",
			"float32", "float", "float16", "half", "bfloat16", "float64", "double",
			"int64", "long", "int32", "int", "int16", "short", "int8", "uint8", "bool":
			return true
		}
	}
	return false
}

// Opcodes. Names follow Python's pickletools.
const (
	opMark           = '('
	opStop           = '.'
	opPop            = '0'
	opPopMark        = '1'
	opDup            = '2'
	opBinFloat       = 'G'
	opBinInt         = 'J'
	opBinInt1        = 'K'
	opBinInt2        = 'M'
	opNone           = 'N'
	opBinPersID      = 'Q'
	opReduce         = 'R'
	opBinUnicode     = 'X'
	opEmptyList      = ']'
	opAppend         = 'a'
	opBuild          = 'b'
	opGlobal         = 'c'
	opDict           = 'd'
	opEmptyDict      = '}'
	opAppends        = 'e'
	opBinGet         = 'h'
	opLongBinGet     = 'j'
	opList           = 'l'
	opBinPut         = 'q'
	opLongBinPut     = 'r'
	opSetItem        = 's'
	opTuple          = 't'
	opEmptyTuple     = ')'
	opSetItems       = 'u'
	opBinBytes       = 'B'
	opShortBinBytes  = 'C'
	opProto          = 0x80
	opNewObj         = 0x81
	opTuple1         = 0x85
	opTuple2         = 0x86
	opTuple3         = 0x87
	opNewTrue        = 0x88
	opNewFalse       = 0x89
	opLong1          = 0x8a
	opShortBinUnicod = 0x8c
	opBinUnicode8    = 0x8d
	opBinBytes8      = 0x8e
	opStackGlobal    = 0x93
	opMemoize        = 0x94
	opFrame          = 0x95
)

// slot is a value on the stack or in the memo with what a walk of it
// costs: n values visited (a list, dict or object counts 1: its content is
// counted once, when added) and the nesting depth d (for lists, dicts and
// objects, which grow after they are built, the depth lives in
// machine.ptrDepth instead).
type slot struct {
	v any
	n int
	d int
}

// machine is the unpickler state for one Unmarshal call.
type machine struct {
	data   []byte
	pos    int
	opPos  int // offset of the opcode being executed, for errors
	op     byte
	stack  []slot
	marks  []int // stack lengths at each MARK
	memo   map[uint32]slot
	limits Limits
	allow  func(Global) bool
	// nodes counts the values added to lists, dicts and objects so far.
	nodes int
	// ptrDepth is the depth of each list, dict and object, keyed by pointer.
	ptrDepth map[any]int
}

// Unmarshal decodes a pickle. opts may be nil.
func Unmarshal(data []byte, opts *Options) (any, error) {
	m := &machine{data: data, memo: map[uint32]slot{}, allow: TorchAllowed, ptrDepth: map[any]int{}}
	if opts != nil {
		m.limits = opts.Limits
		if opts.Allow != nil {
			m.allow = opts.Allow
		}
	}
	m.limits = m.limits.withDefaults()
	return m.run()
}

// errorf formats an error naming the opcode and its offset. Arguments must
// never be decoded values: describe those with Describe, whose output is
// bounded whatever the value.
func (m *machine) errorf(format string, args ...any) error {
	return fmt.Errorf("pickle: opcode %s at offset %d: "+format, append([]any{opName(m.op), m.opPos}, args...)...)
}

func (m *machine) read(n int) ([]byte, error) {
	if n < 0 || n > len(m.data)-m.pos {
		return nil, m.errorf("needs %d bytes, only %d left (truncated pickle?)", n, len(m.data)-m.pos)
	}
	b := m.data[m.pos : m.pos+n]
	m.pos += n
	return b, nil
}

func (m *machine) readUint(n int) (uint64, error) {
	b, err := m.read(n)
	if err != nil {
		return 0, err
	}
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v, nil
}

func (m *machine) readLine() (string, error) {
	i := bytes.IndexByte(m.data[m.pos:], '\n')
	if i < 0 {
		return "", m.errorf("unterminated line")
	}
	s := string(m.data[m.pos : m.pos+i])
	m.pos += i + 1
	return s, nil
}

// push pushes a scalar, a global or a new empty list, dict or object.
func (m *machine) push(v any) error {
	switch v.(type) {
	case *List, *Dict, *Object:
		m.ptrDepth[v] = 1
	}
	return m.pushSlot(slot{v: v, n: 1})
}

func (m *machine) pushSlot(s slot) error {
	if len(m.stack) >= m.limits.MaxStack {
		return m.errorf("stack depth exceeds limit %d: %w", m.limits.MaxStack, ErrLimit)
	}
	m.stack = append(m.stack, s)
	return nil
}

func (m *machine) pop() (slot, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1]) {
		return slot{}, m.errorf("stack underflow")
	}
	v := m.stack[len(m.stack)-1]
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (slot, error) {
	if len(m.stack) == 0 || (len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1]) {
		return slot{}, m.errorf("stack underflow")
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark pops everything above the last MARK and the mark itself.
func (m *machine) popMark() ([]slot, error) {
	if len(m.marks) == 0 {
		return nil, m.errorf("no MARK on the stack")
	}
	k := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := append([]slot(nil), m.stack[k:]...)
	m.stack = m.stack[:k]
	return items, nil
}

// depth is how deeply s nests.
func (m *machine) depth(s slot) int {
	switch s.v.(type) {
	case *List, *Dict, *Object: // only these are hashable map keys here
		return m.ptrDepth[s.v]
	}
	return s.d
}

// measure returns the values a walk of items visits (plus self, 1 for a
// value that holds them and 0 for items added to a container) and their
// deepest nesting, or an error if either passes its limit. Sums cannot
// overflow: each n is at most MaxNodes and there are at most MaxStack items.
func (m *machine) measure(self int, items []slot) (n, d int, err error) {
	n = self
	for _, it := range items {
		n += it.n
		d = max(d, m.depth(it))
	}
	if n > m.limits.MaxNodes {
		return 0, 0, m.errorf("value expands to %d values, over the limit %d (shared sub-values are counted at each use): %w", n, m.limits.MaxNodes, ErrLimit)
	}
	if d+1 > m.limits.MaxDepth {
		return 0, 0, m.errorf("values nest %d deep, over the limit %d: %w", d+1, m.limits.MaxDepth, ErrLimit)
	}
	return n, d, nil
}

// tuple builds a tuple slot from items.
func (m *machine) tuple(items []slot) (slot, error) {
	n, d, err := m.measure(1, items)
	if err != nil {
		return slot{}, err
	}
	return slot{v: Tuple(values(items)), n: n, d: d + 1}, nil
}

// added accounts for items being added to the list, dict or object target.
func (m *machine) added(target any, items []slot) error {
	n, d, err := m.measure(0, items)
	if err != nil {
		return err
	}
	if m.nodes += n; m.nodes > m.limits.MaxNodes {
		return m.errorf("lists, dicts and objects hold %d values, over the limit %d: %w", m.nodes, m.limits.MaxNodes, ErrLimit)
	}
	m.ptrDepth[target] = max(m.ptrDepth[target], d+1)
	return nil
}

func values(items []slot) []any {
	vs := make([]any, len(items))
	for i, it := range items {
		vs[i] = it.v
	}
	return vs
}

func (m *machine) memoPut(idx uint64) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	if _, exists := m.memo[uint32(idx)]; !exists && len(m.memo) >= m.limits.MaxMemo {
		return m.errorf("memo exceeds limit %d entries: %w", m.limits.MaxMemo, ErrLimit)
	}
	m.memo[uint32(idx)] = v
	return nil
}

func (m *machine) memoGet(idx uint64) error {
	v, ok := m.memo[uint32(idx)]
	if !ok {
		return m.errorf("memo key %d not found", idx)
	}
	return m.pushSlot(v)
}

func (m *machine) str(n uint64) error {
	if n > uint64(len(m.data)-m.pos) {
		return m.errorf("string of %d bytes exceeds the %d bytes left", n, len(m.data)-m.pos)
	}
	b, _ := m.read(int(n))
	if !utf8.Valid(b) {
		return m.errorf("string is not valid UTF-8")
	}
	return m.push(string(b))
}

func (m *machine) bytesOp(n uint64) error {
	if n > uint64(len(m.data)-m.pos) {
		return m.errorf("bytes of length %d exceed the %d bytes left", n, len(m.data)-m.pos)
	}
	b, _ := m.read(int(n))
	return m.push(bytes.Clone(b))
}

func (m *machine) global(g Global) error {
	if !m.allow(g) {
		return fmt.Errorf("pickle: global %s not allowed (opcode %s at offset %d)", describeGlobal(g), opName(m.op), m.opPos)
	}
	return m.push(g)
}

// setItems adds key/value pairs to the dict below them on the stack.
func (m *machine) setItems(items []slot) error {
	if len(items)%2 != 0 {
		return m.errorf("odd number of items (%d) for a dict", len(items))
	}
	target, err := m.top()
	if err != nil {
		return err
	}
	d, ok := target.v.(*Dict)
	if !ok {
		return m.errorf("target is %s, not a dict", typeName(target.v))
	}
	if err := m.added(d, items); err != nil {
		return err
	}
	for i := 0; i < len(items); i += 2 {
		if err := d.Set(items[i].v, items[i+1].v); err != nil {
			return m.errorf("%w", err)
		}
	}
	return nil
}

func (m *machine) appendItems(items []slot) error {
	target, err := m.top()
	if err != nil {
		return err
	}
	l, ok := target.v.(*List)
	if !ok {
		return m.errorf("target is %s, not a list", typeName(target.v))
	}
	if err := m.added(l, items); err != nil {
		return err
	}
	l.Items = append(l.Items, values(items)...)
	return nil
}

// call builds the inert result of calling callable with args.
func (m *machine) call(callable, args slot, isNew bool) error {
	g, ok := callable.v.(Global)
	if !ok {
		return m.errorf("callable is %s, not a global", typeName(callable.v))
	}
	t, ok := args.v.(Tuple)
	if !ok {
		return m.errorf("arguments are %s, not a tuple", typeName(args.v))
	}
	if g == (Global{"collections", "OrderedDict"}) && len(t) == 0 {
		d := NewDict()
		d.Ordered = true
		return m.push(d)
	}
	o := &Object{Callable: g, Args: t, New: isNew}
	if err := m.push(o); err != nil {
		return err
	}
	return m.added(o, []slot{args})
}

func (m *machine) run() (any, error) {
	for steps := 0; ; steps++ {
		if steps >= m.limits.MaxSteps {
			return nil, fmt.Errorf("pickle: more than %d opcodes executed: %w", m.limits.MaxSteps, ErrLimit)
		}
		if m.pos >= len(m.data) {
			return nil, errors.New("pickle: data ended before STOP (truncated pickle?)")
		}
		m.opPos = m.pos
		m.op = m.data[m.pos]
		m.pos++
		if err := m.step(); err != nil {
			if err == errStop {
				return m.finish()
			}
			return nil, err
		}
	}
}

// errStop signals a STOP opcode; it never escapes run.
var errStop = errors.New("stop")

func (m *machine) finish() (any, error) {
	if len(m.marks) != 0 {
		return nil, m.errorf("%d unclosed MARKs at STOP", len(m.marks))
	}
	if len(m.stack) != 1 {
		return nil, m.errorf("stack holds %d values at STOP, want 1", len(m.stack))
	}
	return m.stack[0].v, nil
}

func (m *machine) step() error {
	switch m.op {
	case opProto:
		v, err := m.readUint(1)
		if err != nil {
			return err
		}
		if v < 2 || v > 5 {
			return m.errorf("unsupported protocol %d (want 2 to 5)", v)
		}
	case opFrame:
		n, err := m.readUint(8)
		if err != nil {
			return err
		}
		// Frames only group opcodes for buffered reading; their content
		// is executed as usual. Check the length for consistency.
		if n > uint64(len(m.data)-m.pos) {
			return m.errorf("frame of %d bytes exceeds the %d bytes left", n, len(m.data)-m.pos)
		}
	case opStop:
		return errStop
	case opMark:
		if len(m.marks) >= m.limits.MaxStack {
			return m.errorf("mark depth exceeds limit %d: %w", m.limits.MaxStack, ErrLimit)
		}
		m.marks = append(m.marks, len(m.stack))
	case opPop:
		if len(m.marks) > 0 && len(m.stack) == m.marks[len(m.marks)-1] {
			m.marks = m.marks[:len(m.marks)-1] // POP of a MARK, as CPython does
			return nil
		}
		_, err := m.pop()
		return err
	case opPopMark:
		_, err := m.popMark()
		return err
	case opDup:
		v, err := m.top()
		if err != nil {
			return err
		}
		return m.pushSlot(v)
	case opNone:
		return m.push(nil)
	case opNewTrue:
		return m.push(true)
	case opNewFalse:
		return m.push(false)
	case opBinInt:
		v, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.push(int64(int32(uint32(v))))
	case opBinInt1:
		v, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.push(int64(v))
	case opBinInt2:
		v, err := m.readUint(2)
		if err != nil {
			return err
		}
		return m.push(int64(v))
	case opLong1:
		n, err := m.readUint(1)
		if err != nil {
			return err
		}
		b, err := m.read(int(n))
		if err != nil {
			return err
		}
		if n > 8 {
			return m.errorf("integer of %d bytes does not fit in int64", n)
		}
		var v uint64
		for i := int(n) - 1; i >= 0; i-- {
			v = v<<8 | uint64(b[i])
		}
		if n > 0 && n < 8 && b[n-1]&0x80 != 0 {
			v |= ^uint64(0) << (8 * n) // sign-extend two's complement
		}
		return m.push(int64(v))
	case opBinFloat:
		b, err := m.read(8)
		if err != nil {
			return err
		}
		return m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))
	case opBinUnicode:
		n, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.str(n)
	case opShortBinUnicod:
		n, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.str(n)
	case opBinUnicode8:
		n, err := m.readUint(8)
		if err != nil {
			return err
		}
		return m.str(n)
	case opShortBinBytes:
		n, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.bytesOp(n)
	case opBinBytes:
		n, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.bytesOp(n)
	case opBinBytes8:
		n, err := m.readUint(8)
		if err != nil {
			return err
		}
		return m.bytesOp(n)
	case opEmptyTuple:
		return m.push(Tuple{})
	case opTuple1, opTuple2, opTuple3:
		n := int(m.op-opTuple1) + 1
		items := make([]slot, n)
		for i := n - 1; i >= 0; i-- {
			v, err := m.pop()
			if err != nil {
				return err
			}
			items[i] = v
		}
		t, err := m.tuple(items)
		if err != nil {
			return err
		}
		return m.pushSlot(t)
	case opTuple:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.tuple(items)
		if err != nil {
			return err
		}
		return m.pushSlot(t)
	case opEmptyList:
		return m.push(&List{})
	case opList:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if err := m.push(&List{}); err != nil {
			return err
		}
		return m.appendItems(items)
	case opEmptyDict:
		return m.push(NewDict())
	case opDict:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if err := m.push(NewDict()); err != nil {
			return err
		}
		return m.setItems(items)
	case opAppend:
		v, err := m.pop()
		if err != nil {
			return err
		}
		return m.appendItems([]slot{v})
	case opAppends:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.appendItems(items)
	case opSetItem:
		v, err := m.pop()
		if err != nil {
			return err
		}
		k, err := m.pop()
		if err != nil {
			return err
		}
		return m.setItems([]slot{k, v})
	case opSetItems:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.setItems(items)
	case opGlobal:
		mod, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		return m.global(Global{mod, name})
	case opStackGlobal:
		name, err := m.pop()
		if err != nil {
			return err
		}
		mod, err := m.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.v.(string)
		ns, ok2 := name.v.(string)
		if !ok1 || !ok2 {
			return m.errorf("module and name are %s and %s, not strings", typeName(mod.v), typeName(name.v))
		}
		return m.global(Global{ms, ns})
	case opReduce, opNewObj:
		args, err := m.pop()
		if err != nil {
			return err
		}
		callable, err := m.pop()
		if err != nil {
			return err
		}
		return m.call(callable, args, m.op == opNewObj)
	case opBuild:
		state, err := m.pop()
		if err != nil {
			return err
		}
		target, err := m.top()
		if err != nil {
			return err
		}
		switch t := target.v.(type) {
		case *Object:
			t.State = state.v
		case *Dict:
			t.State = state.v
		default:
			return m.errorf("BUILD on %s", typeName(target.v))
		}
		return m.added(target.v, []slot{state})
	case opBinPersID:
		id, err := m.pop()
		if err != nil {
			return err
		}
		n, d, err := m.measure(1, []slot{id})
		if err != nil {
			return err
		}
		return m.pushSlot(slot{v: PersistentID{ID: id.v}, n: n, d: d + 1})
	case opBinPut:
		idx, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.memoPut(idx)
	case opLongBinPut:
		idx, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.memoPut(idx)
	case opMemoize:
		return m.memoPut(uint64(len(m.memo)))
	case opBinGet:
		idx, err := m.readUint(1)
		if err != nil {
			return err
		}
		return m.memoGet(idx)
	case opLongBinGet:
		idx, err := m.readUint(4)
		if err != nil {
			return err
		}
		return m.memoGet(idx)
	default:
		return fmt.Errorf("pickle: unsupported opcode %s at offset %d", opName(m.op), m.opPos)
	}
	return nil
}

// opNames maps the opcodes above to pickletools names for error messages.
func opName(op byte) string {
	names := map[byte]string{
		opMark: "MARK", opStop: "STOP", opPop: "POP", opPopMark: "POP_MARK", opDup: "DUP",
		opBinFloat: "BINFLOAT", opBinInt: "BININT", opBinInt1: "BININT1", opBinInt2: "BININT2",
		opNone: "NONE", opBinPersID: "BINPERSID", opReduce: "REDUCE", opBinUnicode: "BINUNICODE",
		opEmptyList: "EMPTY_LIST", opAppend: "APPEND", opBuild: "BUILD", opGlobal: "GLOBAL",
		opDict: "DICT", opEmptyDict: "EMPTY_DICT", opAppends: "APPENDS", opBinGet: "BINGET",
		opLongBinGet: "LONG_BINGET", opList: "LIST", opBinPut: "BINPUT", opLongBinPut: "LONG_BINPUT",
		opSetItem: "SETITEM", opTuple: "TUPLE", opEmptyTuple: "EMPTY_TUPLE", opSetItems: "SETITEMS",
		opBinBytes: "BINBYTES", opShortBinBytes: "SHORT_BINBYTES", opProto: "PROTO", opNewObj: "NEWOBJ",
		opTuple1: "TUPLE1", opTuple2: "TUPLE2", opTuple3: "TUPLE3", opNewTrue: "NEWTRUE",
		opNewFalse: "NEWFALSE", opLong1: "LONG1", opShortBinUnicod: "SHORT_BINUNICODE",
		opBinUnicode8: "BINUNICODE8", opBinBytes8: "BINBYTES8", opStackGlobal: "STACK_GLOBAL",
		opMemoize: "MEMOIZE", opFrame: "FRAME",
		// Known but unsupported, named so errors are readable.
		'I': "INT", 'L': "LONG", 'S': "STRING", 'V': "UNICODE", 'F': "FLOAT", 'i': "INST",
		'o': "OBJ", 'p': "PUT", 'g': "GET", 'P': "PERSID", 0x82: "EXT1", 0x83: "EXT2",
		0x84: "EXT4", 0x8b: "LONG4", 0x8f: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
		0x92: "NEWOBJ_EX", 0x96: "BYTEARRAY8", 0x97: "NEXT_BUFFER", 0x98: "READONLY_BUFFER",
		'T': "BINSTRING", 'U': "SHORT_BINSTRING",
	}
	if n, ok := names[op]; ok {
		return n
	}
	if op >= 0x20 && op < 0x7f {
		return fmt.Sprintf("%q (0x%02x)", rune(op), op)
	}
	return fmt.Sprintf("0x%02x", op)
}
