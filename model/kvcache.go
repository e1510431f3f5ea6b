package model

import "fmt"

// KVCache holds every layer's keys (after RoPE) and values for up to S
// positions of B sequences, in the original's [B, S, NKV, HS] layout. Each
// row has its own length, so sequences of different lengths can decode
// together (continuous batching); Row gives a one-row view for prefilling
// a single sequence into its slot.
type KVCache struct {
	B, S int
	// Lens[b] is the number of positions filled in row b. Forward advances
	// it; Reset and ResetRow clear it.
	Lens []int32
	K, V [][]float32 // per layer [B,S,NKV,HS]
	mask []float32   // [B,S] attention mask, nil until one is given
}

// NewKVCache allocates a cache for B sequences of up to S positions.
func (m *Model) NewKVCache(B, S int) (*KVCache, error) {
	if B <= 0 || S <= 0 {
		return nil, fmt.Errorf("model: KV cache %d×%d must be positive", B, S)
	}
	if S > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("model: KV cache of %d positions exceeds max_position_embeddings %d", S, m.Config.MaxPositionEmbeddings)
	}
	n := B * S * m.Config.NumKeyValueHeads * m.Config.HeadSize()
	kv := &KVCache{B: B, S: S, Lens: make([]int32, B)}
	for l := 0; l < m.Config.NumHiddenLayers; l++ {
		kv.K = append(kv.K, make([]float32, n))
		kv.V = append(kv.V, make([]float32, n))
	}
	return kv, nil
}

// Len is the length of row 0 (all rows, when they advance together).
func (kv *KVCache) Len() int { return int(kv.Lens[0]) }

// Reset empties every row.
func (kv *KVCache) Reset() {
	clear(kv.Lens)
	kv.mask = nil
}

// ResetRow empties row b (its slot can then take a new sequence).
func (kv *KVCache) ResetRow(b int) {
	kv.Lens[b] = 0
	if kv.mask != nil {
		row := kv.mask[b*kv.S : (b+1)*kv.S]
		for i := range row {
			row[i] = 1
		}
	}
}

// Row returns a one-row cache sharing row b's storage and length.
func (kv *KVCache) Row(b int) *KVCache { return kv.Slice(b, b+1) }

// Rows returns a cache of rows [0, n) sharing kv's storage and lengths, so
// a batched decoder can run only its first n slots.
func (kv *KVCache) Rows(n int) *KVCache { return kv.Slice(0, n) }

// Slice returns a cache of rows [lo, hi) sharing kv's storage and lengths
// (the [B,S,NKV,HS] layout keeps them contiguous): a server prefills the
// prompts of adjacent slots in one pass through it.
func (kv *KVCache) Slice(lo, hi int) *KVCache {
	if lo == 0 && hi == kv.B {
		return kv
	}
	w := len(kv.K[0]) / kv.B
	r := &KVCache{B: hi - lo, S: kv.S, Lens: kv.Lens[lo:hi:hi]}
	for l := range kv.K {
		r.K = append(r.K, kv.K[l][lo*w:hi*w:hi*w])
		r.V = append(r.V, kv.V[l][lo*w:hi*w:hi*w])
	}
	if kv.mask != nil {
		r.mask = kv.mask[lo*kv.S : hi*kv.S : hi*kv.S]
	}
	return r
}

// store copies new keys/values [B,T,NKV·HS] to each row's next positions.
func (kv *KVCache) store(l int, k, v []float32, T int) {
	w := len(k) / (kv.B * T)
	for b := 0; b < kv.B; b++ {
		dst := (b*kv.S + int(kv.Lens[b])) * w
		copy(kv.K[l][dst:dst+T*w], k[b*T*w:(b+1)*T*w])
		copy(kv.V[l][dst:dst+T*w], v[b*T*w:(b+1)*T*w])
	}
}

// Forward feeds ids [B,T] after each row's cached positions and returns
// logits for the last keep positions of each row (keep 0 = all T). mask is
// nil or the attention mask over every position so far, [B, Len+T]
// (1 = token, 0 = padding), as HF's generate passes it; it needs all rows
// at the same length. The result is reused by the next call.
func (m *Model) Forward(kv *KVCache, ids []int32, T int, mask []float32, keep int) ([]float32, error) {
	B := kv.B
	if err := m.checkBatch(ids, B, T); err != nil {
		return nil, err
	}
	for b, n := range kv.Lens {
		if int(n)+T > kv.S {
			return nil, fmt.Errorf("model: row %d: %d cached + %d new positions exceed the cache size %d", b, n, T, kv.S)
		}
	}
	if mask != nil {
		L := int(kv.Lens[0])
		for _, n := range kv.Lens {
			if int(n) != L {
				return nil, fmt.Errorf("model: an attention mask needs every cache row at the same length")
			}
		}
		W := L + T
		if len(mask) != B*W {
			return nil, fmt.Errorf("model: attention mask has %d entries, want %d×%d", len(mask), B, W)
		}
		if kv.mask == nil {
			kv.mask = make([]float32, B*kv.S)
		}
		for b := 0; b < B; b++ {
			copy(kv.mask[b*kv.S:b*kv.S+W], mask[b*W:(b+1)*W])
		}
	} else if kv.mask != nil {
		for b := 0; b < B; b++ {
			for j := int(kv.Lens[b]); j < int(kv.Lens[b])+T; j++ {
				kv.mask[b*kv.S+j] = 1
			}
		}
	}
	p := m.inferPass(B, T)
	p.forward(ids, kv, nil)
	return p.project(keep), nil
}
