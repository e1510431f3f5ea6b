package dist_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// These tests launch dist/internal/rankprog as separate processes, under
// mpirun or with torchrun-style variables, because MPI allows one
// communicator per process. They skip when Open MPI is not installed
// (apt-get install openmpi-bin libopenmpi-dev).

var rankprogBuild struct {
	once sync.Once
	path string
	err  error
	dir  string
}

func TestMain(m *testing.M) {
	code := m.Run()
	if rankprogBuild.dir != "" {
		os.RemoveAll(rankprogBuild.dir)
	}
	os.Exit(code)
}

// rankprog builds the test program once per test binary, pure Go like the
// release binary, and returns its path.
func rankprog(t testing.TB) string {
	t.Helper()
	b := &rankprogBuild
	b.once.Do(func() {
		b.dir, b.err = os.MkdirTemp("", "dist-rankprog-")
		if b.err != nil {
			return
		}
		b.path = filepath.Join(b.dir, "rankprog")
		cmd := exec.Command("go", "build", "-o", b.path, "github.com/minimind-go/minimind/dist/internal/rankprog")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build rankprog: %v\n%s", err, out)
		}
	})
	if b.err != nil {
		t.Fatal(b.err)
	}
	return b.path
}

// needMPI skips the test when mpirun or libmpi is missing.
func needMPI(t testing.TB, tools ...string) {
	t.Helper()
	for _, tool := range append([]string{"mpirun"}, tools...) {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not found: apt-get install openmpi-bin libopenmpi-dev to run the multi-rank tests", tool)
		}
	}
}

// cleanEnv is the test's environment without launcher variables, so a test
// run under mpirun or torchrun does not confuse the ranks it starts.
func cleanEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		switch {
		case strings.HasPrefix(k, "OMPI_"), strings.HasPrefix(k, "PMIX_"), k == "RANK", k == "WORLD_SIZE",
			k == "LOCAL_RANK", k == "MASTER_ADDR", k == "MASTER_PORT", k == "TORCHELASTIC_USE_AGENT_STORE":
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// hardLimit ends a test's processes only when they really hang; MPI
// start-up alone can take many seconds on a busy host. startupLimit is the
// ranks' own start-up timeout, apart from the short collective timeout the
// failure tests wait out (5s: a healthy peer is never that late between
// two steps).
const (
	hardLimit    = 3 * time.Minute
	startupLimit = "2m"
)

type runResult struct {
	out     string
	code    int
	elapsed time.Duration
}

// mpirun runs `mpirun -np 2 rankprog args...` with a hard limit, as root if
// need be (Open MPI refuses root without the two ALLOW variables).
func mpirun(t *testing.T, limit time.Duration, args ...string) runResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	argv := append([]string{"--oversubscribe", "-np", "2", rankprog(t)}, args...)
	cmd := exec.CommandContext(ctx, "mpirun", argv...)
	cmd.Env = cleanEnv("OMPI_ALLOW_RUN_AS_ROOT=1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1")
	// SIGTERM lets mpirun kill its ranks; SIGKILL would orphan them.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	out, err := cmd.CombinedOutput()
	r := runResult{out: string(out), elapsed: time.Since(start)}
	var ee *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("mpirun %s: still running after %v\n%s", strings.Join(args, " "), limit, out)
	case errors.As(err, &ee):
		r.code = ee.ExitCode()
	case err != nil:
		t.Fatalf("mpirun: %v", err)
	}
	return r
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("output lacks %q:\n%s", l, out)
		}
	}
}

func TestMPIOps(t *testing.T) {
	needMPI(t)
	r := mpirun(t, hardLimit, "-mode", "ops")
	if r.code != 0 {
		t.Fatalf("exit status %d:\n%s", r.code, r.out)
	}
	wantLines(t, r.out, "rank 0: size 2", "rank 0: ops ok", "rank 1: ops ok", "rank 0: closed", "rank 1: closed")
}

// TestMPIAllReduceLarge all-reduces the default model's gradient slab
// (27.4M floats) and logs the time; timing never fails the test.
func TestMPIAllReduceLarge(t *testing.T) {
	if testing.Short() {
		t.Skip("large all-reduce skipped in -short mode")
	}
	needMPI(t)
	r := mpirun(t, hardLimit, "-mode", "bench", "-n", "27400000", "-iters", "3")
	if r.code != 0 {
		t.Fatalf("exit status %d:\n%s", r.code, r.out)
	}
	for _, l := range strings.Split(r.out, "\n") {
		if strings.Contains(l, "all-reduce") {
			t.Log(l)
		}
	}
}

// TestMPIRankExits: rank 1 exits with status 3, or is killed, mid-run while
// rank 0 waits in an all-reduce; mpirun must end the job, naming the rank,
// within seconds (rank 0's 5-minute default timeout never comes into play).
func TestMPIRankExits(t *testing.T) {
	needMPI(t)
	for _, tt := range []struct{ mode, want string }{
		{mode: "die", want: "exited with non-zero status"},
		{mode: "kill", want: "exited on signal 9"},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			r := mpirun(t, hardLimit, "-mode", tt.mode)
			t.Logf("mpirun ended after %v with status %d", r.elapsed.Round(time.Millisecond), r.code)
			if r.code == 0 {
				t.Fatalf("exit status 0 after a rank died:\n%s", r.out)
			}
			wantLines(t, r.out, "rank 1: "+tt.mode+" now", tt.want)
		})
	}
}

// TestMPIRankHangs: rank 1 stays alive but stops calling MPI; rank 0's
// all-reduce must time out with ErrTimeout and Close must abort the job
// with the chosen code (7).
func TestMPIRankHangs(t *testing.T) {
	needMPI(t)
	r := mpirun(t, hardLimit, "-mode", "hang", "-timeout", "5s", "-startup_timeout", startupLimit)
	t.Logf("mpirun ended after %v with status %d", r.elapsed.Round(time.Millisecond), r.code)
	if r.code != 7 {
		t.Errorf("exit status %d, want the abort code 7:\n%s", r.code, r.out)
	}
	// Status 7 is the proof of MPI_Abort(7). mpirun's "MPI_ABORT was invoked"
	// banner is not asserted: Open MPI 4.1 sometimes fails to print it
	// ("ORTE_ERROR_LOG: Data unpack had inadequate space ... show_help.c").
	wantLines(t, r.out, "rank 0: error: dist: all-reduce", "within 5s", "(timeout=true)")
}

// torchrun starts WORLD_SIZE copies of rankprog with torchrun-style
// variables, no mpirun, and returns each rank's output and status.
func torchrun(t *testing.T, size int, limit time.Duration, args ...string) []runResult {
	t.Helper()
	port := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	prog := rankprog(t)
	res := make([]runResult, size)
	var wg sync.WaitGroup
	for rank := range size {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, prog, args...)
			cmd.Env = cleanEnv(fmt.Sprintf("RANK=%d", rank), fmt.Sprintf("WORLD_SIZE=%d", size),
				fmt.Sprintf("LOCAL_RANK=%d", rank), "MASTER_ADDR=127.0.0.1", fmt.Sprintf("MASTER_PORT=%d", port))
			cmd.WaitDelay = 2 * time.Second
			start := time.Now()
			out, err := cmd.CombinedOutput()
			res[rank] = runResult{out: string(out), elapsed: time.Since(start)}
			var ee *exec.ExitError
			if errors.As(err, &ee) {
				res[rank].code = ee.ExitCode()
			}
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatalf("torchrun-style ranks still running after %v: %+v", limit, res)
	}
	return res
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

func TestTorchrunEnvOps(t *testing.T) {
	needMPI(t, "ompi-server")
	for rank, r := range torchrun(t, 3, hardLimit, "-mode", "ops") {
		if r.code != 0 {
			t.Errorf("rank %d: exit status %d:\n%s", rank, r.code, r.out)
			continue
		}
		wantLines(t, r.out, fmt.Sprintf("rank %d: size 3", rank), fmt.Sprintf("rank %d: ops ok", rank), fmt.Sprintf("rank %d: closed", rank))
	}
}

// TestTorchrunEnvRankExits: without mpirun nobody kills rank 0 when rank 1
// exits, so rank 0's own timeout must end it with ErrTimeout.
func TestTorchrunEnvRankExits(t *testing.T) {
	needMPI(t, "ompi-server")
	res := torchrun(t, 2, hardLimit, "-mode", "die", "-timeout", "5s", "-startup_timeout", startupLimit)
	t.Logf("rank 0 ended after %v with status %d", res[0].elapsed.Round(time.Millisecond), res[0].code)
	if res[1].code != 3 {
		t.Errorf("rank 1: exit status %d, want 3:\n%s", res[1].code, res[1].out)
	}
	if res[0].code == 0 {
		t.Fatalf("rank 0: exit status 0 after rank 1 died:\n%s", res[0].out)
	}
	wantLines(t, res[0].out, "rank 0: error: dist: all-reduce", "within 5s", "(timeout=true)")
}

// torchPython returns a Python that has torch's elastic launcher (Debian's
// python3-torch), or skips.
func torchPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(py, "-c", "import torch.distributed.launcher.api").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with torch (apt-get install python3-torch): real torchrun launch not tested")
	return ""
}

// TestTorchElastic launches 2 ranks with torch's own elastic agent, as
// `torchrun --nproc_per_node=2 --no_python` does: the agent holds
// MASTER_PORT for its store, so the rendezvous moves to MASTER_PORT+1.
func TestTorchElastic(t *testing.T) {
	if testing.Short() {
		t.Skip("torch elastic launch skipped in -short mode")
	}
	needMPI(t, "ompi-server")
	py := torchPython(t)
	ctx, cancel := context.WithTimeout(context.Background(), hardLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "../scripts/torchrun-local.py", "2", rankprog(t), "-mode", "ops")
	cmd.Env = cleanEnv()
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("torch elastic launch: %v\n%s", err, out)
	}
	wantLines(t, string(out), "rank 0: ops ok", "rank 1: ops ok", "rank 0: closed", "rank 1: closed")
}
