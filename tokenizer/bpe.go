package tokenizer

// bpe appends the ids of one pre-token. It applies merges the way HF's
// Word::merge_all does: repeatedly the pair with the lowest merge rank,
// leftmost first among equal ranks. Short words (the vast majority) use a
// plain scan; long ones a heap, so a pathological run of thousands of
// letters stays O(n log n).
func (t *Tokenizer) bpe(dst []int32, word string) []int32 {
	if t.ignoreMerges {
		if id, ok := t.raw[word]; ok {
			return append(dst, id)
		}
	}
	var stack [64]int32
	syms := stack[:0]
	for i := 0; i < len(word); i++ {
		id := t.byteID[word[i]]
		if id < 0 {
			// HF drops characters outside the vocab when there is no
			// unk_token, and fuses runs of unknowns if asked to.
			if t.unk < 0 {
				continue
			}
			if t.fuseUnk && len(syms) > 0 && syms[len(syms)-1] == t.unk {
				continue
			}
			id = t.unk
		}
		syms = append(syms, id)
	}
	if len(syms) > 48 {
		return append(dst, t.bpeHeap(syms)...)
	}
	for len(syms) > 1 {
		best, bestRank, bestID := -1, uint64(1<<32), int32(0)
		for i := 0; i+1 < len(syms); i++ {
			if v, ok := t.merges[mergeKey(syms[i], syms[i+1])]; ok && v>>32 < bestRank {
				best, bestRank, bestID = i, v>>32, int32(uint32(v))
			}
		}
		if best < 0 {
			break
		}
		syms[best] = bestID
		syms = append(syms[:best+1], syms[best+2:]...)
	}
	return append(dst, syms...)
}

// bpeHeap is bpe for long words: symbols form a linked list and candidate
// merges sit in a min-heap ordered by (rank, position); stale entries are
// skipped when popped, as in HF.
func (t *Tokenizer) bpeHeap(ids []int32) []int32 {
	n := len(ids)
	syms := make([]int32, n)
	copy(syms, ids)
	prev := make([]int, n)
	next := make([]int, n)
	alive := make([]bool, n)
	for i := range n {
		prev[i], next[i], alive[i] = i-1, i+1, true
	}
	h := &mergeHeap{}
	push := func(i int) {
		j := next[i]
		if i < 0 || j >= n {
			return
		}
		if v, ok := t.merges[mergeKey(syms[i], syms[j])]; ok {
			h.push(heapItem{rank: uint32(v >> 32), pos: int32(i), left: syms[i], right: syms[j], out: int32(uint32(v))})
		}
	}
	for i := 0; i+1 < n; i++ {
		push(i)
	}
	for h.len() > 0 {
		it := h.pop()
		i := int(it.pos)
		j := next[i]
		if !alive[i] || j >= n || syms[i] != it.left || syms[j] != it.right {
			continue // stale: one side was merged since this was pushed
		}
		syms[i] = it.out
		alive[j] = false
		next[i] = next[j]
		if next[j] < n {
			prev[next[j]] = i
		}
		if prev[i] >= 0 {
			push(prev[i])
		}
		push(i)
	}
	out := make([]int32, 0, n)
	for i := 0; i < n; i = next[i] {
		out = append(out, syms[i])
	}
	return out
}

type heapItem struct {
	rank        uint32
	pos         int32
	left, right int32
	out         int32
}

func (a heapItem) less(b heapItem) bool {
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.pos < b.pos
}

// mergeHeap is a binary min-heap; hand-written to avoid container/heap's
// interface boxing in this hot loop.
type mergeHeap struct{ items []heapItem }

func (h *mergeHeap) len() int { return len(h.items) }

func (h *mergeHeap) push(it heapItem) {
	h.items = append(h.items, it)
	i := len(h.items) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.items[i].less(h.items[p]) {
			break
		}
		h.items[i], h.items[p] = h.items[p], h.items[i]
		i = p
	}
}

func (h *mergeHeap) pop() heapItem {
	top := h.items[0]
	last := len(h.items) - 1
	h.items[0] = h.items[last]
	h.items = h.items[:last]
	i := 0
	for {
		l, r, m := 2*i+1, 2*i+2, i
		if l < last && h.items[l].less(h.items[m]) {
			m = l
		}
		if r < last && h.items[r].less(h.items[m]) {
			m = r
		}
		if m == i {
			break
		}
		h.items[i], h.items[m] = h.items[m], h.items[i]
		i = m
	}
	return top
}
