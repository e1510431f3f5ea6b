package dashboard

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/minimind-go/minimind/internal/hostcheck"
)

//go:embed web
var webFiles embed.FS

// DefaultAddr is where the page listens unless told otherwise: loopback,
// TensorBoard's port.
const DefaultAddr = "127.0.0.1:6006"

// Errors from Listen, matched with errors.Is.
var (
	ErrBadAddr   = errors.New("dashboard: bad address")
	ErrAddrInUse = errors.New("dashboard: address in use")
)

// Options tune the page's data; the zero value is ready to use.
type Options struct {
	MaxPoints int // points per curve sent to the page (long runs are thinned); 0 means 2000
	Samples   int // latest samples shown per run; 0 means 10
}

// Server serves the page and the data of one or several runs.
type Server struct {
	runs []*run
	opts Options
}

// New returns a Server over the given out_dirs, each labelled by its
// directory name (by the path as given when two names clash). A directory
// need not exist yet, nor hold metrics.jsonl: the page waits for it.
func New(dirs []string, opts Options) (*Server, error) {
	if len(dirs) == 0 {
		return nil, errors.New("dashboard: no run directory given")
	}
	if opts.MaxPoints <= 0 {
		opts.MaxPoints = 2000
	}
	if opts.Samples <= 0 {
		opts.Samples = 10
	}
	s := &Server{opts: opts}
	seen := map[string]bool{}
	names := labels(dirs)
	for i, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			return nil, fmt.Errorf("dashboard: %w", err)
		}
		if seen[abs] {
			return nil, fmt.Errorf("dashboard: %s is given twice", d)
		}
		seen[abs] = true
		s.runs = append(s.runs, newRun(names[i], abs, opts.Samples))
	}
	return s, nil
}

// labels names each run by its directory's base name, or by the cleaned
// path when base names repeat (runs/a/out and runs/b/out).
func labels(dirs []string) []string {
	count := map[string]int{}
	base := make([]string, len(dirs))
	for i, d := range dirs {
		abs, err := filepath.Abs(d)
		if err != nil {
			abs = d
		}
		base[i] = filepath.Base(abs)
		count[base[i]]++
	}
	for i, d := range dirs {
		if count[base[i]] > 1 {
			base[i] = filepath.Clean(d)
		}
	}
	return base
}

// Handler returns the routes: the page at /, its script and style, and
// GET /api/runs, every run's curves and samples as JSON.
func (s *Server) Handler() http.Handler {
	web, err := fs.Sub(webFiles, "web")
	if err != nil {
		panic(err) // the embedded tree always has web/
	}
	files := http.FileServerFS(web)
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", files)
	mux.Handle("GET /app.js", files)
	mux.Handle("GET /style.css", files)
	mux.HandleFunc("GET /api/runs", s.handleRuns)
	return mux
}

// runsJSON is the body of GET /api/runs.
type runsJSON struct {
	Version string    `json:"version"` // changes whenever any run's data does
	Runs    []runJSON `json:"runs"`
}

// handleRuns reads what the runs wrote since the last request and answers
// with all of it; the ETag lets a page that polls every second get a 304
// while nothing changed.
func (s *Server) handleRuns(w http.ResponseWriter, r *http.Request) {
	body := runsJSON{Runs: make([]runJSON, len(s.runs))}
	versions := make([]string, len(s.runs))
	for i, run := range s.runs {
		run.refresh()
		body.Runs[i], versions[i] = run.snapshot(s.opts.MaxPoints)
	}
	sum := sha256.Sum256([]byte(strings.Join(versions, "|")))
	body.Version = hex.EncodeToString(sum[:8])
	etag := `"` + body.Version + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if r.Header.Get("If-None-Match") == etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// addrError is Listen's error for a port in use: a message that says what
// to do, still matching ErrAddrInUse and the system's error.
type addrError struct {
	msg string
	err error
}

func (e *addrError) Error() string   { return e.msg }
func (e *addrError) Unwrap() []error { return []error{ErrAddrInUse, e.err} }

// boundListener remembers the host Listen was given, so that Serve accepts
// requests naming it (a name the listener's own address does not show).
type boundListener struct {
	net.Listener
	host string
}

// Listen binds addr (HOST:PORT; a bare port means 127.0.0.1:PORT) before
// anything slow starts, so a taken port fails at once. flag names the
// option that chose addr, for the error's hint ("--dashboard"). note is
// non-empty when addr is not a loopback address: the page then shows the
// run to anyone who can reach the machine, and the caller should say so.
// Serve on the returned listener answers only requests whose Host is
// HOST, localhost or a loopback address (see Serve).
func Listen(addr, flag string) (ln net.Listener, note string, err error) {
	if _, err := strconv.Atoi(addr); err == nil {
		addr = "127.0.0.1:" + addr
	}
	host, port, err := net.SplitHostPort(addr)
	if p, perr := strconv.Atoi(port); err != nil || perr != nil || p < 0 || p > 65535 {
		return nil, "", fmt.Errorf("%w %q (want HOST:PORT, e.g. %s)", ErrBadAddr, addr, DefaultAddr)
	}
	tl, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		return nil, "", &addrError{fmt.Sprintf("dashboard: %s is in use (pick another with %s HOST:PORT)", addr, flag), err}
	}
	if err != nil {
		return nil, "", fmt.Errorf("dashboard: listen on %s: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		note = fmt.Sprintf("dashboard: %s is not a loopback address: anyone who can reach this machine can read the run's metrics and samples", addr)
	}
	return &boundListener{Listener: tl, host: host}, note, nil
}

// URL is the page's address on ln, for printing: a wildcard host becomes
// 127.0.0.1.
func URL(ln net.Listener) string {
	host, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		return "http://" + ln.Addr().String() + "/"
	}
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/"
}

// Serve answers h on ln until ctx ends, then shuts down (open requests get
// a few seconds) and returns nil. Requests whose Host header names neither
// localhost, a loopback address, nor the host ln was bound to (the HOST
// given to Listen; ln's address for a listener from elsewhere) get 421:
// otherwise a web page whose name its owner points at 127.0.0.1 (DNS
// rebinding) could read the run. A wildcard address (0.0.0.0) also
// accepts any IP address and the machine's name; internal/hostcheck has
// the rule.
func Serve(ctx context.Context, ln net.Listener, h http.Handler) error {
	policy := hostcheck.FromAddr(ln.Addr())
	if b, ok := ln.(*boundListener); ok {
		policy = hostcheck.New(b.host)
	}
	h = policy.Handler(h, func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "dashboard: "+err.Error(), http.StatusMisdirectedRequest)
	})
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("dashboard: %w", err)
	case <-ctx.Done():
	}
	shut, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := srv.Shutdown(shut); err != nil {
		srv.Close()
	}
	return nil
}

// Running is a page started by Start.
type Running struct {
	URL  string // where the page is, e.g. http://127.0.0.1:6006/
	Note string // non-empty for a non-loopback address; print it

	cancel context.CancelFunc
	done   chan error
	once   sync.Once
	err    error
}

// Start binds addr and serves the runs in outDirs in the background until
// ctx ends or Stop is called: the one call a training command needs for
// --dashboard HOST:PORT. It returns at once; a port in use is an error
// matching ErrAddrInUse whose message names --dashboard.
func Start(ctx context.Context, addr string, outDirs ...string) (*Running, error) {
	s, err := New(outDirs, Options{})
	if err != nil {
		return nil, err
	}
	ln, note, err := Listen(addr, "--dashboard")
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	r := &Running{URL: URL(ln), Note: note, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- Serve(ctx, ln, s.Handler()) }()
	return r, nil
}

// Stop shuts the page down and waits until it has; calling it again
// returns the same result.
func (r *Running) Stop() error {
	r.once.Do(func() {
		r.cancel()
		r.err = <-r.done
	})
	return r.err
}
