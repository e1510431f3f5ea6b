package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/minimind-go/minimind/checkpoint"
	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/ref"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// expectedCE computes Σ CE and the count over the targets of one sequence
// independently of eval: one cache-free forward on the reference kernels,
// then log-softmax in float64 by hand. mask[j] says whether ids[j+1] is a
// target.
func expectedCE(t *testing.T, m *model.Model, ids []int32, mask []bool) (sum float64, n int) {
	t.Helper()
	T, V := len(ids)-1, m.Config.VocabSize
	logits, err := m.Logits(ids[:T], 1, T, nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	for j := range T {
		if !mask[j] {
			continue
		}
		row := logits[j*V : (j+1)*V]
		mx := float64(slices.Max(row))
		var z float64
		for _, l := range row {
			z += math.Exp(float64(l) - mx)
		}
		sum += mx + math.Log(z) - float64(row[ids[j+1]])
		n++
	}
	return sum, n
}

func TestEvalFixtureModels(t *testing.T) {
	tokPath := filepath.Join("..", "..", "tokenizer", "testdata", "tiny_tokenizer.json")
	tok, err := tokenizer.Load(tokPath)
	if err != nil {
		t.Fatal(err)
	}
	texts := []string{"hello world, this is a test of the tiny model", "abc", "", strings.Repeat("long text ", 30)}
	convs := [][][2]string{
		{{"user", "hi"}, {"assistant", "hello there"}},
		{{"system", "be nice"}, {"user", "q1"}, {"assistant", "a1"}, {"user", "q2"}, {"assistant", "answer two"}},
	}
	dir := t.TempDir()
	var pre, sft bytes.Buffer
	for _, s := range texts {
		b, _ := json.Marshal(map[string]string{"text": s})
		pre.Write(append(b, '\n'))
	}
	for _, c := range convs {
		var msgs []map[string]string
		for _, m := range c {
			msgs = append(msgs, map[string]string{"role": m[0], "content": m[1]})
		}
		b, _ := json.Marshal(map[string]any{"conversations": msgs})
		sft.Write(append(b, '\n'))
	}
	prePath, sftPath := filepath.Join(dir, "pre.jsonl"), filepath.Join(dir, "sft.jsonl")
	os.WriteFile(prePath, pre.Bytes(), 0o644)
	os.WriteFile(sftPath, sft.Bytes(), 0o644)

	// Independent sample construction. Pretrain: bos + text[:max-2] + eos,
	// every next token a target. SFT: the ChatML rendering, every token of
	// an assistant reply plus its "<|im_end|>\n" a target.
	preSeqs := func(maxSeqLen int) (seqs [][]int32, masks [][]bool) {
		for _, s := range texts {
			ids := tok.Encode(s)
			ids = append(append([]int32{1}, ids[:min(len(ids), maxSeqLen-2)]...), 2)
			mask := make([]bool, len(ids)-1)
			for j := range mask {
				mask[j] = true
			}
			seqs, masks = append(seqs, ids), append(masks, mask)
		}
		return
	}
	sftSeqs := func(maxSeqLen int) (seqs [][]int32, masks [][]bool) {
		for _, c := range convs {
			var ids []int32
			var target []bool
			add := func(s string, tgt bool) {
				for _, id := range tok.Encode(s) {
					ids, target = append(ids, id), append(target, tgt)
				}
			}
			if c[0][0] != "system" {
				add("<|im_start|>system\nYou are a helpful assistant<|im_end|>\n", false)
			}
			for _, m := range c {
				add("<|im_start|>"+m[0]+"\n", false)
				add(m[1]+"<|im_end|>\n", m[0] == "assistant")
			}
			ids, target = ids[:min(len(ids), maxSeqLen)], target[:min(len(ids), maxSeqLen)]
			seqs, masks = append(seqs, ids), append(masks, target[1:])
		}
		return
	}
	for _, name := range []string{"tiny-dense", "tiny-moe"} {
		fdir := fixture.Dir(t, name)
		for _, c := range []struct {
			kind, path string
			maxSeqLen  int
			build      func(int) ([][]int32, [][]bool)
		}{{"pretrain", prePath, 40, preSeqs}, {"sft", sftPath, 200, sftSeqs}} {
			t.Run(name+"/"+c.kind, func(t *testing.T) {
				p, err := checkpoint.LoadHF(fdir)
				if err != nil {
					t.Fatal(err)
				}
				m := model.New(p, ref.New())
				var sum float64
				var n int
				seqs, masks := c.build(c.maxSeqLen)
				for i := range seqs {
					s, k := expectedCE(t, m, seqs[i], masks[i])
					sum, n = sum+s, n+k
				}
				want := sum / float64(n)

				var out bytes.Buffer
				opts := EvalOptions{Data: []string{c.path}, MaxSeqLen: c.maxSeqLen, Mode: "auto", BatchTokens: 64, JSON: true}
				opts.Inference.Model, opts.Inference.Tokenizer = fdir, tokPath
				if err := runEval(context.Background(), opts, &globalOptions{threads: 2}, &out); err != nil {
					t.Fatal(err)
				}
				var got struct {
					Loss, PPL float64
					Tokens    int
				}
				if err := json.Unmarshal(out.Bytes(), &got); err != nil {
					t.Fatalf("%v: %s", err, out.Bytes())
				}
				if got.Tokens != n || math.Abs(got.Loss-want) > 1e-5 || math.Abs(got.PPL-math.Exp(want)) > 1e-4*math.Exp(want) {
					t.Fatalf("eval = %+v, want loss %.6f ppl %.4f tokens %d", got, want, math.Exp(want), n)
				}
				t.Logf("loss %.6f over %d targets (hand-computed %.6f)", got.Loss, got.Tokens, want)

				// --dtype q8_0: the same targets, a loss within 1% (the
				// issue's bar for trained models; these random ones
				// move far less).
				out.Reset()
				opts.Inference.DType = "q8_0"
				if err := runEval(context.Background(), opts, &globalOptions{threads: 2}, &out); err != nil {
					t.Fatal(err)
				}
				var q8 struct {
					Loss   float64
					Tokens int
				}
				if err := json.Unmarshal(out.Bytes(), &q8); err != nil {
					t.Fatalf("%v: %s", err, out.Bytes())
				}
				if q8.Tokens != n || q8.Loss == got.Loss || math.Abs(q8.Loss-got.Loss) > 0.01*got.Loss {
					t.Fatalf("eval --dtype q8_0 = %+v, want %d tokens, a loss within 1%% of %.6f (and not equal)", q8, n, got.Loss)
				}
				t.Logf("q8_0 loss %.6f (f32 %.6f, %+.3f%%)", q8.Loss, got.Loss, 100*(q8.Loss-got.Loss)/got.Loss)
			})
		}
	}
}

// TestInfoInferenceCopies: info states what --dtype bf16 and q8_0 add to
// memory: 2 bytes per parameter, and 34 bytes per 32 matrix weights.
func TestInfoInferenceCopies(t *testing.T) {
	dir := fixture.Dir(t, "tiny-dense")
	p, err := checkpoint.LoadHF(dir)
	if err != nil {
		t.Fatal(err)
	}
	var mat int64
	for _, s := range p.Specs {
		if len(s.Shape) == 2 {
			mat += int64(s.Size())
		}
	}
	out, err := runRoot(t, "info", "--model", dir)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("bf16/f16 +%s, q8_0 +%s", humanBytes(2*int64(len(p.Data))), humanBytes(mat/32*34))
	if !strings.Contains(out, want) {
		t.Errorf("info output lacks %q:\n%s", want, out)
	}
}
