package train

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestOpenRecorderTornLastLine: a metrics.jsonl whose last line was cut by a
// kill opens with the lines before it (the torn one is dropped from the
// file too), so the run can --resume; a bad line in the middle is still an
// error that names the file and the line.
func TestOpenRecorderTornLastLine(t *testing.T) {
	const good = `{"stage":"pretrain","step":1,"total":3,"epoch":0,"loss":9.5,"ce":9.5,"aux":0,"lr":0.1,"grad_norm":1,"tokens_per_s":10,"elapsed_s":1}
{"stage":"pretrain","step":2,"total":3,"epoch":0,"loss":8.25,"ce":8.25,"aux":0,"lr":0.1,"grad_norm":1,"tokens_per_s":10,"elapsed_s":2}
`
	for _, c := range []struct {
		name, tail string
	}{
		{"cut mid-object", `{"stage":"pretrain","step":3,"total":3,"ep`},
		{"cut with a newline and blanks after", "{\"stage\":\"pre\n\n  \n"},
		{"zero bytes from a crash", "\x00\x00\x00\x00"},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "metrics.jsonl")
			if err := os.WriteFile(path, []byte(good+c.tail), 0o644); err != nil {
				t.Fatal(err)
			}
			r, err := OpenRecorder(path, "pretrain", 2)
			if err != nil {
				t.Fatalf("OpenRecorder: %v", err)
			}
			h := r.History()
			if len(h) != 2 || h[0].Loss != 9.5 || h[1].Loss != 8.25 {
				t.Fatalf("history %+v, want steps 1 and 2 with losses 9.5, 8.25", h)
			}
			if err := r.Add(Step{Step: 3, Total: 3, Loss: 7}); err != nil {
				t.Fatal(err)
			}
			if err := r.Close(); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
			if len(lines) != 3 || !strings.HasPrefix(string(b), good) || !strings.Contains(lines[2], `"step":3`) {
				t.Fatalf("file after resume:\n%s", b)
			}
		})
	}

	t.Run("bad line in the middle", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "metrics.jsonl")
		lines := strings.SplitAfter(good, "\n")
		if err := os.WriteFile(path, []byte(lines[0]+"{oops\n"+lines[1]), 0o644); err != nil {
			t.Fatal(err)
		}
		_, err := OpenRecorder(path, "pretrain", 2)
		if err == nil || !strings.Contains(err.Error(), path+" line 2:") {
			t.Fatalf("OpenRecorder = %v, want an error naming %s line 2", err, path)
		}
	})
}
