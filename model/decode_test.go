package model_test

import (
	"path/filepath"
	"testing"

	"github.com/minimind-go/minimind/internal/fixture"
	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/model"
)

func argmax(x []float32) int {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}

// TestParityKVCache decodes greedily with the KV cache and checks every
// step's logits, the generated ids, chunked prefill and the final cache
// against the kv-cache fixture.
func TestParityKVCache(t *testing.T) {
	for bname, be := range backends(t) {
		t.Run(bname, func(t *testing.T) {
			dir := fixture.Dir(t, "kv-cache")
			m := loadModel(t, dir, be, "")
			var in struct {
				PromptIDs    [][]int32 `json:"prompt_ids"`
				MaxNewTokens int       `json:"max_new_tokens"`
			}
			readJSON(t, filepath.Join(dir, "inputs.json"), &in)
			var exp struct {
				GeneratedIDs []int32 `json:"generated_ids"`
				FullSequence []int32 `json:"full_sequence"`
			}
			readJSON(t, filepath.Join(dir, "expected.json"), &exp)
			want := tensors(t, filepath.Join(dir, "expected.safetensors"))
			V := m.Config.VocabSize

			kv, err := m.NewKVCache(1, 16)
			if err != nil {
				t.Fatal(err)
			}
			prompt := in.PromptIDs[0]
			logits, err := m.Forward(kv, prompt, len(prompt), nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			maxd := kerneltest.AllClose(t, "prefill_logits", logits, floats(t, want, "prefill_logits"), 1e-4, 0)
			stepWant := floats(t, want, "step_logits")
			last := logits[(len(prompt)-1)*V:]
			var got []int32
			for i := 0; i < in.MaxNewTokens; i++ {
				maxd = max(maxd, kerneltest.AllClose(t, "step_logits", last, stepWant[i*V:(i+1)*V], 1e-4, 0))
				tok := int32(argmax(last))
				got = append(got, tok)
				if i == in.MaxNewTokens-1 {
					break
				}
				if last, err = m.Forward(kv, []int32{tok}, 1, nil, 1); err != nil {
					t.Fatal(err)
				}
			}
			for i := range exp.GeneratedIDs {
				if got[i] != exp.GeneratedIDs[i] {
					t.Fatalf("generated %v, want %v", got, exp.GeneratedIDs)
				}
			}
			for l := 0; l < m.Config.NumHiddenLayers; l++ {
				for _, kvName := range []string{"k", "v"} {
					name := filepath.Base(dir) + ".cache.layer" + string(rune('0'+l)) + "." + kvName
					src := kv.K[l]
					if kvName == "v" {
						src = kv.V[l]
					}
					kerneltest.AllClose(t, name, src, floats(t, want, "cache.layer"+string(rune('0'+l))+"."+kvName), 1e-4, 0)
				}
			}
			// The full forward without cache picks the same tokens.
			full, err := m.Logits(exp.FullSequence[:16], 1, 16, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			kerneltest.AllClose(t, "full_logits", full, floats(t, want, "full_logits"), 1e-4, 0)
			// Chunked prefill: 3 tokens, then 2 on top of the cache.
			kv.Reset()
			if _, err := m.Forward(kv, prompt[:3], 3, nil, 0); err != nil {
				t.Fatal(err)
			}
			chunk, err := m.Forward(kv, prompt[3:5], 2, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			maxd = max(maxd, kerneltest.AllClose(t, "chunk_logits", chunk, floats(t, want, "chunk_logits"), 1e-4, 0))
			t.Logf("kv-cache: max |logit diff| %.2g over prefill, %d steps and chunked prefill", maxd, in.MaxNewTokens)
		})
	}
}

// TestParityAttentionMask runs a left-padded batch with an attention mask,
// then greedy batched decoding with the mask extended by ones.
func TestParityAttentionMask(t *testing.T) {
	for bname, be := range backends(t) {
		t.Run(bname, func(t *testing.T) {
			dir := fixture.Dir(t, "attention-mask")
			m := loadModel(t, dir, be, "")
			var in struct {
				InputIDs      [][]int32   `json:"input_ids"`
				AttentionMask [][]float32 `json:"attention_mask"`
				NewTokens     int         `json:"decode_new_tokens"`
			}
			readJSON(t, filepath.Join(dir, "inputs.json"), &in)
			var exp struct {
				GeneratedIDs [][]int32 `json:"generated_ids"`
			}
			readJSON(t, filepath.Join(dir, "expected.json"), &exp)
			want := tensors(t, filepath.Join(dir, "expected.safetensors"))
			B, T, V := len(in.InputIDs), len(in.InputIDs[0]), m.Config.VocabSize
			ids, mask := flatten(in.InputIDs), flatten(in.AttentionMask)

			logits, err := m.Logits(ids, B, T, mask, 0)
			if err != nil {
				t.Fatal(err)
			}
			maxd := kerneltest.AllClose(t, "logits", logits, floats(t, want, "logits"), 1e-4, 0)

			kv, err := m.NewKVCache(B, T+in.NewTokens)
			if err != nil {
				t.Fatal(err)
			}
			step, err := m.Forward(kv, ids, T, mask, 1)
			if err != nil {
				t.Fatal(err)
			}
			decWant := floats(t, want, "decode_step_logits") // [steps, B, V]
			W := T
			for s := 0; s < in.NewTokens; s++ {
				maxd = max(maxd, kerneltest.AllClose(t, "decode_step_logits", step, decWant[s*B*V:(s+1)*B*V], 1e-4, 0))
				next := make([]int32, B)
				for b := 0; b < B; b++ {
					next[b] = int32(argmax(step[b*V : (b+1)*V]))
					if next[b] != exp.GeneratedIDs[b][s] {
						t.Fatalf("step %d row %d: token %d, want %d", s, b, next[b], exp.GeneratedIDs[b][s])
					}
				}
				if s == in.NewTokens-1 {
					break
				}
				// Extend the mask by a column of ones, as generate does.
				W++
				m2 := make([]float32, 0, B*W)
				for b := 0; b < B; b++ {
					m2 = append(m2, mask[b*(W-1):(b+1)*(W-1)]...)
					m2 = append(m2, 1)
				}
				mask = m2
				if step, err = m.Forward(kv, next, 1, mask, 1); err != nil {
					t.Fatal(err)
				}
			}
			t.Logf("attention-mask: max |logit diff| %.2g", maxd)
		})
	}
}

// TestContinuousBatching: two sequences at different lengths decode in one
// batch, each exactly as it would alone; Row views prefill one slot.
func TestContinuousBatching(t *testing.T) {
	c := tinyConfig(false)
	p, _ := model.NewParams(c)
	p.Init(9)
	for bname, be := range backends(t) {
		t.Run(bname, func(t *testing.T) {
			m := model.New(p, be)
			V := c.VocabSize
			seqs := [][]int32{{3, 7, 11, 2, 9}, {4, 8}}
			next := []int32{13, 17}
			// Alone.
			var want [][]float32
			for i, s := range seqs {
				full := append(append([]int32(nil), s...), next[i])
				l, err := m.Logits(full, 1, len(full), nil, 1)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, append([]float32(nil), l...))
			}
			// Together: prefill each row through its view, then one batched step.
			kv, err := m.NewKVCache(2, 16)
			if err != nil {
				t.Fatal(err)
			}
			for i, s := range seqs {
				if _, err := m.Forward(kv.Row(i), s, len(s), nil, 1); err != nil {
					t.Fatal(err)
				}
			}
			if kv.Lens[0] != 5 || kv.Lens[1] != 2 {
				t.Fatalf("lens %v, want [5 2]", kv.Lens)
			}
			got, err := m.Forward(kv, next, 1, nil, 1)
			if err != nil {
				t.Fatal(err)
			}
			for i := range seqs {
				kerneltest.AllClose(t, "row", got[i*V:(i+1)*V], want[i], 1e-5, 1e-5)
			}
		})
	}
}
