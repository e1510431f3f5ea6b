package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/model"
)

// buildBinary compiles the minimind command into dir.
func buildBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "minimind")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func mpirun(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("mpirun")
	if err != nil {
		t.Skip("mpirun not found (apt-get install openmpi-bin libopenmpi-dev); skipping the data-parallel test")
	}
	return p
}

// writeLongTexts writes pretrain lines long enough to fill every sample, so
// every rank's micro-batch has the same number of targets (then the mean of
// per-rank means equals the global mean, as DDP assumes).
func writeLongTexts(t *testing.T, path string, n int) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := bufio.NewWriter(f)
	words := strings.Fields("the quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing matches in a large hall of mirrors")
	for i := 0; i < n; i++ {
		var sb strings.Builder
		for j := 0; j < 120; j++ {
			sb.WriteString(words[(i*7+j*3)%len(words)])
			sb.WriteByte(' ')
		}
		b, _ := json.Marshal(map[string]string{"text": sb.String()})
		w.Write(b)
		w.WriteByte('\n')
	}
	w.Flush()
}

func readLosses(t *testing.T, path string) []float64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []float64
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		var s struct {
			Loss float64 `json:"loss"`
		}
		if err := json.Unmarshal([]byte(line), &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s.Loss)
	}
	return out
}

var tinyArgs = []string{"--hidden_size", "32", "--num_hidden_layers", "2", "--num_attention_heads", "4", "--num_key_value_heads", "2",
	"--intermediate_size", "64", "--max_seq_len", "33", "--epochs", "1", "--shuffle=false", "--save_dtype", "f32",
	"--learning_rate", "3e-3", "--log_interval", "1", "--threads", "1", "-q"}

// TestDDPEquivalence: 2 ranks × batch 2 under mpirun take the same steps,
// with the same losses and final weights, as 1 rank × batch 4.
func TestDDPEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs mpirun")
	}
	mpi := mpirun(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	data := filepath.Join(dir, "d.jsonl")
	writeLongTexts(t, data, 24)
	out := ddpCompare(t, bin, mpi, data, filepath.Join(dir, "one"), filepath.Join(dir, "two"), 6)
	if !strings.Contains(out, "2 ranks = 4 sequences per step") {
		t.Errorf("effective batch not reported as 2×2:\n%s", out)
	}
}

// TestDDPEquivalenceUneven: when the data does not divide into global
// batches, the last step's rows are split unevenly (2 and 1, or 1 and
// none), and texts of different lengths give the ranks different numbers
// of targets; 2 ranks must still match 1 process with the whole batch, the
// last partial step included (it was halved: each rank's mean was averaged
// as if both held a full share).
func TestDDPEquivalenceUneven(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs mpirun")
	}
	mpi := mpirun(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	for _, tc := range []struct {
		name  string
		n     int
		extra []string
		steps int
	}{
		{"21 rows, last step 1+0", 21, nil, 6},
		{"23 rows, last step 2+1, accumulation 2", 23, []string{"--accumulation_steps", "2"}, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sub := filepath.Join(dir, fmt.Sprint(tc.n))
			if err := os.MkdirAll(sub, 0o755); err != nil {
				t.Fatal(err)
			}
			data := filepath.Join(sub, "d.jsonl")
			writeMixedTexts(t, data, tc.n)
			ddpCompare(t, bin, mpi, data, filepath.Join(sub, "one"), filepath.Join(sub, "two"), tc.steps, tc.extra...)
		})
	}
}

// writeMixedTexts writes n pretrain lines of very different lengths (2 to
// 120 words), so samples hold different numbers of targets.
func writeMixedTexts(t *testing.T, path string, n int) {
	t.Helper()
	words := strings.Fields("the quick brown fox jumps over the lazy dog while seven wizards quietly judge boxing matches")
	var sb strings.Builder
	for i := 0; i < n; i++ {
		var line strings.Builder
		for j := 0; j < 2+(i*37)%119; j++ {
			line.WriteString(words[(i*5+j)%len(words)])
			line.WriteByte(' ')
		}
		b, _ := json.Marshal(map[string]string{"text": line.String()})
		sb.Write(b)
		sb.WriteByte('\n')
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// ddpCompare trains on data with 1 process × batch 4 into oneDir and 2 mpirun
// ranks × batch 2 into twoDir, and checks both take steps steps with the
// same losses and final weights. It returns the 2-rank output.
func ddpCompare(t *testing.T, bin, mpi, data, oneDir, twoDir string, steps int, extra ...string) string {
	t.Helper()
	args := append(append([]string{}, tinyArgs...), extra...)
	one := exec.Command(bin, append([]string{"pretrain", "--data_path", data, "--batch_size", "4", "--out_dir", oneDir}, args...)...)
	if out, err := one.CombinedOutput(); err != nil {
		t.Fatalf("1 rank: %v\n%s", err, out)
	}
	two := exec.Command(mpi, append([]string{"--oversubscribe", "--allow-run-as-root", "-np", "2", bin, "pretrain", "--ddp", "--data_path", data,
		"--batch_size", "2", "--out_dir", twoDir}, args...)...)
	two.Env = append(os.Environ(), "OMPI_MCA_btl_vader_single_copy_mechanism=none")
	out, err := two.CombinedOutput()
	if err != nil {
		t.Fatalf("2 ranks: %v\n%s", err, out)
	}
	l1 := readLosses(t, filepath.Join(oneDir, "metrics.jsonl"))
	l2 := readLosses(t, filepath.Join(twoDir, "metrics.jsonl"))
	if len(l1) != steps || len(l2) != len(l1) {
		t.Fatalf("steps: %d (1 rank) vs %d (2 ranks), want %d", len(l1), len(l2), steps)
	}
	for i := range l1 {
		if math.Abs(l1[i]-l2[i]) > 1e-5 {
			t.Errorf("step %d: loss %.7f (1 rank) vs %.7f (2 ranks)", i+1, l1[i], l2[i])
		}
	}
	base := model.DefaultConfig()
	base.NumAttentionHeads = 4
	p1, err := checkpoint.Load(filepath.Join(oneDir, "pretrain_32.pth"), base)
	if err != nil {
		t.Fatal(err)
	}
	p2, err := checkpoint.Load(filepath.Join(twoDir, "pretrain_32.pth"), base)
	if err != nil {
		t.Fatal(err)
	}
	var maxd float64
	for i := range p1.Data {
		maxd = math.Max(maxd, math.Abs(float64(p1.Data[i]-p2.Data[i])))
	}
	if maxd > 1e-5 {
		t.Errorf("final weights differ by %g", maxd)
	}
	t.Logf("1 rank × 4 vs 2 ranks × 2: %d steps, losses within 1e-5, final weights max |diff| %.2g", len(l1), maxd)
	return string(out)
}

// TestDDPRankDeath: when one rank dies, the run ends with an error instead
// of hanging.
func TestDDPRankDeath(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and runs mpirun")
	}
	mpi := mpirun(t)
	dir := t.TempDir()
	bin := buildBinary(t, dir)
	data := filepath.Join(dir, "d.jsonl")
	writeLongTexts(t, data, 4000)
	cmd := exec.Command(mpi, append([]string{"--oversubscribe", "--allow-run-as-root", "-np", "2", bin, "pretrain", "--ddp", "--data_path", data,
		"--batch_size", "2", "--save_interval", "2", "--out_dir", filepath.Join(dir, "run")}, tinyArgs...)...)
	cmd.Env = append(os.Environ(), "OMPI_MCA_btl_vader_single_copy_mechanism=none")
	var buf lockedBuffer // exec copies the output in its own goroutine while this one reads it
	cmd.Stdout, cmd.Stderr = &buf, &buf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Wait until training runs, then kill rank 1.
	deadline := time.Now().Add(3 * time.Minute) // a hang guard: MPI start-up is slow on a busy host
	for !strings.Contains(buf.String(), "step 3/") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("training did not start:\n%s", buf.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	killed := killRank(t, bin, 1)
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatalf("run succeeded after rank %d was killed:\n%s", killed, buf.String())
		}
		t.Logf("run ended %.1fs after the kill with %v", time.Since(start).Seconds(), err)
		// The last checkpoint (written atomically by rank 0) is intact.
		base := model.DefaultConfig()
		base.NumAttentionHeads = 4
		if _, err := checkpoint.Load(filepath.Join(dir, "run", "pretrain_32.pth"), base); err != nil {
			t.Errorf("last checkpoint unreadable after the crash: %v", err)
		}
	case <-time.After(90 * time.Second):
		_ = cmd.Process.Kill()
		t.Fatalf("run still going 90s after a rank was killed (hang):\n%s", buf.String())
	}
}

// killRank SIGKILLs the process of the given MPI rank running bin.
func killRank(t *testing.T, bin string, rank int) int {
	t.Helper()
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		env, err := os.ReadFile(filepath.Join("/proc", e.Name(), "environ"))
		if err != nil {
			continue
		}
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if exe != bin {
			continue
		}
		if strings.Contains(string(env), fmt.Sprintf("OMPI_COMM_WORLD_RANK=%d\x00", rank)) {
			var pid int
			fmt.Sscan(e.Name(), &pid)
			p, _ := os.FindProcess(pid)
			_ = p.Kill()
			return pid
		}
	}
	t.Fatalf("no process of rank %d found", rank)
	return 0
}
