package tokenizer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"testing"
)

// corpusTexts reads up to maxBytes of "text" from a shared corpus file.
func corpusTexts(tb testing.TB, name string, maxBytes int) []string {
	tb.Helper()
	f, err := os.Open(sharedPath(tb, "corpus/"+name))
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(nil, 1<<26)
	var out []string
	size := 0
	for sc.Scan() && size < maxBytes {
		var v struct{ Text string }
		if err := json.Unmarshal(sc.Bytes(), &v); err != nil {
			tb.Fatal(err)
		}
		out = append(out, v.Text)
		size += len(v.Text)
	}
	return out
}

// BenchmarkEncode reports MB/s of UTF-8 text through EncodeBatch on 8 MB of
// each corpus (all cores; run with -cpu 2 for the 2-core figure). Each
// iteration uses a fresh tokenizer, so the cache starts cold as it does
// for a single pass over a corpus.
func BenchmarkEncode(b *testing.B) {
	for _, file := range []string{"pretrain_zh_poetry.jsonl.gz", "pretrain_en.jsonl.gz"} {
		texts := corpusTexts(b, file, 8<<20)
		size := 0
		for _, t := range texts {
			size += len(t)
		}
		for _, tk := range []string{"minimind", "default"} {
			b.Run(file+"/"+tk, func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(size))
				for b.Loop() {
					b.StopTimer()
					var tok *Tokenizer
					var err error
					if tk == "default" {
						tok, err = Default()
					} else {
						tok, err = Load(sharedPath(b, "minimind"))
					}
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					tok.EncodeBatch(texts)
				}
			})
		}
	}
}
