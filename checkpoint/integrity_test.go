package checkpoint_test

import (
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestBitFlipsAreErrors flips random single bits in files this program
// writes (an HF model file and a resume file) and loads each with the real
// loader: every flip must be an error (a checksum mismatch, or a parse
// error where the flip breaks the header first), never a silent load.
func TestBitFlipsAreErrors(t *testing.T) {
	t.Parallel()
	c := modeltest.TinyConfig(false)
	p := modeltest.Params(t, c, 3)
	dir := t.TempDir()
	hfDir := filepath.Join(dir, "hf")
	if err := checkpoint.SaveHF(hfDir, p, safetensors.F16); err != nil {
		t.Fatal(err)
	}
	resume := filepath.Join(dir, "resume.safetensors")
	meta, err := json.Marshal(map[string]any{"config": c, "step": 100, "adam_step": 100, "epoch": 1, "world_size": 1,
		"loader": map[string]any{"offset": 12345}, "options": map[string]any{"LearningRate": 0.0005}})
	if err != nil {
		t.Fatal(err)
	}
	st := &checkpoint.ResumeFile{Meta: meta, Params: p.Data, M: make([]float32, len(p.Data)), V: make([]float32, len(p.Data))}
	if err := checkpoint.SaveResume(resume, st); err != nil {
		t.Fatal(err)
	}
	files := []struct {
		name string
		path string
		load func() error
	}{
		{"model.safetensors", filepath.Join(hfDir, checkpoint.SafetensorsFile), func() error { _, err := checkpoint.LoadHF(hfDir); return err }},
		{"resume", resume, func() error { _, err := checkpoint.LoadResume(resume); return err }},
	}
	const flips = 300
	for _, f := range files {
		t.Run(f.name, func(t *testing.T) {
			orig, err := os.ReadFile(f.path)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.load(); err != nil {
				t.Fatalf("unmodified file: %v", err)
			}
			rng := rand.New(rand.NewPCG(7, uint64(len(orig))))
			for range flips {
				bit := rng.IntN(8 * len(orig))
				bad := append([]byte(nil), orig...)
				bad[bit/8] ^= 1 << (bit % 8)
				if err := os.WriteFile(f.path, bad, 0o644); err != nil {
					t.Fatal(err)
				}
				if err := f.load(); err == nil {
					t.Errorf("flip of bit %d of byte %d (of %d) loaded silently", bit%8, bit/8, len(orig))
				}
			}
		})
	}
}
