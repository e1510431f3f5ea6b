package tokenizer

import "slices"

// bpe appends the ids of one pre-token. It applies merges the way HF's
// Word::merge_all does: repeatedly the pair with the lowest merge rank,
// leftmost first among equal ranks. Short words (the vast majority) use a
// plain scan; long ones rank buckets (bpeBuckets), linear in the word, with
// a heap as the general fallback, so a pathological run of megabytes of
// letters without a space (Chinese text) costs no more per byte than
// ordinary text.
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
	if len(syms) >= bucketMinSyms {
		if out, ok := t.bpeBuckets(syms); ok {
			return append(dst, out...)
		}
	}
	if len(syms) > 48 {
		return append(dst, t.bpeHeap(syms)...)
	}
	// Keep the merge of each adjacent pair (rank<<32 | result, or noMerge)
	// so each step does one scan of this small array and only two table
	// lookups, instead of looking every pair up again.
	var rstack [64]uint64
	ranks := rstack[:0]
	for i := 0; i+1 < len(syms); i++ {
		ranks = append(ranks, t.merges.get(mergeKey(syms[i], syms[i+1])))
	}
	for {
		best, bestV := -1, noMerge
		for i, v := range ranks {
			if v < bestV { // rank in the high bits: smallest rank, leftmost
				best, bestV = i, v
			}
		}
		if best < 0 {
			break
		}
		syms[best] = int32(uint32(bestV))
		syms = append(syms[:best+1], syms[best+2:]...)
		ranks = append(ranks[:best], ranks[best+1:]...)
		if best > 0 {
			ranks[best-1] = t.merges.get(mergeKey(syms[best-1], syms[best]))
		}
		if best < len(ranks) {
			ranks[best] = t.merges.get(mergeKey(syms[best], syms[best+1]))
		}
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
		if v := t.merges.get(mergeKey(syms[i], syms[j])); v != noMerge {
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

// bucketMinSyms is the word length from which bpeBuckets is used: its cost
// has a term per merge rank, which only long words repay.
const bucketMinSyms = 1024

// bpeBuckets is bpe in time linear in the word (plus the number of merge
// ranks). It relies on what BPE training guarantees: a merge's result can
// only take part in merges of later rank, since those were learned after
// it was made. Then the pops of a heap of (rank, position) come out rank
// by rank, so a bucket of positions per rank, each taken in position order,
// gives the same merges in the same order without the heap's log n and its
// cache misses. ok is false when the merge list breaks that order (a
// hand-made or hostile file): a merge would create a pair of lower or equal
// rank. The caller then uses the heap, which makes no such assumption.
func (t *Tokenizer) bpeBuckets(ids []int32) (out []int32, ok bool) {
	n := len(ids)
	syms := make([]int32, n)
	copy(syms, ids)
	next := make([]int32, n) // n: none
	prev := make([]int32, n) // -1: none
	for i := range n {
		prev[i], next[i] = int32(i-1), int32(i+1)
	}
	// Each rank's bucket is a singly linked list of entries (position,
	// next entry), appended at its tail; sorted marks a bucket whose
	// positions were appended in increasing order.
	R := t.merges.ranks
	head := make([]int32, R)
	tail := make([]int32, R)
	sorted := make([]bool, R)
	for r := range head {
		head[r], sorted[r] = -1, true
	}
	var epos, enext []int32
	cur := -1 // the rank being applied
	push := func(i int32) bool {
		if i < 0 || int(next[i]) >= n {
			return true
		}
		j := next[i]
		v := t.merges.get(mergeKey(syms[i], syms[j]))
		if v == noMerge {
			return true
		}
		r := int(v >> 32)
		if r <= cur {
			return false
		}
		e := int32(len(epos))
		epos, enext = append(epos, i), append(enext, -1)
		if head[r] < 0 {
			head[r] = e
		} else {
			if epos[tail[r]] > i {
				sorted[r] = false
			}
			enext[tail[r]] = e
		}
		tail[r] = e
		return true
	}
	for i := 0; i+1 < n; i++ {
		push(int32(i)) // no rank is below -1: never fails
	}
	var batch []int32
	for r := range R {
		if head[r] < 0 {
			continue
		}
		cur = r
		batch = batch[:0]
		for e := head[r]; e >= 0; e = enext[e] {
			batch = append(batch, epos[e])
		}
		if !sorted[r] {
			slices.Sort(batch)
		}
		for _, i := range batch {
			j := next[i]
			// Stale entries: i was merged into its left neighbour, or a
			// side changed since the push (its pair's rank then differs,
			// as a rank names one pair).
			if syms[i] < 0 || int(j) >= n {
				continue
			}
			v := t.merges.get(mergeKey(syms[i], syms[j]))
			if v == noMerge || int(v>>32) != r {
				continue
			}
			syms[i], syms[j] = int32(uint32(v)), -1
			next[i] = next[j]
			if int(next[j]) < n {
				prev[next[j]] = i
			}
			if !push(prev[i]) || !push(i) {
				return nil, false
			}
		}
	}
	out = make([]int32, 0, n)
	for i := int32(0); int(i) < n; i = next[i] {
		out = append(out, syms[i])
	}
	return out, true
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

// noMerge is what mergeTable.get returns for a pair that never merges; it
// sorts after every real (rank<<32 | id) value.
const noMerge = ^uint64(0)

// mergeTable maps a pair key (left<<32 | right) to rank<<32 | merged id. It
// is an open-addressing hash table because this lookup is the encoder's
// hot spot and Go's map costs several times more per probe.
type mergeTable struct {
	keys, vals []uint64
	shift      uint
	ranks      int // every rank is below this
}

const emptyKey = ^uint64(0) // ids are never negative, so no pair has this key

func newMergeTable(n int) mergeTable {
	size, shift := 16, uint(60)
	for size < 2*n { // load factor at most 1/2 keeps probe chains short
		size *= 2
		shift--
	}
	t := mergeTable{keys: make([]uint64, size), vals: make([]uint64, size), shift: shift, ranks: n}
	for i := range t.keys {
		t.keys[i] = emptyKey
	}
	return t
}

func (t *mergeTable) slot(k uint64) uint64 { return (k * 0x9E3779B97F4A7C15) >> t.shift }

// get returns the value for k, or noMerge.
func (t *mergeTable) get(k uint64) uint64 {
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return t.vals[i]
		case emptyKey:
			return noMerge
		}
	}
}

// putIfAbsent stores v for k unless k is present; it reports whether it
// stored. The table must have been sized for all keys.
func (t *mergeTable) putIfAbsent(k, v uint64) bool {
	mask := uint64(len(t.keys) - 1)
	for i := t.slot(k); ; i = (i + 1) & mask {
		switch t.keys[i] {
		case k:
			return false
		case emptyKey:
			t.keys[i], t.vals[i] = k, v
			return true
		}
	}
}
