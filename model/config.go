package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
)

// Config mirrors MiniMind's MiniMindConfig (the 2510 line) field for field,
// with the JSON names of its HF config.json.
type Config struct {
	HiddenSize            int     `json:"hidden_size"`             // model width C
	NumHiddenLayers       int     `json:"num_hidden_layers"`       // decoder blocks
	NumAttentionHeads     int     `json:"num_attention_heads"`     // query heads NH; head size = hidden/NH
	NumKeyValueHeads      int     `json:"num_key_value_heads"`     // key/value heads NKV (grouped-query attention); must divide NH
	VocabSize             int     `json:"vocab_size"`              // V, tokenizer size
	IntermediateSize      int     `json:"intermediate_size"`       // FFN width F (each expert too)
	HiddenAct             string  `json:"hidden_act"`              // only "silu"
	RMSNormEps            float64 `json:"rms_norm_eps"`            // RMSNorm epsilon
	RopeTheta             float64 `json:"rope_theta"`              // RoPE base
	MaxPositionEmbeddings int     `json:"max_position_embeddings"` // length of the RoPE tables
	Dropout               float64 `json:"dropout"`                 // accepted for compatibility; we train without dropout
	FlashAttn             bool    `json:"flash_attn"`              // accepted for compatibility (always the same maths here)
	BosTokenID            int     `json:"bos_token_id"`            // <|im_start|>
	EosTokenID            int     `json:"eos_token_id"`            // <|im_end|>

	// InferenceRopeScaling turns on YaRN with MiniMind's fixed parameters
	// when RopeScaling is not given explicitly.
	InferenceRopeScaling bool         `json:"inference_rope_scaling"`
	RopeScaling          *RopeScaling `json:"rope_scaling"`

	UseMoE           bool    `json:"use_moe"`             // Mixture-of-Experts FFN instead of the dense one
	NumExpertsPerTok int     `json:"num_experts_per_tok"` // top-k experts per token
	NRoutedExperts   int     `json:"n_routed_experts"`    // routed experts E
	NSharedExperts   int     `json:"n_shared_experts"`    // always-on experts
	ScoringFunc      string  `json:"scoring_func"`        // only "softmax"
	AuxLossAlpha     float64 `json:"aux_loss_alpha"`      // weight of the load-balance loss
	SeqAux           bool    `json:"seq_aux"`             // balance loss per sequence (true) or per batch
	NormTopkProb     bool    `json:"norm_topk_prob"`      // renormalise the top-k weights (when k > 1)

	// extra holds config.json fields this version does not know, written
	// back unchanged.
	extra map[string]json.RawMessage
}

// RopeScaling is the YaRN context-extension setting (SPEC §2.2).
type RopeScaling struct {
	Type                          string  `json:"type"`
	Factor                        float64 `json:"factor"`
	OriginalMaxPositionEmbeddings int     `json:"original_max_position_embeddings"`
	BetaFast                      float64 `json:"beta_fast"`
	BetaSlow                      float64 `json:"beta_slow"`
	AttentionFactor               float64 `json:"attention_factor"`
}

// DefaultYaRN is what MiniMind uses when inference_rope_scaling is true.
func DefaultYaRN() *RopeScaling {
	return &RopeScaling{Type: "yarn", Factor: 16, OriginalMaxPositionEmbeddings: 2048, BetaFast: 32, BetaSlow: 1, AttentionFactor: 1}
}

// DefaultConfig returns MiniMind-Go's defaults (SPEC decisions table): the
// MiniMind2-Small shape with intermediate_size 1536, dense.
func DefaultConfig() Config {
	return Config{
		HiddenSize:            512,
		NumHiddenLayers:       8,
		NumAttentionHeads:     8,
		NumKeyValueHeads:      2,
		VocabSize:             6400,
		IntermediateSize:      1536,
		HiddenAct:             "silu",
		RMSNormEps:            1e-5,
		RopeTheta:             1e6,
		MaxPositionEmbeddings: 32768,
		Dropout:               0,
		FlashAttn:             true,
		BosTokenID:            1,
		EosTokenID:            2,
		UseMoE:                false,
		NumExpertsPerTok:      2,
		NRoutedExperts:        4,
		NSharedExperts:        1,
		ScoringFunc:           "softmax",
		AuxLossAlpha:          0.01,
		SeqAux:                true,
		NormTopkProb:          true,
	}
}

// MiniMindIntermediate is the FFN width the original derives when
// intermediate_size is unset: int(8h/3) rounded up to a multiple of 64
// (512 → 1408).
func MiniMindIntermediate(hidden int) int {
	t := hidden * 8 / 3
	return 64 * ((t + 63) / 64)
}

// HeadSize is hidden/heads.
func (c *Config) HeadSize() int { return c.HiddenSize / c.NumAttentionHeads }

// Validate reports the first invalid field, by its config.json name.
func (c *Config) Validate() error {
	pos := []struct {
		name string
		v    int
	}{
		{"hidden_size", c.HiddenSize},
		{"num_hidden_layers", c.NumHiddenLayers},
		{"num_attention_heads", c.NumAttentionHeads},
		{"num_key_value_heads", c.NumKeyValueHeads},
		{"vocab_size", c.VocabSize},
		{"intermediate_size", c.IntermediateSize},
		{"max_position_embeddings", c.MaxPositionEmbeddings},
	}
	for _, p := range pos {
		if p.v <= 0 {
			return fmt.Errorf("config: %s must be positive, got %d", p.name, p.v)
		}
	}
	if c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("config: hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("config: num_attention_heads %d is not divisible by num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadSize()%2 != 0 {
		return fmt.Errorf("config: head size hidden_size/num_attention_heads = %d must be even for RoPE", c.HeadSize())
	}
	if !(c.RMSNormEps > 0) {
		return fmt.Errorf("config: rms_norm_eps must be positive, got %g", c.RMSNormEps)
	}
	if !(c.RopeTheta > 1) {
		return fmt.Errorf("config: rope_theta must be > 1, got %g", c.RopeTheta)
	}
	if c.HiddenAct != "" && c.HiddenAct != "silu" {
		return fmt.Errorf("config: hidden_act %q is not supported (only \"silu\")", c.HiddenAct)
	}
	if c.RopeScaling != nil {
		rs := c.RopeScaling
		if rs.Type != "yarn" {
			return fmt.Errorf("config: rope_scaling.type %q is not supported (only \"yarn\")", rs.Type)
		}
		if !(rs.Factor >= 1) || rs.OriginalMaxPositionEmbeddings <= 0 || !(rs.BetaFast > 0) || !(rs.BetaSlow > 0) {
			return fmt.Errorf("config: rope_scaling needs factor >= 1, original_max_position_embeddings > 0 and positive beta_fast/beta_slow")
		}
	}
	if c.UseMoE {
		moe := []struct {
			name string
			v    int
		}{
			{"n_routed_experts", c.NRoutedExperts},
			{"num_experts_per_tok", c.NumExpertsPerTok},
		}
		for _, p := range moe {
			if p.v <= 0 {
				return fmt.Errorf("config: %s must be positive, got %d", p.name, p.v)
			}
		}
		if c.NSharedExperts < 0 {
			return fmt.Errorf("config: n_shared_experts must not be negative, got %d", c.NSharedExperts)
		}
		if c.NumExpertsPerTok > c.NRoutedExperts {
			return fmt.Errorf("config: num_experts_per_tok %d exceeds n_routed_experts %d", c.NumExpertsPerTok, c.NRoutedExperts)
		}
		if c.ScoringFunc != "" && c.ScoringFunc != "softmax" {
			return fmt.Errorf("config: scoring_func %q is not supported (only \"softmax\")", c.ScoringFunc)
		}
		if c.AuxLossAlpha < 0 {
			return fmt.Errorf("config: aux_loss_alpha must not be negative, got %g", c.AuxLossAlpha)
		}
	}
	return nil
}

// Scaling returns the effective YaRN setting: RopeScaling, or MiniMind's
// default when inference_rope_scaling is on, or nil.
func (c *Config) Scaling() *RopeScaling {
	if c.RopeScaling != nil {
		return c.RopeScaling
	}
	if c.InferenceRopeScaling {
		return DefaultYaRN()
	}
	return nil
}

// UnmarshalJSON reads a config.json on top of DefaultConfig: missing fields
// keep their defaults, null num_key_value_heads means "= heads", null
// intermediate_size means MiniMind's derived width, and unknown fields are
// kept for MarshalJSON.
func (c *Config) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	type plain Config
	p := plain(DefaultConfig())
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	*c = Config(p)
	isNull := func(k string) bool { v, ok := raw[k]; return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null")) }
	if isNull("num_key_value_heads") {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if isNull("intermediate_size") {
		c.IntermediateSize = MiniMindIntermediate(c.HiddenSize)
	}
	known := map[string]bool{}
	for _, k := range configKeys() {
		known[k] = true
	}
	c.extra = map[string]json.RawMessage{}
	for k, v := range raw {
		if !known[k] {
			c.extra[k] = v
		}
	}
	return nil
}

func configKeys() []string {
	b, _ := json.Marshal(configJSON(DefaultConfig()))
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

type configJSONType Config

func configJSON(c Config) configJSONType { return configJSONType(c) }

// MarshalJSON writes every MiniMind field plus model_type, architectures,
// tie_word_embeddings and any unknown fields read earlier, with sorted keys
// (one per line; json.Marshal compacts it, json.MarshalIndent keeps it
// readable).
func (c Config) MarshalJSON() ([]byte, error) {
	b, err := json.Marshal(configJSONType(c))
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range c.extra {
		m[k] = v
	}
	m["model_type"] = json.RawMessage(`"minimind"`)
	if _, ok := m["architectures"]; !ok {
		m["architectures"] = json.RawMessage(`["MiniMindForCausalLM"]`)
	}
	m["tie_word_embeddings"] = json.RawMessage(`true`)
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var buf bytes.Buffer
	buf.WriteString("{\n")
	for i, k := range keys {
		kb, _ := json.Marshal(k)
		var v bytes.Buffer
		if err := json.Compact(&v, m[k]); err != nil {
			return nil, err
		}
		fmt.Fprintf(&buf, "  %s: %s", kb, v.Bytes())
		if i < len(keys)-1 {
			buf.WriteByte(',')
		}
		buf.WriteByte('\n')
	}
	buf.WriteString("}")
	return buf.Bytes(), nil
}

// Extra returns the config.json fields this version does not interpret.
func (c *Config) Extra() map[string]json.RawMessage { return c.extra }

// ReadConfig reads and validates a config.json file.
func ReadConfig(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, err
	}
	var c Config
	if err := json.Unmarshal(data, &c); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// NumParams is the number of unique parameters (tied matrix counted once).
func (c *Config) NumParams() int {
	n := 0
	for _, s := range Layout(c) {
		n += s.Size()
	}
	return n
}

// ropeInvFreq returns the (possibly YaRN-scaled) inverse frequencies,
// computed in float64 then rounded, and the attention factor.
func (c *Config) ropeInvFreq() ([]float64, float64) {
	hd := c.HeadSize()
	inv := make([]float64, hd/2)
	for i := range inv {
		// The original computes 1/theta^(arange(0,hd,2)/hd) in float32.
		e := float32(2*i) / float32(hd)
		inv[i] = float64(float32(1.0 / math.Pow(c.RopeTheta, float64(e))))
	}
	att := 1.0
	rs := c.Scaling()
	if rs != nil && float64(c.MaxPositionEmbeddings)/float64(rs.OriginalMaxPositionEmbeddings) > 1 {
		orig := float64(rs.OriginalMaxPositionEmbeddings)
		dimIdx := func(b float64) float64 {
			return float64(hd) * math.Log(orig/(2*math.Pi*b)) / (2 * math.Log(c.RopeTheta))
		}
		low := math.Max(math.Floor(dimIdx(rs.BetaFast)), 0)
		high := math.Min(math.Ceil(dimIdx(rs.BetaSlow)), float64(hd/2-1))
		for i := range inv {
			ramp := (float64(i) - low) / math.Max(high-low, 0.001)
			ramp = math.Min(math.Max(ramp, 0), 1)
			inv[i] *= (1 - ramp) + ramp/rs.Factor
		}
		if rs.AttentionFactor != 0 {
			att = rs.AttentionFactor
		}
	}
	return inv, att
}

// RopeTables returns cos and sin tables [positions, HS/2] in float32,
// computed as PyTorch does (float32 angle = pos·inv_freq).
func (c *Config) RopeTables(positions int) (cos, sin []float32) {
	inv, att := c.ropeInvFreq()
	half := len(inv)
	cos = make([]float32, positions*half)
	sin = make([]float32, positions*half)
	for p := 0; p < positions; p++ {
		for i, f := range inv {
			ang := float32(p) * float32(f) // fp32 product, as torch.outer in fp32
			cos[p*half+i] = float32(math.Cos(float64(ang)) * att)
			sin[p*half+i] = float32(math.Sin(float64(ang)) * att)
		}
	}
	return cos, sin
}
