// Package devmodel is the MiniMind model and trainer resident on a
// device: parameters, gradients, AdamW moments, activations and the KV
// cache live in the device's memory for the whole run, and a step moves
// only token ids (and the loss mask) up and a few scalars (the loss, the
// balance loss, the gradient norm, the MoE group sizes) down. It is the
// GPU path of `--device cuda`; checkpoints go through package model's
// Params (Model.Download), so they stay the CPU format.
//
// The code mirrors package model step by step — forward.go, backward.go
// and moe.go here follow model's files of the same names, kernel call for
// kernel call — on a Device: CUDA (kernels/cuda's device-resident API) or
// Host (host memory and any kernels.Backend). On the Host device with the
// CPU backend a training step reproduces model.ForwardBackward, the
// gradient clipping and AdamW exactly, which is how this package is tested
// without a GPU; the CUDA device runs the same code on the GPU.
//
// Mixed precision as the seed's autocast: Precision BF16 or FP16 rounds
// the inputs of every matrix product to 16 bits (fp32 accumulation);
// every other kernel, the loss, master weights, gradients and moments stay
// float32. FP16 training needs GradScaler, torch.cuda.amp.GradScaler's
// dynamic loss scaling, which Trainer applies.
//
// Not covered (the CPU model has them): LoRA adapters, the 16-bit weight
// copy for inference (the device multiplies fp32 weights in the chosen
// precision instead), attention masks in training.
package devmodel
