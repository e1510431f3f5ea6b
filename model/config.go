package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"
)

// Config mirrors MiniMind's MiniMindConfig field for field, with the JSON
// names of its HF config.json. It describes either generation (Family):
// MiniMind2 (the 2510 line) or minimind-3 (Qwen3-style: explicit head_dim,
// q/k RMSNorm, MoE without shared experts). The fields of the other
// generation are ignored and not written back.
type Config struct {
	HiddenSize            int     `json:"hidden_size"`             // model width C
	NumHiddenLayers       int     `json:"num_hidden_layers"`       // decoder blocks
	NumAttentionHeads     int     `json:"num_attention_heads"`     // query heads NH
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
	NormTopkProb     bool    `json:"norm_topk_prob"`      // renormalise the top-k weights (MiniMind2: when k > 1; minimind-3: always)

	// TieWordEmbeddings shares the embedding with the LM head (true in
	// every upstream release); false gives lm_head.weight its own tensor.
	TieWordEmbeddings bool `json:"tie_word_embeddings"`

	// minimind-3 fields. HeadDim > 0 marks a minimind-3 config (Family).
	HeadDim             int     `json:"head_dim"`              // head size HS (may differ from hidden/NH)
	NumExperts          int     `json:"num_experts"`           // routed experts E (no shared experts)
	MoeIntermediateSize int     `json:"moe_intermediate_size"` // each expert's FFN width
	RouterAuxLossCoef   float64 `json:"router_aux_loss_coef"`  // weight of the per-batch load-balance loss

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
		TieWordEmbeddings:     true,
	}
}

// DefaultConfig3 returns upstream minimind-3's MiniMindConfig defaults
// (jingyaogong/minimind d65ef2c): the 64M dense model, hidden 768, 8
// layers, 8 query and 4 key/value heads of size 96, FFN 2432, rms_norm_eps
// 1e-6; MoE fields for 4 experts, top-1, aux coefficient 5e-4.
func DefaultConfig3() Config {
	c := Config{
		HiddenSize:            768,
		NumHiddenLayers:       8,
		NumAttentionHeads:     8,
		NumKeyValueHeads:      4,
		VocabSize:             6400,
		HiddenAct:             "silu",
		RMSNormEps:            1e-6,
		RopeTheta:             1e6,
		MaxPositionEmbeddings: 32768,
		FlashAttn:             true,
		BosTokenID:            1,
		EosTokenID:            2,
		NumExpertsPerTok:      1,
		NormTopkProb:          true,
		TieWordEmbeddings:     true,
		NumExperts:            4,
		RouterAuxLossCoef:     5e-4,
	}
	c.HeadDim = c.HiddenSize / c.NumAttentionHeads
	c.IntermediateSize = MiniMind3Intermediate(c.HiddenSize)
	c.MoeIntermediateSize = c.IntermediateSize
	return c
}

// MiniMind3Intermediate is minimind-3's default FFN width:
// 64·ceil(π·hidden/64) (768 → 2432, 512 → 1664).
func MiniMind3Intermediate(hidden int) int {
	return 64 * int(math.Ceil(float64(hidden)*math.Pi/64))
}

// Family names the model generation a config describes: "minimind3" when
// it has a head_dim (every upstream minimind-3 config.json does), else
// "minimind2".
func (c *Config) Family() string {
	if c.IsMiniMind3() {
		return "minimind3"
	}
	return "minimind2"
}

// IsMiniMind3 reports a minimind-3 config (Family "minimind3").
func (c *Config) IsMiniMind3() bool { return c.HeadDim > 0 }

// Experts is the number of routed experts (num_experts or
// n_routed_experts, by family).
func (c *Config) Experts() int {
	if c.IsMiniMind3() {
		return c.NumExperts
	}
	return c.NRoutedExperts
}

// SharedExperts is the number of always-on experts (none in minimind-3).
func (c *Config) SharedExperts() int {
	if c.IsMiniMind3() {
		return 0
	}
	return c.NSharedExperts
}

// ExpertSize is the FFN width of each expert: moe_intermediate_size in
// minimind-3, intermediate_size in MiniMind2.
func (c *Config) ExpertSize() int {
	if c.IsMiniMind3() && c.MoeIntermediateSize > 0 {
		return c.MoeIntermediateSize
	}
	return c.IntermediateSize
}

// AuxCoef is the load-balance loss weight (router_aux_loss_coef or
// aux_loss_alpha, by family).
func (c *Config) AuxCoef() float64 {
	if c.IsMiniMind3() {
		return c.RouterAuxLossCoef
	}
	return c.AuxLossAlpha
}

// Tied reports whether lm_head.weight is the embedding matrix.
func (c *Config) Tied() bool { return c.TieWordEmbeddings }

// SetInferenceRopeScaling turns YaRN on or off as upstream's
// --inference_rope_scaling does: MiniMindConfig's __init__ sets
// rope_scaling to the fixed dict (factor 16, original 2048, beta 32/1)
// when on and to None when off, overriding any rope_scaling of the
// config.json. Call it on a loaded Params.Config before model.New (the
// RoPE tables are built there).
func (c *Config) SetInferenceRopeScaling(on bool) {
	c.InferenceRopeScaling = on
	c.RopeScaling = nil
	if on {
		c.RopeScaling = DefaultYaRN()
	}
}

// MiniMindIntermediate is the FFN width the original derives when
// intermediate_size is unset: int(8h/3) rounded up to a multiple of 64
// (512 → 1408).
func MiniMindIntermediate(hidden int) int {
	t := hidden * 8 / 3
	return 64 * ((t + 63) / 64)
}

// HeadSize is the attention head size HS: head_dim in minimind-3,
// hidden/heads in MiniMind2.
func (c *Config) HeadSize() int {
	if c.HeadDim > 0 {
		return c.HeadDim
	}
	return c.HiddenSize / c.NumAttentionHeads
}

// QDim is the width of the attention's query (and output) projection,
// NH·HS.
func (c *Config) QDim() int { return c.NumAttentionHeads * c.HeadSize() }

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
	if c.HeadDim < 0 {
		return fmt.Errorf("config: head_dim must be positive, got %d", c.HeadDim)
	}
	if !c.IsMiniMind3() && c.HiddenSize%c.NumAttentionHeads != 0 {
		return fmt.Errorf("config: hidden_size %d is not divisible by num_attention_heads %d", c.HiddenSize, c.NumAttentionHeads)
	}
	if c.NumAttentionHeads%c.NumKeyValueHeads != 0 {
		return fmt.Errorf("config: num_attention_heads %d is not divisible by num_key_value_heads %d", c.NumAttentionHeads, c.NumKeyValueHeads)
	}
	if c.HeadSize()%2 != 0 {
		if c.IsMiniMind3() {
			return fmt.Errorf("config: head_dim %d must be even for RoPE", c.HeadDim)
		}
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
		if c.IsMiniMind3() {
			return c.validateMoE3()
		}
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

// validateMoE3 checks minimind-3's MoE fields.
func (c *Config) validateMoE3() error {
	for _, p := range []struct {
		name string
		v    int
	}{
		{"num_experts", c.NumExperts},
		{"num_experts_per_tok", c.NumExpertsPerTok},
		{"moe_intermediate_size", c.MoeIntermediateSize},
	} {
		if p.v <= 0 {
			return fmt.Errorf("config: %s must be positive, got %d", p.name, p.v)
		}
	}
	if c.NumExpertsPerTok > c.NumExperts {
		return fmt.Errorf("config: num_experts_per_tok %d exceeds num_experts %d", c.NumExpertsPerTok, c.NumExperts)
	}
	if c.RouterAuxLossCoef < 0 {
		return fmt.Errorf("config: router_aux_loss_coef must not be negative, got %g", c.RouterAuxLossCoef)
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

// Keys only one generation's config.json has: the family is read from
// them, and a file with both is refused.
var (
	keysMiniMind2 = []string{"n_routed_experts", "n_shared_experts", "aux_loss_alpha", "seq_aux", "scoring_func"}
	keysMiniMind3 = []string{"head_dim", "num_experts", "moe_intermediate_size", "router_aux_loss_coef"}
)

// UnmarshalJSON reads a config.json on top of the defaults of its family
// (DefaultConfig, or DefaultConfig3 when it has any minimind-3 key):
// missing fields keep their defaults, null num_key_value_heads means
// "= heads", null intermediate_size means the family's derived width, and
// unknown fields are kept for MarshalJSON. In minimind-3, a missing
// head_dim is hidden/heads, a missing moe_intermediate_size is
// intermediate_size, and rope_scaling follows inference_rope_scaling as
// upstream's __init__ sets it (the file's rope_scaling is ignored).
func (c *Config) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	isNull := func(k string) bool { v, ok := raw[k]; return ok && bytes.Equal(bytes.TrimSpace(v), []byte("null")) }
	unset := func(k string) bool { _, ok := raw[k]; return !ok || isNull(k) }
	var has2, has3 []string
	for _, k := range keysMiniMind2 {
		if _, ok := raw[k]; ok {
			has2 = append(has2, k)
		}
	}
	for _, k := range keysMiniMind3 {
		if _, ok := raw[k]; ok {
			has3 = append(has3, k)
		}
	}
	if len(has2) > 0 && len(has3) > 0 {
		return fmt.Errorf("config: mixes MiniMind2 fields (%s) with minimind-3 fields (%s)", strings.Join(has2, ", "), strings.Join(has3, ", "))
	}
	m3 := len(has3) > 0
	type plain Config
	p := plain(DefaultConfig())
	if m3 {
		p = plain(DefaultConfig3())
	}
	if err := json.Unmarshal(data, &p); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	*c = Config(p)
	if isNull("num_key_value_heads") {
		c.NumKeyValueHeads = c.NumAttentionHeads
	}
	if m3 {
		if unset("head_dim") && c.NumAttentionHeads > 0 {
			c.HeadDim = c.HiddenSize / c.NumAttentionHeads
		}
		if unset("intermediate_size") {
			c.IntermediateSize = MiniMind3Intermediate(c.HiddenSize)
		}
		if unset("moe_intermediate_size") {
			c.MoeIntermediateSize = c.IntermediateSize
		}
		c.SetInferenceRopeScaling(c.InferenceRopeScaling)
	} else if isNull("intermediate_size") {
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

// MarshalJSON writes every MiniMind field of the config's family plus
// model_type, architectures and any unknown fields read earlier, with sorted keys
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
	// Each generation's file has only its own fields (UnmarshalJSON reads
	// the family from them).
	drop := keysMiniMind3
	if c.IsMiniMind3() {
		drop = keysMiniMind2
	}
	for _, k := range drop {
		delete(m, k)
	}
	m["model_type"] = json.RawMessage(`"minimind"`)
	if _, ok := m["architectures"]; !ok {
		m["architectures"] = json.RawMessage(`["MiniMindForCausalLM"]`)
	}
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
