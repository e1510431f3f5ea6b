package main

import (
	"errors"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/model"
	"github.com/spf13/pflag"
)

// TestPresetFlags: --preset starts from upstream's size, explicit flags
// override it, and the sizes that follow from others keep the family's
// rules.
func TestPresetFlags(t *testing.T) {
	cases := []struct {
		args                         []string
		family                       string
		hidden, layers, ffn, headDim int
		moe                          bool
		experts, shared, params      int
		yarn                         bool
	}{
		{args: []string{"--preset", "minimind2-small"}, family: "minimind2", hidden: 512, layers: 8, ffn: 1408, moe: false, params: 25829888},
		{args: []string{"--preset", "minimind2-moe"}, family: "minimind2", hidden: 640, layers: 8, ffn: 1728, moe: true, experts: 4, shared: 1, params: 145029760},
		{args: []string{"--preset", "minimind3"}, family: "minimind3", hidden: 768, layers: 8, ffn: 2432, headDim: 96, params: 63912192},
		{args: []string{"--preset", "minimind3-moe"}, family: "minimind3", hidden: 768, layers: 8, ffn: 2432, headDim: 96, moe: true, experts: 4, params: 198416640},
		// Overrides: the FFN follows the new width by the family's rule.
		{args: []string{"--preset", "minimind2-small", "--hidden_size", "256"}, family: "minimind2", hidden: 256, layers: 8, ffn: 704},
		{args: []string{"--preset", "minimind3", "--hidden_size", "512", "--num_hidden_layers", "2"}, family: "minimind3", hidden: 512, layers: 2, ffn: 1664, headDim: 64},
		{args: []string{"--preset", "minimind3", "--intermediate_size", "1000"}, family: "minimind3", hidden: 768, layers: 8, ffn: 1000, headDim: 96},
		{args: []string{"--preset", "minimind3", "--use_moe"}, family: "minimind3", hidden: 768, layers: 8, ffn: 2432, headDim: 96, moe: true, experts: 4},
		{args: []string{"--preset", "minimind3", "--inference_rope_scaling"}, family: "minimind3", hidden: 768, layers: 8, ffn: 2432, headDim: 96, yarn: true},
		// No preset: MiniMind-Go's defaults and the 3·hidden FFN rule.
		{args: []string{"--hidden_size", "256"}, family: "minimind2", hidden: 256, layers: 8, ffn: 768},
	}
	for _, tc := range cases {
		t.Run(joinArgs(tc.args), func(t *testing.T) {
			var mf ModelFlags
			fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
			mf.AddFlags(fs)
			if err := fs.Parse(tc.args); err != nil {
				t.Fatal(err)
			}
			c, err := mf.Config()
			if err != nil {
				t.Fatal(err)
			}
			if c.Family() != tc.family || c.HiddenSize != tc.hidden || c.NumHiddenLayers != tc.layers || c.IntermediateSize != tc.ffn || c.UseMoE != tc.moe {
				t.Errorf("got %s hidden %d layers %d ffn %d moe %v; want %s %d %d %d %v",
					c.Family(), c.HiddenSize, c.NumHiddenLayers, c.IntermediateSize, c.UseMoE, tc.family, tc.hidden, tc.layers, tc.ffn, tc.moe)
			}
			if tc.headDim != 0 && c.HeadDim != tc.headDim {
				t.Errorf("head_dim %d, want %d", c.HeadDim, tc.headDim)
			}
			if tc.moe && (c.Experts() != tc.experts || c.SharedExperts() != tc.shared) {
				t.Errorf("experts %d+%d, want %d+%d", c.Experts(), c.SharedExperts(), tc.experts, tc.shared)
			}
			if tc.params != 0 {
				if n, err := c.ParamCount(); err != nil || n != tc.params {
					t.Errorf("parameters %d (%v), want %d", n, err, tc.params)
				}
			}
			if yarn := c.RopeScaling != nil; yarn != tc.yarn {
				t.Errorf("YaRN %v, want %v", yarn, tc.yarn)
			}
		})
	}
}

func TestPresetUnknown(t *testing.T) {
	var mf ModelFlags
	fs := pflag.NewFlagSet("t", pflag.ContinueOnError)
	mf.AddFlags(fs)
	if err := fs.Parse([]string{"--preset", "minimind4"}); err != nil {
		t.Fatal(err)
	}
	if _, err := mf.Config(); !errors.Is(err, errUsage) {
		t.Fatalf("Config = %v, want a usage error", err)
	}
	if _, err := model.Preset("minimind3"); err != nil {
		t.Fatal(err)
	}
}

func joinArgs(a []string) string { return strings.Join(a, " ") }
