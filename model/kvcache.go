package model

import "fmt"

// KVCache holds every layer's keys (after RoPE) and values for up to S
// positions of B sequences, in the original's [B, S, NKV, HS] layout.
type KVCache struct {
	B, S int
	Len  int         // positions filled (the same for every row)
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
	kv := &KVCache{B: B, S: S}
	for l := 0; l < m.Config.NumHiddenLayers; l++ {
		kv.K = append(kv.K, make([]float32, n))
		kv.V = append(kv.V, make([]float32, n))
	}
	return kv, nil
}

// Reset empties the cache for reuse.
func (kv *KVCache) Reset() {
	kv.Len = 0
	kv.mask = nil
}

// store copies new keys/values [B,T,NKV·HS] to positions Len..Len+T-1.
func (kv *KVCache) store(l int, k, v []float32, B, T int) {
	w := len(k) / (B * T)
	for b := 0; b < B; b++ {
		dst := (b*kv.S + kv.Len) * w
		copy(kv.K[l][dst:dst+T*w], k[b*T*w:(b+1)*T*w])
		copy(kv.V[l][dst:dst+T*w], v[b*T*w:(b+1)*T*w])
	}
}

// Forward feeds ids [B,T] at positions Len..Len+T-1 and returns logits for
// the last keep positions of each row (keep 0 = all T). mask is nil or the
// attention mask over every position so far, [B, Len+T] (1 = token,
// 0 = padding), as HF's generate passes it. The result is reused by the
// next call.
func (m *Model) Forward(kv *KVCache, ids []int32, T int, mask []float32, keep int) ([]float32, error) {
	B := kv.B
	if err := m.checkBatch(ids, B, T); err != nil {
		return nil, err
	}
	if kv.Len+T > kv.S {
		return nil, fmt.Errorf("model: %d cached + %d new positions exceed the cache size %d", kv.Len, T, kv.S)
	}
	if mask != nil {
		W := kv.Len + T
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
			for j := kv.Len; j < kv.Len+T; j++ {
				kv.mask[b*kv.S+j] = 1
			}
		}
	}
	a := m.inferActs(B, B*T)
	m.forward(a, ids, B, T, kv, nil, false)
	return m.project(a, B, T, keep), nil
}
