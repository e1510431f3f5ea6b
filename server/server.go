package server

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net"
	"net/http"
	"reflect"
	"strings"
	"time"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/internal/hostcheck"
	"github.com/minimind-go/minimind/tokenizer"
)

// Options configure a Server. Zero values take the defaults.
type Options struct {
	// ModelName is the id /v1/models lists and responses carry ("minimind").
	// Requests must name it, or leave "model" out or empty; any other name
	// is a 404 model_not_found, as OpenAI answers.
	ModelName string
	// APIKey, when set, is required as "Authorization: Bearer KEY" on /v1/.
	APIKey string
	// MaxBodyBytes caps a request body (default 4 MiB; larger is a 413
	// request_too_large, before anything is tokenized).
	MaxBodyBytes int64
	// ReadTimeout bounds reading a request, headers and body (default
	// 30s): a client that stalls mid-body is disconnected.
	ReadTimeout time.Duration
	// WriteTimeout bounds writing a response once it is ready (default
	// 30s): a whole non-streaming body, or each server-sent event, so a
	// stream goes on as long as the client keeps reading.
	WriteTimeout time.Duration
	// IdleTimeout closes keep-alive connections idle that long (default
	// 60s).
	IdleTimeout time.Duration
	// MaxConnections caps open connections (default 512); Serve accepts
	// more only as others close, so stalled clients cannot use up the
	// process's file descriptors.
	MaxConnections int
	// Template renders chat prompts (default: the tokenizer's template).
	Template *chat.Template
	// Log receives internal errors (default: discarded).
	Log *slog.Logger
	// CORSOrigin, when set, is the one origin (scheme://host[:port])
	// whose pages may call the API: its preflight requests are answered
	// and its requests get Access-Control-Allow-Origin. Empty: no CORS.
	CORSOrigin string
	// RequestLog, when set, gets a line per request: method, path, status,
	// prompt and completion tokens, milliseconds.
	RequestLog *slog.Logger
	// BindHost is the host Serve's listener was bound to as the user gave
	// it (serve's --host): a name there is accepted in requests' Host
	// headers, which the listener's address (an IP) does not show. Empty:
	// the listener's address.
	BindHost string
	// Submit, when set, stands in for the engine's Submit: tests use it to
	// script replies a random model never writes (tool calls, thinking).
	// Leave it nil to serve the model.
	Submit func(ctx context.Context, r generate.Request) (<-chan generate.Event, error)
}

// Server serves one engine over HTTP.
type Server struct {
	eng     *generate.Engine
	tok     *tokenizer.Tokenizer
	tmpl    *chat.Template
	bos     int32
	opts    Options
	created int64
	// permits admits a request before its prompt is rendered and
	// tokenized, and is held until its reply ends: as many as the engine
	// has slots plus queue places, so tokenizing counts against them and
	// N large requests cannot all tokenize at once.
	permits chan struct{}
}

//go:embed web
var webFiles embed.FS

// New returns a Server for eng. The engine's Run loop must be running
// (Serve starts it) for requests to be answered.
func New(eng *generate.Engine, opts Options) (*Server, error) {
	if opts.ModelName == "" {
		opts.ModelName = "minimind"
	}
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = 4 << 20
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = 30 * time.Second
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 30 * time.Second
	}
	if opts.IdleTimeout <= 0 {
		opts.IdleTimeout = 60 * time.Second
	}
	if opts.MaxConnections <= 0 {
		opts.MaxConnections = 512
	}
	if opts.Log == nil {
		opts.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{eng: eng, tok: eng.Tokenizer(), tmpl: opts.Template, bos: int32(eng.Config().BosTokenID), opts: opts, created: time.Now().Unix(),
		permits: make(chan struct{}, eng.Slots()+eng.Queue())}
	if s.opts.Submit == nil {
		s.opts.Submit = eng.Submit
	}
	if s.tmpl == nil {
		t, err := chat.ForTokenizer(s.tok)
		if err != nil {
			return nil, fmt.Errorf("server: %w", err)
		}
		s.tmpl = t
	}
	return s, nil
}

// Handler returns the routes. API routes answer every error, 404 and 405
// included, with OpenAI's JSON error body; the page's routes are plain
// files. Serve adds the Host check to it.
func (s *Server) Handler() http.Handler {
	return s.handler(nil)
}

// handler is Handler with, when hosts is not nil, requests whose Host
// header fails it answered 421 (after the request log, which records them).
func (s *Server) handler(hosts *hostcheck.Policy) http.Handler {
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	files := http.FileServerFS(web)
	mux := http.NewServeMux()
	// A method-less pattern beside each route catches its other methods:
	// without it the /v1/ catch-all would answer them 404.
	mux.Handle("POST /v1/chat/completions", s.auth(requireJSON(s.handleChat)))
	mux.Handle("/v1/chat/completions", s.auth(methodNotAllowed("POST")))
	mux.Handle("POST /v1/completions", s.auth(requireJSON(s.handleCompletions)))
	mux.Handle("/v1/completions", s.auth(methodNotAllowed("POST")))
	mux.Handle("GET /v1/models", s.auth(s.handleModels))
	mux.Handle("/v1/models", s.auth(methodNotAllowed("GET, HEAD")))
	mux.Handle("/v1/", s.auth(s.handleUnknown))
	mux.HandleFunc("GET /health", s.handleHealth)
	mux.HandleFunc("/health", methodNotAllowed("GET, HEAD"))
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /app.js", files)
	mux.Handle("GET /style.css", files)
	var h http.Handler = s.cors(s.recoverer(mux))
	if hosts != nil {
		h = hosts.Handler(h, func(w http.ResponseWriter, _ *http.Request, err error) {
			writeError(w, withCode(&apiError{Status: http.StatusMisdirectedRequest, Type: "invalid_request_error",
				Message: "server: " + err.Error()}, "misdirected_request"))
		})
	}
	return s.logRequests(h)
}

// Serve runs eng's loop and an HTTP server for s on ln until ctx ends. Then
// it shuts down gracefully: no new connections, in-flight requests finish
// for up to grace, and what is left is cancelled. A clean shutdown
// returns nil. Requests whose Host header names neither localhost, a
// loopback address, nor the host the server is bound to
// (Options.BindHost, or ln's address) get 421: otherwise a web page whose
// name its owner points at 127.0.0.1 (DNS rebinding) could use the API. A
// wildcard address (0.0.0.0) also accepts any IP address and the
// machine's name; internal/hostcheck has the rule.
func Serve(ctx context.Context, ln net.Listener, s *Server, grace time.Duration) error {
	hosts := hostcheck.FromAddr(ln.Addr())
	if s.opts.BindHost != "" {
		hosts = hostcheck.New(s.opts.BindHost)
	}
	engCtx, stopEngine := context.WithCancel(context.Background())
	defer func() {
		stopEngine()
		<-s.eng.Done()
	}()
	go s.eng.Run(engCtx)
	// WriteTimeout covers what no handler extends (pages, errors, /health);
	// the generation handlers move the deadline themselves (see relay).
	srv := &http.Server{
		Handler:           s.handler(&hosts),
		ReadHeaderTimeout: min(10*time.Second, s.opts.ReadTimeout),
		ReadTimeout:       s.opts.ReadTimeout,
		WriteTimeout:      s.opts.WriteTimeout,
		IdleTimeout:       s.opts.IdleTimeout,
	}
	ln = newLimitListener(ln, s.opts.MaxConnections)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutCtx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		// The grace period is over: cancelling the generations ends their
		// handlers (they watch the engine), then the server closes.
		stopEngine()
		final, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(final); err != nil {
			srv.Close()
		}
	}
	return nil
}

// auth requires the API key, when one is set. The scheme is matched
// without regard to case (RFC 9110 §11.1), and the keys are compared by
// their SHA-256 digests in constant time, so neither the time taken nor an
// early exit on a length mismatch tells a client how close it was.
func (s *Server) auth(h http.HandlerFunc) http.Handler {
	if s.opts.APIKey == "" {
		return h
	}
	want := sha256.Sum256([]byte(s.opts.APIKey))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		scheme, key, _ := strings.Cut(strings.TrimSpace(r.Header.Get("Authorization")), " ")
		got := sha256.Sum256([]byte(strings.TrimSpace(key)))
		if !strings.EqualFold(scheme, "Bearer") || subtle.ConstantTimeCompare(got[:], want[:]) != 1 {
			writeError(w, withCode(&apiError{Status: http.StatusUnauthorized, Type: "invalid_request_error",
				Message: "missing or incorrect API key: send Authorization: Bearer <key>"}, "invalid_api_key"))
			return
		}
		h(w, r)
	})
}

// requireJSON refuses a body that is not declared application/json with a
// 415. Besides catching mistakes, this keeps other web pages from starting
// generations: a cross-site form or "simple" fetch cannot send this type
// without a CORS preflight, which the server grants only to
// Options.CORSOrigin.
func requireJSON(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
			writeError(w, withCode(&apiError{Status: http.StatusUnsupportedMediaType, Type: "invalid_request_error",
				Message: fmt.Sprintf("Content-Type must be application/json, got %q", r.Header.Get("Content-Type"))}, "unsupported_media_type"))
			return
		}
		h(w, r)
	}
}

// methodNotAllowed answers a route's other methods with a 405 naming the
// allowed ones.
func methodNotAllowed(allow string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, withCode(&apiError{Status: http.StatusMethodNotAllowed, Type: "invalid_request_error",
			Message: fmt.Sprintf("%s %s is not supported; use %s", r.Method, r.URL.Path, allow)}, "method_not_allowed"))
	}
}

// recoverer turns a handler panic into a 500 (when nothing was written
// yet) instead of a dropped connection.
func (s *Server) recoverer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.opts.Log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeError(w, &apiError{Status: http.StatusInternalServerError, Type: "server_error", Message: "internal error"})
			}
		}()
		h.ServeHTTP(w, r)
	})
}

// decodeBody reads one JSON object into v, mapping every failure to a 4xx.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, limit int64) *apiError {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, limit))
	err := dec.Decode(v)
	if err == nil {
		if _, terr := dec.Token(); terr != io.EOF {
			return badRequest("", "the body must hold exactly one JSON object")
		}
		return nil
	}
	var (
		tooBig  *http.MaxBytesError
		typeErr *json.UnmarshalTypeError
		syntax  *json.SyntaxError
		netErr  net.Error
		msgErr  *messageError
	)
	switch {
	case errors.As(err, &tooBig):
		return withCode(&apiError{Status: http.StatusRequestEntityTooLarge, Type: "invalid_request_error",
			Message: fmt.Sprintf("the body exceeds %d bytes", tooBig.Limit)}, "request_too_large")
	case errors.As(err, &netErr) && netErr.Timeout():
		return &apiError{Status: http.StatusRequestTimeout, Type: "invalid_request_error",
			Message: "reading the request body timed out"}
	case errors.As(err, &msgErr):
		return badRequest(msgErr.param(), "%v", msgErr)
	case errors.As(err, &typeErr) && typeErr.Field != "":
		param := jsonPath(v, typeErr.Field)
		return badRequest(param, "%s: got a JSON %s, want %s", param, typeErr.Value, jsonKind(typeErr.Type.Kind().String()))
	case errors.As(err, &typeErr):
		return badRequest("", "the body must be a JSON object, got a JSON %s", typeErr.Value)
	case errors.As(err, &syntax), errors.Is(err, io.ErrUnexpectedEOF):
		return badRequest("", "malformed JSON: %v", err)
	case errors.Is(err, io.EOF):
		return badRequest("", "the body is empty; it must be a JSON object")
	}
	return badRequest("", "invalid request body: %v", err)
}

// jsonPath turns a decode error's field path into the key path the client
// sent. Since Go 1.24 the path names the structs a request type embeds
// ("samplingFields.temperature"), which encoding/json flattens on the wire
// ("temperature"); v is the value decoded into.
func jsonPath(v any, field string) string {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return field
	}
	for f := range t.Fields() {
		if f.Anonymous && f.Tag.Get("json") == "" {
			field = strings.TrimPrefix(field, f.Name+".")
		}
	}
	return field
}

// jsonKind names a Go kind the way a JSON user thinks of it.
func jsonKind(k string) string {
	switch {
	case strings.HasPrefix(k, "int"), strings.HasPrefix(k, "uint"), strings.HasPrefix(k, "float"):
		return "a number"
	case k == "slice", k == "array":
		return "a list"
	case k == "struct", k == "map":
		return "an object"
	case k == "ptr":
		return "a value of another type"
	}
	return "a " + k
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		status, b = http.StatusInternalServerError, []byte(`{"error":{"message":"encoding the response failed","type":"server_error","param":null,"code":null}}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

func writeError(w http.ResponseWriter, e *apiError) {
	writeJSON(w, e.Status, errorBody{Error: e})
}

// newID returns an OpenAI-style response id.
func newID(prefix string) string {
	return fmt.Sprintf("%s%016x%08x", prefix, rand.Uint64(), rand.Uint32())
}
