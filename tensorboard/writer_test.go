package tensorboard

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/train"
)

// t0 is a fixed clock for the tests: 2026-12-03 14:30:00.25 UTC.
var t0 = time.Date(2026, 12, 3, 14, 30, 0, 250_000_000, time.UTC)

// steps are three optimizer steps as train.Run reports them.
var steps = []train.Step{
	{Stage: "pretrain", Step: 1, Total: 3, Loss: 8.5, CE: 8.25, Aux: 0.25, LR: 5e-4, GradNorm: 3.5, TokensPerS: 1200},
	{Stage: "pretrain", Step: 2, Total: 3, Loss: 7.125, CE: 7, Aux: 0.125, LR: 4e-4, GradNorm: 2.75, TokensPerS: 1300.5},
	{Stage: "pretrain", Step: 3, Total: 3, Loss: 0, CE: 0, Aux: 0, LR: 0, GradNorm: 0, TokensPerS: 0}, // zeros are still points
}

// writeRun writes the events of a short run to a new file in dir: flags,
// three steps, an eval loss. It returns the file's path and the events a
// reader must find, in order.
func writeRun(t testing.TB, dir string) (string, []Event) {
	t.Helper()
	w, err := open(dir, t0, "host-a", 4242)
	if err != nil {
		t.Fatal(err)
	}
	flags := FlagsMarkdown(map[string]string{"batch_size": "32", "learning_rate": "0.0005", "data_path": "数据/a|b.jsonl"})
	w.AddText(0, t0, "flags", flags)
	want := []Event{
		{WallTime: 1796308200.25, FileVersion: FileVersion},
		{WallTime: 1796308200.25, Values: []Value{{Tag: "flags", Kind: KindText, Text: flags, Plugin: "text"}}},
	}
	for i, s := range steps {
		at := t0.Add(time.Duration(i+1) * time.Second)
		w.AddStep(s, at)
		e := Event{WallTime: seconds(at), Step: int64(s.Step)}
		for _, sc := range StepScalars(s) {
			e.Values = append(e.Values, Value{Tag: sc.Tag, Kind: KindScalar, Scalar: float32(sc.Value)})
		}
		want = append(want, e)
	}
	w.AddEvalLoss(3, t0.Add(4*time.Second), 6.5)
	want = append(want, Event{WallTime: seconds(t0.Add(4 * time.Second)), Step: 3, Values: []Value{{Tag: "eval_loss", Kind: KindScalar, Scalar: 6.5}}})
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return w.Path(), want
}

func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return fmt.Sprintf("(-want +got)\n- %+v\n+ %+v", want, got)
}

func TestWriteRead(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "runs", "pretrain-20261203-143000")
	path, want := writeRun(t, dir)
	if got, wantName := filepath.Base(path), "events.out.tfevents.1796308200.host-a.4242.0"; got != wantName {
		t.Errorf("file name %q, want %q", got, wantName)
	}
	f, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if f.Torn != 0 {
		t.Errorf("Torn = %d, want 0", f.Torn)
	}
	if d := diff(want, f.Events); d != "" {
		t.Error(d)
	}
	// The scalars TensorBoard shows are the step's, rounded to float32.
	if got := f.Events[3].Values[4]; got.Tag != "grad_norm" || got.Scalar != 2.75 {
		t.Errorf("step 2 grad_norm = %+v, want 2.75", got)
	}
}

func TestFlushWritesBufferedRecords(t *testing.T) {
	w, err := open(t.TempDir(), t0, "h", 1)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = w.Close() }()
	count := func() int {
		t.Helper()
		f, err := ReadFile(w.Path())
		if err != nil {
			t.Fatal(err)
		}
		return len(f.Events)
	}
	if n := count(); n != 1 {
		t.Fatalf("after Open: %d events, want 1 (the file version, written at once)", n)
	}
	w.AddStep(steps[0], t0)
	w.AddStep(steps[1], t0)
	if n := count(); n != 1 {
		t.Fatalf("after two Adds: %d events on disk, want 1 (Add only buffers)", n)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 3 {
		t.Fatalf("after Flush: %d events, want 3", n)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	w.AddStep(steps[2], t0) // ignored
	if err := w.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := w.Flush(); !errors.Is(err, os.ErrClosed) {
		t.Errorf("Flush after Close = %v, want os.ErrClosed", err)
	}
	if n := count(); n != 3 {
		t.Errorf("after Close: %d events, want 3", n)
	}
}

func TestOpenUnwritableDir(t *testing.T) {
	// A directory under a regular file cannot be created, even as root.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(filepath.Join(file, "runs", "x")); err == nil {
		t.Fatal("Open under a regular file succeeded")
	}
	if os.Geteuid() != 0 { // root writes to read-only directories
		ro := filepath.Join(t.TempDir(), "ro")
		if err := os.Mkdir(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		if _, err := Open(ro); !errors.Is(err, fs.ErrPermission) {
			t.Errorf("Open(read-only dir) = %v, want a permission error", err)
		}
	}
}

// TestResumeAddsAFile: a second writer in the same directory (a resumed
// run, even within the same second) creates its own file and leaves the
// first one's bytes alone.
func TestResumeAddsAFile(t *testing.T) {
	dir := t.TempDir()
	first, _ := writeRun(t, dir)
	before, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	w, err := open(dir, t0, "host-a", 4242)
	if err != nil {
		t.Fatal(err)
	}
	w.AddSessionStart(3, t0)
	w.AddStep(steps[2], t0)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := filepath.Base(w.Path()), "events.out.tfevents.1796308200.host-a.4242.1"; got != want {
		t.Errorf("resumed file %q, want %q", got, want)
	}
	after, err := os.ReadFile(first)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(before, after) {
		t.Error("the first file changed")
	}
	f, err := ReadFile(w.Path())
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Events) != 3 || !f.Events[1].SessionStart || f.Events[1].Step != 3 || f.Events[2].Step != 3 {
		t.Errorf("resumed file events %+v, want version, session start at 3, step 3", f.Events)
	}
}

// TestTornTail cuts a file at every length: whole records are always read,
// the cut-off rest is counted in Torn, and nothing is an error.
func TestTornTail(t *testing.T) {
	path, want := writeRun(t, t.TempDir())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The end offset of every record.
	var ends []int
	for off := 0; off < len(b); {
		n := int(uint64(b[off]) | uint64(b[off+1])<<8) // records here are < 64 KiB
		off += headerSize + n + 4
		ends = append(ends, off)
	}
	if len(ends) != len(want) || ends[len(ends)-1] != len(b) {
		t.Fatalf("record ends %v for %d events in %d bytes", ends, len(want), len(b))
	}
	for cut := 0; cut <= len(b); cut++ {
		whole := 0
		for whole < len(ends) && ends[whole] <= cut {
			whole++
		}
		last := 0
		if whole > 0 {
			last = ends[whole-1]
		}
		f, err := Parse(b[:cut])
		if err != nil {
			t.Fatalf("cut at %d: %v", cut, err)
		}
		if len(f.Events) != whole || f.Torn != cut-last {
			t.Fatalf("cut at %d: %d events, torn %d; want %d, %d", cut, len(f.Events), f.Torn, whole, cut-last)
		}
	}
}

func TestCorruptRecord(t *testing.T) {
	path, _ := writeRun(t, t.TempDir())
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := int(b[0])
	second := headerSize + n + 4
	for _, tc := range []struct {
		name string
		at   int
		want string
	}{
		{"length", second + 1, "record 1 at byte " + fmt.Sprint(second) + ": length CRC"},
		{"length crc", second + 9, "record 1 at byte " + fmt.Sprint(second) + ": length CRC"},
		{"data", second + headerSize + 3, "record 1 at byte " + fmt.Sprint(second) + ": data CRC"},
		{"data crc", headerSize + n + 1, "record 0 at byte 0: data CRC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := bytes.Clone(b)
			c[tc.at] ^= 0x40
			_, err := Parse(c)
			if err == nil || !strings.HasPrefix(err.Error(), tc.want) {
				t.Errorf("Parse = %v, want an error starting %q", err, tc.want)
			}
		})
	}
}

// TestHostileLength: a record whose (CRC-valid) length claims 2^62 bytes
// is a torn tail, read without allocating for it.
func TestHostileLength(t *testing.T) {
	rec := appendRecord(nil, appendEvent(nil, &Event{WallTime: 1, FileVersion: FileVersion}))
	hdr := []byte{0, 0, 0, 0, 0, 0, 0, 0x40}
	b := append(rec, hdr...)
	b = append(b, byte(maskedCRC(hdr)), byte(maskedCRC(hdr)>>8), byte(maskedCRC(hdr)>>16), byte(maskedCRC(hdr)>>24))
	b = append(b, "some data"...)
	var f *File
	allocs := testing.AllocsPerRun(10, func() {
		var err error
		if f, err = Parse(b); err != nil {
			t.Fatal(err)
		}
	})
	if f.Torn != 12+9 || len(f.Events) != 1 {
		t.Errorf("Parse = %d events, torn %d; want 1, 21", len(f.Events), f.Torn)
	}
	if allocs > 10 {
		t.Errorf("%v allocations, want a handful", allocs)
	}
}

// TestMaskedCRC pins the CRC-32C check value and TFRecord's mask.
func TestMaskedCRC(t *testing.T) {
	c := uint32(0xE3069283) // CRC-32C("123456789")
	if got, want := maskedCRC([]byte("123456789")), (c>>15|c<<17)+0xa282ead8; got != want {
		t.Errorf("maskedCRC = %#x, want %#x", got, want)
	}
}

func TestFlagsMarkdown(t *testing.T) {
	got := FlagsMarkdown(map[string]string{"out_dir": "./out", "data_path": "a|b\nc", "use_moe": "false"})
	want := "| flag | value |\n|---|---|\n| --data_path | a\\|b c |\n| --out_dir | ./out |\n| --use_moe | false |\n"
	if got != want {
		t.Errorf("FlagsMarkdown =\n%s\nwant\n%s", got, want)
	}
}
