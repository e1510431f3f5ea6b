package cuda

import "unsafe"

// cublasAPI holds the cuBLAS entry points (cublas_api.h, the _v2 API).
type cublasAPI struct {
	cublasCreate      func(h *uintptr) int32
	cublasDestroy     func(h uintptr) int32
	cublasSetMathMode func(h uintptr, mode int32) int32
	cublasSgemm       func(h uintptr, ta, tb int32, m, n, k int32, alpha *float32, a uint64, lda int32, b uint64, ldb int32, beta *float32, c uint64, ldc int32) int32
	cublasGemmEx      func(h uintptr, ta, tb int32, m, n, k int32, alpha unsafe.Pointer, a uint64, atype int32, lda int32, b uint64, btype int32, ldb int32, beta unsafe.Pointer, c uint64, ctype int32, ldc int32, compute int32, algo int32) int32
}

func (c *cublasAPI) symbols() map[string]any {
	return map[string]any{
		"cublasCreate_v2":   &c.cublasCreate,
		"cublasDestroy_v2":  &c.cublasDestroy,
		"cublasSetMathMode": &c.cublasSetMathMode,
		"cublasSgemm_v2":    &c.cublasSgemm,
		"cublasGemmEx":      &c.cublasGemmEx,
	}
}

// cuBLAS enums (cublas_api.h, library_types.h).
const (
	cublasOpN             = 0
	cublasOpT             = 1
	cublasDefaultMath     = 0 // no TF32: fp32 mode must match the CPU tolerances
	cudaR32F              = 0
	cudaR16F              = 2
	cudaR16BF             = 14
	cublasCompute32F      = 68
	cublasGemmDefault     = -1
	cublasStatusNotInited = 1
)

func (c *cublasAPI) check(call string, code int32) error {
	if code == 0 {
		return nil
	}
	return &Error{Lib: "cublas", Call: call, Code: code, Msg: cublasStatus(code)}
}

func cublasStatus(code int32) string {
	switch code {
	case cublasStatusNotInited:
		return "CUBLAS_STATUS_NOT_INITIALIZED"
	case 3:
		return "CUBLAS_STATUS_ALLOC_FAILED"
	case 7:
		return "CUBLAS_STATUS_INVALID_VALUE"
	case 8:
		return "CUBLAS_STATUS_ARCH_MISMATCH"
	case 11:
		return "CUBLAS_STATUS_MAPPING_ERROR"
	case 13:
		return "CUBLAS_STATUS_EXECUTION_FAILED"
	case 14:
		return "CUBLAS_STATUS_INTERNAL_ERROR"
	case 15:
		return "CUBLAS_STATUS_NOT_SUPPORTED"
	}
	return ""
}

// gemmArgs maps the row-major product c[m,n] = op(a)[m,k]·op(b)[k,n] of
// kernels.Backend.MatMul onto column-major cuBLAS. A row-major matrix is
// its column-major transpose, so we ask cuBLAS for cᵀ = op(b)ᵀ·op(a)ᵀ:
// cuBLAS's "A" is our b and its "B" is our a, with dimensions (n, m, k).
// Leading dimensions are the row lengths of the stored (untransposed)
// matrices.
type gemmCall struct {
	opA, opB      int32 // cuBLAS ops for its A (our b) and B (our a)
	M, N, K       int32
	lda, ldb, ldc int32
}

func gemmArgs(m, n, k int, transA, transB bool) gemmCall {
	g := gemmCall{opA: cublasOpN, opB: cublasOpN, M: int32(n), N: int32(m), K: int32(k), lda: int32(n), ldb: int32(k), ldc: int32(n)}
	if transB { // our b is [n,k]
		g.opA, g.lda = cublasOpT, int32(k)
	}
	if transA { // our a is [k,m]
		g.opB, g.ldb = cublasOpT, int32(m)
	}
	return g
}
