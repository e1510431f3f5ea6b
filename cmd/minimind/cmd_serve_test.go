package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// lockedBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServeCommand starts `serve` on a free port, asks it for a reply,
// then stops it as SIGINT would (cancelling its context).
func TestServeCommand(t *testing.T) {
	opts := ServeOptions{Host: "127.0.0.1", Port: 0, Slots: 2, Queue: 2, ModelName: "minimind", Grace: 5 * time.Second, MaxBodyBytes: 1024}
	opts.Inference.Model, opts.Inference.ContextLen = tinyModelDir(t), 128
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts, &globalOptions{threads: 2}, &out) }()
	addr := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	var url string
	for range 6000 { // up to 60 s on a busy host (the model loads first)
		if m := addr.FindStringSubmatch(out.String()); m != nil {
			url = "http://" + m[1]
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no address printed: %s", out.String())
	}
	res, err := http.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"model":"minimind","messages":[{"role":"user","content":"hi"}],"max_tokens":4}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(b), `"chat.completion"`) {
		t.Fatalf("status %d: %s", res.StatusCode, b)
	}
	// --max_body_bytes reaches the server.
	res, err = http.Post(url+"/v1/chat/completions", "application/json",
		strings.NewReader(`{"messages":[{"role":"user","content":"`+strings.Repeat("x", 2048)+`"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 413 || !strings.Contains(string(b), "request_too_large") {
		t.Fatalf("2 KiB body with --max_body_bytes 1024: status %d: %s", res.StatusCode, b)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "server stopped") {
		t.Errorf("output: %s", out.String())
	}
}

// TestServeBadLimits: negative limits are usage errors, caught before the
// model is loaded.
func TestServeBadLimits(t *testing.T) {
	base := ServeOptions{Host: "127.0.0.1", Slots: 1, Queue: 1}
	cases := []struct {
		name string
		set  func(*ServeOptions)
	}{
		{"max_body_bytes", func(o *ServeOptions) { o.MaxBodyBytes = -1 }},
		{"read_timeout", func(o *ServeOptions) { o.ReadTimeout = -time.Second }},
		{"write_timeout", func(o *ServeOptions) { o.WriteTimeout = -time.Second }},
		{"idle_timeout", func(o *ServeOptions) { o.IdleTimeout = -time.Second }},
		{"max_connections", func(o *ServeOptions) { o.MaxConnections = -1 }},
		{"cors_origin path", func(o *ServeOptions) { o.CORSOrigin = "https://a.example/chat" }},
		{"cors_origin scheme", func(o *ServeOptions) { o.CORSOrigin = "a.example" }},
		{"cors_origin wildcard", func(o *ServeOptions) { o.CORSOrigin = "*" }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			opts := base
			c.set(&opts)
			if err := runServe(context.Background(), opts, &globalOptions{}, io.Discard); !errors.Is(err, errUsage) {
				t.Fatalf("got %v, want a usage error", err)
			}
		})
	}
}
