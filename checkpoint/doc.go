// Package checkpoint reads and writes MiniMind weights: the HF layout
// (config.json + model.safetensors, MiniMind key names) in hf.go,
// transformers' Llama / Qwen3 / Qwen3-MoE checkpoints (ExportTransformers,
// and ReadHFConfig for reading them and upstream's own directories, with
// sharded or pytorch_model.bin weights) in hf_export.go and hf_import.go,
// PyTorch .pth state dicts in pth.go, with the parsers in the safetensors,
// pickle and pth subpackages; Load also reads GGUF files, through package
// gguf. Every file is written atomically (internal/atomicfile).
//
// Errors name the file and, where it applies, the tensor or config field;
// no input makes these functions panic.
package checkpoint
