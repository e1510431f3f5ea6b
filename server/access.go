package server

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// This file holds the middleware around every route: CORS for one
// allowed origin, and the request log.

// cors answers CORS for opts.CORSOrigin only: a preflight (OPTIONS with
// Access-Control-Request-Method) from that origin gets the Allow headers
// and 204, and its actual requests get Access-Control-Allow-Origin. Other
// origins get no CORS headers, so browsers keep their pages out, as they
// do when CORS is off (the default).
func (s *Server) cors(h http.Handler) http.Handler {
	origin := s.opts.CORSOrigin
	if origin == "" {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Origin") != origin {
			h.ServeHTTP(w, r)
			return
		}
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Add("Vary", "Origin")
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			hd.Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			hd.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			hd.Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// requestRecord collects what the request log line reports beyond the
// status: the generation handlers fill in the token counts.
type requestRecord struct {
	promptTokens, completionTokens int
}

type recordKey struct{}

// record returns the request's record, or a throwaway one when requests
// are not logged.
func record(r *http.Request) *requestRecord {
	if rec, ok := r.Context().Value(recordKey{}).(*requestRecord); ok {
		return rec
	}
	return &requestRecord{}
}

// statusWriter remembers the status a handler writes. Unwrap lets
// http.ResponseController reach the connection (deadlines, flushing).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests writes one line per request to opts.RequestLog when it is
// set: method, path, status, prompt and completion tokens, milliseconds.
func (s *Server) logRequests(h http.Handler) http.Handler {
	lg := s.opts.RequestLog
	if lg == nil {
		return h
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &requestRecord{}
		sw := &statusWriter{ResponseWriter: w}
		defer func() {
			status := sw.status
			if status == 0 {
				status = http.StatusOK
			}
			lg.LogAttrs(context.Background(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
				slog.Int("prompt_tokens", rec.promptTokens), slog.Int("completion_tokens", rec.completionTokens),
				slog.Int64("ms", time.Since(start).Milliseconds()))
		}()
		h.ServeHTTP(sw, r.WithContext(context.WithValue(r.Context(), recordKey{}, rec)))
	})
}
