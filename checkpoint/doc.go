// Package checkpoint reads and writes MiniMind weights: the HF layout
// (config.json + model.safetensors, MiniMind key names) here, PyTorch .pth
// state dicts in pth.go, with the parsers in the safetensors, pickle and pth
// subpackages; Load also reads GGUF files, through package gguf. Every file is written atomically (internal/atomicfile).
//
// Errors name the file and, where it applies, the tensor; no input makes
// these functions panic.
package checkpoint
