package generate_test

import (
	"context"
	"math"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/generate"
	"github.com/minimind-go/minimind/generate/generatetest"
	"github.com/minimind-go/minimind/model"
)

// TestLogProbsEqualFullForward: with Options.LogProbs, batched sampling
// (temperature, top-k, a repetition penalty) records each sampled token's
// raw log-probability, the final stop token's too; they equal the log
// softmax of a full forward pass over prompt + reply.
func TestLogProbsEqualFullForward(t *testing.T) {
	tok := defaultTokenizer(t)
	m := generatetest.Model(t, tok.VocabSize(), 3)
	prompts := [][]int32{tok.Encode("hello world"), tok.Encode("a"), tok.Encode("The quick brown fox")}
	var reqs []generate.Request
	for i, p := range prompts {
		reqs = append(reqs, generate.Request{Prompt: p, Options: generate.Options{MaxNewTokens: 16, Temperature: 0.8, TopK: 40,
			RepetitionPenalty: 1.3, Seed: uint64(i + 1), LogProbs: true}})
	}
	e := newEngine(t, m, tok, generate.EngineOptions{Slots: 2, Window: 64, PrefillChunk: 4})
	res, err := e.Generate(context.Background(), reqs, nil)
	if err != nil {
		t.Fatal(err)
	}
	V := m.Config.VocabSize
	worst := 0.0
	for i, r := range res {
		ids := slices.Clone(r.Tokens)
		if r.Finish == generate.FinishStop {
			ids = append(ids, int32(m.Config.EosTokenID)) // the test model's only stop token
		}
		if len(r.LogProbs) != len(ids) || len(ids) == 0 {
			t.Fatalf("prompt %d: %d log-probs for %d sampled ids (%s)", i, len(r.LogProbs), len(ids), r.Finish)
		}
		full := append(slices.Clone(prompts[i]), ids...)
		logits, err := m.Logits(full, 1, len(full), nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		P := len(prompts[i])
		want := make([]float32, len(ids))
		model.TokenLogProbs(want, logits[(P-1)*V:(P-1+len(ids))*V], ids, V)
		for j := range ids {
			d := math.Abs(float64(r.LogProbs[j] - want[j]))
			worst = max(worst, d)
			if d > 1e-4 || r.LogProbs[j] > 0 {
				t.Errorf("prompt %d token %d: log-prob %.6g, full forward %.6g", i, j, r.LogProbs[j], want[j])
			}
		}
	}
	t.Logf("max |engine - full forward| log-prob %.3g", worst)
	plain, err := e.Generate(context.Background(), []generate.Request{{Prompt: prompts[0], Options: generate.Options{MaxNewTokens: 4}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if plain[0].LogProbs != nil {
		t.Errorf("log-probs without Options.LogProbs: %v", plain[0].LogProbs)
	}
}
