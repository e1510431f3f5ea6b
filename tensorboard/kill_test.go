package tensorboard

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/minimind-go/minimind/train"
)

// TestKilledWriter kills (SIGKILL) a process that is logging a step and
// flushing in a loop: the file it leaves reads back without error, every
// whole record a sequence of steps 1..n with no gap, and a resumed writer
// adds its own file beside it.
func TestKilledWriter(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a child process")
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestHelperWriteForever$")
	cmd.Env = append(os.Environ(), "TENSORBOARD_HELPER_DIR="+dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait for some steps to reach the file, then kill mid-run.
	var path string
	deadline := time.Now().Add(time.Minute) // a hang guard: a busy host may start the helper slowly
	for {
		if m, _ := filepath.Glob(filepath.Join(dir, "events.out.tfevents.*")); len(m) == 1 {
			if st, err := os.Stat(m[0]); err == nil && st.Size() > 20_000 {
				path = m[0]
				break
			}
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the helper wrote nothing in a minute")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()

	f, err := ReadFile(path)
	if err != nil {
		t.Fatalf("reading a killed writer's file: %v", err)
	}
	if len(f.Events) < 10 || f.Events[0].FileVersion != FileVersion {
		t.Fatalf("%d events (torn %d), first %+v", len(f.Events), f.Torn, f.Events[0])
	}
	for i, e := range f.Events[1:] {
		if e.Step != int64(i+1) || len(e.Values) != 6 || e.Values[0].Scalar != float32(i+1) {
			t.Fatalf("event %d: %+v, want step %d with loss %d", i+1, e, i+1, i+1)
		}
	}
	t.Logf("killed after %d steps; torn tail %d bytes", len(f.Events)-1, f.Torn)

	w, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Path() == path {
		t.Error("the resumed writer reopened the killed file")
	}
}

// TestHelperWriteForever is the process TestKilledWriter kills; it does
// nothing unless that test started it.
func TestHelperWriteForever(t *testing.T) {
	dir := os.Getenv("TENSORBOARD_HELPER_DIR")
	if dir == "" {
		t.Skip("helper process for TestKilledWriter")
	}
	w, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	for step := 1; ; step++ {
		w.AddStep(train.Step{Step: step, Loss: float64(step)}, time.Now())
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
	}
}
