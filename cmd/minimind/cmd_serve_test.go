package main

import (
	"bytes"
	"context"
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
	opts := ServeOptions{Host: "127.0.0.1", Port: 0, Slots: 2, Queue: 2, ModelName: "minimind", Grace: 5 * time.Second}
	opts.Inference.Model, opts.Inference.ContextLen = tinyModelDir(t), 128
	ctx, cancel := context.WithCancel(context.Background())
	var out lockedBuffer
	done := make(chan error, 1)
	go func() { done <- runServe(ctx, opts, &globalOptions{threads: 2}, &out) }()
	addr := regexp.MustCompile(`http://(127\.0\.0\.1:\d+)`)
	var url string
	for range 500 {
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
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve returned %v after shutdown", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("serve did not stop")
	}
	if !strings.Contains(out.String(), "server stopped") {
		t.Errorf("output: %s", out.String())
	}
}
