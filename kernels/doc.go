// Package kernels defines the seam between the MiniMind model and the code
// that does its arithmetic: the Backend interface. Implementations and their
// support live in subpackages:
//
//   - ref: plain loops, obviously correct — the test oracle;
//   - cpu: the production CPU backend (no allocation per step), built on
//     parallel (a persistent worker pool with per-kernel statistics) and
//     gemm (packed, cache-blocked SGEMM with AVX-512/AVX2 micro-kernels in
//     Go assembly and a pure-Go fallback, chosen by a constructor option);
//   - cuda: the CUDA backend (purego + NVRTC + cuBLAS, no cgo);
//   - kerneltest: the conformance suite every backend must pass — each
//     kernel against ref on random and awkward shapes, and against finite
//     differences, one seed per kernel subtest.
//
// Nothing here imports the model: the model-level check of a backend
// against the PyTorch fixtures is model/modeltest.Parity.
//
// Dimension legend used in every kernel comment:
//
//	B   batch size            T   new tokens per row (sequence length)
//	S   key positions (cache capacity along time)   P  past (cached) length
//	C   channels (hidden size) V   vocabulary size
//	NH  query heads           NKV key/value heads    HS head size (C/NH)
//	F   FFN intermediate size E   routed experts      K  experts per token
//	N   rows = B*T
//
// All tensors are flat, row-major []float32 (ids are []int32). Weights keep
// the HF [out, in] layout, so a linear layer is out = in·Wᵀ.
//
// Policies:
//   - Argument order: outputs, saved-for-backward, inputs, weights, dims,
//     scalars.
//   - Backward kernels ACCUMULATE (+=) into their gradient outputs; the
//     caller zeroes gradient buffers once per optimizer step. Exceptions are
//     named in the method's doc (CrossEntropyBackward writes).
//   - A shape or length mismatch inside a kernel is a programming error and
//     panics (as an out-of-range slice index would). Kernels never return
//     errors.
//   - A Backend is used by one goroutine at a time; it may use many threads
//     internally.
package kernels
