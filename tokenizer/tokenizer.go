package tokenizer

import (
	"encoding/json"
	"fmt"
	"hash/maphash"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Tokenizer is a loaded byte-level BPE tokenizer. It is safe for concurrent
// use.
type Tokenizer struct {
	tokens  []string         // id → token text as tokenizer.json spells it ("" = unused id)
	bytes   [][]byte         // id → raw bytes Decode emits
	special []bool           // id → special added token (skipped by DecodeSkipSpecial)
	vocab   map[string]int32 // token text → id, model vocab and added tokens
	raw     map[string]int32 // raw bytes → id, model vocab only (ignore_merges lookups)
	byteID  [256]int32       // id of each single-byte token, -1 if absent
	merges  mergeTable

	// Added tokens are split off the text before pre-tokenization, HF's
	// non-normalized ones first, then the normalized ones.
	addedRaw, addedNorm addedMatcher

	addPrefixSpace bool
	useRegex       bool
	ignoreMerges   bool
	unk            int32 // -1 when the model has no unk_token
	fuseUnk        bool
	// maxCover is the most input bytes one id can stand for, 0 when
	// MinTokens has no bound (see there).
	maxCover int

	cfg   Config
	cache *encodeCache

	// The source files, kept so Save writes exactly what was loaded.
	jsonData, configData []byte
}

func mergeKey(a, b int32) uint64 { return uint64(uint32(a))<<32 | uint64(uint32(b)) }

// build checks the vocab and merges and assembles the lookup tables.
func build(f *fileJSON, merges [][2]string, cfg Config) (*Tokenizer, error) {
	m := f.Model
	size := int32(0)
	for tok, id := range m.Vocab {
		if id < 0 {
			return nil, fmt.Errorf("parse tokenizer.json: vocab token %q has negative id %d", tok, id)
		}
		size = max(size, id+1)
	}
	for _, a := range f.AddedTokens {
		size = max(size, a.ID+1)
	}
	const maxVocab = 1 << 24 // far above any BPE vocab; bounds memory on hostile files
	if size > maxVocab {
		return nil, fmt.Errorf("parse tokenizer.json: vocab id %d too large", size-1)
	}
	alpha := byteLevelAlphabet()
	inv := make(map[rune]byte, 256)
	for b, r := range alpha {
		inv[r] = byte(b)
	}
	t := &Tokenizer{
		tokens:       make([]string, size),
		bytes:        make([][]byte, size),
		special:      make([]bool, size),
		vocab:        make(map[string]int32, size),
		raw:          make(map[string]int32, len(m.Vocab)),
		merges:       newMergeTable(len(merges)),
		ignoreMerges: m.IgnoreMerges,
		unk:          -1,
		fuseUnk:      m.FuseUnk,
		cfg:          cfg,
		cache:        newEncodeCache(),
	}
	var pre byteLevelJSON
	_ = json.Unmarshal(f.PreTokenizer, &pre) // checked by checkFeatures
	t.addPrefixSpace = pre.AddPrefixSpace
	t.useRegex = pre.UseRegex == nil || *pre.UseRegex
	for tok, id := range m.Vocab {
		if t.tokens[id] != "" {
			return nil, fmt.Errorf("parse tokenizer.json: tokens %q and %q share id %d", t.tokens[id], tok, id)
		}
		t.tokens[id] = tok
		t.vocab[tok] = id
		b := tokenBytes(inv, tok)
		t.bytes[id] = b
		t.raw[string(b)] = id
	}
	for i := range t.byteID {
		t.byteID[i] = -1
		if id, ok := t.vocab[string(alpha[i])]; ok {
			t.byteID[i] = id
		}
	}
	if m.UnkToken != nil {
		id, ok := t.vocab[*m.UnkToken]
		if !ok {
			return nil, fmt.Errorf("parse tokenizer.json: unk_token %q not in vocab", *m.UnkToken)
		}
		t.unk = id
	}
	for rank, p := range merges {
		a, okA := t.vocab[p[0]]
		b, okB := t.vocab[p[1]]
		c, okC := t.vocab[p[0]+p[1]]
		if !okA || !okB || !okC {
			return nil, fmt.Errorf("parse tokenizer.json: merge %d (%q %q) uses a token outside the vocab", rank, p[0], p[1])
		}
		// On a duplicate pair HF keeps the first (best) rank.
		t.merges.putIfAbsent(mergeKey(a, b), uint64(rank)<<32|uint64(uint32(c)))
	}
	var raw, norm []addedEntry
	for _, a := range f.AddedTokens {
		if prev := t.tokens[a.ID]; prev != "" && prev != a.Content {
			return nil, fmt.Errorf("parse tokenizer.json: added token %q reuses id %d of %q", a.Content, a.ID, prev)
		}
		t.tokens[a.ID] = a.Content
		t.vocab[a.Content] = a.ID
		t.bytes[a.ID] = tokenBytes(inv, a.Content)
		t.special[a.ID] = a.Special
		if a.Normalized && !a.Special {
			norm = append(norm, addedEntry{a.Content, a.ID})
		} else {
			raw = append(raw, addedEntry{a.Content, a.ID})
		}
	}
	t.addedRaw = newAddedMatcher(raw)
	t.addedNorm = newAddedMatcher(norm)
	t.maxCover = maxCover(t)
	return t, nil
}

// maxCover returns the most input bytes one id of t can stand for, or 0
// when some byte has no token: HF then drops it or fuses a run of unknowns
// into one id, so ids no longer bound the input's length. A BPE token
// covers as many bytes as its text has byte-level characters, an added
// token its content; the byte length of the text and of the decoded bytes
// are each at least that, so their maximum is a safe bound.
func maxCover(t *Tokenizer) int {
	for _, id := range t.byteID {
		if id < 0 {
			return 0
		}
	}
	m := 1
	for id, tok := range t.tokens {
		m = max(m, len(tok), len(t.bytes[id]))
	}
	return m
}

// MinTokens returns a lower bound on len(Encode(text)) for every text of n
// bytes, or 0 when the vocabulary gives none. A server uses it to refuse a
// prompt that cannot fit its context window without encoding it: each id
// stands for at most the longest token's bytes, so n bytes need at least
// ceil(n / longest) ids.
func (t *Tokenizer) MinTokens(n int) int {
	if t.maxCover == 0 || n <= 0 {
		return 0
	}
	return (n + t.maxCover - 1) / t.maxCover
}

// tokenBytes is what HF's ByteLevel decoder emits for one token: its
// characters mapped back to bytes, or its own UTF-8 if any character is
// outside the byte alphabet.
func tokenBytes(inv map[rune]byte, tok string) []byte {
	if b, ok := byteLevelDecode(inv, tok); ok {
		return b
	}
	return []byte(tok)
}

// VocabSize returns the number of ids, model vocab plus added tokens (HF's
// get_vocab_size(with_added_tokens=True)).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// TokenID returns the id of a token, spelled as in tokenizer.json (byte-level
// text such as "Ġthe", or an added token such as "<|im_end|>").
func (t *Tokenizer) TokenID(tok string) (int32, bool) {
	id, ok := t.vocab[tok]
	return id, ok
}

// Token returns the tokenizer.json spelling of id, or "" if it is unused.
func (t *Tokenizer) Token(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// IsSpecial reports whether id is a special added token.
func (t *Tokenizer) IsSpecial(id int32) bool {
	return id >= 0 && int(id) < len(t.special) && t.special[id]
}

// HasThinkTokens reports whether "<think>" and "</think>" are single added
// tokens, as in minimind-3's tokenizer (MiniMind2's spells each with four
// BPE pieces). It marks a tokenizer of the minimind-3 generation, whose
// data pipeline differs in small ways (see package data).
func (t *Tokenizer) HasThinkTokens() bool {
	return len(t.Encode("<think>")) == 1 && len(t.Encode("</think>")) == 1
}

// ChatTemplate returns the chat_template of tokenizer_config.json, or "" if
// there was none.
func (t *Tokenizer) ChatTemplate() string { return t.cfg.ChatTemplate }

// Config returns the tokenizer_config.json settings.
func (t *Tokenizer) Config() Config { return t.cfg }

// Encode returns the ids of text as HF's encode(text,
// add_special_tokens=False): added-token strings inside text (such as
// "<|im_start|>") become their ids, everything else is byte-level BPE.
func (t *Tokenizer) Encode(text string) []int32 {
	return t.AppendEncode(make([]int32, 0, len(text)/3+1), text)
}

// AppendEncode appends the ids of text to dst and returns it.
func (t *Tokenizer) AppendEncode(dst []int32, text string) []int32 {
	t.addedRaw.split(text, func(piece string, id int32) {
		if id >= 0 {
			dst = append(dst, id)
			return
		}
		t.addedNorm.split(piece, func(piece string, id int32) {
			if id >= 0 {
				dst = append(dst, id)
				return
			}
			dst = t.appendText(dst, piece)
		})
	})
	return dst
}

// appendText pre-tokenizes and BPE-encodes text that holds no added token.
func (t *Tokenizer) appendText(dst []int32, text string) []int32 {
	if text == "" {
		return dst
	}
	if t.addPrefixSpace && text[0] != ' ' {
		text = " " + text
	}
	if !t.useRegex {
		return t.appendWord(dst, text)
	}
	for i := 0; i < len(text); {
		j := matchGPT2(text, i)
		dst = t.appendWord(dst, text[i:j])
		i = j
	}
	return dst
}

// appendWord encodes one pre-token, through the cache.
func (t *Tokenizer) appendWord(dst []int32, word string) []int32 {
	if len(word) == 1 && t.byteID[word[0]] >= 0 {
		return append(dst, t.byteID[word[0]])
	}
	if ids, ok := t.cache.get(word); ok {
		return append(dst, ids...)
	}
	n := len(dst)
	dst = t.bpe(dst, word)
	t.cache.put(word, dst[n:])
	return dst
}

// EncodeBatch encodes texts in parallel over GOMAXPROCS workers; out[i] is
// Encode(texts[i]).
func (t *Tokenizer) EncodeBatch(texts []string) [][]int32 {
	return t.EncodeBatchWorkers(texts, 0)
}

// EncodeBatchWorkers is EncodeBatch with an explicit worker count
// (0 = GOMAXPROCS).
func (t *Tokenizer) EncodeBatchWorkers(texts []string, workers int) [][]int32 {
	out := make([][]int32, len(texts))
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, len(texts))
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(texts) {
					return
				}
				out[i] = t.Encode(texts[i])
			}
		})
	}
	wg.Wait()
	return out
}

// Decode returns the text of ids as HF's decode(ids,
// skip_special_tokens=False). Unknown ids are skipped, and byte sequences
// that are not valid UTF-8 become U+FFFD as in Rust's from_utf8_lossy.
func (t *Tokenizer) Decode(ids []int32) string { return t.decode(ids, false) }

// DecodeSkipSpecial is Decode with skip_special_tokens=True.
func (t *Tokenizer) DecodeSkipSpecial(ids []int32) string { return t.decode(ids, true) }

func (t *Tokenizer) decode(ids []int32, skipSpecial bool) string {
	var buf []byte
	for _, id := range ids {
		if id < 0 || int(id) >= len(t.bytes) || (skipSpecial && t.special[id]) {
			continue
		}
		buf = append(buf, t.bytes[id]...)
	}
	return string(appendLossy(make([]byte, 0, len(buf)), buf))
}

// addedEntry is one added token to split on.
type addedEntry struct {
	content string
	id      int32
}

// addedMatcher finds added tokens in text, leftmost-longest like HF's
// aho-corasick matcher. Added tokens are few, so a first-byte filter and
// prefix checks are enough.
type addedMatcher struct {
	first  [256]bool
	byByte [256][]addedEntry // sorted longest first
}

func newAddedMatcher(entries []addedEntry) addedMatcher {
	var m addedMatcher
	for _, e := range entries {
		c := e.content[0]
		m.first[c] = true
		m.byByte[c] = append(m.byByte[c], e)
	}
	for c := range m.byByte {
		sort.SliceStable(m.byByte[c], func(i, j int) bool {
			return len(m.byByte[c][i].content) > len(m.byByte[c][j].content)
		})
	}
	return m
}

// split calls fn for each piece of text in order: added tokens with their id,
// the text between them with id -1 (never empty).
func (m *addedMatcher) split(text string, fn func(piece string, id int32)) {
	start := 0
	for i := 0; i < len(text); i++ {
		if !m.first[text[i]] {
			continue
		}
		for _, e := range m.byByte[text[i]] {
			if strings.HasPrefix(text[i:], e.content) {
				if i > start {
					fn(text[start:i], -1)
				}
				fn(e.content, e.id)
				start = i + len(e.content)
				i = start - 1
				break
			}
		}
	}
	if start < len(text) {
		fn(text[start:], -1)
	}
}

// encodeCache maps pre-tokens to their ids. It is sharded to keep lock
// contention low under EncodeBatch, and each shard is simply cleared when it
// fills up: bounded memory matters more than the occasional recomputation.
type encodeCache struct {
	seed   maphash.Seed
	shards [cacheShards]cacheShard
}

const (
	cacheShards     = 64
	cacheShardLimit = 1 << 13 // entries per shard: 512K entries in all
)

// cacheable decides which pre-tokens go through the cache. Measured on the
// shared corpus: ASCII words repeat a lot and pay off up to long lengths,
// while CJK runs longer than four characters (12 bytes) almost never
// repeat, and storing each one cost more than its BPE (22 vs 14 MB/s on
// pretrain_zh_poetry).
func cacheable(word string) bool {
	n := len(word)
	return n <= 12 || (n <= 64 && word[n-1] < 0x80)
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string][]int32
}

func newEncodeCache() *encodeCache {
	c := &encodeCache{seed: maphash.MakeSeed()}
	for i := range c.shards {
		c.shards[i].m = make(map[string][]int32)
	}
	return c
}

func (c *encodeCache) shard(word string) *cacheShard {
	return &c.shards[maphash.String(c.seed, word)%cacheShards]
}

func (c *encodeCache) get(word string) ([]int32, bool) {
	if !cacheable(word) {
		return nil, false
	}
	s := c.shard(word)
	s.mu.RLock()
	ids, ok := s.m[word]
	s.mu.RUnlock()
	return ids, ok
}

func (c *encodeCache) put(word string, ids []int32) {
	if !cacheable(word) {
		return
	}
	// Copy both: word may point into a large document the cache must not
	// keep alive, and ids into the caller's growing slice.
	word = strings.Clone(word)
	ids = append([]int32(nil), ids...)
	s := c.shard(word)
	s.mu.Lock()
	if len(s.m) >= cacheShardLimit {
		clear(s.m)
	}
	s.m[word] = ids
	s.mu.Unlock()
}
