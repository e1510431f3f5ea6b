// Package hostcheck refuses HTTP requests whose Host header does not name
// the server: the defence against DNS rebinding for servers that listen on
// loopback. A web page on evil.example can make its own name resolve to
// 127.0.0.1 and then read, as same-origin, whatever a local server answers;
// its requests still carry "Host: evil.example:PORT", and a server that
// answers only the names it is known by gives such a page nothing.
//
// The rule (Policy.Check): a Host header is accepted when its host is
// "localhost", a loopback IP (127.0.0.1, [::1], ...), or the host the
// server was bound to as the user gave it (a name or an IP). A server bound
// to every interface (0.0.0.0, [::] or an empty host) also accepts any IP
// literal and the machine's own host name: IP literals cannot be rebound,
// and the user chose to expose the server to the network. The port is not
// compared: rebinding is a matter of names, and a page reached through a
// tunnel (ssh -L 8080:127.0.0.1:6006) legitimately names another port. A
// request with no Host at all (HTTP/1.0) is accepted: browsers always send
// one.
package hostcheck

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
)

// Policy says which Host headers a server accepts. Its zero value accepts
// only localhost and loopback IPs.
type Policy struct {
	bind     string // the bound host, normalized; "" when it adds nothing to loopback
	bindIP   net.IP // bind as an IP, when it is one
	anyIP    bool   // bound to every interface: IP literals and the machine's names
	hostname string // the machine's name (normalized) when anyIP; "" if unknown
}

// New returns the policy of a server bound to bind, the host part of its
// listen address as the user gave it: a name ("mybox.lan"), an IP
// ("192.168.1.5", "::1", brackets allowed), or every interface ("",
// "0.0.0.0", "::").
func New(bind string) Policy {
	bind = normalize(strings.TrimSuffix(strings.TrimPrefix(bind, "["), "]"))
	ip := net.ParseIP(bind)
	if bind == "" || ip != nil && ip.IsUnspecified() {
		p := Policy{anyIP: true}
		if h, err := os.Hostname(); err == nil {
			p.hostname = normalize(h)
		}
		return p
	}
	return Policy{bind: bind, bindIP: ip}
}

// FromAddr returns the policy of a server listening on addr (a listener's
// address, "127.0.0.1:6006" or "[::]:8998"): New of its host.
func FromAddr(addr net.Addr) Policy {
	host, _, err := net.SplitHostPort(addr.String())
	if err != nil {
		host = addr.String()
	}
	return New(host)
}

// normalize lower-cases a host name and drops a trailing dot
// ("LocalHost." is localhost).
func normalize(h string) string {
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

// hostOf returns the host of a Host header: "host", "host:port",
// "[v6]:port" or "[v6]".
func hostOf(header string) string {
	if h, _, err := net.SplitHostPort(header); err == nil {
		return h
	}
	return strings.TrimSuffix(strings.TrimPrefix(header, "["), "]")
}

// Check returns nil when header (a request's Host) names the server, and
// otherwise an error saying which names it answers to.
func (p Policy) Check(header string) error {
	if header == "" {
		return nil
	}
	host := normalize(hostOf(header))
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	switch {
	case ip != nil && ip.IsLoopback():
		return nil
	case p.anyIP && (ip != nil || p.hostname != "" && (host == p.hostname || host == firstLabel(p.hostname))):
		return nil
	case p.bindIP != nil && ip != nil && ip.Equal(p.bindIP):
		return nil
	case p.bind != "" && p.bindIP == nil && host == p.bind:
		return nil
	}
	names := "localhost or a loopback address"
	switch {
	case p.anyIP:
		names = "localhost, an IP address or this machine's name"
	case p.bind != "":
		names = fmt.Sprintf("%s, localhost or a loopback address", p.bind)
	}
	return fmt.Errorf("host %q is not a name of this server (refused so that another web site cannot read it through DNS rebinding): use %s, or bind the server to that name", header, names)
}

// firstLabel is a host name's first label ("gpubox" of "gpubox.lan").
func firstLabel(h string) string {
	first, _, _ := strings.Cut(h, ".")
	return first
}

// Handler wraps h so that requests that fail Check get reject instead;
// a nil reject answers 421 Misdirected Request with the error as plain
// text.
func (p Policy) Handler(h http.Handler, reject func(w http.ResponseWriter, r *http.Request, err error)) http.Handler {
	if reject == nil {
		reject = func(w http.ResponseWriter, _ *http.Request, err error) {
			http.Error(w, err.Error(), http.StatusMisdirectedRequest)
		}
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := p.Check(r.Host); err != nil {
			reject(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}
