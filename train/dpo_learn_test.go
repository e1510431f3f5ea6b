package train_test

import (
	"bufio"
	"compress/gzip"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/data"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/cpu"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
	"github.com/minimind-go/minimind/train"
)

// copyLines writes lines [from, to) of the gzipped JSONL src to dst.
func copyLines(t *testing.T, src, dst string, from, to int) {
	t.Helper()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for n := 0; sc.Scan() && n < to; n++ {
		if n >= from {
			out.Write(append(sc.Bytes(), '\n'))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
}

// TestDPOLearnsOnCorpus is the learning check on real data: a tiny model
// fine-tuned briefly on ../shared/corpus/sft_mix, then DPO on 400 pairs of
// dpo_synthetic, prefers the chosen answers of 100 held-out pairs more
// often than not (reward accuracy > 0.5) and by a positive mean margin.
func TestDPOLearnsOnCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small models (about a minute of CPU)")
	}
	sftSrc := fixture.Shared(t, "corpus/sft_mix.jsonl.gz")
	dpoSrc := fixture.Shared(t, "corpus/dpo_synthetic.jsonl.gz")
	dir := t.TempDir()
	sftPath, trainPath, heldPath := filepath.Join(dir, "sft.jsonl"), filepath.Join(dir, "dpo.jsonl"), filepath.Join(dir, "held.jsonl")
	copyLines(t, sftSrc, sftPath, 0, 1500)
	copyLines(t, dpoSrc, trainPath, 0, 400)
	copyLines(t, dpoSrc, heldPath, 1000, 1100)
	tok, err := tokenizer.Default()
	if err != nil {
		t.Fatal(err)
	}
	const maxLen = 128
	ctx := context.Background()
	load := func(path string, kind data.Kind) *data.JSONLDataset {
		enc, err := data.NewEncoder(tok, data.EncodeOptions{MaxSeqLen: maxLen})
		if err != nil {
			t.Fatal(err)
		}
		ds, err := data.LoadJSONL(ctx, []string{path}, kind, enc, data.ReadOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ds
	}
	be := cpu.New(cpu.Options{})
	defer be.Close()
	mc := model.DefaultConfig()
	mc.HiddenSize, mc.NumHiddenLayers, mc.NumAttentionHeads, mc.NumKeyValueHeads = 64, 2, 4, 2
	mc.IntermediateSize, mc.VocabSize, mc.MaxPositionEmbeddings = 192, tok.VocabSize(), maxLen

	start := time.Now()
	sft := train.DefaultConfig(train.StageSFT)
	sft.Model, sft.Data, sft.Backend, sft.OutDir, sft.SaveDType = mc, load(sftPath, data.KindSFT), be, dir, "f32"
	sft.Options.Epochs, sft.Options.BatchSize, sft.Options.LearningRate, sft.Options.SaveInterval = 1, 16, 3e-3, 0
	sres := mustRun(t, sft)
	t.Logf("SFT: %d steps, loss %.3f → %.3f (%.0fs)", len(sres.Steps), sres.Steps[0].Loss, sres.Steps[len(sres.Steps)-1].Loss, time.Since(start).Seconds())

	start = time.Now()
	dpo := train.DefaultConfig(train.StageDPO)
	dpo.Model, dpo.Data, dpo.Backend, dpo.OutDir, dpo.SaveDType = mc, load(trainPath, data.KindDPO), be, dir, "f32"
	dpo.Options.BatchSize, dpo.Options.LearningRate = 8, 1e-3
	dpo.DPO = train.DPOOptions{Loss: train.DPOSum, Beta: 0.1}
	dres := mustRun(t, dpo)
	h := dres.Steps
	t.Logf("DPO: %d steps, loss %.3f → %.3f, train reward acc %.2f → %.2f, margin %.3f → %.3f (%.0fs)",
		len(h), h[0].Loss, h[len(h)-1].Loss, h[0].RewardAcc, h[len(h)-1].RewardAcc, h[0].RewardMargin, h[len(h)-1].RewardMargin, time.Since(start).Seconds())

	// Held-out pairs: the trained policy against the SFT reference.
	loadModel := func(path string) *model.Model {
		p, err := checkpoint.Load(path, mc)
		if err != nil {
			t.Fatal(err)
		}
		return model.New(p, be)
	}
	d, err := train.NewDPO(loadModel(dres.Weights), loadModel(sres.Weights), dpo.DPO)
	if err != nil {
		t.Fatal(err)
	}
	l, err := data.NewLoader(load(heldPath, data.KindDPO), data.LoaderOptions{BatchSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	var acc, margin, n float64
	var b data.Batch
	for {
		ok, err := l.Next(ctx, &b)
		if err != nil {
			t.Fatal(err)
		}
		if !ok {
			break
		}
		_, r, err := d.Step(ctx, &b, 0)
		if err != nil {
			t.Fatal(err)
		}
		acc += r.Acc * float64(b.Pairs)
		margin += r.Margin * float64(b.Pairs)
		n += float64(b.Pairs)
	}
	acc, margin = acc/n, margin/n
	t.Logf("held-out (%.0f pairs): reward accuracy %.3f, mean margin %.4f", n, acc, margin)
	if !(acc > 0.5) || !(margin > 0) {
		t.Errorf("held-out reward accuracy %.3f and margin %.4f: want above 0.5 and 0", acc, margin)
	}
}
