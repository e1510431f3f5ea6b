package server_test

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/server"
)

// TestRoutesAnswerJSON: API routes answer wrong methods and content types
// with OpenAI error bodies (405 with Allow, 415), sent no CORS headers, and
// accept application/json with parameters.
func TestRoutesAnswerJSON(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 2, Window: 64}, server.Options{ModelName: "tiny"})
	ok := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}`
	cases := []struct {
		name, method, path, ctype, body string
		status                          int
		allow                           string
	}{
		{"GET on chat", "GET", "/v1/chat/completions", "", "", 405, "POST"},
		{"GET on completions", "GET", "/v1/completions", "", "", 405, "POST"},
		{"POST on models", "POST", "/v1/models", "application/json", "{}", 405, "GET, HEAD"},
		{"POST on health", "POST", "/health", "application/json", "{}", 405, "GET, HEAD"},
		{"OPTIONS preflight", "OPTIONS", "/v1/chat/completions", "", "", 405, "POST"},
		{"unknown route", "GET", "/v1/embeddings", "", "", 404, ""},
		{"no content type", "POST", "/v1/chat/completions", "", ok, 415, ""},
		{"form post", "POST", "/v1/chat/completions", "application/x-www-form-urlencoded", ok, 415, ""},
		{"text/plain", "POST", "/v1/completions", "text/plain", `{"prompt":"hi"}`, 415, ""},
		{"json with charset", "POST", "/v1/chat/completions", "application/json; charset=utf-8", ok, 200, ""},
		{"json in capitals", "POST", "/v1/chat/completions", "Application/JSON", ok, 200, ""},
		{"served model", "POST", "/v1/chat/completions", "application/json", `{"model":"tiny",` + ok[1:], 200, ""},
		{"empty model", "POST", "/v1/chat/completions", "application/json", `{"model":"",` + ok[1:], 200, ""},
		{"another model", "POST", "/v1/chat/completions", "application/json", `{"model":"minimind",` + ok[1:], 404, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader(c.body))
			if err != nil {
				t.Fatal(err)
			}
			if c.ctype != "" {
				req.Header.Set("Content-Type", c.ctype)
			}
			req.Header.Set("Origin", "https://evil.example")
			res, err := ts.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d: %s", res.StatusCode, c.status, b)
			}
			if got := res.Header.Get("Allow"); got != c.allow {
				t.Errorf("Allow %q, want %q", got, c.allow)
			}
			if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
				t.Errorf("Access-Control-Allow-Origin %q: the server grants no cross-origin access", got)
			}
			if c.status != 200 {
				if e := decode(t, b).Error; e == nil || e.Message == "" {
					t.Fatalf("no OpenAI error object: %s", b)
				}
			}
		})
	}
}

// TestHugePromptRefusedByLength: a body far beyond the window is refused
// from its byte length (the message gives a lower bound), without being
// tokenized in full.
func TestHugePromptRefusedByLength(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 1, Window: 64}, server.Options{MaxBodyBytes: 8 << 20})
	han := strings.Repeat("床前明月光疑是地上霜举头望明月低头思故乡", 1<<16) // 3.75 MiB, no spaces
	for _, c := range []struct{ path, body string }{
		{"/v1/chat/completions", `{"messages":[{"role":"user","content":"` + han + `"}]}`},
		{"/v1/completions", `{"prompt":"` + han + `"}`},
	} {
		res, b := post(t, ts, c.path, c.body)
		e := decode(t, b).Error
		if res.StatusCode != 400 || e == nil || e.Code == nil || *e.Code != "context_length_exceeded" || !strings.Contains(e.Message, "at least") {
			t.Fatalf("%s: status %d: %.300s", c.path, res.StatusCode, b)
		}
	}
}

// serve runs Serve on a local port with opts and returns its address.
func serve(tb testing.TB, eo generate.EngineOptions, opts server.Options) string {
	tb.Helper()
	eng := generatetest.Engine(tb, 14, eo)
	s, err := server.New(eng, opts)
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- server.Serve(ctx, ln, s, time.Second) }()
	tb.Cleanup(func() {
		cancel()
		<-done
	})
	return ln.Addr().String()
}

// closedWithin reports whether the server closes c (a read returns EOF or
// an error other than our own deadline) within d, discarding what it sends.
func closedWithin(tb testing.TB, c net.Conn, d time.Duration) bool {
	tb.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	_, err := io.Copy(io.Discard, c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		return false
	}
	return true
}

// TestStalledBodyDisconnected: a client that sends headers and part of a
// body, then stalls, is disconnected after the read timeout.
func TestStalledBodyDisconnected(t *testing.T) {
	addr := serve(t, generate.EngineOptions{Slots: 1, Window: 64}, server.Options{ReadTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{\"messages\":")
	if !closedWithin(t, c, time.Minute) {
		t.Fatal("a connection stalled mid-body is still open a minute after a 300ms read timeout")
	}
}

// TestIdleConnectionClosed: a keep-alive connection with no new request is
// closed after the idle timeout.
func TestIdleConnectionClosed(t *testing.T) {
	addr := serve(t, generate.EngineOptions{Slots: 1, Window: 64}, server.Options{IdleTimeout: 300 * time.Millisecond})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: localhost\r\n\r\n")
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("GET /health: %v %v", res, err)
	}
	if !closedWithin(t, c, time.Minute) {
		t.Fatal("an idle keep-alive connection is still open a minute after a 300ms idle timeout")
	}
}

// TestLongReplyOutlivesTimeouts: replies that take longer to generate
// than the read and write timeouts (about 1000 tokens, some 300ms here,
// against 100ms) still arrive whole, streamed or not: generation lifts the
// request's deadlines, and each event sets its own write deadline.
func TestLongReplyOutlivesTimeouts(t *testing.T) {
	addr := serve(t, generate.EngineOptions{Slots: 1, Window: 1024}, server.Options{ReadTimeout: 100 * time.Millisecond, WriteTimeout: 100 * time.Millisecond})
	body := `{"prompt":"hi","max_tokens":1000,"ignore_eos":true%s}`
	for _, stream := range []bool{false, true} {
		t.Run(fmt.Sprint("stream=", stream), func(t *testing.T) {
			extra := ""
			if stream {
				extra = `,"stream":true,"stream_options":{"include_usage":true}`
			}
			res, err := http.Post("http://"+addr+"/v1/completions", "application/json", strings.NewReader(fmt.Sprintf(body, extra)))
			if err != nil {
				t.Fatal(err)
			}
			b, err := io.ReadAll(res.Body)
			res.Body.Close()
			if err != nil || res.StatusCode != 200 {
				t.Fatalf("status %d, err %v: %.300s", res.StatusCode, err, b)
			}
			if !strings.Contains(string(b), `"completion_tokens":1000`) || (stream && !strings.HasSuffix(string(b), "data: [DONE]\n\n")) {
				t.Fatalf("the reply was cut short: ...%s", b[max(0, len(b)-300):])
			}
		})
	}
}

// TestConnectionCap: beyond MaxConnections a new connection waits until
// one closes.
func TestConnectionCap(t *testing.T) {
	addr := serve(t, generate.EngineOptions{Slots: 1, Window: 64}, server.Options{MaxConnections: 2})
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	got := make(chan error, 1)
	go func() {
		res, err := http.Get("http://" + addr + "/health")
		if err == nil {
			res.Body.Close()
		}
		got <- err
	}()
	select {
	case err := <-got:
		t.Fatalf("a third connection was served while two were open (err %v)", err)
	case <-time.After(300 * time.Millisecond):
	}
	held[0].Close()
	select {
	case err := <-got:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting connection was not served after one closed")
	}
}

// TestPermitsReturned: every way a request ends after admission (a reply,
// a prompt too long, a stream) gives its permit back, so one slot and one
// queue place serve any number of requests in turn.
func TestPermitsReturned(t *testing.T) {
	ts, _ := newTestServer(t, generate.EngineOptions{Slots: 1, Queue: 1, Window: 64}, server.Options{})
	bodies := []struct {
		body   string
		status int
	}{
		{`{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}`, 200},
		{`{"messages":[{"role":"user","content":"` + strings.Repeat("long words here ", 20) + `"}]}`, 400},
		{`{"messages":[{"role":"user","content":"hi"}],"max_tokens":2,"stream":true}`, 200},
	}
	for i := range 4 {
		for _, c := range bodies {
			if res, b := post(t, ts, "/v1/chat/completions", c.body); res.StatusCode != c.status {
				t.Fatalf("round %d: status %d, want %d: %s", i, res.StatusCode, c.status, b)
			}
		}
	}
}
