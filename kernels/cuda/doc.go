// Package cuda is the NVIDIA GPU kernels.Backend, written without cgo: it
// loads the CUDA driver (libcuda), the run-time compiler NVRTC and cuBLAS
// with purego at run time, so a CGO_ENABLED=0 minimind binary still runs
// on machines without a GPU and New there returns an error wrapping
// ErrNoDriver, ErrNoNVRTC, ErrNoCUBLAS or ErrNoDevice.
//
// Kernels: matrix products go through cuBLAS (cublasSgemm_v2 in FP32 mode,
// cublasGemmEx with bfloat16 inputs and float32 accumulation in BF16
// mode). Everything else — embedding, RMSNorm, RoPE, flash-style causal
// GQA attention forward and backward, SwiGLU, MoE routing and
// gather/scatter, softmax cross-entropy, the gradient norm and the fused
// AdamW step — is CUDA C in src/, embedded in the binary, compiled by
// NVRTC for the GPU's architecture on first use and cached on disk under
// $XDG_CACHE_HOME/minimind/cuda/<hash>-sm_XX.cubin.
//
// Data: kernels.Backend passes host []float32 slices, so each method
// copies its inputs to the GPU, runs, and copies its outputs back (see
// ops.go). That is correct and passes the same conformance suite
// (kernels/kerneltest) as the CPU backend, but the copies dominate. The
// device-resident API (Buffer, IntBuffer, F64Buffer and the …Device
// methods of buffer.go and resident.go) runs the same kernels on device
// memory without copies; package devmodel builds the model and trainer on
// it (README.md).
//
// Threads: a CUDA context is current per OS thread. Every method locks
// its goroutine to the OS thread and makes the context current for the
// duration of the call, so a Backend may be called from any goroutine,
// one at a time (as every kernels.Backend).
//
// Errors: shape mismatches panic, as in every backend. A device failure
// inside a kernel (out of memory, a launch failure) also panics, with an
// *Error, because the kernels.Backend methods have no error result;
// New and Close return errors.
//
// The only process-wide state is the set of loaded libraries, loaded once
// (dlopen handles are process-wide anyway).
package cuda
