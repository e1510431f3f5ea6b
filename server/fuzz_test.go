package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/server"
)

// FuzzChatCompletions: whatever the body, the server answers with a
// well-formed response, never a 5xx or a crash.
func FuzzChatCompletions(f *testing.F) {
	for _, s := range []string{
		`{"messages":[{"role":"user","content":"hi"}],"max_tokens":3}`,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"hi"}]}],"stream":true,"max_tokens":2}`,
		`{"messages":[{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"f","arguments":"{}"}}]},{"role":"tool","content":"1"}]}`,
		`{"messages":[{"role":"user","content":"x"}],"stop":["a"],"seed":-1,"top_k":0,"temperature":0}`,
		`{"messages":[{"role":"user","content":"\u0000\ud800"}],"max_completion_tokens":1}`,
		`{"messages":[{"role":"user","content":"x"}],"tools":[{"type":"function","function":{"name":"f"}}]}`,
		`{"messages":{}}`, `[]`, `"`, `{"messages":[{"role":"user","content":"x"}],"max_tokens":-1}`,
	} {
		f.Add(s)
	}
	eng := generatetest.Engine(f, 13, generate.EngineOptions{Slots: 2, Window: 40})
	s, err := server.New(eng, server.Options{})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, body string) {
		for _, path := range []string{"/v1/chat/completions", "/v1/completions"} {
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("POST", path, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			h.ServeHTTP(rec, req)
			if rec.Code >= 500 {
				t.Fatalf("%s: status %d for %q: %s", path, rec.Code, body, rec.Body)
			}
			if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") {
				if !strings.HasSuffix(rec.Body.String(), "data: [DONE]\n\n") {
					t.Fatalf("%s: stream without [DONE] for %q", path, body)
				}
				continue
			}
			if !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s: invalid JSON for %q: %s", path, body, rec.Body)
			}
		}
	})
}

// FuzzRoutes: whatever the method, path, Content-Type and Authorization,
// API routes answer with an OpenAI JSON body (or a stream), never a 5xx,
// and never grant cross-origin access.
func FuzzRoutes(f *testing.F) {
	ok := `{"messages":[{"role":"user","content":"hi"}],"max_tokens":2}`
	for _, c := range [][5]string{
		{"POST", "/v1/chat/completions", "application/json", "Bearer k", ok},
		{"GET", "/v1/chat/completions", "", "bearer k", ""},
		{"POST", "/v1/completions", "text/plain", "Bearer k", `{"prompt":"x"}`},
		{"PUT", "/v1/models", "application/json; charset=utf-8", "BEARER  k", "{}"},
		{"POST", "/health", "application/json", "", "{}"},
		{"DELETE", "/v1/x", "multipart/form-data; boundary=a", "Basic k", ""},
		{"POST", "/v1/chat/completions", "application/json", "Bearer k", `{"model":"other",` + ok[1:]},
		{"GET", "/v1//models", "", "Bearer k", ""},
	} {
		f.Add(c[0], c[1], c[2], c[3], c[4])
	}
	eng := generatetest.Engine(f, 15, generate.EngineOptions{Slots: 2, Window: 40})
	s, err := server.New(eng, server.Options{APIKey: "k"})
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go eng.Run(ctx)
	h := s.Handler()
	f.Fuzz(func(t *testing.T, method, path, ctype, auth, body string) {
		if !strings.HasPrefix(path, "/v1/") && path != "/health" {
			return
		}
		req, err := http.NewRequest(method, "http://x"+path, strings.NewReader(body))
		if err != nil {
			return // not a request a client could send
		}
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Authorization", auth)
		req.Header.Set("Origin", "https://elsewhere.example")
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code >= 500 {
			t.Fatalf("%s %s: status %d: %s", method, path, rec.Code, rec.Body)
		}
		if rec.Header().Get("Access-Control-Allow-Origin") != "" {
			t.Fatalf("%s %s: CORS header granted", method, path)
		}
		// Streams, bodiless HEADs and ServeMux's redirects to a cleaned
		// path ("/v1//x") are not error bodies.
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/event-stream") || method == "HEAD" || rec.Code/100 == 3 {
			return
		}
		if !json.Valid(rec.Body.Bytes()) {
			t.Fatalf("%s %s: status %d, not JSON: %s", method, path, rec.Code, rec.Body)
		}
	})
}
