package checkpoint_test

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// torchPython finds a Python with PyTorch (Debian's python3-torch installs
// into /usr/bin/python3), or skips.
func torchPython(t *testing.T) string {
	t.Helper()
	for _, py := range []string{os.Getenv("MINIMIND_TORCH_PYTHON"), "/usr/bin/python3", "python3"} {
		if py == "" {
			continue
		}
		if exec.Command(py, "-c", "import torch").Run() == nil {
			return py
		}
	}
	t.Skip("no python3 with torch (apt-get install python3-torch); skipping the PyTorch interop test")
	return ""
}

// TestTorchLoadStateDict writes a model as MiniMind's trainers do (fp16
// .pth, both tied keys), has an independent PyTorch MiniMind load it with
// load_state_dict(strict=True), and compares PyTorch's logits with ours on
// the same fp16-rounded weights.
func TestTorchLoadStateDict(t *testing.T) {
	py := torchPython(t)
	c := model.DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads = 64, 2, 4, 2
	c.VocabSize, c.IntermediateSize = 300, 96
	p := modeltest.Params(t, c, 5)
	dir := t.TempDir()
	path := filepath.Join(dir, "full_sft_64.pth")
	if err := checkpoint.SavePth(path, p, "F16"); err != nil {
		t.Fatal(err)
	}
	cfgJSON, _ := json.Marshal(c)
	cfgPath := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfgPath, cfgJSON, 0o644); err != nil {
		t.Fatal(err)
	}
	ids := []int32{1, 17, 250, 3, 99, 42, 7, 2}
	idsJSON, _ := json.Marshal(ids)
	out, err := exec.Command(py, "testdata/torch_minimind.py", path, cfgPath, string(idsJSON)).CombinedOutput()
	if err != nil {
		t.Fatalf("torch: %v\n%s", err, out)
	}
	var res struct {
		Keys   int       `json:"keys"`
		DType  string    `json:"dtype"`
		Logits []float32 `json:"logits"`
	}
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if want := len(p.Specs) + 1; res.Keys != want || res.DType != "torch.float16" {
		t.Errorf("torch saw %d keys of %s, want %d of torch.float16", res.Keys, res.DType, want)
	}
	// Ours, on the same fp16-rounded weights.
	q, err := checkpoint.Load(path, c)
	if err != nil {
		t.Fatal(err)
	}
	be := cpu.New(cpu.Options{})
	defer be.Close()
	got, err := model.New(q, be).Logits(ids, 1, len(ids), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	var maxd float64
	for i := range got {
		maxd = math.Max(maxd, math.Abs(float64(got[i]-res.Logits[i])))
	}
	if maxd > 1e-4 {
		t.Errorf("logits differ from PyTorch's by up to %g", maxd)
	}
	t.Logf("PyTorch load_state_dict(strict=True) accepted our fp16 .pth; logits max |diff| %.2g", maxd)
}
