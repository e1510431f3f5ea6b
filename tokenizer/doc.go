// Package tokenizer implements the byte-level BPE tokenizer of HuggingFace
// `tokenizers` as MiniMind uses it: it loads a tokenizer.json (BPE model,
// ByteLevel pre-tokenizer with the GPT-2 split pattern, ByteLevel decoder,
// added and special tokens), encodes and decodes exactly as HF does, trains new
// byte-level BPE tokenizers from JSONL text, and writes tokenizer.json files
// that HF can load.
//
// Main types: Tokenizer (Load, Parse, Default, Encode, EncodeBatch, Decode,
// Save), StreamDecoder (incremental decoding for generation) and Trainer
// (NewTrainer, AddFile, Train) with TrainOptions. The project's default
// tokenizer lives in default/, with a README saying how it was trained.
//
// Errors: everything that reads files or user data returns a wrapped error;
// a tokenizer.json feature this package does not implement is reported as an
// error wrapping ErrUnsupported that names the feature. Encoding never fails:
// any byte sequence encodes, and Decode replaces invalid UTF-8 the way Rust's
// String::from_utf8_lossy does, so the output matches HF byte for byte.
//
// Threads: a *Tokenizer is immutable after Load except for its encode cache,
// which is safe for concurrent use, so one Tokenizer may be shared by many
// goroutines. EncodeBatch spreads documents over GOMAXPROCS workers.
package tokenizer
