package data_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/internal/fixture"
)

// BenchmarkPrepare prepares whole corpus files and reports the input rate
// in MB/s of uncompressed JSONL (run with -benchtime=1x; each file takes
// seconds).
func BenchmarkPrepare(b *testing.B) {
	for _, tc := range []struct {
		file string
		kind data.Kind
	}{
		{"pretrain_en.jsonl.gz", data.KindPretrain},
		{"pretrain_zh_poetry.jsonl.gz", data.KindPretrain},
		{"sft_mix.jsonl.gz", data.KindSFT},
		{"dpo_synthetic.jsonl.gz", data.KindDPO},
	} {
		b.Run(tc.file, func(b *testing.B) {
			in := fixture.Shared(b, "corpus/"+tc.file)
			enc := newEncoder(b, data.DefaultEncodeOptions(512))
			out := filepath.Join(b.TempDir(), "out.mmdata")
			var st data.PrepareStats
			for b.Loop() {
				var err error
				st, err = data.Prepare(context.Background(), enc, data.PrepareOptions{Paths: []string{in}, Out: out, Kind: tc.kind})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(st.MBPerSec(), "MB/s")
			b.ReportMetric(float64(st.Tokens)/st.Elapsed.Seconds(), "tok/s")
			b.Logf("%d examples, %d tokens, %.1f MB in, %.1f MB out, %s", st.Examples, st.Tokens, float64(st.Bytes)/1e6, float64(st.FileSize)/1e6, st.Elapsed)
		})
	}
}
