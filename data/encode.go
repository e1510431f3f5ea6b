package data

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"

	"github.com/minimind-go/minimind/chat"
	"github.com/minimind-go/minimind/tokenizer"
)

// MiniMind's special token ids (SPEC §4): pad <|endoftext|>, bos
// <|im_start|>, eos <|im_end|>.
const (
	PadID = 0
	BOSID = 1
	EOSID = 2
)

// systemPrompts are the 10 system prompts 2510's SFT dataset draws from when
// it adds a random one (SPEC §5.2 step 1).
var systemPrompts = [...]string{
	"你是一个知识丰富的AI，尽力为用户提供准确的信息。",
	"你是minimind，一个小巧但有用的语言模型。",
	"你是一个专业的AI助手，请提供有价值的回答。",
	"你是minimind，请尽力帮助用户解决问题。",
	"你是一个可靠的AI，请给出准确的回答。",
	"You are a helpful AI assistant.",
	"You are minimind, a lightweight intelligent assistant.",
	"You are a friendly chatbot. Please answer the user's questions carefully.",
	"You are a knowledgeable AI. Try your best to provide accurate information.",
	"You are minimind, a small but useful language model.",
}

// emptyThink is the empty thought block MiniMind removes from most samples.
const emptyThink = "<think>\n\n</think>\n\n"

// ByTokenizer, as EncodeOptions.DropEmptyThinkProb, stands for the value of
// the tokenizer's MiniMind generation: 0.95 for MiniMind2 (2510's
// post_processing_chat), 0.8 for minimind-3 (whose post_processing_chat has
// empty_think_ratio 0.2: it removes when random() > 0.2). A tokenizer is
// minimind-3's when <think> is a single token (tokenizer.HasThinkTokens).
const ByTokenizer = -1

// Empty-think removal probabilities of the two generations.
const (
	dropEmptyThink2510 = 0.95
	dropEmptyThinkM3   = 0.8
)

// rlaifThinkingRatio is minimind-3's RLAIFDataset thinking_ratio: the
// probability that an RLAIF prompt opens a think block.
const rlaifThinkingRatio = 0.5

// EncodeOptions configure an Encoder. Start from DefaultEncodeOptions: its
// probabilities are 2510's, and a zero probability turns that step off.
type EncodeOptions struct {
	// MaxSeqLen is max_length: every sequence is truncated and padded to it,
	// so samples have T = MaxSeqLen-1 positions. 2510's default is 340
	// (DPO 1024); MiniMind-Go's CLI default is 512.
	MaxSeqLen int
	// SystemPromptProb is the probability that an SFT conversation without a
	// system message gets one of 2510's 10 fixed system prompts (2510: 0.2).
	SystemPromptProb float64
	// DropEmptyThinkProb is the probability that every "<think>\n\n</think>\n\n"
	// in a rendered SFT or DPO text is removed (2510: 0.95, minimind-3:
	// 0.8). A negative value (ByTokenizer) is replaced by NewEncoder with
	// the value of the tokenizer's generation.
	DropEmptyThinkProb float64
	// Seed seeds the augmentation above. The draws for an example come from
	// PCG(Seed, key) alone, where key is the example's ordinal among the
	// non-blank input lines (its index when no line is skipped), so a sample
	// does not depend on which others were encoded, in what order or on how
	// many threads. A prepared file freezes the draws: every epoch sees the
	// same augmented text, while 2510 redraws per epoch from Python's global
	// RNG (and so is not reproducible at all).
	Seed uint64
	// Template renders conversations; nil uses the one chat.ForTokenizer
	// chooses for the tokenizer.
	Template *chat.Template
}

// DefaultEncodeOptions returns upstream's settings with max_length
// maxSeqLen; the empty-think removal probability is ByTokenizer, which
// NewEncoder resolves (0.95 for MiniMind2, 0.8 for minimind-3).
func DefaultEncodeOptions(maxSeqLen int) EncodeOptions {
	return EncodeOptions{MaxSeqLen: maxSeqLen, SystemPromptProb: 0.2, DropEmptyThinkProb: ByTokenizer, Seed: 42}
}

// Encoder turns records into token ids by 2510's rules. It is safe for
// concurrent use.
type Encoder struct {
	tok   *tokenizer.Tokenizer
	tmpl  *chat.Template
	opts  EncodeOptions
	spans spanRule
	m3    bool // the tokenizer is minimind-3's (tokenizer.HasThinkTokens)
}

// NewEncoder returns an Encoder using tok's ids and chat template.
func NewEncoder(tok *tokenizer.Tokenizer, opts EncodeOptions) (*Encoder, error) {
	if tok == nil {
		return nil, errors.New("data: nil tokenizer")
	}
	if opts.MaxSeqLen < 2 {
		return nil, fmt.Errorf("data: max_seq_len %d: need at least 2", opts.MaxSeqLen)
	}
	m3 := tok.HasThinkTokens()
	if opts.DropEmptyThinkProb < 0 {
		opts.DropEmptyThinkProb = dropEmptyThink2510
		if m3 {
			opts.DropEmptyThinkProb = dropEmptyThinkM3
		}
	}
	e := &Encoder{tok: tok, tmpl: opts.Template, opts: opts, m3: m3}
	if e.tmpl == nil {
		t, err := chat.ForTokenizer(tok)
		if err != nil {
			return nil, fmt.Errorf("data: %w", err)
		}
		e.tmpl = t
	}
	e.spans = spanRule{head: tok.Encode("<|im_start|>assistant\n"), end: tok.Encode("<|im_end|>\n")}
	return e, nil
}

// Options returns the options the Encoder was made with, ByTokenizer
// resolved.
func (e *Encoder) Options() EncodeOptions { return e.opts }

// VocabSize returns the tokenizer's vocabulary size.
func (e *Encoder) VocabSize() int { return e.tok.VocabSize() }

// rng returns the augmentation RNG of the example with the given key.
func (e *Encoder) rng(key int) *rand.Rand {
	return rand.New(rand.NewPCG(e.opts.Seed, uint64(key)))
}

// Pretrain returns 2510's unpadded pretrain ids: bos + encode(text)[:max-2] + eos.
func (e *Encoder) Pretrain(text string) []int32 {
	ids := make([]int32, 0, 64)
	ids = append(ids, BOSID)
	ids = e.tok.AppendEncode(ids, text)
	if len(ids) > e.opts.MaxSeqLen-1 {
		ids = ids[:e.opts.MaxSeqLen-1]
	}
	return append(ids, EOSID)
}

// SFT renders conversation msgs of the example with augmentation key key as
// MiniMind's SFTDataset does (random system prompt, chat template with
// tools, empty-think removal) and returns the ids truncated to max_seq_len,
// unpadded. Non-nil tools (even empty, see Record.Tools) mark a tool-use
// conversation, which minimind-3's pre_processing_chat leaves without a
// random system prompt (2510's tool data always starts with a system
// message, so it gets none either).
func (e *Encoder) SFT(key int, msgs []chat.Message, tools []chat.Object) ([]int32, error) {
	if len(msgs) == 0 {
		return nil, fmt.Errorf("%w: empty conversation", ErrMalformed)
	}
	rng := e.rng(key)
	// Draw order as in Python: random() for the system prompt, choice() if
	// taken, then random() for the think removal if the text has one.
	if tools == nil && msgs[0].Role != "system" && e.opts.SystemPromptProb > 0 && rng.Float64() < e.opts.SystemPromptProb {
		sys := chat.Message{Role: "system", Content: systemPrompts[rng.IntN(len(systemPrompts))]}
		msgs = append([]chat.Message{sys}, msgs...)
	}
	return e.renderIDs(rng, msgs, tools)
}

// DPO renders both sides of the pair with augmentation key key (no system prompt augmentation, as in
// 2510) and returns their truncated, unpadded ids.
func (e *Encoder) DPO(key int, chosen, rejected []chat.Message) (c, r []int32, err error) {
	rng := e.rng(key)
	if c, err = e.renderIDs(rng, chosen, nil); err != nil {
		return nil, nil, fmt.Errorf("chosen: %w", err)
	}
	if r, err = e.renderIDs(rng, rejected, nil); err != nil {
		return nil, nil, fmt.Errorf("rejected: %w", err)
	}
	return c, r, nil
}

func (e *Encoder) renderIDs(rng *rand.Rand, msgs []chat.Message, tools []chat.Object) ([]int32, error) {
	text, err := e.tmpl.Render(msgs, chat.Options{Tools: tools})
	if err != nil {
		return nil, err
	}
	if e.opts.DropEmptyThinkProb > 0 && strings.Contains(text, emptyThink) && rng.Float64() < e.opts.DropEmptyThinkProb {
		text = strings.ReplaceAll(text, emptyThink, "")
	}
	ids := e.tok.Encode(text)
	if len(ids) > e.opts.MaxSeqLen {
		ids = ids[:e.opts.MaxSeqLen]
	}
	return ids, nil
}

// RLAIFPrompt is one RLAIF example: the rendered prompt and the reference
// answer, as 2510's RLAIFDataset returns them.
type RLAIFPrompt struct {
	Prompt string
	Answer string // the reference reply (the conversation's last message)
	GT     string // the line's verifiable answer ("gt"), "" when none
}

// RLAIF builds the RLAIF example of the record with augmentation key key.
//
// MiniMind2 (2510): roles are re-assigned by position (even user, odd
// assistant) and the prompt is the template of all but the last message
// with the generation prompt; nothing is drawn.
//
// minimind-3 (its tokenizer, see ByTokenizer): the roles are kept, a random
// system prompt is added as for SFT (SystemPromptProb), and the think block
// is opened (open_thinking) with probability 1/2, its RLAIFDataset's
// thinking_ratio; the empty think block is not removed.
//
// The answer is the last message's content in both (2510 returns it;
// minimind-3 returns "", and neither generation's losses read it).
func (e *Encoder) RLAIF(key int, msgs []chat.Message) (RLAIFPrompt, error) {
	if len(msgs) < 2 {
		return RLAIFPrompt{}, fmt.Errorf("%w: RLAIF conversation needs 2 or more messages", ErrMalformed)
	}
	answer := msgs[len(msgs)-1].Content
	if e.m3 {
		rng := e.rng(key)
		// Draw order as in Python: random() for the system prompt, choice()
		// if taken, then random() for thinking.
		if msgs[0].Role != "system" && e.opts.SystemPromptProb > 0 && rng.Float64() < e.opts.SystemPromptProb {
			sys := chat.Message{Role: "system", Content: systemPrompts[rng.IntN(len(systemPrompts))]}
			msgs = append([]chat.Message{sys}, msgs...)
		}
		think := rng.Float64() < rlaifThinkingRatio
		p, err := e.tmpl.Render(msgs[:len(msgs)-1], chat.Options{AddGenerationPrompt: true, OpenThinking: &think})
		if err != nil {
			return RLAIFPrompt{}, err
		}
		return RLAIFPrompt{Prompt: p, Answer: answer}, nil
	}
	m := make([]chat.Message, len(msgs)-1)
	for j := range m {
		m[j] = chat.Message{Role: "user", Content: msgs[j].Content}
		if j%2 == 1 {
			m[j].Role = "assistant"
		}
	}
	p, err := e.tmpl.Render(m, chat.Options{AddGenerationPrompt: true})
	if err != nil {
		return RLAIFPrompt{}, err
	}
	// 2510 also runs the empty-think removal here; the template cannot add
	// one without enable_thinking, so it is a no-op and is not drawn.
	return RLAIFPrompt{Prompt: p, Answer: answer}, nil
}

// PromptIDs tokenizes an RLAIF prompt and keeps its last maxLen ids, as
// 2510's GRPO and SPO trainers do before left padding (maxLen <= 0: all).
func (e *Encoder) PromptIDs(prompt string, maxLen int) []int32 {
	ids := e.tok.Encode(prompt)
	if maxLen > 0 && len(ids) > maxLen {
		ids = ids[len(ids)-maxLen:]
	}
	return ids
}

// Encode turns the record with augmentation key key of kind into its unpadded id sequences: one for
// pretrain and SFT, two (chosen, rejected) for DPO.
func (e *Encoder) Encode(kind Kind, key int, rec *Record) ([][]int32, error) {
	switch kind {
	case KindPretrain:
		return [][]int32{e.Pretrain(rec.Text)}, nil
	case KindSFT:
		ids, err := e.SFT(key, rec.Conversations, rec.Tools)
		return [][]int32{ids}, err
	case KindDPO:
		c, r, err := e.DPO(key, rec.Chosen, rec.Rejected)
		return [][]int32{c, r}, err
	}
	return nil, fmt.Errorf("data: kind %v has no token sequences", kind)
}

// Sample encodes the record with augmentation key key of kind (pretrain, SFT
// or DPO) into dst.
func (e *Encoder) Sample(kind Kind, key int, rec *Record, dst *Sample) error {
	seqs, err := e.Encode(kind, key, rec)
	if err != nil {
		return err
	}
	return fillSeqs(kind, e.spans, seqs, e.opts.MaxSeqLen, dst)
}

// fillSeqs fills dst (and dst.Rejected for DPO) from unpadded sequences.
func fillSeqs(kind Kind, rule spanRule, seqs [][]int32, maxLen int, dst *Sample) error {
	if err := fillSample(kind, rule, seqs[0], maxLen, dst); err != nil {
		return err
	}
	if kind != KindDPO {
		dst.Rejected = nil
		return nil
	}
	if dst.Rejected == nil {
		dst.Rejected = new(Sample)
	}
	return fillSample(kind, rule, seqs[1], maxLen, dst.Rejected)
}

// thinkTags are the strings whose tokens 2510's train_reason.py weighs in
// the loss.
var thinkTags = [...]string{"<think>", "</think>", "<answer>", "</answer>"}

// ThinkTagIDs returns the token ids 2510's train_reason.py weighs: those of
// tokenizer(tag).input_ids for <think>, </think>, <answer> and </answer>,
// sorted and without repeats. MiniMind2 spells each tag with several BPE
// pieces ("<", "think", ">", ...), and upstream matches ids, not tags
// (torch.isin over the concatenated lists), so every target that is one of
// those pieces is weighted, inside a tag or not; minimind-3's <think> and
// </think> are single tokens.
func ThinkTagIDs(tok *tokenizer.Tokenizer) []int32 {
	var ids []int32
	for _, s := range thinkTags {
		ids = append(ids, tok.Encode(s)...)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// WeightTargets returns ds with every target among ids weighted by weight:
// where a sample's LossMask is non-zero and its Y is one of ids, LossMask
// becomes weight (2510's train_reason.py loss_mask[sp_ids] = 10). Other
// targets keep 1 and non-targets 0, so the unweighted count of targets is
// the number of non-zero entries (what upstream divides by; see
// train.Options.ThinkWeight). A DPO sample's rejected side is left as is.
func WeightTargets(ds Dataset, ids []int32, weight float32) Dataset {
	return &weightedDataset{Dataset: ds, ids: slices.Clone(ids), weight: weight}
}

type weightedDataset struct {
	Dataset
	ids    []int32 // sorted
	weight float32
}

func (w *weightedDataset) Sample(i int, dst *Sample) error {
	if err := w.Dataset.Sample(i, dst); err != nil {
		return err
	}
	for j, y := range dst.Y {
		if dst.LossMask[j] != 0 {
			if _, ok := slices.BinarySearch(w.ids, y); ok {
				dst.LossMask[j] = w.weight
			}
		}
	}
	return nil
}
