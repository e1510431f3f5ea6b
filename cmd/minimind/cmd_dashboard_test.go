package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/dashboard"
)

// TestDashboardCommand serves a run's metrics, then stops as SIGINT would.
func TestDashboardCommand(t *testing.T) {
	dir, empty := t.TempDir(), t.TempDir()
	metrics := `{"stage":"pretrain","step":1,"total":2,"loss":9.5}` + "\n" + `{"stage":"pretrain","step":2,"total":2,"loss":8.25}` + "\n"
	if err := os.WriteFile(filepath.Join(dir, dashboard.MetricsFile), []byte(metrics), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var out lockedBuffer
	done := make(chan error, 1)
	go func() {
		done <- runDashboard(ctx, DashboardOptions{OutDirs: []string{dir, empty}, Addr: "127.0.0.1:0"}, &out)
	}()
	addr := regexp.MustCompile(`http://127\.0\.0\.1:\d+/`)
	var url string
	for range 6000 { // up to 60 s on a busy host
		if url = addr.FindString(out.String()); url != "" {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if url == "" {
		t.Fatalf("no address printed: %s", out.String())
	}
	if !strings.Contains(out.String(), "dashboard of 2 run(s)") || !strings.Contains(out.String(), empty+" has no metrics.jsonl yet") {
		t.Errorf("output: %s", out.String())
	}
	res, err := http.Get(url + "api/runs")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	var body struct {
		Runs []struct {
			Stages []struct {
				Loss []float64 `json:"loss"`
			} `json:"stages"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b, &body); err != nil || len(body.Runs) != 2 || len(body.Runs[0].Stages) != 1 ||
		len(body.Runs[0].Stages[0].Loss) != 2 || body.Runs[0].Stages[0].Loss[1] != 8.25 {
		t.Fatalf("GET api/runs: %v %s; want two runs, the first with losses 9.5, 8.25", err, b)
	}

	// A second dashboard on the same port fails at once, saying which flag
	// picks another.
	taken := strings.TrimSuffix(strings.TrimPrefix(url, "http://"), "/")
	err = runDashboard(context.Background(), DashboardOptions{OutDirs: []string{dir}, Addr: taken}, io.Discard)
	if want := "dashboard: " + taken + " is in use (pick another with --addr HOST:PORT)"; err == nil || err.Error() != want {
		t.Errorf("port in use: %v; want %q", err, want)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("dashboard returned %v after shutdown", err)
		}
	case <-time.After(time.Minute):
		t.Fatal("dashboard did not stop")
	}
	if !strings.Contains(out.String(), "dashboard stopped") {
		t.Errorf("output: %s", out.String())
	}
	if c, err := net.Dial("tcp", taken); err == nil {
		c.Close()
		t.Errorf("%s still answers after shutdown", taken)
	}
}

// TestDashboardBadInput: what the command refuses, and with which status.
func TestDashboardBadInput(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		opts  DashboardOptions
		usage bool
		want  string
	}{
		{"no out_dir", DashboardOptions{Addr: dashboard.DefaultAddr}, true, "--out_dir is required"},
		{"missing dir", DashboardOptions{OutDirs: []string{filepath.Join(dir, "nope")}, Addr: "127.0.0.1:0"}, false, "does not exist"},
		{"a file", DashboardOptions{OutDirs: []string{file}, Addr: "127.0.0.1:0"}, false, "is not a directory"},
		{"bad addr", DashboardOptions{OutDirs: []string{dir}, Addr: "localhost"}, true, "want HOST:PORT"},
		{"twice", DashboardOptions{OutDirs: []string{dir, dir}, Addr: "127.0.0.1:0"}, false, "given twice"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := runDashboard(context.Background(), tc.opts, io.Discard)
			if err == nil || errors.Is(err, errUsage) != tc.usage || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v (usage %v); want one containing %q with usage %v", err, errors.Is(err, errUsage), tc.want, tc.usage)
			}
		})
	}
}
