package data_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/jsonl"
)

func TestBadLines(t *testing.T) {
	t.Parallel()
	good := map[data.Kind]string{
		data.KindPretrain: `{"text": "你好"}`,
		data.KindSFT:      `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}`,
		data.KindDPO:      `{"chosen": [{"role": "user", "content": "Q"}], "rejected": [{"role": "user", "content": "Q"}]}`,
		data.KindRLAIF:    `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}]}`,
	}
	tests := []struct {
		name string
		kind data.Kind
		bad  string
		want string // part of the error message
	}{
		{"invalid JSON", data.KindPretrain, `{"text": "unterminated`, "unexpected end"},
		{"no text", data.KindPretrain, `{"txt": "x"}`, `no "text"`},
		{"text not a string", data.KindPretrain, `{"text": 5}`, "cannot unmarshal"},
		{"not an object", data.KindPretrain, `["text"]`, "cannot unmarshal"},
		{"no conversations", data.KindSFT, `{"text": "x"}`, `no "conversations"`},
		{"empty conversations", data.KindSFT, `{"conversations": []}`, `no "conversations"`},
		{"message without role", data.KindSFT, `{"conversations": [{"content": "x"}]}`, "conversations[0]: no role"},
		{"message not an object", data.KindSFT, `{"conversations": ["hi"]}`, "conversations[0]: not an object"},
		{"content a number", data.KindSFT, `{"conversations": [{"role": "user", "content": 3}]}`, "message content"},
		{"bad functions", data.KindSFT, `{"conversations": [{"role": "system", "content": "", "functions": "[oops"}, {"role": "user", "content": "Q"}]}`, "functions"},
		{"tools not a list", data.KindSFT, `{"conversations": [{"role": "system", "content": "", "tools": "{\"name\": \"f\"}"}, {"role": "user", "content": "Q"}]}`, "conversations[0].tools: the string does not hold a JSON list"},
		{"tools entry not an object", data.KindSFT, `{"conversations": [{"role": "system", "content": "", "tools": [{"type": "function", "function": {"name": "f"}}, "g"]}, {"role": "user", "content": "Q"}]}`, "conversations[0].tools: [1]: want a tool object"},
		{"tools entry without a name", data.KindSFT, `{"conversations": [{"role": "system", "content": "", "tools": "[{\"type\": \"function\", \"function\": {\"description\": \"d\"}}]"}, {"role": "user", "content": "Q"}]}`, "conversations[0].tools: [0]: no function name"},
		{"tool_calls invalid JSON", data.KindSFT, `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "", "tool_calls": "[{\"name\": \"f\", "}]}`, "conversations[1]: tool_calls"},
		{"tool_call without arguments", data.KindSFT, `{"conversations": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f"}}]}]}`, `conversations[1]: tool_calls[0]: tool call: function "f": no arguments`},
		{"DPO without rejected", data.KindDPO, `{"chosen": [{"role": "user", "content": "Q"}]}`, `no "rejected"`},
		{"RLAIF single message", data.KindRLAIF, `{"conversations": [{"role": "user", "content": "Q"}]}`, "2 or more"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			// Line 3 is bad; line 2 is blank and still counted.
			p := writeFile(t, dir, "in.jsonl", good[tc.kind], "", tc.bad, good[tc.kind])
			enc := newEncoder(t, noAugment(64))
			_, err := data.LoadJSONL(context.Background(), []string{p}, tc.kind, enc, data.ReadOptions{})
			var lerr *jsonl.LineError
			if !errors.As(err, &lerr) || !errors.Is(err, data.ErrMalformed) {
				t.Fatalf("err = %v, want a *jsonl.LineError wrapping ErrMalformed", err)
			}
			wantPrefix := fmt.Sprintf("read %s line 3: ", p)
			if !strings.HasPrefix(err.Error(), wantPrefix) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %q, want prefix %q and %q", err, wantPrefix, tc.want)
			}

			var seen []string
			ds, err := data.LoadJSONL(context.Background(), []string{p, p}, tc.kind, enc,
				data.ReadOptions{SkipBadLines: true, OnBadLine: func(err error) { seen = append(seen, err.Error()) }})
			if err != nil {
				t.Fatal(err)
			}
			if ds.Len() != 4 || ds.Skipped() != 2 || len(seen) != 2 {
				t.Errorf("skipping: %d records, %d skipped, %d reported; want 4, 2, 2", ds.Len(), ds.Skipped(), len(seen))
			}
			if tc.kind == data.KindRLAIF {
				return
			}
			out := t.TempDir() + "/out.bin"
			_, err = data.Prepare(context.Background(), enc, data.PrepareOptions{Paths: []string{p}, Out: out, Kind: tc.kind})
			if !errors.As(err, &lerr) || lerr.Line != 3 || lerr.Path != p {
				t.Errorf("Prepare err = %v, want line 3 of %s", err, p)
			}
			st, err := data.Prepare(context.Background(), enc, data.PrepareOptions{Paths: []string{p}, Out: out, Kind: tc.kind,
				ReadOptions: data.ReadOptions{SkipBadLines: true}})
			if err != nil || st.Skipped != 1 || st.Examples != 2 {
				t.Errorf("Prepare skipping: %+v, %v; want 2 examples, 1 skipped", st, err)
			}
		})
	}
}

// TestLoadJSONLCorruptGzip checks that a decompression error is never
// skipped as a bad line and names the file. (The line reading itself is
// tested in package jsonl.)
func TestLoadJSONLCorruptGzip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	p := writeFile(t, dir, "x.jsonl.gz", strings.Repeat(`{"text": "abc"}`+"\n", 1000))
	b, _ := readFileBytes(p)
	writeBytes(t, p, b[:len(b)/2])
	_, err := data.LoadJSONL(context.Background(), []string{p}, data.KindPretrain, newEncoder(t, noAugment(8)), data.ReadOptions{SkipBadLines: true})
	var lerr *jsonl.LineError
	if !errors.As(err, &lerr) || lerr.Path != p {
		t.Errorf("err = %v, want a *jsonl.LineError naming %s", err, p)
	}
}

// FuzzParseRecord checks that no line makes parsing or encoding panic, and
// that {"text"} lines round-trip.
func FuzzParseRecord(f *testing.F) {
	f.Add([]byte(`{"text": "你好"}`))
	f.Add([]byte(`{"conversations": [{"role": "system", "content": "s", "functions": [{"name": "f"}]}, {"role": "user", "content": [{"type": "text", "text": "q"}]}, {"role": "assistant", "content": null}]}`))
	f.Add([]byte(`{"chosen": [{"role": "user", "content": "Q"}], "rejected": [{"role": "assistant", "content": "<think>\n\n</think>\n\nA"}]}`))
	enc := newEncoder(f, data.DefaultEncodeOptions(24))
	f.Fuzz(func(t *testing.T, line []byte) {
		for _, kind := range []data.Kind{data.KindPretrain, data.KindSFT, data.KindDPO, data.KindRLAIF} {
			rec, err := data.ParseRecord(kind, line)
			if err != nil {
				if !errors.Is(err, data.ErrMalformed) {
					t.Fatalf("%v: error %v does not wrap ErrMalformed", kind, err)
				}
				continue
			}
			if kind == data.KindRLAIF {
				if _, err := enc.RLAIF(0, rec.Conversations); err != nil {
					t.Fatalf("RLAIF of a valid record: %v", err)
				}
				continue
			}
			var s data.Sample
			if err := enc.Sample(kind, 1, &rec, &s); err != nil {
				t.Fatalf("%v: sample of a valid record: %v", kind, err)
			}
			if len(s.X) != 23 || len(s.Y) != 23 || len(s.LossMask) != 23 {
				t.Fatalf("%v: sample lengths %d %d %d", kind, len(s.X), len(s.Y), len(s.LossMask))
			}
			if kind == data.KindPretrain {
				again, _ := json.Marshal(map[string]string{"text": rec.Text})
				rec2, err := data.ParseRecord(kind, again)
				if err != nil || rec2.Text != rec.Text {
					t.Fatalf("round trip: %q -> %q, %v", rec.Text, rec2.Text, err)
				}
			}
		}
	})
}
