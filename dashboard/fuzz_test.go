package dashboard

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParseStep: whatever a line holds, ParseStep either rejects it or
// returns a step that survives a write and a second parse unchanged.
func FuzzParseStep(f *testing.F) {
	for _, seed := range []string{
		`{"stage":"pretrain","step":1,"total":10,"epoch":0,"loss":8.9,"ce":8.8,"aux":0.1,"lr":0.0005,"grad_norm":1.5,"tokens_per_s":812.5,"elapsed_s":0.4}`,
		`{"step":3,"loss":2}`,
		`{"stage":"sft","step":2,"lo`,
		`{"step":0}`, `{}`, `null`, `[1]`, `{"step":1} x`, "\xff{", `{"step":1e400}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		s, err := ParseStep(line)
		if err != nil {
			return
		}
		if s.Step < 1 {
			t.Fatalf("accepted step %d", s.Step)
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("marshal %+v: %v", s, err)
		}
		again, err := ParseStep(b)
		if err != nil || again != s {
			t.Fatalf("round trip of %q: %+v, %v; want %+v", b, again, err, s)
		}
	})
}

// FuzzMetricsFile: reading a file as it grows, in two writes cut anywhere,
// gives the curves that reading it whole gives; nothing panics on any
// bytes.
func FuzzMetricsFile(f *testing.F) {
	f.Add([]byte(`{"stage":"pretrain","step":1,"loss":3}`+"\n"+`{"stage":"sft","step":1,"loss":2}`+"\n"), uint(20))
	f.Add([]byte(`{"step":1,"loss":3}`+"\ngarbage\n"+`{"step":2,"loss":2.5}`+"\n"+`{"step":3,`), uint(45))
	f.Add([]byte("\n\r\n{\"step\":1}"), uint(3))
	f.Add([]byte(`{"stage":"grpo","step":1,"loss":0.5,"reward":"NaN","kl":0.01,"x":null,"s":"str","ok":true}`+"\n"+`{"stage":"grpo","step":2,"reward":1e308,"kl":"-Inf"}`+"\n"), uint(60))
	f.Fuzz(func(t *testing.T, data []byte, cut uint) {
		cut %= uint(len(data) + 1)
		first := data[:cut]
		// A first part ending in a whole line without its newline, followed
		// by more of the same line, is a writer gluing two objects: read
		// live, the first counts; read whole, the glued line is garbage.
		if i := bytes.LastIndexByte(first, '\n'); acceptStep(first[i+1:]) && int(cut) < len(data) && data[cut] != '\n' {
			t.Skip()
		}
		dir := t.TempDir()
		path := filepath.Join(dir, MetricsFile)
		if err := os.WriteFile(path, first, 0o644); err != nil {
			t.Fatal(err)
		}
		live := newRun("live", dir, 10)
		live.refresh()
		fh, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		fh.Write(data[cut:])
		fh.Close()
		live.refresh()
		whole := newRun("whole", dir, 10)
		whole.refresh()
		a, _ := live.snapshot(1 << 20)
		b, _ := whole.snapshot(1 << 20)
		a.Name = b.Name
		if d := diff(t, b, a); d != "" {
			t.Fatalf("live read of %q cut at %d differs from a whole read (-whole +live):\n%s", data, cut, d)
		}
	})
}
