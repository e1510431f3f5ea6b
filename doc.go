// Package minimind is MiniMind-Go: one Go binary and a set of libraries to
// train, fine-tune, evaluate, chat with and serve small MiniMind language
// models, reading and writing the checkpoints and tokenizers of the Python
// MiniMind.
//
// The layout follows the data flow:
//
//   - kernels: the Backend interface every computation goes through, with
//     ref (plain loops, the oracle), cpu (worker pool + SIMD GEMM in gemm)
//     and kerneltest (the conformance suite any backend must pass).
//   - model: Config (config.json), the parameter slab and its named views,
//     forward and hand-written backward passes for the dense and MoE
//     decoder, and the KV cache.
//   - train: AdamW, gradient clipping, the learning-rate schedule.
//   - checkpoint: HF safetensors directories and PyTorch .pth state dicts,
//     with the parsers in checkpoint/safetensors, checkpoint/pickle and
//     checkpoint/pth.
//   - tokenizer, chat: byte-level BPE identical to HF tokenizers, and chat
//     templates rendered as transformers' apply_chat_template does.
//   - cmd/minimind: the command line; each subcommand is one file.
//
// Dependencies point one way: kernels ← model ← train; checkpoint → model;
// tokenizer ← chat; nothing imports cmd.
package minimind
