package reward

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// DefaultTimeout bounds one request to a reward server when none is given.
const DefaultTimeout = 60 * time.Second

// httpRetries is how many times a transport error, timeout or 5xx is retried.
const httpRetries = 2

// maxReply bounds a reply body; a larger one is garbage, not a wait.
const maxReply = 64 << 20

// HTTP returns a Func that POSTs each batch to a reward server (wire format in
// the package doc). timeout bounds each request (0: DefaultTimeout).
func HTTP(rawURL string, timeout time.Duration) (Func, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("--reward_url %q: want an http:// or https:// URL", rawURL)
	}
	if timeout < 0 {
		return nil, fmt.Errorf("reward timeout %v: must not be negative", timeout)
	}
	if timeout == 0 {
		timeout = DefaultTimeout
	}
	return &httpFunc{url: rawURL, timeout: timeout, backoff: 250 * time.Millisecond, client: &http.Client{}}, nil
}

type httpFunc struct {
	url     string
	timeout time.Duration
	backoff time.Duration // before the first retry; doubles
	client  *http.Client
}

type wireSample struct {
	Prompt   string `json:"prompt"`
	Response string `json:"response"`
	Final    string `json:"final"`
	Answer   string `json:"answer"`
}

// retryable marks failures worth another try: the server may come back.
type retryable struct{ error }

func (h *httpFunc) Score(ctx context.Context, batch []Sample) ([]float64, error) {
	if len(batch) == 0 {
		return nil, nil
	}
	ws := make([]wireSample, len(batch))
	for i, s := range batch {
		ws[i] = wireSample{s.Prompt, s.Response, FinalAnswer(s.Response), s.Answer}
	}
	body, err := json.Marshal(struct {
		Samples []wireSample `json:"samples"`
	}{ws})
	if err != nil {
		return nil, fmt.Errorf("reward server %s: encode request: %w", h.url, err)
	}
	wait := h.backoff
	for attempt := 0; ; attempt++ {
		out, err := h.post(ctx, body, len(batch))
		var r retryable
		if err == nil || !errors.As(err, &r) || attempt == httpRetries || ctx.Err() != nil {
			if err != nil {
				if attempt > 0 {
					err = fmt.Errorf("%w (after %d tries)", err, attempt+1)
				}
				return nil, fmt.Errorf("reward server %s: %w", h.url, err)
			}
			return out, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("reward server %s: %w (while waiting to retry after: %v)", h.url, ctx.Err(), err)
		case <-time.After(wait):
		}
		wait *= 2
	}
}

// post makes one request and checks the reply.
func (h *httpFunc) post(ctx context.Context, body []byte, n int) ([]float64, error) {
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.url, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, retryable{fmt.Errorf("no reply within %v", h.timeout)}
		}
		return nil, retryable{err}
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxReply+1))
	if err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, retryable{fmt.Errorf("reply not complete within %v", h.timeout)}
		}
		return nil, retryable{fmt.Errorf("read reply: %w", err)}
	}
	if resp.StatusCode >= 500 {
		return nil, retryable{fmt.Errorf("status %s: %s", resp.Status, snippet(raw))}
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("status %s: %s", resp.Status, snippet(raw))
	}
	if len(raw) > maxReply {
		return nil, fmt.Errorf("reply larger than %d bytes", maxReply)
	}
	var reply struct {
		Rewards *[]json.RawMessage `json:"rewards"`
	}
	if err := json.Unmarshal(raw, &reply); err != nil {
		return nil, fmt.Errorf("reply is not {\"rewards\":[...]}: %v: %s", err, snippet(raw))
	}
	if reply.Rewards == nil {
		return nil, fmt.Errorf("reply has no \"rewards\": %s", snippet(raw))
	}
	if len(*reply.Rewards) != n {
		return nil, fmt.Errorf("reply has %d rewards for %d samples", len(*reply.Rewards), n)
	}
	out := make([]float64, n)
	for i, m := range *reply.Rewards {
		// Only a JSON number will do: null would decode as a silent 0.
		var num json.Number
		if err := json.Unmarshal(m, &num); err != nil || len(m) == 0 || m[0] == '"' {
			return nil, fmt.Errorf("reward %d is %s, not a number", i, snippet(m))
		}
		v, err := strconv.ParseFloat(string(num), 64)
		if err != nil || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("reward %d is %s, not a finite number", i, snippet(m))
		}
		out[i] = v
	}
	return out, nil
}

// snippet quotes the start of a body for an error message.
func snippet(b []byte) string {
	const n = 200
	if len(b) > n {
		return strconv.Quote(string(b[:n])) + "..."
	}
	return strconv.Quote(string(b))
}
