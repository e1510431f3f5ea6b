package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/half"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/tokenizer"
)

// TestConvertToTransformers runs `convert --to hf-llama|hf-qwen3` on .pth
// checkpoints of both generations: the directory has transformers'
// config, the default tokenizer's files, and reads back through --model
// with the same (fp16-rounded) weights.
func TestConvertToTransformers(t *testing.T) {
	for _, tc := range []struct {
		name, to, modelType string
		cfg                 model.Config
	}{
		{"MiniMind2 → hf-llama", "hf-llama", "llama", modeltest.TinyConfig(false)},
		{"minimind-3 → hf-qwen3", "hf-qwen3", "qwen3", modeltest.TinyConfig3(false)},
		{"minimind-3 MoE → hf-qwen3", "hf-qwen3", "qwen3_moe", modeltest.TinyConfig3(true)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := tc.cfg
			c.VocabSize = 6400 // the default tokenizer's
			p := modeltest.Params(t, c, 9)
			in := filepath.Join(t.TempDir(), "full_sft_32.pth")
			if err := checkpoint.SavePth(in, p, "F32"); err != nil {
				t.Fatal(err)
			}
			out := filepath.Join(t.TempDir(), "exported")
			var log bytes.Buffer
			opts := ConvertOptions{In: in, Out: out, To: tc.to, DType: "f16"}
			opts.Model.NumAttentionHeads = c.NumAttentionHeads
			if err := runConvert(context.Background(), opts, &globalOptions{}, &log); err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(log.String(), "tokenizer from the project's default") {
				t.Errorf("log %q does not say where the tokenizer came from", log.String())
			}
			for _, f := range []string{"config.json", "generation_config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} {
				if _, err := os.Stat(filepath.Join(out, f)); err != nil {
					t.Error(err)
				}
			}
			b, err := os.ReadFile(filepath.Join(out, "config.json"))
			if err != nil {
				t.Fatal(err)
			}
			var cfg struct {
				ModelType string `json:"model_type"`
				DType     string `json:"torch_dtype"`
			}
			if err := json.Unmarshal(b, &cfg); err != nil {
				t.Fatal(err)
			}
			if cfg.ModelType != tc.modelType || cfg.DType != "float16" {
				t.Errorf("config.json model_type %q torch_dtype %q", cfg.ModelType, cfg.DType)
			}
			if _, err := tokenizer.Load(out); err != nil {
				t.Errorf("exported tokenizer: %v", err)
			}
			q, err := loadModelParams(out, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := make([]float32, len(p.Data))
			for i, v := range p.Data {
				want[i] = half.F16ToFloat32(half.Float32ToF16(v))
			}
			if !slices.Equal(q.Data, want) {
				t.Fatal("weights read back differ")
			}
		})
	}
}

// TestConvertToTransformersRefusals: an unknown --to, a model the target
// cannot represent and a tokenizer of another size are errors, and
// nothing is written.
func TestConvertToTransformersRefusals(t *testing.T) {
	save := func(c model.Config) string {
		path := filepath.Join(t.TempDir(), "m.pth")
		if err := checkpoint.SavePth(path, modeltest.Params(t, c, 1), "F32"); err != nil {
			t.Fatal(err)
		}
		return path
	}
	big := func(c model.Config) model.Config { c.VocabSize = 6400; return c }
	for _, tc := range []struct {
		name, in, to string
		want         string
		wantErr      error
	}{
		{"unknown --to", save(big(modeltest.TinyConfig(false))), "gguf2", `--to "gguf2"`, errUsage},
		{"MiniMind2-MoE", save(big(modeltest.TinyConfig(true))), "hf-llama", "MiniMind2-MoE", checkpoint.ErrNotRepresentable},
		{"minimind-3 as llama", save(big(modeltest.TinyConfig3(false))), "hf-llama", "--to hf-qwen3", checkpoint.ErrNotRepresentable},
		{"MiniMind2 as qwen3", save(big(modeltest.TinyConfig(false))), "hf-qwen3", "--to hf-llama", checkpoint.ErrNotRepresentable},
		{"tokenizer size", save(modeltest.TinyConfig(false)), "hf-llama", "vocab_size 50", errUsage},
		{"--tokenizer without an export", save(big(modeltest.TinyConfig(false))), "hf", "--tokenizer is written only", errUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "exported")
			opts := ConvertOptions{In: tc.in, Out: out, To: tc.to}
			if tc.to == "hf" {
				opts.Tokenizer = "x"
			}
			opts.Model.NumAttentionHeads = 4
			err := runConvert(context.Background(), opts, &globalOptions{}, &bytes.Buffer{})
			if !errors.Is(err, tc.wantErr) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %v mentioning %q", err, tc.wantErr, tc.want)
			}
			if _, err := os.Stat(out); !errors.Is(err, os.ErrNotExist) {
				t.Errorf("a refused convert wrote %s", out)
			}
		})
	}
}

// TestConvertToTransformersTokenizer: --tokenizer's files are written
// byte for byte (here the minimind-3 tokenizer with a minimind-3 model),
// and a tokenizer saved with the model is picked up without the flag.
func TestConvertToTransformersTokenizer(t *testing.T) {
	tokDir := fixture.Dir(t, "minimind3-tokenizer")
	c := modeltest.TinyConfig3(false)
	c.VocabSize = 6400
	in := filepath.Join(t.TempDir(), "m3")
	if err := checkpoint.SaveHF(in, modeltest.Params(t, c, 2), safetensors.F32); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "q")
	opts := ConvertOptions{In: in, Out: out, To: "hf-qwen3", Tokenizer: tokDir}
	if err := runConvert(context.Background(), opts, &globalOptions{}, &bytes.Buffer{}); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"tokenizer.json", "tokenizer_config.json"} {
		want, err := os.ReadFile(filepath.Join(tokDir, f))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(out, f))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from --tokenizer's", f)
		}
	}
	// The export now has the tokenizer next to it: a second export finds it.
	var log bytes.Buffer
	opts = ConvertOptions{In: out, Out: filepath.Join(t.TempDir(), "again"), To: "hf-qwen3"}
	if err := runConvert(context.Background(), opts, &globalOptions{}, &log); err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(out, "tokenizer.json"); !strings.Contains(log.String(), "tokenizer from "+want) {
		t.Errorf("log %q, want the tokenizer from %s", log.String(), want)
	}
}
