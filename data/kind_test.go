package data_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/data"
)

func TestDetectKind(t *testing.T) {
	for _, c := range []struct {
		name, line string
		want       data.Kind // 0: an error
	}{
		{"pretrain", `{"text": "hello"}`, data.KindPretrain},
		{"sft", `{"conversations": [{"role": "user", "content": "hi"}]}`, data.KindSFT},
		{"dpo", `{"chosen": [], "rejected": []}`, data.KindDPO},
		{"unknown", `{"prompt": "x"}`, 0},
		{"not json", `text`, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "d.jsonl")
			if err := os.WriteFile(path, []byte(c.line+"\n{\"text\": \"second\"}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			got, err := data.DetectKind(path)
			if c.want == 0 {
				if err == nil {
					t.Errorf("DetectKind = %v, want an error", got)
				}
				return
			}
			if err != nil || got != c.want {
				t.Errorf("DetectKind = %v, %v; want %v", got, err, c.want)
			}
		})
	}
}

// TestDetectKindEmpty: an empty or blank file is ErrNoRecords, not a bare
// EOF.
func TestDetectKindEmpty(t *testing.T) {
	for name, body := range map[string]string{"empty": "", "blank": "\n \n\n"} {
		p := filepath.Join(t.TempDir(), name+".jsonl")
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := data.DetectKind(p); !errors.Is(err, data.ErrNoRecords) {
			t.Errorf("%s: DetectKind = %v, want ErrNoRecords", name, err)
		}
	}
}

// TestRLAIFGroundTruth: an RLAIF line's "gt" is kept for the RL rewards:
// strings as their text, numbers as written; objects are refused.
func TestRLAIFGroundTruth(t *testing.T) {
	conv := `"conversations":[{"role":"user","content":"1+2="},{"role":"assistant","content":"3"}]`
	for _, c := range []struct {
		line, want string
		bad        bool
	}{
		{`{` + conv + `}`, "", false},
		{`{` + conv + `,"gt":"3"}`, "3", false},
		{`{` + conv + `,"gt":3.50}`, "3.50", false},
		{`{` + conv + `,"gt":null}`, "", false},
		{`{` + conv + `,"gt":{"a":1}}`, "", true},
	} {
		rec, err := data.ParseRecord(data.KindRLAIF, []byte(c.line))
		if c.bad {
			if err == nil {
				t.Errorf("%s: no error", c.line)
			}
			continue
		}
		if err != nil || rec.GT != c.want {
			t.Errorf("%s: GT %q, %v; want %q", c.line, rec.GT, err, c.want)
		}
	}
}
