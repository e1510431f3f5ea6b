package model_test

import (
	"testing"

	"github.com/minimind-go/minimind/kernels/kerneltest"
	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/model/modeltest"
)

// TestContinuousBatching: two sequences at different lengths decode in one
// batch, each exactly as it would alone; Row views prefill one slot.
func TestContinuousBatching(t *testing.T) {
	c := modeltest.TinyConfig(false)
	p := modeltest.Params(t, c, 9)
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
