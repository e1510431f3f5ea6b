package data

import "fmt"

// Sample is one training row of T = max_seq_len-1 positions: X = ids[:-1],
// Y = ids[1:], and LossMask[j] = 1 where Y[j] is a target (2510's labels
// != -100), else 0. This is 2510's (input_ids, labels) after the model's
// shift, and the seed's (X, Y, loss_mask).
type Sample struct {
	X, Y     []int32
	LossMask []float32
	// Rejected is the rejected side of a DPO pair (the receiver is the
	// chosen side); nil for other kinds.
	Rejected *Sample
}

// Dataset is an indexed, read-only collection of samples of one kind. The
// Loader reads one; JSONLDataset (tokenizing on the fly) and
// PreparedDataset (pre-tokenized) implement it with identical samples.
// Sample must be safe for concurrent use.
type Dataset interface {
	// Kind is KindPretrain, KindSFT or KindDPO.
	Kind() Kind
	// Len is the number of examples (DPO: pairs).
	Len() int
	// MaxSeqLen is max_length; samples have MaxSeqLen-1 positions.
	MaxSeqLen() int
	// Sample fills dst with example i, reusing its slices.
	Sample(i int, dst *Sample) error
}

// fillSample pads ids to maxLen with PadID, builds the loss mask of kind
// over the padded sequence (so it matches 2510 exactly, pads included) and
// writes the shifted row into dst.
func fillSample(kind Kind, rule spanRule, ids []int32, maxLen int, dst *Sample) error {
	if len(ids) > maxLen {
		return fmt.Errorf("data: sequence of %d ids exceeds max_seq_len %d", len(ids), maxLen)
	}
	t := maxLen - 1
	dst.X = resize(dst.X, t)
	dst.Y = resize(dst.Y, t)
	dst.LossMask = resize(dst.LossMask, t)
	// X = ids[:-1] and Y = ids[1:] of the padded sequence.
	for j := range t {
		dst.X[j] = at(ids, j)
		dst.Y[j] = at(ids, j+1)
	}
	clear(dst.LossMask)
	switch kind {
	case KindPretrain:
		// labels = ids with every pad id (0) ignored, even one inside text.
		for j := range t {
			if dst.Y[j] != PadID {
				dst.LossMask[j] = 1
			}
		}
	case KindSFT, KindDPO:
		markSpans(ids, maxLen, rule, dst.LossMask)
	default:
		return fmt.Errorf("data: kind %v has no samples", kind)
	}
	return nil
}

// at returns ids[j], or PadID past the end (right padding).
func at(ids []int32, j int) int32 {
	if j < len(ids) {
		return ids[j]
	}
	return PadID
}

// spanRule holds the token sequences that delimit supervised spans:
// encode("<|im_start|>assistant\n") and encode("<|im_end|>\n"), which are
// [1 1078 538 501 201] and [2 201] in MiniMind2's vocabulary. They come from
// the tokenizer (NewEncoder) or a prepared file's header.
type spanRule struct {
	head, end []int32
}

// markSpans sets mask[j-1] = 1 for every label position j inside an
// assistant span of the padded sequence (ids followed by pads up to maxLen),
// following 2510's generate_labels: a span starts right after the assistant
// header and runs through the first following "<|im_end|>\n" (both tokens),
// capped at maxLen; if that never comes the span runs to the end (pads
// included, as in Python). Scanning resumes after the span.
func markSpans(ids []int32, maxLen int, rule spanRule, mask []float32) {
	head, end := rule.head, rule.end
	if len(head) == 0 || len(end) == 0 {
		return
	}
	matches := func(i int, pat []int32) bool {
		if i+len(pat) > maxLen {
			return false
		}
		for k, p := range pat {
			if at(ids, i+k) != p {
				return false
			}
		}
		return true
	}
	for i := 0; i < maxLen; {
		if !matches(i, head) {
			i++
			continue
		}
		start := i + len(head)
		e := start
		for e < maxLen && !matches(e, end) {
			e++
		}
		for j := start; j < min(e+len(end), maxLen); j++ {
			mask[j-1] = 1 // label j is predicted from position j-1
		}
		if e < maxLen {
			i = e + len(end)
		} else {
			i = maxLen
		}
	}
}

func resize[T any](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// CountTargets looks at up to n examples spread evenly over ds and says
// how many of them have at least one target position (a nonzero loss mask;
// for DPO, on the chosen side). An SFT file whose conversations have no
// assistant turn, or whose replies all start past max_seq_len, trains at
// loss 0 without a word; callers check this before a run.
func CountTargets(ds Dataset, n int) (withTargets, checked int, err error) {
	total := ds.Len()
	if total == 0 || n <= 0 {
		return 0, 0, nil
	}
	n = min(n, total)
	var s Sample
	for k := range n {
		i := k * total / n
		if err := ds.Sample(i, &s); err != nil {
			return withTargets, checked, fmt.Errorf("data: example %d: %w", i, err)
		}
		checked++
		for _, m := range s.LossMask {
			if m != 0 {
				withTargets++
				break
			}
		}
	}
	return withTargets, checked, nil
}
