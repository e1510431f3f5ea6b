package generate

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/minimind-go/minimind/model"
	"github.com/minimind-go/minimind/tokenizer"
)

// Errors an Engine returns, to be matched with errors.Is.
var (
	// ErrContextWindow: the prompt leaves no room for a reply in the window.
	ErrContextWindow = errors.New("prompt does not fit the context window")
	// ErrQueueFull: Submit found every slot busy and the queue full.
	ErrQueueFull = errors.New("generation queue is full")
	// ErrClosed: the engine's Run loop has stopped.
	ErrClosed = errors.New("generation engine stopped")
)

// FinishReason says why a reply ended, in OpenAI's words where they exist.
type FinishReason string

// The ways a reply ends.
const (
	FinishStop      FinishReason = "stop"      // a stop token or stop string
	FinishLength    FinishReason = "length"    // MaxNewTokens or the context window
	FinishCancelled FinishReason = "cancelled" // the request's context ended, or the engine stopped
	FinishError     FinishReason = "error"     // the model failed (Event.Err says how)
)

// Request is one sequence to continue.
type Request struct {
	// Prompt is the token ids to continue (a rendered chat prompt, or bos +
	// text), at least one and fewer than the engine's window.
	Prompt  []int32
	Options Options
}

// Event is a step of a reply: a piece of text, and finally Done.
type Event struct {
	// Text is new reply text: whole UTF-8 characters, never part of a stop
	// string. It may be empty.
	Text string
	// Done marks the last event of the reply; the fields below are set on
	// it only.
	Done             bool
	Finish           FinishReason
	PromptTokens     int
	CompletionTokens int // tokens sampled, including a final stop token
	Err              error
}

// Result is a finished reply from Generate.
type Result struct {
	Text   string
	Tokens []int32 // the reply's ids, without a final stop token
	// LogProbs (Options.LogProbs) are the raw log-probabilities of the
	// sampled ids: Tokens's, then the final stop token's when one ended
	// the reply.
	LogProbs     []float32
	PromptTokens int
	Finish       FinishReason
}

// EngineOptions size an Engine. Zero values take the defaults.
type EngineOptions struct {
	// Slots is how many sequences decode together (default 8).
	Slots int
	// Window is the positions of prompt plus reply per sequence (default
	// and maximum: the model's max_position_embeddings).
	Window int
	// Queue is how many submitted requests may wait for a slot before
	// Submit returns ErrQueueFull (default 4×Slots).
	Queue int
	// PrefillChunk is the most prompt tokens fed in one step, so a long
	// prompt does not stall the sequences already decoding (default 256).
	// Prompts waiting in adjacent slots share it, fed in one pass.
	PrefillChunk int
}

// Stats is a snapshot of an engine's load.
type Stats struct {
	Slots, Active, Queued int
	Generated             int64 // tokens sampled since the engine started
	// DecodeSteps counts the batched decoding forward passes, DecodeRows
	// the sequences they advanced and BatchRows the rows they computed
	// (rows [0, highest busy slot], free and prefilling ones included), all
	// since the engine started: DecodeRows ÷ DecodeSteps is the mean batch
	// continuous batching achieved, and BatchRows − DecodeRows the rows
	// computed for nothing.
	DecodeSteps, DecodeRows, BatchRows int64
	// PrefillPasses counts the prefill forward passes and PrefillRows the
	// prompts they fed (PrefillRows ÷ PrefillPasses: prompts per pass).
	PrefillPasses, PrefillRows int64
}

// Engine decodes up to Slots sequences at once with one model: each step
// feeds the next token of every active sequence in one batched forward pass
// over the shared KV cache, and new sequences are prefilled into free slots
// between steps (continuous batching).
type Engine struct {
	m          *model.Model
	tok        *tokenizer.Tokenizer
	opts       EngineOptions
	stopTokens []int32

	kv    *model.KVCache
	views []*model.KVCache // views[n]: rows [0, n)
	rows  []*model.KVCache // rows[b]: row b alone
	slots []*seq
	ids   []int32
	pids  []int32     // a prefill pass's prompt tokens [rows, T]
	last  [][]float32 // a prefill pass's logits after each row's last prompt token
	saved []int32
	order uint64 // admission counter, for prefill order

	queue     chan *seq
	done      chan struct{}
	closed    atomic.Bool
	active    atomic.Int32
	generated atomic.Int64
	// Decode step counters (Stats).
	decodeSteps, decodeRows, batchRows atomic.Int64
	prefillPasses, prefillRows         atomic.Int64
}

// seq is one sequence in a slot.
type seq struct {
	ctx      context.Context
	prompt   []int32
	opts     Options
	maxNew   int
	emit     func(Event)
	sampler  *Sampler
	dec      *tokenizer.StreamDecoder
	stop     stopper
	seen     []int32
	seenSet  map[int32]struct{}
	tokens   []int32
	logps    []float32 // Options.LogProbs: every sampled id's, the stop token's too
	raw      []float32 // Options.LogProbs: the logits row before sampling changes it
	fed      int       // prompt tokens in the cache
	out      int       // tokens sampled
	next     int32
	decoding bool
	admitted uint64
}

// NewEngine allocates the KV cache for opts.Slots sequences of opts.Window
// positions. The engine then owns m: nothing else may use it meanwhile.
func NewEngine(m *model.Model, tok *tokenizer.Tokenizer, opts EngineOptions) (*Engine, error) {
	if opts.Slots <= 0 {
		opts.Slots = 8
	}
	maxPos := m.Config.MaxPositionEmbeddings
	if opts.Window <= 0 || opts.Window > maxPos {
		opts.Window = maxPos
	}
	if opts.Window < 2 {
		return nil, fmt.Errorf("generate: context window %d is too small", opts.Window)
	}
	if opts.Queue <= 0 {
		opts.Queue = 4 * opts.Slots
	}
	if opts.PrefillChunk <= 0 {
		opts.PrefillChunk = 256
	}
	kv, err := m.NewKVCache(opts.Slots, opts.Window)
	if err != nil {
		return nil, fmt.Errorf("generate: %w", err)
	}
	e := &Engine{
		m: m, tok: tok, opts: opts, kv: kv,
		slots: make([]*seq, opts.Slots), ids: make([]int32, opts.Slots), saved: make([]int32, opts.Slots),
		pids:  make([]int32, 0, opts.PrefillChunk),
		queue: make(chan *seq, opts.Queue), done: make(chan struct{}),
	}
	e.stopTokens = []int32{int32(m.Config.EosTokenID)}
	if id, ok := tok.TokenID("<|im_end|>"); ok && id != e.stopTokens[0] {
		e.stopTokens = append(e.stopTokens, id)
	}
	e.views = make([]*model.KVCache, opts.Slots+1)
	for n := 1; n <= opts.Slots; n++ {
		e.views[n] = kv.Rows(n)
	}
	for b := range opts.Slots {
		e.rows = append(e.rows, kv.Row(b))
	}
	return e, nil
}

// Window returns the positions available to prompt plus reply.
func (e *Engine) Window() int { return e.opts.Window }

// Slots returns how many sequences decode together.
func (e *Engine) Slots() int { return e.opts.Slots }

// Queue returns how many submitted requests may wait for a slot.
func (e *Engine) Queue() int { return e.opts.Queue }

// Config returns the model's configuration.
func (e *Engine) Config() model.Config { return e.m.Config }

// Tokenizer returns the tokenizer the engine decodes with.
func (e *Engine) Tokenizer() *tokenizer.Tokenizer { return e.tok }

// Stats returns the current load; safe from any goroutine.
func (e *Engine) Stats() Stats {
	return Stats{Slots: e.opts.Slots, Active: int(e.active.Load()), Queued: len(e.queue), Generated: e.generated.Load(),
		DecodeSteps: e.decodeSteps.Load(), DecodeRows: e.decodeRows.Load(), BatchRows: e.batchRows.Load(),
		PrefillPasses: e.prefillPasses.Load(), PrefillRows: e.prefillRows.Load()}
}

// Done is closed when Run has returned.
func (e *Engine) Done() <-chan struct{} { return e.done }

// newSeq validates r and prepares its sequence state.
func (e *Engine) newSeq(ctx context.Context, r Request) (*seq, error) {
	P, V := len(r.Prompt), int32(e.m.Config.VocabSize)
	if P == 0 {
		return nil, fmt.Errorf("%w: empty prompt", ErrInvalid)
	}
	if P >= e.opts.Window {
		return nil, fmt.Errorf("%w: the prompt has %d tokens and the window %d positions, leaving no room for a reply", ErrContextWindow, P, e.opts.Window)
	}
	if err := r.Options.Validate(); err != nil {
		return nil, err
	}
	s := &seq{ctx: ctx, prompt: r.Prompt, opts: r.Options, maxNew: e.opts.Window - P, seenSet: map[int32]struct{}{}}
	if n := r.Options.MaxNewTokens; n > 0 && n < s.maxNew {
		s.maxNew = n
	}
	for i, id := range r.Prompt {
		if id < 0 || id >= V {
			return nil, fmt.Errorf("%w: prompt token %d at position %d is outside the vocabulary [0,%d)", ErrInvalid, id, i, V)
		}
		s.addSeen(id)
	}
	if s.opts.StopTokens == nil {
		s.opts.StopTokens = e.stopTokens
	}
	s.sampler = NewSampler(s.opts)
	s.dec = e.tok.NewStreamDecoderSkipSpecial()
	s.stop.stops = s.opts.Stop
	return s, nil
}

func (s *seq) addSeen(id int32) {
	if _, ok := s.seenSet[id]; !ok {
		s.seenSet[id] = struct{}{}
		s.seen = append(s.seen, id)
	}
}

// Submit queues r for the Run loop and returns the channel its events
// arrive on; the last has Done set. Cancelling ctx ends the reply with
// FinishCancelled. The channel is buffered for the whole reply, so a slow
// reader never stalls the engine. Errors: a bad request (ErrInvalid,
// ErrContextWindow), ErrQueueFull, ErrClosed.
func (e *Engine) Submit(ctx context.Context, r Request) (<-chan Event, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	s, err := e.newSeq(ctx, r)
	if err != nil {
		return nil, err
	}
	ch := make(chan Event, s.maxNew+2)
	s.emit = func(ev Event) { ch <- ev }
	select {
	case e.queue <- s:
		return ch, nil
	default:
		return nil, ErrQueueFull
	}
}

// Run is the serving loop: it admits submitted requests into free slots
// and steps every active sequence until ctx ends; then it cancels what is
// left (Done events with ErrClosed), closes Done and returns ctx.Err().
// Call it once, on the goroutine that owns the model.
func (e *Engine) Run(ctx context.Context) error {
	defer close(e.done)
	for {
		if e.active.Load() == 0 {
			select {
			case s := <-e.queue:
				e.admit(s)
			case <-ctx.Done():
			}
		}
	fill:
		for e.freeSlot() >= 0 {
			select {
			case s := <-e.queue:
				e.admit(s)
			default:
				break fill
			}
		}
		if ctx.Err() != nil {
			e.shutdown()
			return ctx.Err()
		}
		// A failed step has already ended its sequences with the error;
		// the loop serves the next ones.
		_ = e.safeStep()
	}
}

// shutdown ends every active and queued request with ErrClosed.
func (e *Engine) shutdown() {
	e.closed.Store(true)
	for b, s := range e.slots {
		if s != nil {
			e.finish(b, FinishCancelled, ErrClosed)
		}
	}
	for {
		select {
		case s := <-e.queue:
			s.emit(Event{Done: true, Finish: FinishCancelled, PromptTokens: len(s.prompt), Err: ErrClosed})
		default:
			return
		}
	}
}

// Generate runs reqs to completion on the calling goroutine, up to Slots at
// a time, and returns their results in order. onEvent (optional) sees every
// event as it happens, with the request's index. Requests are validated
// before any work starts. If ctx ends, the active replies are cancelled and
// ctx.Err() is returned with the partial results. Generate must not run
// while Run does.
func (e *Engine) Generate(ctx context.Context, reqs []Request, onEvent func(i int, ev Event)) ([]Result, error) {
	seqs := make([]*seq, len(reqs))
	texts := make([]strings.Builder, len(reqs))
	results := make([]Result, len(reqs))
	for i, r := range reqs {
		s, err := e.newSeq(ctx, r)
		if err != nil {
			return nil, fmt.Errorf("request %d: %w", i, err)
		}
		s.emit = func(ev Event) {
			texts[i].WriteString(ev.Text)
			if ev.Done {
				results[i] = Result{Text: texts[i].String(), Tokens: s.tokens, LogProbs: s.logps, PromptTokens: len(s.prompt), Finish: ev.Finish}
			}
			if onEvent != nil {
				onEvent(i, ev)
			}
		}
		seqs[i] = s
	}
	next := 0
	for {
		for next < len(seqs) && e.freeSlot() >= 0 {
			e.admit(seqs[next])
			next++
		}
		if e.active.Load() == 0 && next == len(seqs) {
			return results, nil
		}
		if err := ctx.Err(); err != nil {
			for b, s := range e.slots {
				if s != nil {
					e.finish(b, FinishCancelled, err)
				}
			}
			return results, err
		}
		if err := e.safeStep(); err != nil {
			return results, err
		}
	}
}

// freeSlot returns the lowest free slot, or -1. Filling low slots first
// keeps the batched rows [0, hi) dense.
func (e *Engine) freeSlot() int {
	for b, s := range e.slots {
		if s == nil {
			return b
		}
	}
	return -1
}

// admit puts s in the lowest free slot (there must be one).
func (e *Engine) admit(s *seq) {
	if err := s.ctx.Err(); err != nil {
		s.emit(Event{Done: true, Finish: FinishCancelled, PromptTokens: len(s.prompt), Err: err})
		return
	}
	b := e.freeSlot()
	e.kv.ResetRow(b)
	e.order++
	s.admitted = e.order
	e.slots[b] = s
	e.active.Add(1)
}

// safeStep runs one step; an error or a panic in the model ends every
// active sequence with that error and clears the cache, so one bad step
// cannot take a server down.
func (e *Engine) safeStep() (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("generate: internal error: %v", r)
		}
		if err != nil {
			for b, s := range e.slots {
				if s != nil {
					e.finish(b, FinishError, err)
				}
			}
			e.kv.Reset()
		}
	}()
	return e.step()
}

// step drops cancelled sequences, feeds every decoding sequence its next
// token in one batched forward pass, then prefills up to PrefillChunk
// prompt tokens of the sequences still waiting, oldest first, together
// with those in the slots next to it (prefillRun).
func (e *Engine) step() error {
	V := e.m.Config.VocabSize
	hi, decoding := 0, 0
	for b, s := range e.slots {
		if s == nil {
			continue
		}
		if err := s.ctx.Err(); err != nil {
			e.finish(b, FinishCancelled, err)
			continue
		}
		hi = b + 1
		if s.decoding {
			decoding++
		}
	}
	if decoding > 0 {
		e.decodeSteps.Add(1)
		e.decodeRows.Add(int64(decoding))
		e.batchRows.Add(int64(hi))
		// Rows in [0, hi) that are free or still prefilling get a dummy
		// token; their length is restored afterwards, so what it wrote past
		// their end is overwritten later.
		for b := range hi {
			e.saved[b] = e.kv.Lens[b]
			e.ids[b] = 0
			if s := e.slots[b]; s != nil && s.decoding {
				e.ids[b] = s.next
			}
		}
		logits, err := e.m.Forward(e.views[hi], e.ids[:hi], 1, nil, 1)
		if err != nil {
			return fmt.Errorf("generate: decode step: %w", err)
		}
		for b := range hi {
			if s := e.slots[b]; s != nil && s.decoding {
				e.advance(b, logits[b*V:(b+1)*V])
			} else {
				e.kv.Lens[b] = e.saved[b]
			}
		}
	}
	for budget := e.opts.PrefillChunk; budget > 0; {
		lo, hi := e.prefillRun(budget)
		if lo < 0 {
			break
		}
		n, err := e.prefill(lo, hi, budget)
		if err != nil {
			return err
		}
		e.prefillPasses.Add(1)
		e.prefillRows.Add(int64(hi - lo))
		budget -= n
		for b := lo; b < hi; b++ {
			if s := e.slots[b]; s.fed == len(s.prompt) {
				e.advance(b, e.last[b-lo])
			}
		}
	}
	return nil
}

// prefill feeds slots [lo, hi) the next prompt tokens in one forward pass
// and leaves each row's logits after its last prompt token in e.last
// (only a row that reached the end of its prompt needs them). One row feeds
// up to budget tokens; several rows (prefillRun keeps them within budget)
// feed their whole remainders, the shorter ones padded at the end to the
// longest, and their cache lengths are cut back to the real tokens, so the
// padding's keys and values are overwritten later: causal attention keeps
// the real tokens from seeing it. It returns the positions computed,
// padding included.
func (e *Engine) prefill(lo, hi, budget int) (int, error) {
	V := e.m.Config.VocabSize
	T, short := 0, len(e.slots[lo].prompt)
	for b := lo; b < hi; b++ {
		s := e.slots[b]
		T = max(T, len(s.prompt)-s.fed)
		short = min(short, len(s.prompt)-s.fed)
	}
	T = min(T, budget)
	ids := e.pids[:0]
	for b := lo; b < hi; b++ {
		s := e.slots[b]
		n := min(T, len(s.prompt)-s.fed)
		ids = append(ids, s.prompt[s.fed:s.fed+n]...)
		for range T - n {
			ids = append(ids, 0)
		}
	}
	e.pids = ids[:0]
	view := e.rows[lo]
	if hi-lo > 1 {
		view = e.kv.Slice(lo, hi)
	}
	// The last keep positions of every row hold each row's last real one.
	keep := T - min(short, T) + 1
	logits, err := e.m.Forward(view, ids, T, nil, keep)
	if err != nil {
		return 0, fmt.Errorf("generate: prefill: %w", err)
	}
	e.last = e.last[:0]
	for b := lo; b < hi; b++ {
		s := e.slots[b]
		n := min(T, len(s.prompt)-s.fed)
		e.kv.Lens[b] -= int32(T - n)
		s.fed += n
		at := (b-lo)*keep + n - 1 - (T - keep)
		e.last = append(e.last, logits[at*V:(at+1)*V])
	}
	return (hi - lo) * T, nil
}

// prefillRun returns the slots [lo, hi) of the next prefill pass: the
// oldest sequence still prefilling, and with it the prefilling ones in the
// slots next to it as long as all their remainders, padded to the longest,
// fit in budget; lo < 0 when none is prefilling. Adjacent slots share one
// contiguous view of the KV cache, so a burst of requests, admitted into
// consecutive free slots, is prefilled a budget's worth of whole prompts
// per pass, oldest first, instead of one small product per prompt.
func (e *Engine) prefillRun(budget int) (lo, hi int) {
	b := e.oldestPrefilling()
	if b < 0 {
		return -1, -1
	}
	// A row joins when the run's rows, padded to the longest remainder,
	// still fit in budget and every padded row in its cache window.
	lo, hi = b, b+1
	longest, fed := len(e.slots[b].prompt)-e.slots[b].fed, e.slots[b].fed
	join := func(i int) bool {
		if i < 0 || i >= len(e.slots) || e.slots[i] == nil || e.slots[i].decoding {
			return false
		}
		s := e.slots[i]
		l, f := max(longest, len(s.prompt)-s.fed), max(fed, s.fed)
		if (hi-lo+1)*l > budget || f+l > e.opts.Window {
			return false
		}
		longest, fed = l, f
		return true
	}
	for {
		switch {
		case join(hi):
			hi++
		case join(lo - 1):
			lo--
		default:
			return lo, hi
		}
	}
}

// oldestPrefilling returns the slot of the earliest admitted sequence whose
// prompt is not yet in the cache, or -1.
func (e *Engine) oldestPrefilling() int {
	best := -1
	for b, s := range e.slots {
		if s != nil && !s.decoding && (best < 0 || s.admitted < e.slots[best].admitted) {
			best = b
		}
	}
	return best
}

// advance samples slot b's next token from its logits row and applies the
// stop conditions.
func (e *Engine) advance(b int, row []float32) {
	s := e.slots[b]
	if s.opts.LogProbs {
		s.raw = append(s.raw[:0], row...)
	}
	tok := s.sampler.Sample(row, s.seen)
	if s.opts.LogProbs {
		s.logps = append(s.logps, logProb(s.raw, tok))
	}
	s.out++
	e.generated.Add(1)
	if !s.opts.IgnoreEOS && slices.Contains(s.opts.StopTokens, tok) {
		e.finish(b, FinishStop, nil)
		return
	}
	s.tokens = append(s.tokens, tok)
	s.addSeen(tok)
	text, hit := s.stop.push(s.dec.Add(tok))
	if text != "" {
		s.emit(Event{Text: text})
	}
	switch {
	case hit:
		s.stop.stops = nil // nothing after the stop string is released
		s.dec = e.tok.NewStreamDecoderSkipSpecial()
		e.finish(b, FinishStop, nil)
	case s.out >= s.maxNew:
		e.finish(b, FinishLength, nil)
	default:
		s.next = tok
		s.decoding = true
	}
}

// finish ends slot b's sequence with a Done event and frees the slot.
func (e *Engine) finish(b int, reason FinishReason, err error) {
	s := e.slots[b]
	ev := Event{Done: true, Finish: reason, PromptTokens: len(s.prompt), CompletionTokens: s.out, Err: err}
	if err == nil {
		// Release what the decoder and the stop matcher still hold.
		text, hit := s.stop.push(s.dec.Flush())
		if !hit {
			text += s.stop.flush()
		}
		ev.Text = text
	}
	e.slots[b] = nil
	e.kv.ResetRow(b)
	e.active.Add(-1)
	s.emit(ev)
}

// logProb is log softmax(row)[tok], the sum in float64.
func logProb(row []float32, tok int32) float32 {
	mx, logZ := model.SoftmaxNorm(row)
	return float32(float64(row[tok]-mx) - logZ)
}
