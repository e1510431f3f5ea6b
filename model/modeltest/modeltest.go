// Package modeltest is test support for code built on package model: the
// tiny-model builders the tests of model, generate, checkpoint and the
// backends share, and Parity, which runs the model on a kernels.Backend
// against the PyTorch fixtures in ../shared/fixtures.
//
// It sits above model (and checkpoint, which reads the fixtures' weights),
// so the kernel packages and their conformance suite (kernels/kerneltest)
// need not import the model.
//
// Error policy: it is for tests only. Failures call tb.Fatal or t.Error; a
// missing fixture skips the test with the path it looked for.
package modeltest

import (
	"testing"

	"github.com/minimind-go/minimind/kernels"
	"github.com/minimind-go/minimind/model"
)

// TinyConfig returns a 2-layer MiniMind config small enough that a training
// step takes well under a millisecond: hidden 32, 4 query and 2 key/value
// heads (GQA, head size 8), FFN width 48, vocabulary 50, 64 positions. With
// moe every FFN is DefaultConfig's MoE block (4 routed experts, top-2, one
// shared expert, sequence-level balance loss). Tests change the fields they
// need (a tokenizer's vocabulary, a longer window) on the returned value.
func TinyConfig(moe bool) model.Config {
	c := model.DefaultConfig()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads = 32, 2, 4, 2
	c.VocabSize, c.IntermediateSize, c.MaxPositionEmbeddings = 50, 48, 64
	c.UseMoE = moe
	return c
}

// TinyConfig3 is TinyConfig's minimind-3 counterpart: hidden 32, 2
// layers, 4 query and 2 key/value heads of head_dim 12 (≠ hidden/heads, so
// shape mix-ups show), q/k RMSNorm, FFN 48, vocabulary 50, 64 positions.
// With moe every FFN is 4 experts of width 40, top-1, no shared expert.
func TinyConfig3(moe bool) model.Config {
	c := model.DefaultConfig3()
	c.HiddenSize, c.NumHiddenLayers, c.NumAttentionHeads, c.NumKeyValueHeads, c.HeadDim = 32, 2, 4, 2, 12
	c.VocabSize, c.IntermediateSize, c.MaxPositionEmbeddings = 50, 48, 64
	c.MoeIntermediateSize = 40
	c.UseMoE = moe
	return c
}

// Params returns c's parameters with PyTorch's default initialisation for
// seed (model.Params.Init).
func Params(tb testing.TB, c model.Config, seed uint64) *model.Params {
	tb.Helper()
	p, err := model.NewParams(c)
	if err != nil {
		tb.Fatal(err)
	}
	p.Init(seed)
	return p
}

// Model returns a model with Params(tb, c, seed) running on be.
func Model(tb testing.TB, c model.Config, seed uint64, be kernels.Backend) *model.Model {
	tb.Helper()
	return model.New(Params(tb, c, seed), be)
}
