package tokenizer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/minimind-go/minimind/jsonl"
)

// DefaultSpecialTokens are MiniMind's special tokens, ids 0, 1, 2.
var DefaultSpecialTokens = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>"}

// TrainOptions configures Trainer. The zero value trains MiniMind's layout
// (6400 ids, the three special tokens).
type TrainOptions struct {
	VocabSize     int      // total ids including special tokens and the 256 bytes; 0 = 6400
	SpecialTokens []string // ids 0..n-1; nil = DefaultSpecialTokens
	MinFrequency  int64    // a pair seen fewer times is never merged; 0 = no limit
	Workers       int      // word-counting goroutines; 0 = GOMAXPROCS
	// OnProgress, if set, is called as counting and merging advance.
	OnProgress func(Progress)
}

// Progress reports one training stage: "count" (Done = documents counted,
// Total = 0 while unknown) or "merge" (Done of Total merges).
type Progress struct {
	Stage       string
	Done, Total int
}

// Trainer learns a byte-level BPE from text with the semantics of HF's
// BpeTrainer: ByteLevel pre-tokenization, special tokens first, the 256
// byte symbols next in code-point order, then merges by descending pair
// count with ties broken by the smaller (left id, right id) pair. The result
// depends only on the multiset of documents, never on timing or map order.
//
// Add* methods may be called from one goroutine at a time.
type Trainer struct {
	opt    TrainOptions
	counts map[string]int64 // pre-token (raw bytes) → occurrences
	docs   int
}

// NewTrainer returns a Trainer with opt's zero fields set to defaults.
func NewTrainer(opt TrainOptions) *Trainer {
	if opt.VocabSize <= 0 {
		opt.VocabSize = 6400
	}
	if opt.SpecialTokens == nil {
		opt.SpecialTokens = DefaultSpecialTokens
	}
	if opt.Workers <= 0 {
		opt.Workers = runtime.GOMAXPROCS(0)
	}
	return &Trainer{opt: opt, counts: make(map[string]int64)}
}

// countWords adds the pre-tokens of text to counts. Special-token strings
// get no special treatment, as in HF's trainer, which feeds raw text through
// the pre-tokenizer only.
func countWords(counts map[string]int64, text string) {
	for i := 0; i < len(text); {
		j := matchGPT2(text, i)
		w := text[i:j]
		if c, ok := counts[w]; ok {
			counts[w] = c + 1
		} else {
			counts[strings.Clone(w)] = 1 // don't pin the whole document
		}
		i = j
	}
}

// AddText counts the words of one document.
func (tr *Trainer) AddText(text string) {
	countWords(tr.counts, text)
	tr.docs++
}

// AddTexts counts documents in parallel.
func (tr *Trainer) AddTexts(texts []string) {
	parts := make([]map[string]int64, tr.opt.Workers)
	var wg sync.WaitGroup
	for w := range parts {
		parts[w] = make(map[string]int64)
		wg.Go(func() {
			for i := w; i < len(texts); i += len(parts) {
				countWords(parts[w], texts[i])
			}
		})
	}
	wg.Wait()
	for _, p := range parts {
		for k, v := range p {
			tr.counts[k] += v
		}
	}
	tr.docs += len(texts)
	tr.report(Progress{Stage: "count", Done: tr.docs})
}

func (tr *Trainer) report(p Progress) {
	if tr.opt.OnProgress != nil {
		tr.opt.OnProgress(p)
	}
}

// AddFile counts the documents of a JSONL file, plain or gzip-compressed
// (recognised by its content, not its name). Each line is {"text": ...} or
// {"conversations": [{"role", "content"}...]}; every message content of a
// conversation counts as one document. Other lines are a *jsonl.LineError
// naming the file and line.
func (tr *Trainer) AddFile(ctx context.Context, path string) error {
	r, err := jsonl.Open(path)
	if err != nil {
		return fmt.Errorf("train tokenizer: %w", err)
	}
	defer r.Close()
	return tr.addLines(ctx, r)
}

// AddJSONL is AddFile on an open reader; name is used in errors.
func (tr *Trainer) AddJSONL(ctx context.Context, r io.Reader, name string) error {
	jr, err := jsonl.NewReader(r, name)
	if err != nil {
		return fmt.Errorf("train tokenizer: %w", err)
	}
	defer jr.Close()
	return tr.addLines(ctx, jr)
}

// addLines counts the documents of every line of r, in parallel batches,
// checking ctx between batches.
func (tr *Trainer) addLines(ctx context.Context, r *jsonl.Reader) error {
	const batch = 2048 // documents per parallel counting round
	var texts []string
	flush := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		tr.AddTexts(texts)
		texts = texts[:0]
		return nil
	}
	for {
		b, err := r.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("train tokenizer: %w", err)
		}
		docs, err := jsonlTexts(b)
		if err != nil {
			return fmt.Errorf("train tokenizer: %w", r.Errorf("%w", err))
		}
		texts = append(texts, docs...)
		if len(texts) >= batch {
			if err := flush(); err != nil {
				return err
			}
		}
	}
	return flush()
}

// jsonlTexts extracts the documents of one JSONL line.
func jsonlTexts(line []byte) ([]string, error) {
	var v struct {
		Text          *string `json:"text"`
		Conversations []struct {
			Content string `json:"content"`
		} `json:"conversations"`
	}
	if err := json.Unmarshal(line, &v); err != nil {
		return nil, err
	}
	switch {
	case v.Text != nil:
		return []string{*v.Text}, nil
	case v.Conversations != nil:
		out := make([]string, 0, len(v.Conversations))
		for _, m := range v.Conversations {
			out = append(out, m.Content)
		}
		return out, nil
	}
	return nil, errors.New(`want a "text" or "conversations" field`)
}

// Docs returns how many documents were counted.
func (tr *Trainer) Docs() int { return tr.docs }

// trainPair is a candidate merge in the priority queue.
type trainPair struct {
	count int64
	pair  uint64 // left id << 32 | right id
}

// before orders the queue: higher count first, then the smaller pair, which
// is HF's tie-break.
func (a trainPair) before(b trainPair) bool {
	if a.count != b.count {
		return a.count > b.count
	}
	return a.pair < b.pair
}

type pairHeap []trainPair

func (h *pairHeap) push(p trainPair) {
	*h = append(*h, p)
	s := *h
	for i := len(s) - 1; i > 0; {
		up := (i - 1) / 2
		if !s[i].before(s[up]) {
			break
		}
		s[i], s[up] = s[up], s[i]
		i = up
	}
}

func (h *pairHeap) pop() trainPair {
	s := *h
	top := s[0]
	n := len(s) - 1
	s[0] = s[n]
	s = s[:n]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < n && s[l].before(s[m]) {
			m = l
		}
		if r < n && s[r].before(s[m]) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

// Train learns the merges and returns the tokenizer, with a
// tokenizer_config.json holding MiniMind's special-token settings and chat
// template. It checks ctx between merges.
func (tr *Trainer) Train(ctx context.Context) (*Tokenizer, error) {
	special := tr.opt.SpecialTokens
	target := tr.opt.VocabSize - len(special) - 256
	// Announce the merge stage now: sorting words and the first pair count
	// take a while on a large corpus.
	tr.report(Progress{Stage: "merge", Done: 0, Total: target})
	if len(special) < 3 {
		return nil, fmt.Errorf("train tokenizer: need at least 3 special tokens (pad, bos, eos), have %d", len(special))
	}
	if tr.opt.VocabSize < len(special)+256 {
		return nil, fmt.Errorf("train tokenizer: vocab size %d is below the %d special and byte tokens", tr.opt.VocabSize, len(special)+256)
	}
	// Vocab: special tokens, then the byte alphabet sorted by code point
	// (HF sorts its alphabet that way).
	vocab := slices.Clone(special)
	ids := make(map[string]int32)
	for i, s := range vocab {
		if _, dup := ids[s]; dup {
			return nil, fmt.Errorf("train tokenizer: duplicate special token %q", s)
		}
		ids[s] = int32(i)
	}
	alpha := byteLevelAlphabet()
	order := make([]int, 256)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(i, j int) bool { return alpha[order[i]] < alpha[order[j]] })
	var byteID [256]int32
	for _, b := range order {
		s := string(alpha[b])
		if id, ok := ids[s]; ok { // a special token spelled like a byte symbol
			byteID[b] = id
			continue
		}
		byteID[b] = int32(len(vocab))
		ids[s] = byteID[b]
		vocab = append(vocab, s)
	}

	// Words in sorted order, so every later tie is decided the same way
	// on every run, whatever the map order was.
	keys := make([]string, 0, len(tr.counts))
	for k := range tr.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([][]int32, len(keys))
	wcount := make([]int64, len(keys))
	arena := make([]int32, 0, func() int {
		n := 0
		for _, k := range keys {
			n += len(k)
		}
		return n
	}())
	for i, k := range keys {
		start := len(arena)
		for j := 0; j < len(k); j++ {
			arena = append(arena, byteID[k[j]])
		}
		words[i] = arena[start:len(arena):len(arena)]
		wcount[i] = tr.counts[k]
	}
	keys = nil

	pairCount := make(map[uint64]int64)
	where := make(map[uint64][]int32) // pair → words holding it (may hold stale entries)
	for wi, w := range words {
		for j := 0; j+1 < len(w); j++ {
			p := mergeKey(w[j], w[j+1])
			pairCount[p] += wcount[wi]
			if l := where[p]; len(l) == 0 || l[len(l)-1] != int32(wi) {
				where[p] = append(l, int32(wi))
			}
		}
	}
	queue := make(pairHeap, 0, len(pairCount))
	for p, c := range pairCount {
		queue.push(trainPair{c, p})
	}

	target = tr.opt.VocabSize - len(vocab)
	var merges [][2]string
	merged := make(map[uint64]bool)
	touched := make(map[uint64]bool)
	var touchedOrder []uint64
	newWhere := make(map[uint64][]int32)
	for len(vocab) < tr.opt.VocabSize && len(queue) > 0 {
		if len(merges)%256 == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			tr.report(Progress{Stage: "merge", Done: len(merges), Total: target})
		}
		top := queue.pop()
		cur := pairCount[top.pair]
		if cur != top.count {
			if cur > 0 {
				queue.push(trainPair{cur, top.pair})
			}
			continue
		}
		if cur < 1 || cur < tr.opt.MinFrequency {
			break
		}
		a, b := int32(top.pair>>32), int32(uint32(top.pair))
		tok := vocab[a] + vocab[b]
		c, exists := ids[tok]
		if !exists {
			c = int32(len(vocab))
			ids[tok] = c
			vocab = append(vocab, tok)
		}
		if !merged[top.pair] {
			merged[top.pair] = true
			merges = append(merges, [2]string{vocab[a], vocab[b]})
		}
		add := func(p uint64, delta int64, wi int32) {
			pairCount[p] += delta
			if delta > 0 {
				if !touched[p] {
					touched[p] = true
					touchedOrder = append(touchedOrder, p)
				}
				if l := newWhere[p]; len(l) == 0 || l[len(l)-1] != wi {
					newWhere[p] = append(l, wi)
				}
			}
		}
		for _, wi := range where[top.pair] {
			words[wi] = mergeWord(words[wi], a, b, c, wcount[wi], wi, add)
		}
		// Every occurrence is gone now; stale queue entries will see 0.
		pairCount[top.pair] = 0
		delete(where, top.pair)
		for _, p := range touchedOrder {
			where[p] = append(where[p], newWhere[p]...)
			if n := pairCount[p]; n > 0 {
				queue.push(trainPair{n, p})
			}
			delete(newWhere, p)
			delete(touched, p)
		}
		touchedOrder = touchedOrder[:0]
	}
	tr.report(Progress{Stage: "merge", Done: len(merges), Total: target})

	data, err := byteLevelFile(vocab, merges, special)
	if err != nil {
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	cfg, err := configFile(special, MiniMindChatTemplate)
	if err != nil {
		return nil, fmt.Errorf("train tokenizer: %w", err)
	}
	t, err := Parse(data, cfg)
	if err != nil {
		return nil, fmt.Errorf("train tokenizer: reload: %w", err)
	}
	return t, nil
}

// mergeWord replaces every non-overlapping (a, b), left to right, by c in
// w, in place, and reports the pair-count changes around each replacement
// (weighted by the word's count), exactly as HF's Word::merge.
func mergeWord(w []int32, a, b, c int32, count int64, wi int32, add func(p uint64, delta int64, wi int32)) []int32 {
	j := 0
	for i := 0; i < len(w); {
		if i+1 < len(w) && w[i] == a && w[i+1] == b {
			if j > 0 {
				add(mergeKey(w[j-1], a), -count, wi)
				add(mergeKey(w[j-1], c), count, wi)
			}
			if i+2 < len(w) {
				add(mergeKey(b, w[i+2]), -count, wi)
				add(mergeKey(c, w[i+2]), count, wi)
			}
			w[j] = c
			j++
			i += 2
			continue
		}
		w[j] = w[i]
		j++
		i++
	}
	return w[:j]
}
