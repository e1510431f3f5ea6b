// Package gguf reads and writes GGUF v3, the single-file model format of
// llama.cpp and Ollama, and maps MiniMind models onto the llama.cpp
// architectures that compute exactly what they compute:
//
//   - MiniMind2 dense → "llama" (q/k rows permuted from rotate-half RoPE
//     to llama.cpp's interleaved pairs, as convert_hf_to_gguf.py does);
//   - MiniMind2-MoE (softmax router, routed experts plus ungated shared
//     experts) → "ernie4_5-moe" when the top-k weights are renormalised
//     (norm_topk_prob and k > 1, upstream's default), else "deepseek" (v1),
//     which never renormalises; q/k permuted as for llama;
//   - minimind-3 dense → "qwen3", minimind-3 MoE → "qwen3moe" (NEOX RoPE,
//     the same rotate-half as ours: no permutation; experts stacked).
//
// Models no architecture computes exactly (YaRN, minimind-3 MoE without
// norm_topk_prob, MiniMind2-MoE top-1 without shared experts) are refused
// rather than written as an approximate file. TestLlamaCpp checks every
// mapping against llama.cpp itself.
//
// The format layer (File, Parse, Write) knows nothing of models: a header
// of typed key/value metadata, tensor infos (name, ggml dimensions fastest
// first, type, offset) and aligned tensor data. Every size read from a file
// is checked against the file's length before anything is allocated, and
// every error names the file and the key or tensor it was reading.
//
// Export writes the tokenizer too (GPT-2 byte-level BPE: tokens, types,
// merges, special ids, the chat template), so the file runs alone in
// llama.cpp; Load (an import) reads the weights back into model.Params.
package gguf
