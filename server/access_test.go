package server_test

import (
	"bytes"
	"io"
	"log/slog"
	"net"
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

// TestHostCheck: Serve answers requests naming localhost, a loopback IP or
// Options.BindHost, and refuses others with 421 misdirected_request, so a
// page whose name is pointed at 127.0.0.1 (DNS rebinding) cannot use the
// API; the refusals are in the request log.
func TestHostCheck(t *testing.T) {
	var logBuf bytes.Buffer
	var mu sync.Mutex
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: &logBuf, mu: &mu}, nil))
	for _, c := range []struct {
		name  string
		opts  server.Options
		hosts map[string]int // Host -> status
	}{
		{"loopback", server.Options{RequestLog: log}, map[string]int{"127.0.0.1": 200, "localhost": 200, "[::1]": 200, "evil.example": 421}},
		{"bound to a name", server.Options{BindHost: "mybox.lan"}, map[string]int{"mybox.lan": 200, "localhost": 200, "evil.example": 421}},
	} {
		t.Run(c.name, func(t *testing.T) {
			addr := serve(t, generate.EngineOptions{Slots: 1, Window: 64}, c.opts)
			_, port, _ := net.SplitHostPort(addr)
			for host, want := range c.hosts {
				for _, path := range []string{"/health", "/v1/models", "/"} {
					req, _ := http.NewRequest("GET", "http://"+addr+path, nil)
					req.Host = net.JoinHostPort(strings.Trim(host, "[]"), port)
					res, err := http.DefaultClient.Do(req)
					if err != nil {
						t.Fatal(err)
					}
					b, _ := io.ReadAll(res.Body)
					res.Body.Close()
					if res.StatusCode != want {
						t.Errorf("GET %s Host %s: %d %s, want %d", path, req.Host, res.StatusCode, b, want)
					}
					if want == 421 {
						if e := decode(t, b).Error; e == nil || e.Code == nil || *e.Code != "misdirected_request" || !strings.Contains(e.Message, "DNS rebinding") {
							t.Errorf("GET %s Host %s: body %s", path, req.Host, b)
						}
					}
				}
			}
		})
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logBuf.String(), "status=421") {
		t.Errorf("request log has no refused request:\n%s", logBuf.String())
	}
}

// lockedWriter serializes writes from the server's handlers.
type lockedWriter struct {
	w  io.Writer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
