package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
)

// maxWriteNodes bounds the values Marshal visits, so a value graph that
// shares sub-tuples (cheap in memory, exponential when written out) fails
// instead of exhausting memory.
const maxWriteNodes = 1 << 26

// maxWriteDepth bounds nesting, since the writer recurses: deeper values
// (which no state dict has) fail instead of overflowing the goroutine stack.
const maxWriteDepth = 10000

// Marshal encodes v as a protocol 2 pickle, the protocol torch.save uses,
// so that Python's pickle.load and torch.load read it. v may contain the
// types Unmarshal produces, plus int (encoded as Python int). *List, *Dict
// and *Object values are memoized by identity, so shared and
// self-referencing containers round-trip; []byte is not supported because
// protocol 2 has no bytes opcode.
func Marshal(v any) ([]byte, error) {
	w := &writer{memo: map[any]uint32{}}
	w.buf.Write([]byte{opProto, 2})
	if err := w.value(v); err != nil {
		return nil, err
	}
	w.buf.WriteByte(opStop)
	return w.buf.Bytes(), nil
}

type writer struct {
	buf   bytes.Buffer
	memo  map[any]uint32 // *List, *Dict, *Object and Global → memo index
	next  uint32
	nodes int
	depth int
}

// put memoizes the value just written under key.
func (w *writer) put(key any) {
	// A counter, not len(memo): an *Object reached again through its own
	// arguments is put twice, and indices must never repeat.
	idx := w.next
	w.next++
	w.memo[key] = idx
	if idx < 256 {
		w.buf.Write([]byte{opBinPut, byte(idx)})
		return
	}
	w.buf.WriteByte(opLongBinPut)
	w.buf.Write(binary.LittleEndian.AppendUint32(nil, idx))
}

// get writes a memo reference if key was written before.
func (w *writer) get(key any) bool {
	idx, ok := w.memo[key]
	if !ok {
		return false
	}
	if idx < 256 {
		w.buf.Write([]byte{opBinGet, byte(idx)})
	} else {
		w.buf.WriteByte(opLongBinGet)
		w.buf.Write(binary.LittleEndian.AppendUint32(nil, idx))
	}
	return true
}

func (w *writer) int(v int64) {
	switch {
	case v >= 0 && v < 1<<8:
		w.buf.Write([]byte{opBinInt1, byte(v)})
	case v >= 0 && v < 1<<16:
		w.buf.Write([]byte{opBinInt2, byte(v), byte(v >> 8)})
	case v >= math.MinInt32 && v <= math.MaxInt32:
		w.buf.WriteByte(opBinInt)
		w.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(int32(v))))
	default:
		// LONG1: minimal little-endian two's complement.
		b := binary.LittleEndian.AppendUint64(nil, uint64(v))
		for len(b) > 1 {
			last, prev := b[len(b)-1], b[len(b)-2]
			if (last == 0 && prev&0x80 == 0) || (last == 0xff && prev&0x80 != 0) {
				b = b[:len(b)-1]
				continue
			}
			break
		}
		w.buf.Write([]byte{opLong1, byte(len(b))})
		w.buf.Write(b)
	}
}

func (w *writer) str(s string) {
	w.buf.WriteByte(opBinUnicode)
	w.buf.Write(binary.LittleEndian.AppendUint32(nil, uint32(len(s))))
	w.buf.WriteString(s)
}

func (w *writer) tuple(t Tuple) error {
	switch len(t) {
	case 0:
		w.buf.WriteByte(opEmptyTuple)
		return nil
	case 1, 2, 3:
		for _, x := range t {
			if err := w.value(x); err != nil {
				return err
			}
		}
		w.buf.WriteByte(opTuple1 + byte(len(t)-1))
		return nil
	}
	w.buf.WriteByte(opMark)
	for _, x := range t {
		if err := w.value(x); err != nil {
			return err
		}
	}
	w.buf.WriteByte(opTuple)
	return nil
}

// batch is how many items go between one MARK and its APPENDS/SETITEMS,
// as CPython does, to keep the unpickler's stack small.
const batch = 1000

func (w *writer) value(v any) error {
	w.nodes++
	if w.nodes > maxWriteNodes {
		return fmt.Errorf("pickle: value graph has more than %d nodes", maxWriteNodes)
	}
	w.depth++
	defer func() { w.depth-- }()
	if w.depth > maxWriteDepth {
		return fmt.Errorf("pickle: value nested more than %d deep", maxWriteDepth)
	}
	switch v := v.(type) {
	case nil:
		w.buf.WriteByte(opNone)
	case bool:
		if v {
			w.buf.WriteByte(opNewTrue)
		} else {
			w.buf.WriteByte(opNewFalse)
		}
	case int:
		w.int(int64(v))
	case int64:
		w.int(v)
	case float64:
		w.buf.WriteByte(opBinFloat)
		w.buf.Write(binary.BigEndian.AppendUint64(nil, math.Float64bits(v)))
	case string:
		if len(v) > math.MaxUint32 {
			return fmt.Errorf("pickle: string of %d bytes is too long for BINUNICODE", len(v))
		}
		w.str(v)
	case Tuple:
		return w.tuple(v)
	case Global:
		if w.get(v) {
			return nil
		}
		fmt.Fprintf(&w.buf, "%c%s\n%s\n", opGlobal, v.Module, v.Name)
		w.put(v)
	case PersistentID:
		if err := w.value(v.ID); err != nil {
			return err
		}
		w.buf.WriteByte(opBinPersID)
	case *List:
		if w.get(v) {
			return nil
		}
		w.buf.WriteByte(opEmptyList)
		w.put(v) // before the items, so self-references resolve
		for i := 0; i < len(v.Items); i += batch {
			end := min(i+batch, len(v.Items))
			w.buf.WriteByte(opMark)
			for _, x := range v.Items[i:end] {
				if err := w.value(x); err != nil {
					return err
				}
			}
			w.buf.WriteByte(opAppends)
		}
	case *Dict:
		if w.get(v) {
			return nil
		}
		if v.Ordered {
			if err := w.value(Global{"collections", "OrderedDict"}); err != nil {
				return err
			}
			w.buf.Write([]byte{opEmptyTuple, opReduce})
		} else {
			w.buf.WriteByte(opEmptyDict)
		}
		w.put(v)
		for i := 0; i < len(v.keys); i += batch {
			end := min(i+batch, len(v.keys))
			w.buf.WriteByte(opMark)
			for j := i; j < end; j++ {
				if err := w.value(v.keys[j]); err != nil {
					return err
				}
				if err := w.value(v.values[j]); err != nil {
					return err
				}
			}
			w.buf.WriteByte(opSetItems)
		}
		if v.State != nil {
			if err := w.value(v.State); err != nil {
				return err
			}
			w.buf.WriteByte(opBuild)
		}
	case *Object:
		if w.get(v) {
			return nil
		}
		if err := w.value(v.Callable); err != nil {
			return err
		}
		if err := w.tuple(v.Args); err != nil {
			return err
		}
		if v.New {
			w.buf.WriteByte(opNewObj)
		} else {
			w.buf.WriteByte(opReduce)
		}
		w.put(v)
		if v.State != nil {
			if err := w.value(v.State); err != nil {
				return err
			}
			w.buf.WriteByte(opBuild)
		}
	default:
		return fmt.Errorf("pickle: cannot encode %s", typeName(v))
	}
	return nil
}
