package model

import (
	"fmt"
	"strings"
)

// presets are upstream's published model sizes, by the name --preset
// takes. MiniMind2 (2510 README table): vocab 6400, 8 query and 2
// key/value heads, FFN by the 8/3 rule, MoE 4 routed experts (top-2) + 1
// shared. minimind-3 (d65ef2c MiniMindConfig defaults and README table):
// 64M dense and 198M-A64M MoE (4 experts, top-1, no shared expert).
var presets = []struct {
	name string
	make func() Config
}{
	{"minimind2-small", func() Config { return preset2(512, 8, false) }},                  // 26M
	{"minimind2", func() Config { return preset2(768, 16, false) }},                       // 104M
	{"minimind2-moe", func() Config { return preset2(640, 8, true) }},                     // 145M
	{"minimind3", DefaultConfig3},                                                         // 64M
	{"minimind3-moe", func() Config { c := DefaultConfig3(); c.UseMoE = true; return c }}, // 198M-A64M
}

func preset2(hidden, layers int, moe bool) Config {
	c := DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.UseMoE = hidden, layers, moe
	c.IntermediateSize = MiniMindIntermediate(hidden)
	return c
}

// PresetNames lists the names Preset accepts, in order of generation and
// size.
func PresetNames() []string {
	names := make([]string, len(presets))
	for i, p := range presets {
		names[i] = p.name
	}
	return names
}

// Preset returns the config of an upstream model size by name (see
// PresetNames); the caller applies explicit flags on top.
func Preset(name string) (Config, error) {
	for _, p := range presets {
		if p.name == name {
			return p.make(), nil
		}
	}
	return Config{}, fmt.Errorf("unknown preset %q (want one of %s)", name, strings.Join(PresetNames(), ", "))
}
