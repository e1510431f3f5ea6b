package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"strconv"
	"time"

	"github.com/minimind-go/minimind/server"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// ServeOptions are the flags of `minimind serve`.
type ServeOptions struct {
	Inference InferenceFlags
	Host      string
	Port      int
	APIKey    string
	Slots     int
	Queue     int
	ModelName string
	Grace     time.Duration
	// Request limits; zero takes server.Options' defaults.
	MaxBodyBytes   int64
	ReadTimeout    time.Duration
	WriteTimeout   time.Duration
	IdleTimeout    time.Duration
	MaxConnections int
	CORSOrigin     string
	LogRequests    bool
}

// AddFlags registers serve's flags.
func (o *ServeOptions) AddFlags(f *pflag.FlagSet) {
	o.Inference.AddFlags(f)
	f.StringVar(&o.Host, "host", "127.0.0.1", "address to listen on (0.0.0.0 exposes the server to the network); requests must name it, localhost or a loopback IP")
	f.IntVar(&o.Port, "port", 8998, "port to listen on (MiniMind's serve_openai_api.py uses 8998)")
	f.StringVar(&o.APIKey, "api_key", "", "require Authorization: Bearer KEY on /v1/ requests")
	f.IntVar(&o.Slots, "slots", 8, "requests decoded together (continuous batching)")
	f.IntVar(&o.Queue, "queue", 32, "requests that may wait for a slot before the server answers 429")
	f.StringVar(&o.ModelName, "model_name", "minimind", "model id reported by /v1/models and in responses")
	f.DurationVar(&o.Grace, "shutdown_grace", 30*time.Second, "on SIGINT/SIGTERM, how long in-flight requests may finish before they are cancelled")
	f.Int64Var(&o.MaxBodyBytes, "max_body_bytes", 4<<20, "largest request body; larger is a 413 (request_too_large)")
	f.DurationVar(&o.ReadTimeout, "read_timeout", 30*time.Second, "time to read a request, headers and body; a client stalled longer is disconnected")
	f.DurationVar(&o.WriteTimeout, "write_timeout", 30*time.Second, "time to write a finished response, or each streamed event (a stream lasts as long as the client reads)")
	f.DurationVar(&o.IdleTimeout, "idle_timeout", 60*time.Second, "keep-alive connections idle this long are closed")
	f.IntVar(&o.MaxConnections, "max_connections", 512, "open connections at most; more wait to be accepted (keep it below ulimit -n)")
	f.StringVar(&o.CORSOrigin, "cors_origin", "", "the one web origin (`ORIGIN`, e.g. https://app.example.org) whose pages may call the API (CORS); default none")
	f.BoolVar(&o.LogRequests, "log_requests", false, "log a line per request to stderr: method, path, status, tokens, ms")
}

func newServeCommand(g *globalOptions) *cobra.Command {
	var opts ServeOptions
	cmd := &cobra.Command{
		Use:   "serve --model PATH [--host 127.0.0.1] [--port 8998] [--api_key KEY]",
		Short: "Serve a model over an OpenAI-compatible HTTP API, with a web chat page",
		Long: `Serve POST /v1/chat/completions and /v1/completions (streaming or not),
GET /v1/models and GET /health, plus a chat page at /. Existing OpenAI
clients work unchanged with base URL http://HOST:PORT/v1.

Up to --slots requests decode together, their steps batched in one forward
pass; up to --queue more wait, and beyond that requests get 429. A request's
max_tokens is capped by --context_len; a prompt that does not fit is a 400
(context_length_exceeded) rather than the original's silent truncation.
Clients that disconnect cancel their generation. SIGINT/SIGTERM stop new
connections, let in-flight requests finish for --shutdown_grace, then
cancel the rest.

Requests must be Content-Type: application/json (415 otherwise) and name
--model_name as "model", or leave it out (404 model_not_found otherwise).
Bodies over --max_body_bytes get 413, and a prompt too long for the context
by its byte length alone is refused before it is tokenized. Clients that
stall longer than --read_timeout, or stop reading for --write_timeout, are
disconnected; at most --max_connections are open at once. No CORS headers
are sent unless --cors_origin names the one web origin allowed, so other
web sites' pages cannot call the API. Requests whose Host is not
localhost, a loopback IP or --host (with 0.0.0.0: any IP, or this
machine's name) get 421, so that a web site cannot reach the server by
pointing its own name at 127.0.0.1 (DNS rebinding); to use another name,
give it as --host.

Chat requests may offer tools (OpenAI's "tools", "tool_choice"): the
model's <tool_call>{json}</tool_call> blocks come back as "tool_calls"
(finish_reason "tool_calls"), and its <think> part as "reasoning_content";
"open_thinking": true (or chat_template_kwargs) opens a think block.

Examples:
  minimind serve --model ./MiniMind2
  minimind serve --model ./out/full_sft_512.pth --port 8000 --api_key secret
  minimind serve --model ./MiniMind2 --dtype q8_0
  curl http://127.0.0.1:8998/v1/chat/completions -H 'Content-Type: application/json' \
    -d '{"model":"minimind","messages":[{"role":"user","content":"你好"}]}'

Exit status: 0 after a signal-initiated shutdown, 1 error, 2 bad flags.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runServe(cmd.Context(), opts, g, cmd.OutOrStdout())
		},
	}
	opts.AddFlags(cmd.Flags())
	return cmd
}

// maxQueue bounds --queue.
const maxQueue = 1 << 20

func runServe(ctx context.Context, opts ServeOptions, g *globalOptions, out io.Writer) error {
	// --slots is bounded by the memory check when the engine is built;
	// --queue by maxQueue, as its channel is allocated whole.
	if err := firstError(intInRange("port", opts.Port, 0, 65535), positiveInt("slots", opts.Slots),
		intInRange("queue", opts.Queue, 1, maxQueue), intAtLeast("max_connections", opts.MaxConnections, 0)); err != nil {
		return err
	}
	if o := opts.CORSOrigin; o != "" {
		if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			return fmt.Errorf("%w: --cors_origin %q must be an origin: scheme://host[:port], no path", errUsage, o)
		}
	}
	for _, d := range []struct {
		name string
		neg  bool
		v    any
	}{{"max_body_bytes", opts.MaxBodyBytes < 0, opts.MaxBodyBytes}, {"read_timeout", opts.ReadTimeout < 0, opts.ReadTimeout},
		{"write_timeout", opts.WriteTimeout < 0, opts.WriteTimeout}, {"idle_timeout", opts.IdleTimeout < 0, opts.IdleTimeout}} {
		if d.neg {
			return fmt.Errorf("%w: --%s %v: must not be negative", errUsage, d.name, d.v)
		}
	}
	eng, closeFn, err := opts.Inference.engineWith(g, opts.Slots, opts.Queue)
	if err != nil {
		return err
	}
	defer closeFn()
	s, err := server.New(eng, server.Options{ModelName: opts.ModelName, APIKey: opts.APIKey,
		MaxBodyBytes: opts.MaxBodyBytes, ReadTimeout: opts.ReadTimeout, WriteTimeout: opts.WriteTimeout,
		IdleTimeout: opts.IdleTimeout, MaxConnections: opts.MaxConnections,
		Log: slog.New(slog.NewTextHandler(out, nil)), CORSOrigin: opts.CORSOrigin,
		RequestLog: requestLog(opts.LogRequests), BindHost: opts.Host})
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port)))
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	fmt.Fprintf(out, "serving %s on http://%s (%d slots, %d-token context); Ctrl-C stops\n", opts.Inference.Model, ln.Addr(), eng.Slots(), eng.Window())
	if err := server.Serve(ctx, ln, s, opts.Grace); err != nil {
		return err
	}
	fmt.Fprintln(out, "server stopped")
	return nil
}

// requestLog is --log_requests' logger: lines to stderr, or nil (off).
func requestLog(on bool) *slog.Logger {
	if !on {
		return nil
	}
	return slog.New(slog.NewTextHandler(os.Stderr, nil))
}
