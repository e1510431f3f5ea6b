// Package minimind is MiniMind-Go: one Go binary and a set of libraries to
// train, fine-tune, evaluate, chat with and serve small MiniMind language
// models, reading and writing the checkpoints and tokenizers of the Python
// MiniMind.
//
// The layout follows the data flow, leaves first:
//
//   - half, jsonl, reward: leaf packages with no imports from the module —
//     the float32 ⇄ fp16/bf16 conversions, the one JSON Lines reader
//     (gzip by magic bytes, errors naming file and line), and the RL
//     rewards (upstream's rules, verifiable answers, an HTTP reward server).
//   - quant: block-quantised weight formats (GGUF's Q8_0), bit-exact to
//     ggml, shared by the GGUF writer and 8-bit inference (--dtype q8_0).
//   - kernels: the Backend interface every computation goes through, with
//     ref (plain loops, the oracle), cpu (worker pool in parallel, SIMD GEMM
//     in gemm), cuda (purego + NVRTC + cuBLAS) and kerneltest (the
//     conformance suite any backend must pass, against ref and finite
//     differences).
//   - model: Config (config.json), the parameter slab and its named views,
//     forward and hand-written backward passes for the dense and MoE
//     decoder of both generations (MiniMind2 and the Qwen3-style
//     minimind-3, chosen by the files), presets, YaRN and the KV cache. model/modeltest holds the tiny-model
//     builders and Parity, the model-level check of a backend against the
//     PyTorch fixtures.
//   - checkpoint: HF safetensors directories and PyTorch .pth state dicts,
//     with the parsers in checkpoint/safetensors, checkpoint/pickle and
//     checkpoint/pth.
//   - tokenizer, chat: byte-level BPE identical to HF tokenizers, and chat
//     templates rendered as transformers' apply_chat_template does
//     (chat.ForTokenizer is the one place a template is chosen).
//   - data: JSONL datasets, the seed's pretrain/SFT/DPO encodings, prepared
//     token files and the (data-parallel) batch loader.
//   - train: the training run as a library (train.Run: weight source,
//     schedule, accumulation, clipping, AdamW, metrics, plots, checkpoints
//     and exact resume; train.Evaluate for held-out loss), with the
//     post-training stages on its loop: DPO, distillation, LoRA (adapters
//     in model, their files in checkpoint) and reasoning SFT weights, and
//     the RL loops (GRPO/CISPO, PPO) with the batched engine as rollout
//     engine.
//   - tensorboard, dashboard: watching a run — TensorBoard event files
//     (what wandb and SwanLab import offline) and a live page of
//     metrics.jsonl; both read train.Step, and train imports neither.
//   - dist: data-parallel communication (Open MPI at run time, or
//     torchrun-style environment variables).
//   - generate, server: the batched decoding engine and samplers, and the
//     OpenAI-compatible HTTP API with its web page.
//   - quickstart: the bundled sample data the first run trains on.
//   - cmd/minimind: the command line; each subcommand is one file that
//     parses flags and calls the packages above.
//
// Dependencies point one way: half, jsonl ← kernels ← model ← checkpoint ←
// train; tokenizer ← chat ← data, generate ← server, train (RL rollouts); nothing under kernels
// imports model, checkpoint or data, model imports no checkpoint, and
// nothing imports cmd.
package minimind
