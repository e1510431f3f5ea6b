package reward

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// newHTTP builds an HTTP Func with a short backoff so retries are quick.
func newHTTP(t *testing.T, url string, timeout time.Duration) *httpFunc {
	t.Helper()
	f, err := HTTP(url, timeout)
	if err != nil {
		t.Fatal(err)
	}
	h := f.(*httpFunc)
	h.backoff = time.Millisecond
	return h
}

var twoSamples = []Sample{
	{Prompt: "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n", Response: "<think>easy</think> 2", Answer: "2"},
	{Prompt: "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", Response: "hello there"},
}

func TestHTTPWireFormat(t *testing.T) {
	var got struct {
		Samples []map[string]string `json:"samples"`
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type"))
		}
		if err := json.NewDecoder(r.Body).Decode(&got); err != nil {
			t.Error(err)
		}
		fmt.Fprint(w, `{"rewards": [0.75, -7]}`)
	}))
	defer srv.Close()
	h := newHTTP(t, srv.URL, time.Second)
	scores, err := h.Score(context.Background(), twoSamples)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 2 || scores[0] != 0.75 || scores[1] != -7 {
		t.Errorf("scores %v, want [0.75 -7]", scores)
	}
	want := []map[string]string{
		{"prompt": twoSamples[0].Prompt, "response": "<think>easy</think> 2", "final": "2", "answer": "2"},
		{"prompt": twoSamples[1].Prompt, "response": "hello there", "final": "hello there", "answer": ""},
	}
	if fmt.Sprint(got.Samples) != fmt.Sprint(want) {
		t.Errorf("request samples\n%v\nwant\n%v", got.Samples, want)
	}

	// Through Parse: rules + the server's score clipped to ±3.
	f, err := Parse("rules", srv.URL, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	total, err := f.Score(context.Background(), twoSamples)
	if err != nil {
		t.Fatal(err)
	}
	// Sample 0: len 21 +0.5, thinking "<think>easy" 11 -0.5, once +0.25, answer "2" no gram: 0.25; +0.75.
	// Sample 1: len 11 -0.5, no gram; -7 clipped to -3.
	if math.Abs(total[0]-1.0) > 1e-12 || math.Abs(total[1]-(-3.5)) > 1e-12 {
		t.Errorf("totals %v, want [1 -3.5]", total)
	}
}

func TestHTTPRetries5xxThenSucceeds(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			http.Error(w, "warming up", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"rewards":[1,2]}`)
	}))
	defer srv.Close()
	scores, err := newHTTP(t, srv.URL, time.Second).Score(context.Background(), twoSamples)
	if err != nil || scores[0] != 1 || scores[1] != 2 {
		t.Fatalf("scores %v, err %v; want [1 2] after two 503s", scores, err)
	}
	if calls.Load() != 3 {
		t.Errorf("%d calls, want 3", calls.Load())
	}
}

// TestHTTPFailures: every failure is an error naming the server, after a
// bounded number of tries; none is a zero reward or a hang.
func TestHTTPFailures(t *testing.T) {
	cases := []struct {
		name      string
		handler   func(w http.ResponseWriter, r *http.Request)
		wantCalls int32
		wantErr   string
	}{
		{"5xx", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusInternalServerError) }, 3, "500"},
		{"4xx", func(w http.ResponseWriter, r *http.Request) { http.Error(w, "bad request", http.StatusBadRequest) }, 1, "400"},
		{"slow", slowHandler, 3, "no reply within"},
		{"not json", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "<html>oops</html>") }, 1, "not {\"rewards\""},
		{"no rewards", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"scores":[1,2]}`) }, 1, "no \"rewards\""},
		{"wrong count", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"rewards":[1]}`) }, 1, "1 rewards for 2 samples"},
		{"null", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"rewards":[1,null]}`) }, 1, "reward 1 is \"null\""},
		{"string", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"rewards":["1",2]}`) }, 1, "reward 0 is"},
		{"NaN", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"rewards":[NaN,2]}`) }, 1, "not {\"rewards\""},
		{"overflow", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{"rewards":[1,1e999]}`) }, 1, "not a finite number"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var calls atomic.Int32
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				calls.Add(1)
				c.handler(w, r)
			}))
			defer srv.Close()
			scores, err := newHTTP(t, srv.URL, 50*time.Millisecond).Score(context.Background(), twoSamples)
			if err == nil {
				t.Fatalf("scores %v, want an error", scores)
			}
			if !strings.Contains(err.Error(), c.wantErr) || !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %q, want it to name %s and say %q", err, srv.URL, c.wantErr)
			}
			if calls.Load() != c.wantCalls {
				t.Errorf("%d calls, want %d", calls.Load(), c.wantCalls)
			}
		})
	}
}

// slowHandler replies after the client's timeout. It reads the body first so
// the server notices the client hanging up, and gives up after a second so
// srv.Close cannot wait on it for long.
func slowHandler(w http.ResponseWriter, r *http.Request) {
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-time.After(time.Second):
	}
}

func TestHTTPDown(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close() // nothing listens there now
	_, err := newHTTP(t, url, time.Second).Score(context.Background(), twoSamples)
	if err == nil || !strings.Contains(err.Error(), url) || !strings.Contains(err.Error(), "after 3 tries") {
		t.Fatalf("error %v, want one naming %s after 3 tries", err, url)
	}
}

func TestHTTPCancelStopsRetrying(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { http.Error(w, "boom", http.StatusBadGateway) }))
	defer srv.Close()
	h := newHTTP(t, srv.URL, time.Second)
	h.backoff = time.Hour // a retry would wait this long: cancellation must cut it
	ctx, cancel := context.WithCancel(context.Background())
	go func() { time.Sleep(20 * time.Millisecond); cancel() }()
	_, err := h.Score(ctx, twoSamples)
	if err == nil || !strings.Contains(err.Error(), "context canceled") {
		t.Fatalf("error %v, want context canceled", err)
	}
}

func TestHTTPBadURL(t *testing.T) {
	for _, u := range []string{"", "localhost:8000", "ftp://x/y", "http://"} {
		if _, err := HTTP(u, time.Second); err == nil || !strings.Contains(err.Error(), "--reward_url") {
			t.Errorf("HTTP(%q): error %v, want one naming --reward_url", u, err)
		}
	}
	if _, err := HTTP("http://x", -time.Second); err == nil {
		t.Error("negative timeout accepted")
	}
}
