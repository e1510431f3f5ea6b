package checkpoint_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// exported writes c's parameters (seed 2) as a transformers checkpoint of
// target and returns the directory and the parameters.
func exported(t *testing.T, c model.Config, target string) (string, *model.Params) {
	t.Helper()
	p := modeltest.Params(t, c, 2)
	dir := t.TempDir()
	if _, err := checkpoint.ExportTransformers(dir, p, target, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	return dir, p
}

// setConfig rewrites dir/config.json with edit applied.
func setConfig(t *testing.T, dir string, edit func(map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, checkpoint.ConfigFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestImportTransformersDefaults reads transformers configs that leave
// fields out or use 5.x's forms: the class defaults and the rope_parameters
// theta apply.
func TestImportTransformersDefaults(t *testing.T) {
	t.Run("llama without optional fields", func(t *testing.T) {
		dir, p := exported(t, modeltest.TinyConfig(false), checkpoint.TargetLlama)
		setConfig(t, dir, func(m map[string]any) {
			for _, k := range []string{"rope_theta", "rms_norm_eps", "max_position_embeddings", "head_dim", "hidden_act", "bos_token_id", "eos_token_id", "rope_scaling"} {
				delete(m, k)
			}
		})
		q, err := checkpoint.LoadHF(dir)
		if err != nil {
			t.Fatal(err)
		}
		c := q.Config
		if c.RopeTheta != 10000 || c.RMSNormEps != 1e-6 || c.MaxPositionEmbeddings != 2048 || !c.Tied() || c.Family() != "minimind2" || c.BosTokenID != 1 || c.EosTokenID != 2 {
			t.Errorf("LlamaConfig defaults not applied: %+v", c)
		}
		if !slices.Equal(q.Data, p.Data) {
			t.Error("weights differ")
		}
	})
	t.Run("qwen3 in transformers 5 form", func(t *testing.T) {
		dir, _ := exported(t, modeltest.TinyConfig3(false), checkpoint.TargetQwen3)
		setConfig(t, dir, func(m map[string]any) {
			delete(m, "rope_theta")
			delete(m, "rope_scaling")
			m["rope_parameters"] = map[string]any{"rope_type": "default", "rope_theta": 500000.0}
			m["eos_token_id"] = []int{7, 2}
			m["num_key_value_heads"] = nil // 5.x: None means the head count
			m["dtype"] = "bfloat16"
		})
		_, err := checkpoint.LoadHF(dir)
		if err == nil || !strings.Contains(err.Error(), "self_attn.k_proj.weight") {
			t.Fatalf("num_key_value_heads null should mean 4 heads, which the 2-head k_proj does not fit: %v", err)
		}
		setConfig(t, dir, func(m map[string]any) { m["num_key_value_heads"] = 2 })
		q, err := checkpoint.LoadHF(dir)
		if err != nil {
			t.Fatal(err)
		}
		if c := q.Config; c.RopeTheta != 500000 || c.EosTokenID != 7 || c.HeadDim != 12 || c.Family() != "minimind3" {
			t.Errorf("config %+v", c)
		}
	})
	t.Run("tie_word_embeddings absent means untied", func(t *testing.T) {
		dir, _ := exported(t, modeltest.TinyConfig3(true), checkpoint.TargetQwen3)
		setConfig(t, dir, func(m map[string]any) { delete(m, "tie_word_embeddings") })
		_, err := checkpoint.LoadHF(dir)
		if !errors.Is(err, checkpoint.ErrMissingTensor) || !strings.Contains(err.Error(), "lm_head.weight") {
			t.Fatalf("error %v, want the missing untied lm_head.weight", err)
		}
	})
}

// TestImportTransformersRefusals: configs MiniMind-Go cannot run exactly
// are errors naming config.json and the field.
func TestImportTransformersRefusals(t *testing.T) {
	for _, tc := range []struct {
		name   string
		moe3   bool // start from a qwen3_moe export, else llama
		edit   func(map[string]any)
		want   string
		unsupp bool // wraps ErrUnsupportedConfig
	}{
		{"unknown model_type", false, func(m map[string]any) { m["model_type"] = "gpt2" }, `model_type "gpt2"`, true},
		{"model_type not a string", false, func(m map[string]any) { m["model_type"] = 3 }, "field model_type", false},
		{"yarn", false, func(m map[string]any) { m["rope_scaling"] = map[string]any{"rope_type": "yarn", "factor": 4.0} }, `rope_scaling type "yarn"`, true},
		{"linear (old type key)", false, func(m map[string]any) { m["rope_scaling"] = map[string]any{"type": "linear", "factor": 2.0} }, `rope_scaling type "linear"`, true},
		{"rope_parameters llama3", true, func(m map[string]any) { m["rope_parameters"] = map[string]any{"rope_type": "llama3"} }, `rope_parameters type "llama3"`, true},
		{"attention_bias", false, func(m map[string]any) { m["attention_bias"] = true }, "attention_bias true", true},
		{"mlp_bias", false, func(m map[string]any) { m["mlp_bias"] = true }, "mlp_bias true", true},
		{"hidden_act", true, func(m map[string]any) { m["hidden_act"] = "gelu" }, `hidden_act "gelu"`, true},
		{"sliding window", true, func(m map[string]any) { m["use_sliding_window"] = true }, "use_sliding_window true", true},
		{"decoder_sparse_step", true, func(m map[string]any) { m["decoder_sparse_step"] = 2 }, "decoder_sparse_step 2", true},
		{"mlp_only_layers", true, func(m map[string]any) { m["mlp_only_layers"] = []int{1} }, "mlp_only_layers [1]", true},
		{"classification head", false, func(m map[string]any) { m["architectures"] = []string{"LlamaForSequenceClassification"} }, "architectures [LlamaForSequenceClassification]", true},
		{"llama head_dim", false, func(m map[string]any) { m["head_dim"] = 16 }, "head_dim 16", true},
		{"quantized", false, func(m map[string]any) { m["quantization_config"] = map[string]any{"quant_method": "gptq"} }, "quantization_config", true},
		{"missing size", true, func(m map[string]any) { delete(m, "moe_intermediate_size") }, "field moe_intermediate_size is missing", false},
		{"size of the wrong type", false, func(m map[string]any) { m["hidden_size"] = "32" }, "field hidden_size", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, target := modeltest.TinyConfig(false), checkpoint.TargetLlama
			if tc.moe3 {
				c, target = modeltest.TinyConfig3(true), checkpoint.TargetQwen3
			}
			dir, _ := exported(t, c, target)
			setConfig(t, dir, tc.edit)
			_, err := checkpoint.LoadHF(dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), filepath.Join(dir, checkpoint.ConfigFile)) {
				t.Fatalf("error %v, want one naming config.json and %q", err, tc.want)
			}
			if tc.unsupp != errors.Is(err, checkpoint.ErrUnsupportedConfig) {
				t.Errorf("errors.Is(ErrUnsupportedConfig) = %v", !tc.unsupp)
			}
		})
	}
}

// writeST writes tensors as a safetensors file.
func writeST(t testing.TB, path string, ts []safetensors.Tensor) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := safetensors.Write(f, ts, map[string]string{"format": "pt"}); err != nil {
		t.Fatal(err)
	}
}

func writeIndex(t testing.TB, path string, wm map[string]string) {
	t.Helper()
	b, err := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 0}, "weight_map": wm})
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// shardedDir writes p as upstream's native layout (MiniMind config.json)
// with the weights in two safetensors shards and an index; it returns
// the directory and the weight map.
func shardedDir(t testing.TB, p *model.Params) (string, map[string]string) {
	t.Helper()
	dir := t.TempDir()
	if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, checkpoint.SafetensorsFile)); err != nil {
		t.Fatal(err)
	}
	wm := map[string]string{}
	var shards [2][]safetensors.Tensor
	for i, s := range p.Specs {
		file := []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"}[i*2/len(p.Specs)]
		wm[s.Name] = file
		shards[i*2/len(p.Specs)] = append(shards[i*2/len(p.Specs)], safetensors.FromFloat32(s.Name, s.Shape, p.View(p.Data, s.Name), safetensors.F32))
	}
	writeST(t, filepath.Join(dir, "model-00001-of-00002.safetensors"), shards[0])
	writeST(t, filepath.Join(dir, "model-00002-of-00002.safetensors"), shards[1])
	writeIndex(t, filepath.Join(dir, checkpoint.SafetensorsIndexFile), wm)
	return dir, wm
}

// TestLoadWeightFiles reads the weight files transformers' save_pretrained
// writes besides model.safetensors: shards with an index, and
// pytorch_model.bin (upstream's MiniMindForCausalLM directories).
func TestLoadWeightFiles(t *testing.T) {
	p := modeltest.Params(t, modeltest.TinyConfig3(true), 6)
	check := func(t *testing.T, dir string) {
		t.Helper()
		q, err := checkpoint.LoadHF(dir)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(q.Data, p.Data) {
			t.Fatal("weights differ")
		}
	}
	t.Run("safetensors shards", func(t *testing.T) {
		dir, _ := shardedDir(t, p)
		check(t, dir)
	})
	binDir := func(t *testing.T) string {
		dir := t.TempDir()
		if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
			t.Fatal(err)
		}
		if err := os.Remove(filepath.Join(dir, checkpoint.SafetensorsFile)); err != nil {
			t.Fatal(err)
		}
		// Both tied keys, as torch.save of the state dict stores them.
		if err := checkpoint.SavePth(filepath.Join(dir, checkpoint.PytorchBinFile), p, "F32"); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	t.Run("pytorch_model.bin", func(t *testing.T) { check(t, binDir(t)) })
	t.Run("pytorch_model.bin shards", func(t *testing.T) {
		dir := binDir(t)
		bin := filepath.Join(dir, checkpoint.PytorchBinFile)
		shard := "pytorch_model-00001-of-00001.bin"
		if err := os.Rename(bin, filepath.Join(dir, shard)); err != nil {
			t.Fatal(err)
		}
		wm := map[string]string{model.LMHeadName: shard}
		for _, s := range p.Specs {
			wm[s.Name] = shard
		}
		writeIndex(t, filepath.Join(dir, checkpoint.PytorchBinIndexFile), wm)
		check(t, dir)
	})
}

// TestLoadWeightFilesBadInput: broken shard sets and missing weights are
// errors naming the file and the field or tensor.
func TestLoadWeightFilesBadInput(t *testing.T) {
	p := modeltest.Params(t, modeltest.TinyConfig(false), 6)
	shard1 := "model-00001-of-00002.safetensors"
	for _, tc := range []struct {
		name string
		edit func(t *testing.T, dir string, wm map[string]string)
		want []string
	}{
		{"missing shard", func(t *testing.T, dir string, _ map[string]string) {
			if err := os.Remove(filepath.Join(dir, shard1)); err != nil {
				t.Fatal(err)
			}
		}, []string{checkpoint.SafetensorsIndexFile, "shard " + shard1, "no such file"}},
		{"truncated shard", func(t *testing.T, dir string, _ map[string]string) {
			path := filepath.Join(dir, shard1)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, b[:len(b)-9], 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{checkpoint.SafetensorsIndexFile, shard1}},
		{"shard outside the directory", func(t *testing.T, dir string, wm map[string]string) {
			wm[model.EmbedName] = "../" + shard1
			writeIndex(t, filepath.Join(dir, checkpoint.SafetensorsIndexFile), wm)
		}, []string{"weight_map[\"model.embed_tokens.weight\"]", "not a file name"}},
		{"tensor the map does not list", func(t *testing.T, dir string, wm map[string]string) {
			delete(wm, "model.norm.weight")
			writeIndex(t, filepath.Join(dir, checkpoint.SafetensorsIndexFile), wm)
		}, []string{"holds tensor \"model.norm.weight\", which weight_map does not give it"}},
		{"tensor the shard lacks", func(t *testing.T, dir string, wm map[string]string) {
			wm["model.layers.9.mlp.up_proj.weight"] = shard1
			writeIndex(t, filepath.Join(dir, checkpoint.SafetensorsIndexFile), wm)
		}, []string{"model.layers.9.mlp.up_proj.weight", "lacks it"}},
		{"empty weight_map", func(t *testing.T, dir string, _ map[string]string) {
			writeIndex(t, filepath.Join(dir, checkpoint.SafetensorsIndexFile), nil)
		}, []string{checkpoint.SafetensorsIndexFile, "weight_map is missing or empty"}},
		{"index not JSON", func(t *testing.T, dir string, _ map[string]string) {
			if err := os.WriteFile(filepath.Join(dir, checkpoint.SafetensorsIndexFile), []byte(`{"weight_map": {`), 0o644); err != nil {
				t.Fatal(err)
			}
		}, []string{checkpoint.SafetensorsIndexFile}},
		{"no weights", func(t *testing.T, dir string, _ map[string]string) {
			if err := os.Remove(filepath.Join(dir, checkpoint.SafetensorsIndexFile)); err != nil {
				t.Fatal(err)
			}
		}, []string{"no weights", checkpoint.PytorchBinFile}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, wm := shardedDir(t, p)
			tc.edit(t, dir, wm)
			_, err := checkpoint.LoadHF(dir)
			if err == nil {
				t.Fatal("loaded")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// TestLoadTruncatedBin: a cut pytorch_model.bin is an error naming it.
func TestLoadTruncatedBin(t *testing.T) {
	p := modeltest.Params(t, modeltest.TinyConfig(false), 6)
	dir := t.TempDir()
	if err := checkpoint.SaveHF(dir, p, safetensors.F16); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, checkpoint.SafetensorsFile)); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, checkpoint.PytorchBinFile)
	if err := checkpoint.SavePth(bin, p, "F16"); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(bin, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	end, err := f.Seek(0, io.SeekEnd)
	if err == nil {
		err = f.Truncate(end / 2)
	}
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := checkpoint.LoadHF(dir); err == nil || !strings.Contains(err.Error(), bin) {
		t.Fatalf("error %v, want one naming %s", err, bin)
	}
}

// FuzzReadHFConfig: any config.json is a config that validates or an
// error naming the file, never a panic.
func FuzzReadHFConfig(f *testing.F) {
	for _, target := range []struct {
		c      model.Config
		target string
	}{{modeltest.TinyConfig(false), checkpoint.TargetLlama}, {modeltest.TinyConfig3(false), checkpoint.TargetQwen3}, {modeltest.TinyConfig3(true), checkpoint.TargetQwen3}} {
		m, err := checkpoint.TransformersConfig(&target.c, target.target, safetensors.F32)
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"model_type": "llama", "rope_parameters": {"rope_type": 3}, "eos_token_id": [null]}`))
	f.Add([]byte(`{"model_type": "minimind", "hidden_size": 64}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), checkpoint.ConfigFile)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		c, err := checkpoint.ReadHFConfig(path)
		if err != nil {
			if !strings.Contains(err.Error(), path) {
				t.Fatalf("error %q does not name %s", err, path)
			}
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("accepted a config that does not validate: %v", err)
		}
	})
}

// FuzzShardIndex: any model.safetensors.index.json next to valid shards
// loads the model or is an error naming the index, never a panic.
func FuzzShardIndex(f *testing.F) {
	p := modeltest.Params(f, modeltest.TinyConfig(false), 6)
	dir, wm := shardedDir(f, p)
	good, err := json.Marshal(map[string]any{"weight_map": wm})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good)
	f.Add([]byte(`{"weight_map": {"model.norm.weight": "model-00002-of-00002.safetensors"}}`))
	f.Add([]byte(`{"weight_map": {"x": ""}}`))
	f.Add([]byte(`{"weight_map": []}`))
	index := filepath.Join(dir, checkpoint.SafetensorsIndexFile)
	f.Fuzz(func(t *testing.T, data []byte) {
		if err := os.WriteFile(index, data, 0o644); err != nil {
			t.Fatal(err)
		}
		q, err := checkpoint.LoadHF(dir)
		if err != nil {
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q does not name %s", err, dir)
			}
			return
		}
		if !slices.Equal(q.Data, p.Data) {
			t.Fatal("loaded other weights")
		}
	})
}

// TestLoadWeightFileInHFDir: a weight file named directly (a path to
// DIR/pytorch_model.bin, DIR/model.safetensors or a shard) loads with
// the config.json beside it, so the fields shapes cannot tell (rope_theta,
// rms_norm_eps, top-k, heads) are the config's, not base's guesses; a .pth
// beside a config.json and a .bin without one still read as state dicts.
func TestLoadWeightFileInHFDir(t *testing.T) {
	c := modeltest.TinyConfig(true)
	c.RopeTheta, c.RMSNormEps, c.NumExpertsPerTok, c.NumAttentionHeads, c.NumKeyValueHeads = 5e4, 1e-3, 1, 2, 1
	p := modeltest.Params(t, c, 8)
	base := model.DefaultConfig() // 8 heads: wrong for these weights
	base.NumAttentionHeads = 4
	hfDir := func(t *testing.T, weights string) string {
		t.Helper()
		dir := t.TempDir()
		if err := checkpoint.SaveHF(dir, p, safetensors.F32); err != nil {
			t.Fatal(err)
		}
		if weights != checkpoint.SafetensorsFile {
			if err := os.Remove(filepath.Join(dir, checkpoint.SafetensorsFile)); err != nil {
				t.Fatal(err)
			}
			if err := checkpoint.SavePth(filepath.Join(dir, weights), p, "F32"); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	same := func(t *testing.T, q *model.Params) {
		t.Helper()
		if diff := configDiff(q.Config, p.Config); diff != "" {
			t.Errorf("config (-want +got):\n%s", diff)
		}
		if !slices.Equal(q.Data, p.Data) {
			t.Error("weights differ")
		}
	}
	for _, name := range []string{checkpoint.PytorchBinFile, checkpoint.SafetensorsFile, "consolidated.bin"} {
		t.Run(name, func(t *testing.T) {
			dir := hfDir(t, name)
			q, err := checkpoint.Load(filepath.Join(dir, name), base)
			if err != nil {
				t.Fatal(err)
			}
			same(t, q)
		})
	}
	t.Run("the named file, not the directory's first", func(t *testing.T) {
		dir := hfDir(t, checkpoint.PytorchBinFile)
		// A model.safetensors of other weights beside it is not read.
		other := modeltest.Params(t, c, 9)
		var ts []safetensors.Tensor
		for _, s := range other.Specs {
			ts = append(ts, safetensors.FromFloat32(s.Name, s.Shape, other.View(other.Data, s.Name), safetensors.F32))
		}
		writeST(t, filepath.Join(dir, checkpoint.SafetensorsFile), ts)
		q, err := checkpoint.Load(filepath.Join(dir, checkpoint.PytorchBinFile), base)
		if err != nil {
			t.Fatal(err)
		}
		same(t, q)
	})
	t.Run("safetensors shard", func(t *testing.T) {
		dir, _ := shardedDir(t, p)
		q, err := checkpoint.Load(filepath.Join(dir, "model-00002-of-00002.safetensors"), base)
		if err != nil {
			t.Fatal(err)
		}
		same(t, q)
	})
	t.Run("pth beside config.json", func(t *testing.T) {
		dir := hfDir(t, "pretrain_32.pth")
		q, err := checkpoint.Load(filepath.Join(dir, "pretrain_32.pth"), base)
		if err != nil {
			t.Fatal(err)
		}
		if q.Config.RopeTheta != base.RopeTheta || q.Config.NumAttentionHeads != base.NumAttentionHeads {
			t.Errorf("rope_theta %g, heads %d: want base's %g, %d (shapes and base, not config.json)",
				q.Config.RopeTheta, q.Config.NumAttentionHeads, base.RopeTheta, base.NumAttentionHeads)
		}
	})
	t.Run("bin without config.json", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), checkpoint.PytorchBinFile)
		if err := checkpoint.SavePth(path, p, "F32"); err != nil {
			t.Fatal(err)
		}
		b := base
		b.NumAttentionHeads = c.NumAttentionHeads
		q, err := checkpoint.Load(path, b)
		if err != nil {
			t.Fatal(err)
		}
		if q.Config.RopeTheta != b.RopeTheta || !slices.Equal(q.Data, p.Data) {
			t.Errorf("rope_theta %g (want base's %g) or weights differ", q.Config.RopeTheta, b.RopeTheta)
		}
	})
	t.Run("safetensors without config.json", func(t *testing.T) {
		dir := hfDir(t, checkpoint.SafetensorsFile)
		path := filepath.Join(t.TempDir(), "minimind.safetensors")
		if err := os.Rename(filepath.Join(dir, checkpoint.SafetensorsFile), path); err != nil {
			t.Fatal(err)
		}
		b := base
		b.NumAttentionHeads = c.NumAttentionHeads
		q, err := checkpoint.Load(path, b)
		if err != nil {
			t.Fatal(err)
		}
		if q.Config.RopeTheta != b.RopeTheta || q.Config.HiddenSize != c.HiddenSize || q.Config.NumKeyValueHeads != c.NumKeyValueHeads ||
			q.Config.NumHiddenLayers != c.NumHiddenLayers || !q.Config.Tied() || !slices.Equal(q.Data, p.Data) {
			t.Errorf("config %+v (want c's sizes, base's rope_theta %g, tied) or weights differ", q.Config, b.RopeTheta)
		}
		// Heads that do not divide k_proj's rows: a clear error, no panic.
		b.NumAttentionHeads = 3
		if _, err := checkpoint.Load(path, b); err == nil {
			t.Error("3 heads: no error")
		}
	})
	t.Run("safetensors without config.json, untied head", func(t *testing.T) {
		var ts []safetensors.Tensor
		for _, s := range p.Specs {
			ts = append(ts, safetensors.FromFloat32(s.Name, s.Shape, p.View(p.Data, s.Name), safetensors.F32))
		}
		emb, _ := p.Spec(model.EmbedName)
		head := slices.Clone(p.View(p.Data, model.EmbedName))
		head[0]++
		ts = append(ts, safetensors.FromFloat32(model.LMHeadName, emb.Shape, head, safetensors.F32))
		path := filepath.Join(t.TempDir(), "untied.safetensors")
		writeST(t, path, ts)
		b := base
		b.NumAttentionHeads = c.NumAttentionHeads
		q, err := checkpoint.Load(path, b)
		if err != nil {
			t.Fatal(err)
		}
		if q.Config.Tied() {
			t.Fatal("an lm_head.weight unlike the embedding loaded as tied")
		}
		if got := q.View(q.Data, model.LMHeadName); !slices.Equal(got, head) {
			t.Error("lm_head.weight differs")
		}
	})
}

// configDiff lists the config.json fields in which got differs from want.
func configDiff(got, want model.Config) string {
	g, _ := json.Marshal(got)
	w, _ := json.Marshal(want)
	var gm, wm map[string]any
	_ = json.Unmarshal(g, &gm)
	_ = json.Unmarshal(w, &wm)
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(wm)) {
		if gv, v := gm[k], wm[k]; !reflect.DeepEqual(gv, v) {
			fmt.Fprintf(&b, "%s: -%v +%v\n", k, v, gv)
		}
	}
	return b.String()
}
