package data_test

import (
	"context"
	"slices"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/tokenizer"
)

// tagPieces returns the ids of encode(tag) for the four tags of 2510's
// train_reason.py, as a set, computed tag by tag.
func tagPieces(tok *tokenizer.Tokenizer) map[int32]bool {
	set := map[int32]bool{}
	for _, s := range []string{"<think>", "</think>", "<answer>", "</answer>"} {
		for _, id := range tok.Encode(s) {
			set[id] = true
		}
	}
	return set
}

// weighted loads one SFT line with augmentation off and returns its sample
// unweighted and through WeightTargets(ThinkTagIDs, w).
func weighted(t *testing.T, tok *tokenizer.Tokenizer, line string, w float32) (plain, heavy data.Sample) {
	t.Helper()
	enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: 96})
	if err != nil {
		t.Fatal(err)
	}
	p := writeFile(t, t.TempDir(), "r.jsonl", line)
	ds, err := data.LoadJSONL(context.Background(), []string{p}, data.KindSFT, enc, data.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := ds.Sample(0, &plain); err != nil {
		t.Fatal(err)
	}
	wds := data.WeightTargets(ds, data.ThinkTagIDs(tok), w)
	if wds.Len() != 1 || wds.Kind() != data.KindSFT || wds.MaxSeqLen() != 96 {
		t.Fatalf("wrapped dataset: len %d kind %v max_seq_len %d", wds.Len(), wds.Kind(), wds.MaxSeqLen())
	}
	if err := wds.Sample(0, &heavy); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plain.X, heavy.X) || !slices.Equal(plain.Y, heavy.Y) {
		t.Fatal("weighting changed X or Y")
	}
	return plain, heavy
}

// MiniMind2 spells each tag with several BPE pieces; as upstream's
// torch.isin, every supervised target that is one of those pieces weighs
// think_weight (even a "<" of the answer), unsupervised ones stay 0.
func TestThinkWeightMiniMind2(t *testing.T) {
	t.Parallel()
	tok := minimindTokenizer(t)
	if n := len(tok.Encode("<think>")); n < 2 {
		t.Fatalf("MiniMind2 encodes <think> as %d tokens, want several", n)
	}
	set := tagPieces(tok)
	ids := data.ThinkTagIDs(tok)
	if len(ids) != len(set) || !slices.IsSorted(ids) {
		t.Fatalf("ThinkTagIDs = %v, want the %d distinct ids of the four tags, sorted", ids, len(set))
	}
	for _, id := range ids {
		if !set[id] {
			t.Fatalf("ThinkTagIDs has %d, not a piece of the tags", id)
		}
	}
	gt := tok.Encode(">")
	if len(gt) != 1 || !set[gt[0]] {
		t.Fatalf(`encode(">") = %v: want one id among the tag pieces`, gt)
	}
	line := `{"conversations": [{"role": "user", "content": "<think> 1+1?"}, {"role": "assistant", "content": "<think>\n1+1=2\n</think>\n<answer>3>2</answer>"}]}`
	plain, heavy := weighted(t, tok, line, 10)
	tens, supervisedGT := 0, 0
	for j, m := range plain.LossMask {
		want := float32(0)
		if m != 0 {
			want = 1
			if set[plain.Y[j]] {
				want = 10
				tens++
			}
			if plain.Y[j] == gt[0] {
				supervisedGT++
			}
		}
		if heavy.LossMask[j] != want {
			t.Fatalf("position %d (target %d %q): weight %g, want %g", j, plain.Y[j], tok.Decode(plain.Y[j:j+1]), heavy.LossMask[j], want)
		}
	}
	// The tags are 4+4+5+5 pieces ("<" "th" "ink" ">", "</" "ans" "w" "er"
	// ">", ...), and the ">" of "3>2" is one of them: 19 weighted targets, 5
	// of them ">"; the user's <think> is not supervised.
	if tens != 19 || supervisedGT != 5 {
		t.Errorf("%d weighted targets (%d of them \">\"), want 19 (5)", tens, supervisedGT)
	}
}

// minimind-3: an assistant turn with reasoning_content renders
// "<think>\n…\n</think>\n\n…" through the template, the loss covers the
// whole assistant body, and the single-token <think> and </think> weigh
// think_weight there.
func TestThinkWeightMiniMind3Reasoning(t *testing.T) {
	t.Parallel()
	tok, _ := m3Fixture(t)
	think, endThink := tok.Encode("<think>"), tok.Encode("</think>")
	if len(think) != 1 || len(endThink) != 1 {
		t.Fatalf("minimind-3 <think> %v, </think> %v: want single tokens", think, endThink)
	}
	ids := data.ThinkTagIDs(tok)
	if _, ok := slices.BinarySearch(ids, think[0]); !ok {
		t.Fatalf("ThinkTagIDs %v lacks <think> %d", ids, think[0])
	}
	if _, ok := slices.BinarySearch(ids, endThink[0]); !ok {
		t.Fatalf("ThinkTagIDs %v lacks </think> %d", ids, endThink[0])
	}
	line := `{"conversations": [{"role": "user", "content": "1+1?"}, {"role": "assistant", "reasoning_content": "\n先想一想。\n", "content": "\n等于2"}]}`
	plain, heavy := weighted(t, tok, line, 10)
	const wantText = "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n<think>\n先想一想。\n</think>\n\n等于2<|im_end|>\n"
	const body = "<think>\n先想一想。\n</think>\n\n等于2<|im_end|>\n"
	n := len(tok.Encode(wantText))
	if got := tok.Decode(append(plain.X[:1:1], plain.Y[:n-1]...)); got != wantText {
		t.Fatalf("rendered:\n want %q\n  got %q", wantText, got)
	}
	runs, first := supervisedRuns(tok, &plain)
	if len(runs) != 1 || runs[0] != body {
		t.Fatalf("supervised runs %q, want [%q]", runs, body)
	}
	if head := len(tok.Encode("<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n")); first != head {
		t.Errorf("first target at %d, want %d (right after the assistant header)", first, head)
	}
	tens := 0
	for j, m := range heavy.LossMask {
		switch {
		case plain.LossMask[j] == 0 && m != 0:
			t.Fatalf("position %d: unsupervised target weighted %g", j, m)
		case plain.Y[j] == think[0] || plain.Y[j] == endThink[0]:
			if m != 10 {
				t.Fatalf("position %d (%q): weight %g, want 10", j, tok.Decode(plain.Y[j:j+1]), m)
			}
			tens++
		case m != plain.LossMask[j]:
			t.Fatalf("position %d (%q): weight %g, want %g", j, tok.Decode(plain.Y[j:j+1]), m, plain.LossMask[j])
		}
	}
	if tens != 2 {
		t.Errorf("%d weighted targets, want 2 (<think> and </think>)", tens)
	}
}
