package server

import (
	"encoding/json"
	"fmt"
	"net/http"
)

// sse writes server-sent events: each "data: <json>\n\n", flushed at once.
// Before each write it calls extend, which moves the write deadline, so a
// stream lasts as long as the client keeps reading and a client that stops
// is cut off.
type sse struct {
	w      http.ResponseWriter
	f      http.Flusher
	extend func()
}

func startSSE(w http.ResponseWriter, extend func()) *sse {
	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("Connection", "keep-alive")
	h.Set("X-Accel-Buffering", "no") // no proxy buffering of the stream
	w.WriteHeader(http.StatusOK)
	f, _ := w.(http.Flusher)
	return &sse{w: w, f: f, extend: extend}
}

// send writes one event; an error means the client is gone.
func (s *sse) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return s.raw(b)
}

// done writes OpenAI's end-of-stream marker.
func (s *sse) done() error { return s.raw([]byte("[DONE]")) }

func (s *sse) raw(b []byte) error {
	s.extend()
	if _, err := fmt.Fprintf(s.w, "data: %s\n\n", b); err != nil {
		return err
	}
	if s.f != nil {
		s.f.Flush()
	}
	return nil
}
