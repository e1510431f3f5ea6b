package devmodel

import "fmt"

// KVCache is model.KVCache on the device: per layer keys and values
// [B,S,NKV·HS] and each row's length, kept on the device (and mirrored on
// the host, which checks bounds without a copy).
type KVCache struct {
	B, S     int
	k, v     []Buf
	lens     Ints
	hostLens []int32
	zeros    []int32
}

// NewKVCache allocates a cache for B sequences of up to S positions.
func (m *Model) NewKVCache(B, S int) (*KVCache, error) {
	if B <= 0 || S <= 0 {
		return nil, fmt.Errorf("devmodel: KV cache %d×%d must be positive", B, S)
	}
	if S > m.Config.MaxPositionEmbeddings {
		return nil, fmt.Errorf("devmodel: KV cache of %d positions exceeds max_position_embeddings %d", S, m.Config.MaxPositionEmbeddings)
	}
	n := B * S * m.Config.NumKeyValueHeads * m.Config.HeadSize()
	kv := &KVCache{B: B, S: S, hostLens: make([]int32, B), zeros: make([]int32, B)}
	var err error
	if kv.lens, err = m.dev.AllocInts(B); err != nil {
		return nil, err
	}
	for l := 0; l < m.Config.NumHiddenLayers; l++ {
		k, err := m.dev.Alloc(n)
		if err != nil {
			return nil, fmt.Errorf("devmodel: KV cache layer %d (%s): %w", l, humanBytes(8*int64(n)), err)
		}
		v, err := m.dev.Alloc(n)
		if err != nil {
			return nil, fmt.Errorf("devmodel: KV cache layer %d (%s): %w", l, humanBytes(8*int64(n)), err)
		}
		kv.k, kv.v = append(kv.k, k), append(kv.v, v)
	}
	return kv, nil
}

// Len is the cached length of row 0.
func (kv *KVCache) Len() int { return int(kv.hostLens[0]) }

// Reset empties every row (stale keys are overwritten before being read).
func (m *Model) ResetKV(kv *KVCache) error {
	clear(kv.hostLens)
	return m.dev.UploadInts(kv.lens, kv.zeros)
}

// Forward feeds ids [B,T] after each row's cached positions and writes
// the logits of the last position of each row into logits [B,V]: the
// only copies are ids and the rows of the last positions up, the logits
// down (model.Model.Forward with keep = 1 and no mask).
func (m *Model) Forward(kv *KVCache, ids []int32, T int, logits []float32) error {
	B, V, C := kv.B, m.Config.VocabSize, m.Config.HiddenSize
	if err := m.checkBatch(ids, B, T); err != nil {
		return err
	}
	if len(logits) != B*V {
		return fmt.Errorf("devmodel: logits has %d entries, want %d×%d", len(logits), B, V)
	}
	for b, n := range kv.hostLens {
		if int(n)+T > kv.S {
			return fmt.Errorf("devmodel: row %d: %d cached + %d new positions exceed the cache size %d", b, n, T, kv.S)
		}
	}
	a, err := m.inferActs(B, B*T)
	if err != nil {
		return err
	}
	p := pass{Model: m, a: a, B: B, T: T, N: B * T, kv: kv}
	if err := p.upload(ids, nil, nil); err != nil {
		return err
	}
	if err := p.forward(); err != nil {
		return err
	}
	for b := range kv.hostLens {
		kv.hostLens[b] += int32(T)
	}
	// logits_to_keep = 1: gather each row's last position, then the head.
	rows := make([]int32, B)
	for b := range rows {
		rows[b] = int32(b*T + T - 1)
	}
	if err := m.dev.UploadInts(a.tgt, rows); err != nil { // tgt is free in inference
		return err
	}
	keep := a.ln.Slice(0, B*C) // ln is free after the last block
	m.dev.Gather(keep, a.lnf, a.tgt, Buf{}, B, C)
	out := a.logits.Slice(0, B*V)
	m.dev.MatMul(out, keep, m.w.lmHead, B, V, C, false, true, false)
	return m.dev.Download(logits, out)
}
