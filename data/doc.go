// Package data turns MiniMind's JSONL datasets into training batches, exactly
// as MiniMind2 (2510) dataset/lm_dataset.py does (SPEC §5), or minimind-3's
// for its tokenizer (SFT messages with reasoning_content and tool_calls, a
// system message's tools, no random system prompt for tool use, empty-think
// removal with probability 0.8 instead of 0.95), and prepares
// compact pre-tokenized files so later epochs and resumes cost no
// tokenization.
//
// Main types:
//   - Encoder turns one parsed record into token ids with the 2510 rules:
//     pretrain (bos + text + eos), SFT (chat template, optional random
//     system prompt, empty-think removal), DPO (both sides) and RLAIF
//     (prompt + reference answer).
//   - Sample is one training row (X, Y, LossMask) of length T = max_seq_len-1:
//     X = ids[:-1], Y = ids[1:], and LossMask[j] is 1 where Y[j] is a target
//     (2510's labels != -100 after the model's shift). A DPO sample carries
//     its rejected side in Sample.Rejected.
//   - Dataset is what the Loader reads: JSONLDataset tokenizes raw JSONL on
//     the fly, PreparedDataset reads a file written by Prepare. Both give
//     identical samples for the same options.
//   - Open is how training commands read their data: one prepared file
//     (checked against the run's kind and vocabulary) or JSONL files.
//   - Loader cuts a Dataset into Batches (row-major [B*T] slices ready for
//     the model), with a per-epoch seeded shuffle, a saveable position
//     (LoaderState) and sharding by rank and world size.
//
// Errors: every error about input names its file, and a malformed JSONL line
// is a *jsonl.LineError ("read sft.jsonl line 17: ...") wrapping ErrMalformed,
// unless skipping is asked for, in which case bad lines are counted. A
// corrupt or truncated prepared file is an error wrapping ErrCorrupt, never a
// panic.
//
// Threads: Encoder, JSONLDataset and PreparedDataset are safe for concurrent
// use (Sample may be called from many goroutines); a Loader is used by one
// goroutine. Randomness (SFT augmentation, shuffling) comes only from seeds
// passed in options: the same seed and inputs give the same bytes.
package data
