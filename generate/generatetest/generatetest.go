// Package generatetest builds tiny random models (on model/modeltest's
// builders), engines and servers' backends for tests of generation, serving
// and the CLI. It is test support: failures call tb.Fatal.
package generatetest

import (
	"testing"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
	"github.com/minimind-go/minimind/tokenizer"
)

// Config is modeltest.TinyConfig(false) widened to hidden 64 (head size
// 16) and FFN 128, over vocab V with maxPos positions.
func Config(V, maxPos int) model.Config {
	c := modeltest.TinyConfig(false)
	c.HiddenSize, c.IntermediateSize = 64, 128
	c.VocabSize, c.MaxPositionEmbeddings = V, maxPos
	return c
}

// Params is modeltest.Params: c's parameters with PyTorch's default init
// for seed.
func Params(tb testing.TB, c model.Config, seed uint64) *model.Params {
	tb.Helper()
	return modeltest.Params(tb, c, seed)
}

// Model returns a random tiny model (Config(V, 256)) on the CPU backend.
func Model(tb testing.TB, V int, seed uint64) *model.Model {
	tb.Helper()
	return modeltest.Model(tb, Config(V, 256), seed, cpu.New(cpu.Options{}))
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
	m := modeltest.Model(tb, Config(tok.VocabSize(), max(256, opts.Window)), seed, cpu.New(cpu.Options{}))
	e, err := generate.NewEngine(m, tok, opts)
	if err != nil {
		tb.Fatal(err)
	}
	return e
}
