package server_test

import (
	"bytes"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/server"
)

func TestCORS(t *testing.T) {
	const origin = "https://chat.example.org"
	for _, allowed := range []string{"", origin} {
		ts, _ := newTestServer(t, generate.EngineOptions{Slots: 1, Window: 64}, server.Options{APIKey: "k", CORSOrigin: allowed})
		for _, from := range []string{origin, "https://evil.example.com"} {
			req, _ := http.NewRequest("OPTIONS", ts.URL+"/v1/chat/completions", nil)
			req.Header.Set("Origin", from)
			req.Header.Set("Access-Control-Request-Method", "POST")
			req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
			res, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			granted := allowed != "" && from == allowed
			h := res.Header
			if got := h.Get("Access-Control-Allow-Origin") == from && res.StatusCode == 204 &&
				strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") &&
				strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization"); got != granted {
				t.Errorf("--cors_origin %q, preflight from %s: status %d, headers %v; granted %v, want %v", allowed, from, res.StatusCode, h, got, granted)
			}
			if !granted && h.Get("Access-Control-Allow-Origin") != "" {
				t.Errorf("--cors_origin %q: %s got Access-Control-Allow-Origin", allowed, from)
			}
			// The actual request: the allowed origin can read even a 401.
			res, _ = post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}]}`, "Origin", from)
			if res.StatusCode != 401 || (res.Header.Get("Access-Control-Allow-Origin") == from) != granted {
				t.Errorf("--cors_origin %q, POST from %s: status %d, Allow-Origin %q", allowed, from, res.StatusCode, res.Header.Get("Access-Control-Allow-Origin"))
			}
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestRequestLog(t *testing.T) {
	var buf syncBuffer
	lg := slog.New(slog.NewTextHandler(&buf, nil))
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 1, Window: 64}, server.Options{RequestLog: lg})
	res, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":5,"ignore_eos":true}`)
	res2, _ := post(t, ts, "/v1/chat/completions", `{"messages":[{"role":"user","content":"hi"}],"max_tokens":3,"ignore_eos":true,"stream":true}`)
	res3, _ := post(t, ts, "/v1/chat/completions", `{"messages":[]}`)
	if res.StatusCode != 200 || res2.StatusCode != 200 || res3.StatusCode != 400 {
		t.Fatalf("statuses %d %d %d", res.StatusCode, res2.StatusCode, res3.StatusCode)
	}
	ts.Close() // the handlers have returned: every line is written
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	want := []string{
		`method=POST path=/v1/chat/completions status=200 prompt_tokens=\d+ completion_tokens=5 ms=\d+$`,
		`method=POST path=/v1/chat/completions status=200 prompt_tokens=\d+ completion_tokens=3 ms=\d+$`,
		`method=POST path=/v1/chat/completions status=400 prompt_tokens=0 completion_tokens=0 ms=\d+$`,
	}
	if len(lines) != len(want) {
		t.Fatalf("%d log lines, want %d:\n%s", len(lines), len(want), buf.String())
	}
	for i, w := range want {
		if !regexp.MustCompile(w).MatchString(lines[i]) {
			t.Errorf("log line %d: %s\nwant it to match %s", i, lines[i], w)
		}
	}
}
