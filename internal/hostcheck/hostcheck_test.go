package hostcheck

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	hostname, _ := os.Hostname()
	cases := []struct {
		name   string
		bind   string
		header string
		ok     bool
	}{
		{"loopback ip", "127.0.0.1", "127.0.0.1:6006", true},
		{"other loopback ip", "127.0.0.1", "127.0.0.2:6006", true},
		{"localhost", "127.0.0.1", "localhost:6006", true},
		{"localhost upper case, trailing dot", "127.0.0.1", "LocalHost.:6006", true},
		{"ipv6 loopback", "127.0.0.1", "[::1]:6006", true},
		{"no port", "127.0.0.1", "localhost", true},
		{"tunnelled port", "127.0.0.1", "127.0.0.1:8080", true},
		{"empty host (HTTP/1.0)", "127.0.0.1", "", true},
		{"rebinding name", "127.0.0.1", "evil.example:6006", false},
		{"rebinding name without port", "127.0.0.1", "evil.example", false},
		{"localhost lookalike", "127.0.0.1", "localhost.evil.example:6006", false},
		{"lan ip on loopback bind", "127.0.0.1", "192.168.1.5:6006", false},
		{"bound ip", "192.168.1.5", "192.168.1.5:6006", true},
		{"bound ip, loopback still ok", "192.168.1.5", "localhost:6006", true},
		{"bound ip, other ip", "192.168.1.5", "10.0.0.1:6006", false},
		{"bound ip, name", "192.168.1.5", "evil.example:6006", false},
		{"bound ipv6 in brackets", "[fd00::5]", "[fd00::5]:6006", true},
		{"bound name", "mybox.lan", "MyBox.lan:6006", true},
		{"bound name, other name", "mybox.lan", "evil.example:6006", false},
		{"wildcard, any ip", "0.0.0.0", "10.1.2.3:6006", true},
		{"wildcard ipv6, any ip", "::", "[fd00::7]:6006", true},
		{"empty bind is wildcard", "", "10.1.2.3:6006", true},
		{"wildcard, machine name", "0.0.0.0", hostname + ":6006", hostname != ""},
		{"wildcard, other name", "0.0.0.0", "evil.example:6006", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			err := New(c.bind).Check(c.header)
			if (err == nil) != c.ok {
				t.Fatalf("New(%q).Check(%q) = %v, want ok=%v", c.bind, c.header, err, c.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "DNS rebinding") {
				t.Errorf("error %q does not say why", err)
			}
		})
	}
}

func TestFromAddr(t *testing.T) {
	t.Parallel()
	p := FromAddr(&net.TCPAddr{IP: net.ParseIP("192.168.1.5"), Port: 6006})
	if p.Check("192.168.1.5:6006") != nil || p.Check("evil.example:6006") == nil {
		t.Errorf("FromAddr(192.168.1.5:6006) = %+v", p)
	}
	if p := FromAddr(&net.TCPAddr{IP: net.IPv6unspecified, Port: 1}); !p.anyIP {
		t.Errorf("FromAddr([::]:1) is not a wildcard policy: %+v", p)
	}
}

func TestHandler(t *testing.T) {
	t.Parallel()
	ok := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("data")) })
	h := New("127.0.0.1").Handler(ok, nil)
	for _, c := range []struct {
		host   string
		status int
	}{{"127.0.0.1:6006", 200}, {"evil.example:6006", http.StatusMisdirectedRequest}} {
		req := httptest.NewRequest("GET", "/", nil)
		req.Host = c.host
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != c.status || (c.status != 200) == strings.Contains(rec.Body.String(), "data") {
			t.Errorf("Host %s: %d %q, want %d", c.host, rec.Code, rec.Body, c.status)
		}
	}
	custom := New("127.0.0.1").Handler(ok, func(w http.ResponseWriter, _ *http.Request, err error) {
		http.Error(w, "custom: "+err.Error(), http.StatusForbidden)
	})
	req := httptest.NewRequest("GET", "/", nil) // Host example.com
	rec := httptest.NewRecorder()
	custom.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.HasPrefix(rec.Body.String(), "custom: ") {
		t.Errorf("custom reject: %d %q", rec.Code, rec.Body)
	}
}
