package tokenizer

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// bucketWords are long pre-tokens for bpeBuckets: CJK runs (the case it
// exists for), repeated pairs whose leftmost-first order matters, and
// random bytes.
func bucketWords() []string {
	rng := rand.New(rand.NewPCG(1, 2))
	randBytes := make([]byte, 3000)
	for i := range randBytes {
		randBytes[i] = byte(rng.IntN(256))
	}
	han := []rune("床前明月光疑是地上霜举头望明月低头思故乡人工智能是计算机科学的一个分支哈")
	randHan := make([]rune, 2000)
	for i := range randHan {
		randHan[i] = han[rng.IntN(len(han))]
	}
	return []string{
		strings.Repeat("床前明月光疑是地上霜举头望明月低头思故乡", 40),
		strings.Repeat("哈", 1500),
		strings.Repeat("a", 1500),
		strings.Repeat("ab", 800),
		string(randHan),
		string(randBytes),
	}
}

// symbols is what bpe starts from: the byte ids of word.
func symbols(t *Tokenizer, word string) []int32 {
	out := make([]int32, 0, len(word))
	for i := 0; i < len(word); i++ {
		if id := t.byteID[word[i]]; id >= 0 {
			out = append(out, id)
		}
	}
	return out
}

// TestBucketsMatchHeap: the linear bucket merge gives what the heap gives
// (which follows HF's merge_all and has the fixtures' parity) on long
// words, with the default and the MiniMind tokenizers.
func TestBucketsMatchHeap(t *testing.T) {
	for _, name := range []string{"default", "minimind"} {
		t.Run(name, func(t *testing.T) {
			tok := testTokenizer(t, name)
			for i, w := range bucketWords() {
				ids := symbols(tok, w)
				got, ok := tok.bpeBuckets(ids)
				if !ok {
					t.Fatalf("word %d: a trained merge list was judged out of order", i)
				}
				if want := tok.bpeHeap(ids); !slices.Equal(got, want) {
					t.Errorf("word %d: buckets give %d ids, heap %d; first difference at %d", i, len(got), len(want), firstDiff(got, want))
				}
			}
		})
	}
}

// testTokenizer is the embedded default or, skipping when it is absent,
// the shared MiniMind tokenizer.
func testTokenizer(tb testing.TB, name string) *Tokenizer {
	tb.Helper()
	var tok *Tokenizer
	var err error
	if name == "default" {
		tok, err = Default()
	} else {
		tok, err = Load(sharedPath(tb, "minimind"))
	}
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// FuzzBucketsMatchHeap: for any word, and that word repeated past
// bucketMinSyms, the bucket merge and the heap agree (or the buckets
// decline, which the trained vocabularies never make them do).
func FuzzBucketsMatchHeap(f *testing.F) {
	for _, s := range []string{"哈", "ab", "床前明月光", "\xff\x00a", " the", "aaaa", "1234567890"} {
		f.Add(s)
	}
	tok := fuzzTokenizer(f)
	f.Fuzz(func(t *testing.T, s string) {
		if s == "" || len(s) > 4096 {
			return
		}
		for _, w := range []string{s, strings.Repeat(s, bucketMinSyms/len(s)+1)} {
			ids := symbols(tok, w)
			got, ok := tok.bpeBuckets(ids)
			if !ok {
				t.Fatalf("%q: a trained merge list was judged out of order", w)
			}
			if want := tok.bpeHeap(ids); !slices.Equal(got, want) {
				t.Fatalf("%q: buckets %v, heap %v", w, got, want)
			}
		}
	})
}

// TestBucketsOutOfOrderMerges: a merge list where a merge's result merges
// at an earlier rank makes bpeBuckets decline, and Encode still agrees
// with the heap.
func TestBucketsOutOfOrderMerges(t *testing.T) {
	tok, err := Parse([]byte(`{"model": {"type": "BPE", "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4}, "merges": ["ab c", "a b"]}, "pre_tokenizer": {"type": "ByteLevel"}, "decoder": {"type": "ByteLevel"}}`), nil)
	if err != nil {
		t.Fatal(err)
	}
	word := strings.Repeat("abc", 500)
	ids := symbols(tok, word)
	if _, ok := tok.bpeBuckets(ids); ok {
		t.Fatal("bpeBuckets accepted a merge list out of rank order")
	}
	want := tok.bpeHeap(ids)
	if got := tok.Encode(word); !slices.Equal(got, want) {
		t.Fatalf("Encode gives %d ids, the heap %d", len(got), len(want))
	}
	if len(want) != 500 {
		t.Fatalf("heap gave %d ids, want 500 (abc each)", len(want))
	}
}

func firstDiff(a, b []int32) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
