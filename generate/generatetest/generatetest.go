// Package generatetest builds tiny random models, engines and servers'
// backends for tests of generation, serving and the CLI. It is test
// support: failures call tb.Fatal.
package generatetest

import (
	"testing"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// Config is a 2-layer, hidden-64 MiniMind config over vocab V with
// maxPos positions.
func Config(V, maxPos int) model.Config {
	c := model.DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads = 64, 2, 4, 2
	c.IntermediateSize, c.VocabSize, c.MaxPositionEmbeddings = 128, V, maxPos
	return c
}

// Params returns c's parameters with PyTorch's default init for seed.
func Params(tb testing.TB, c model.Config, seed uint64) *model.Params {
	tb.Helper()
	p, err := model.NewParams(c)
	if err != nil {
		tb.Fatal(err)
	}
	p.Init(seed)
	return p
}

// Model returns a random tiny model (Config(V, 256)) on the CPU backend.
func Model(tb testing.TB, V int, seed uint64) *model.Model {
	tb.Helper()
	return model.New(Params(tb, Config(V, 256), seed), cpu.New(cpu.Options{}))
}

// Tokenizer returns the project's default tokenizer.
func Tokenizer(tb testing.TB) *tokenizer.Tokenizer {
	tb.Helper()
	tok, err := tokenizer.Default()
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// Engine returns an engine over a random tiny model with the default
// tokenizer's vocabulary and max(256, opts.Window) positions.
func Engine(tb testing.TB, seed uint64, opts generate.EngineOptions) *generate.Engine {
	tb.Helper()
	tok := Tokenizer(tb)
	m := model.New(Params(tb, Config(tok.VocabSize(), max(256, opts.Window)), seed), cpu.New(cpu.Options{}))
	e, err := generate.NewEngine(m, tok, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}
