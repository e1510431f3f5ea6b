package checkpoint

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/minimind-go/minimind/checkpoint/pth"
	"github.com/minimind-go/minimind/checkpoint/safetensors"
	"github.com/minimind-go/minimind/model"
)

// ErrUnsupportedConfig is wrapped by errors for a config.json that
// describes a model MiniMind-Go cannot run exactly (another model_type, a
// RoPE scaling it lacks, biases, sliding windows, ...).
var ErrUnsupportedConfig = errors.New("unsupported config")

// ReadHFConfig reads the config.json at path as a model.Config, whatever
// wrote it: MiniMind's own (model_type "minimind" or none, read by
// model.ReadConfig), or transformers' LlamaForCausalLM ("llama": a
// MiniMind2 config), Qwen3ForCausalLM ("qwen3") and Qwen3MoeForCausalLM
// ("qwen3_moe"): minimind-3 configs. Fields a transformers file leaves out
// take that class's defaults (tie_word_embeddings false, rope_theta
// 10000, ...); the architecture sizes must be present. A config whose
// model MiniMind-Go would not compute exactly is an error naming the
// field (ErrUnsupportedConfig).
func ReadHFConfig(path string) (model.Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return model.Config{}, err
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return model.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	f := &hfFields{raw: raw}
	var mt string
	f.get("model_type", &mt)
	var c model.Config
	switch mt {
	case "", "minimind":
		if f.err != nil {
			return model.Config{}, fmt.Errorf("%s: %w", path, f.err)
		}
		return model.ReadConfig(path)
	case "llama":
		c = llamaConfig(f)
	case "qwen3", "qwen3_moe":
		c = qwen3Config(f, mt == "qwen3_moe")
	default:
		f.fail(fmt.Errorf("model_type %q: %w: MiniMind-Go reads \"minimind\" (MiniMindForCausalLM), \"llama\", \"qwen3\" and \"qwen3_moe\"", mt, ErrUnsupportedConfig))
	}
	err = f.err
	if err == nil {
		err = c.Validate()
	}
	if err != nil {
		return model.Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// llamaConfig maps LlamaConfig's fields onto a MiniMind2 config (the same
// block: RMSNorm, rotate-half RoPE, GQA, SwiGLU, no biases).
func llamaConfig(f *hfFields) model.Config {
	c := model.DefaultConfig()
	f.architecture("LlamaForCausalLM")
	f.sizes(&c, 0)
	if hd, ok := f.optInt("head_dim"); ok && c.NumAttentionHeads > 0 && hd != c.HiddenSize/c.NumAttentionHeads {
		f.fail(fmt.Errorf("head_dim %d differs from hidden_size/num_attention_heads = %d: %w (a MiniMind2 block derives it)", hd, c.HiddenSize/c.NumAttentionHeads, ErrUnsupportedConfig))
	}
	f.refuseTrue("mlp_bias")
	f.common(&c, 1e-6, 2048)
	c.UseMoE = false
	return c
}

// qwen3Config maps Qwen3Config / Qwen3MoeConfig onto a minimind-3 config
// (q/k RMSNorm before RoPE, explicit head_dim; MoE: softmax router,
// top-k, optional renormalisation, no shared experts).
func qwen3Config(f *hfFields, moe bool) model.Config {
	c := model.DefaultConfig3()
	f.architecture(map[bool]string{false: "Qwen3ForCausalLM", true: "Qwen3MoeForCausalLM"}[moe])
	kvDefault := 32 // Qwen3Config's; Qwen3MoeConfig's is 4
	if moe {
		kvDefault = 4
	}
	f.sizes(&c, kvDefault)
	c.MoeIntermediateSize = c.IntermediateSize
	c.HeadDim = 128 // the classes' default
	f.get("head_dim", &c.HeadDim)
	f.common(&c, 1e-6, 32768)
	if f.refuseTrue("use_sliding_window") {
		return c
	}
	var layerTypes []string
	f.get("layer_types", &layerTypes)
	for i, t := range layerTypes {
		if t != "full_attention" {
			f.fail(fmt.Errorf("layer_types[%d] %q: %w (only full_attention)", i, t, ErrUnsupportedConfig))
			break
		}
	}
	c.UseMoE = moe
	if !moe {
		return c
	}
	f.need("num_experts", &c.NumExperts)
	f.need("num_experts_per_tok", &c.NumExpertsPerTok)
	f.need("moe_intermediate_size", &c.MoeIntermediateSize)
	c.NormTopkProb, c.RouterAuxLossCoef = false, 0.001 // Qwen3MoeConfig's defaults
	f.get("norm_topk_prob", &c.NormTopkProb)
	f.get("router_aux_loss_coef", &c.RouterAuxLossCoef)
	// Every layer must be sparse: Qwen3Moe uses a dense MLP on the layers
	// in mlp_only_layers and off the decoder_sparse_step grid.
	step := 1
	f.get("decoder_sparse_step", &step)
	if step != 1 {
		f.fail(fmt.Errorf("decoder_sparse_step %d: %w (only 1: every layer MoE)", step, ErrUnsupportedConfig))
	}
	var dense []int
	f.get("mlp_only_layers", &dense)
	if len(dense) > 0 {
		f.fail(fmt.Errorf("mlp_only_layers %v: %w (dense layers in a MoE model; only [])", dense, ErrUnsupportedConfig))
	}
	return c
}

// hfFields reads typed fields from a config.json, keeping the first
// error, which names the field.
type hfFields struct {
	raw map[string]json.RawMessage
	err error
}

func (f *hfFields) fail(err error) {
	if f.err == nil {
		f.err = err
	}
}

// present reports a field that is there and not null.
func (f *hfFields) present(key string) bool {
	v, ok := f.raw[key]
	return ok && !bytes.Equal(bytes.TrimSpace(v), []byte("null"))
}

// get decodes a present field into v and reports whether it was present;
// absent or null leaves v unchanged.
func (f *hfFields) get(key string, v any) bool {
	if !f.present(key) {
		return false
	}
	if err := json.Unmarshal(f.raw[key], v); err != nil {
		f.fail(fmt.Errorf("field %s: %w", key, err))
		return false
	}
	return true
}

// need is get for a field transformers' file always has.
func (f *hfFields) need(key string, v any) {
	if !f.get(key, v) && f.err == nil {
		f.fail(fmt.Errorf("field %s is missing", key))
	}
}

func (f *hfFields) optInt(key string) (int, bool) {
	var n int
	return n, f.get(key, &n)
}

// refuseTrue fails on a boolean field that is true (a feature MiniMind
// lacks) and reports it.
func (f *hfFields) refuseTrue(key string) bool {
	var b bool
	if f.get(key, &b) && b {
		f.fail(fmt.Errorf("%s true: %w", key, ErrUnsupportedConfig))
		return true
	}
	return false
}

// architecture checks that architectures, when given, names want: another
// head (sequence classification, ...) has other tensors and outputs.
func (f *hfFields) architecture(want string) {
	var archs []string
	if f.get("architectures", &archs) && len(archs) > 0 && !containsString(archs, want) {
		f.fail(fmt.Errorf("architectures %v: %w (only %s)", archs, ErrUnsupportedConfig, want))
	}
}

// sizes reads the architecture sizes; num_key_value_heads absent is
// kvDefault (0: the head count), null the head count.
func (f *hfFields) sizes(c *model.Config, kvDefault int) {
	f.need("hidden_size", &c.HiddenSize)
	f.need("num_hidden_layers", &c.NumHiddenLayers)
	f.need("num_attention_heads", &c.NumAttentionHeads)
	f.need("vocab_size", &c.VocabSize)
	f.need("intermediate_size", &c.IntermediateSize)
	c.NumKeyValueHeads = c.NumAttentionHeads
	if _, ok := f.raw["num_key_value_heads"]; !ok && kvDefault > 0 {
		c.NumKeyValueHeads = kvDefault
	}
	f.get("num_key_value_heads", &c.NumKeyValueHeads)
}

// common reads the fields Llama and Qwen3 share, with the class defaults
// for those a file may leave out, and refuses what MiniMind lacks.
func (f *hfFields) common(c *model.Config, eps float64, maxPos int) {
	c.HiddenAct, c.RMSNormEps, c.RopeTheta, c.MaxPositionEmbeddings = "silu", eps, 10000, maxPos
	c.TieWordEmbeddings = false
	f.get("hidden_act", &c.HiddenAct)
	f.get("rms_norm_eps", &c.RMSNormEps)
	f.get("rope_theta", &c.RopeTheta)
	f.get("max_position_embeddings", &c.MaxPositionEmbeddings)
	f.get("tie_word_embeddings", &c.TieWordEmbeddings)
	f.tokenID("bos_token_id", &c.BosTokenID)
	f.tokenID("eos_token_id", &c.EosTokenID)
	if c.HiddenAct != "silu" {
		f.fail(fmt.Errorf("hidden_act %q: %w (only \"silu\")", c.HiddenAct, ErrUnsupportedConfig))
	}
	f.refuseTrue("attention_bias")
	if f.present("quantization_config") {
		f.fail(fmt.Errorf("quantization_config: %w (quantized weights)", ErrUnsupportedConfig))
	}
	// 4.x files say rope_scaling, 5.x files rope_parameters (with the
	// theta inside): only plain RoPE is MiniMind's without YaRN.
	for _, key := range []string{"rope_scaling", "rope_parameters"} {
		var rp map[string]any
		if !f.get(key, &rp) {
			continue
		}
		t, _ := rp["rope_type"].(string)
		if t == "" {
			t, _ = rp["type"].(string)
		}
		if t != "" && t != "default" {
			f.fail(fmt.Errorf("%s type %q: %w (only plain RoPE: null or \"default\")", key, t, ErrUnsupportedConfig))
		}
		if theta, ok := rp["rope_theta"].(float64); ok {
			c.RopeTheta = theta
		}
	}
	c.Dropout, c.FlashAttn = 0, true
	c.SetInferenceRopeScaling(false)
}

// tokenID reads a token id field that may be an int or a list of ints
// (several stop tokens; the first is kept).
func (f *hfFields) tokenID(key string, dst *int) {
	if !f.present(key) {
		return
	}
	var ids []int
	if json.Unmarshal(f.raw[key], &ids) == nil {
		if len(ids) > 0 {
			*dst = ids[0]
		}
		return
	}
	f.get(key, dst)
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// openWeights finds dir's weights as transformers does: model.safetensors,
// else its sharded index, else pytorch_model.bin (a torch zip), else its
// index.
func openWeights(dir string) (tensorSource, error) {
	for _, w := range []struct {
		name string
		open func(string) (tensorSource, error)
	}{
		{SafetensorsFile, openSafetensors},
		{SafetensorsIndexFile, openIndex(openSafetensors)},
		{PytorchBinFile, openBin},
		{PytorchBinIndexFile, openIndex(openBin)},
	} {
		path := filepath.Join(dir, w.name)
		_, err := os.Stat(path)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return tensorSource{}, err
		}
		src, err := w.open(path)
		if err != nil {
			return tensorSource{}, err
		}
		return dropBuffers(src), nil
	}
	return tensorSource{}, fmt.Errorf("%s: no weights: none of %s, %s, %s or %s", dir, SafetensorsFile, SafetensorsIndexFile, PytorchBinFile, PytorchBinIndexFile)
}

// loadWeightFile reads one weight file of an HF directory (.safetensors or
// a torch .bin) with the config.json beside it; a shard that the
// directory's index names brings in the whole index.
func loadWeightFile(path string) (*model.Params, error) {
	dir := filepath.Dir(path)
	cfg, err := ReadHFConfig(filepath.Join(dir, ConfigFile))
	if err != nil {
		return nil, err
	}
	open, index := openBin, PytorchBinIndexFile
	if strings.EqualFold(filepath.Ext(path), ".safetensors") {
		open, index = openSafetensors, SafetensorsIndexFile
	}
	sharded, err := inIndex(filepath.Join(dir, index), filepath.Base(path))
	if err != nil {
		return nil, err
	}
	if sharded {
		open = openIndex(open)
		path = filepath.Join(dir, index)
	}
	src, err := open(path)
	if err != nil {
		return nil, err
	}
	p, err := build(cfg, dropBuffers(src))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return p, nil
}

// inIndex reports whether the sharded checkpoint index at path (absent:
// false) names file as one of its shards.
func inIndex(path, file string) (bool, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(data, &idx); err != nil {
		return false, fmt.Errorf("%s: %w", path, err)
	}
	for _, f := range idx.WeightMap {
		if f == file {
			return true, nil
		}
	}
	return false, nil
}

func openSafetensors(path string) (tensorSource, error) {
	f, err := safetensors.ReadFile(path)
	if err != nil {
		return tensorSource{}, err
	}
	return safetensorsSource(f), nil
}

func openBin(path string) (tensorSource, error) {
	ts, err := pth.ReadStateDict(path)
	if err != nil {
		return tensorSource{}, err
	}
	return pthSource(ts), nil
}

// pthSource serves a state dict's tensors under their names without
// wrappers' prefixes (a later duplicate wins).
func pthSource(ts []pth.Tensor) tensorSource {
	byName := map[string]pth.Tensor{}
	src := tensorSource{
		shape: func(name string) ([]int, bool) { t, ok := byName[name]; return t.Shape, ok },
		data:  func(name string) ([]float32, error) { return byName[name].Data, nil },
	}
	for _, t := range ts {
		n := stripPrefix(t.Name)
		if _, dup := byName[n]; !dup {
			src.names = append(src.names, n)
		}
		byName[n] = t
	}
	return src
}

// dropBuffers hides the RoPE inv_freq buffers older transformers saved
// with Llama weights: they are computed from the config, not parameters.
func dropBuffers(src tensorSource) tensorSource {
	names := src.names[:0:0]
	for _, n := range src.names {
		if !strings.HasSuffix(n, ".rotary_emb.inv_freq") {
			names = append(names, n)
		}
	}
	src.names = names
	return src
}

// openIndex returns an opener for a sharded checkpoint's index
// ({"weight_map": {tensor: shard file}}) whose shards open reads. Every
// shard must be a file in the index's directory, hold exactly the
// tensors the map gives it, and exist.
func openIndex(open func(string) (tensorSource, error)) func(string) (tensorSource, error) {
	return func(path string) (tensorSource, error) {
		data, err := os.ReadFile(path)
		if err != nil {
			return tensorSource{}, err
		}
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		if err := json.Unmarshal(data, &idx); err != nil {
			return tensorSource{}, fmt.Errorf("%s: %w", path, err)
		}
		if len(idx.WeightMap) == 0 {
			return tensorSource{}, fmt.Errorf("%s: field weight_map is missing or empty", path)
		}
		var files []string
		for name, file := range idx.WeightMap {
			if file == "" || file != filepath.Base(file) || strings.ContainsAny(file, `/\`) || file == ".." {
				return tensorSource{}, fmt.Errorf("%s: weight_map[%s] is %s, not a file name in the model directory", path, quoteName(name), quoteName(file))
			}
			if !containsString(files, file) {
				files = append(files, file)
			}
		}
		sort.Strings(files)
		dir := filepath.Dir(path)
		shards := map[string]tensorSource{}
		merged := tensorSource{
			shape: func(name string) ([]int, bool) {
				file, ok := idx.WeightMap[name]
				if !ok {
					return nil, false
				}
				return shards[file].shape(name)
			},
			data: func(name string) ([]float32, error) { return shards[idx.WeightMap[name]].data(name) },
		}
		// Shards of one index share a format, so into is all or none.
		direct := true
		for _, file := range files {
			s, err := open(filepath.Join(dir, file))
			if err != nil {
				return tensorSource{}, fmt.Errorf("%s: shard %s: %w", path, file, err)
			}
			shards[file] = s
			direct = direct && s.into != nil
			for _, n := range s.names {
				if idx.WeightMap[n] != file {
					return tensorSource{}, fmt.Errorf("%s: shard %s holds tensor %s, which weight_map does not give it", path, file, quoteName(n))
				}
			}
			merged.names = append(merged.names, s.names...)
		}
		if direct {
			merged.into = func(name string, dst []float32) error { return shards[idx.WeightMap[name]].into(name, dst) }
		}
		for name, file := range idx.WeightMap {
			if _, ok := shards[file].shape(name); !ok {
				return tensorSource{}, fmt.Errorf("%s: weight_map puts tensor %s in shard %s, which lacks it: %w", path, quoteName(name), file, ErrMissingTensor)
			}
		}
		return merged, nil
	}
}
