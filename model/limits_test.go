package model

import (
	"errors"
	"strings"
	"testing"
)

func TestParamCountMatchesLayout(t *testing.T) {
	t.Parallel()
	moe := DefaultConfig()
	moe.UseMoE = true
	gqa := DefaultConfig()
	gqa.NumKeyValueHeads = 8
	moe3 := DefaultConfig3()
	moe3.UseMoE = true
	untied := DefaultConfig3()
	untied.TieWordEmbeddings, untied.HeadDim = false, 64
	for _, c := range []Config{DefaultConfig(), moe, gqa, DefaultConfig3(), moe3, untied} {
		n, err := c.ParamCount()
		if err != nil {
			t.Fatal(err)
		}
		if want := c.NumParams(); n != want {
			t.Errorf("ParamCount = %d, NumParams = %d (moe %v)", n, want, c.UseMoE)
		}
		if got, want := c.NumTensors(), len(Layout(&c)); got != want {
			t.Errorf("NumTensors = %d, len(Layout) = %d (moe %v)", got, want, c.UseMoE)
		}
		if err := c.CheckSizes(); err != nil {
			t.Errorf("CheckSizes: %v", err)
		}
	}
}

func TestCheckSizes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" means no error
	}{
		{"default", func(*Config) {}, ""},
		{"hidden 2^40", func(c *Config) { c.HiddenSize = 1 << 40 }, "hidden_size 1099511627776 exceeds the limit"},
		{"hidden 2^20 (22 TB)", func(c *Config) { c.HiddenSize, c.NumAttentionHeads = 1<<20, 1<<10 }, "parameters exceed the limit"},
		{"vocab 2^40", func(c *Config) { c.VocabSize = 1 << 40 }, "vocab_size"},
		{"vocab 2^20", func(c *Config) { c.VocabSize = 1 << 20 }, ""}, // 0.5 G parameters: large, not absurd
		{"intermediate 2^62", func(c *Config) { c.IntermediateSize = 1 << 62 }, "intermediate_size"},
		{"intermediate 2^20", func(c *Config) { c.IntermediateSize = 1 << 20 }, ""},
		{"layers 2^40", func(c *Config) { c.NumHiddenLayers = 1 << 40 }, "num_hidden_layers"},
		{"layers 4096 wide", func(c *Config) { c.NumHiddenLayers, c.HiddenSize, c.NumAttentionHeads = 4096, 8192, 64 }, "parameters exceed the limit"},
		{"experts 2^30", func(c *Config) { c.UseMoE, c.NRoutedExperts = true, 1<<30 }, "n_routed_experts"},
		{"experts x layers x width", func(c *Config) {
			c.UseMoE, c.NRoutedExperts, c.NumHiddenLayers, c.IntermediateSize = true, 1024, 4096, 1<<20
		}, "parameters exceed the limit"},
		{"positions 2^40", func(c *Config) { c.MaxPositionEmbeddings = 1 << 40 }, "max_position_embeddings"},
		{"positions 2^30", func(c *Config) { c.MaxPositionEmbeddings = 1 << 30 }, "RoPE tables for max_position_embeddings 1073741824"},
		{"positions 2^22", func(c *Config) { c.MaxPositionEmbeddings = 1 << 22 }, ""}, // 1 GiB of tables at head size 64
		{"kv heads 2^40", func(c *Config) { c.NumKeyValueHeads = 1 << 40 }, "num_key_value_heads"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := DefaultConfig()
			tt.edit(&c)
			err := c.CheckSizes()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("CheckSizes: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !errors.Is(err, ErrTooLarge) {
				t.Fatalf("CheckSizes = %v, want an ErrTooLarge naming %q", err, tt.want)
			}
		})
	}
}

func TestParamCountOverflow(t *testing.T) {
	t.Parallel()
	c := DefaultConfig()
	c.HiddenSize, c.VocabSize, c.NumHiddenLayers = 1<<40, 1<<40, 1<<40
	if _, err := c.ParamCount(); !errors.Is(err, ErrTooLarge) {
		t.Errorf("ParamCount = %v, want ErrTooLarge", err)
	}
}

// TestNewParamsRefusesAbsurdSizes: configs built from flags (pretrain
// --hidden_size 1099511627776) reach NewParams without a weight file to check
// against; they must be an error, not a makeslice panic or a 22 TB request.
func TestNewParamsRefusesAbsurdSizes(t *testing.T) {
	cases := []struct {
		name string
		edit func(c *Config)
	}{
		{"hidden_size 2^40", func(c *Config) { c.HiddenSize, c.NumAttentionHeads, c.NumKeyValueHeads = 1<<40, 1<<35, 1<<35 }},
		{"hidden_size 2^20", func(c *Config) { c.HiddenSize = 1 << 20 }},
		{"vocab_size 2^30", func(c *Config) { c.VocabSize = 1 << 30 }},
		{"num_hidden_layers 2^30", func(c *Config) { c.NumHiddenLayers = 1 << 30 }},
		{"intermediate_size 2^40", func(c *Config) { c.IntermediateSize = 1 << 40 }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := DefaultConfig()
			tc.edit(&c)
			if _, err := NewParams(c); !errors.Is(err, ErrTooLarge) {
				t.Fatalf("NewParams = %v, want an error wrapping ErrTooLarge", err)
			}
		})
	}
}
