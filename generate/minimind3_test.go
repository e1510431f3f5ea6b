package generate_test

import (
	"context"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestMiniMind3Engine is a smoke test of the batched engine on minimind-3
// models (dense with head_dim 24 ≠ hidden/heads; MoE top-1 with an untied
// LM head): three prompts through two slots with chunked prefill, each
// greedy step the argmax of a cache-free forward pass of the whole
// sequence (near ties skipped).
func TestMiniMind3Engine(t *testing.T) {
	tok := defaultTokenizer(t)
	for _, moe := range []bool{false, true} {
		c := modeltest.TinyConfig3(moe)
		c.HiddenSize, c.HeadDim, c.IntermediateSize, c.MoeIntermediateSize = 64, 24, 128, 96
		c.VocabSize, c.MaxPositionEmbeddings = tok.VocabSize(), 256
		c.TieWordEmbeddings = !moe
		m := modeltest.Model(t, c, 21, cpu.New(cpu.Options{}))
		prompts := [][]int32{
			tok.Encode("<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n"),
			tok.Encode("hello"),
			tok.Encode("The quick brown fox jumps over the lazy dog."),
		}
		opts := generate.Options{MaxNewTokens: 16, IgnoreEOS: true}
		var reqs []generate.Request
		for _, p := range prompts {
			reqs = append(reqs, generate.Request{Prompt: p, Options: opts})
		}
		e := newEngine(t, m, tok, generate.EngineOptions{Slots: 2, Window: 96, PrefillChunk: 4})
		out, err := e.Generate(context.Background(), reqs, nil)
		if err != nil {
			t.Fatal(err)
		}
		V, checked := c.VocabSize, 0
		for i, r := range out {
			if len(r.Tokens) != opts.MaxNewTokens {
				t.Fatalf("moe %v prompt %d: %d tokens", moe, i, len(r.Tokens))
			}
			full := append(slices.Clone(prompts[i]), r.Tokens...)
			logits, err := m.Logits(full, 1, len(full), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			P := len(prompts[i])
			for j, got := range r.Tokens {
				want, margin := argmax(logits[(P-1+j)*V : (P+j)*V])
				if margin < 1e-4 {
					continue
				}
				checked++
				if got != want {
					t.Fatalf("moe %v prompt %d step %d: generated %d, full-forward argmax %d", moe, i, j, got, want)
				}
			}
		}
		if checked < 30 {
			t.Fatalf("moe %v: only %d steps had a clear argmax", moe, checked)
		}
		t.Logf("%s (moe %v): %d greedy steps equal the full forward's argmax", m.Config.Family(), moe, checked)
	}
}
