package server_test

import (
	"context"
	"encoding/json"
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
