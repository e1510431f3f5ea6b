// common.cuh: helpers shared by every MiniMind-Go CUDA kernel.
//
// These sources are compiled at run time by NVRTC, which has no C or CUDA
// standard headers unless told where they are, so nothing here includes a
// system header: bfloat16 is plain `unsigned short` bits, infinities come
// from bit patterns, and only compiler built-ins (expf, sqrt, shuffles,
// atomics) are used. The same files must also compile with plain
// `nvcc -cubin`, which the Go tests check when nvcc is installed.
//
// Conventions: every kernel is extern "C" (unmangled names for
// cuModuleGetFunction); dimensions are int; flat offsets that can pass
// 2^31 (N·V logits) are long long.
#ifndef MINIMIND_COMMON_CUH
#define MINIMIND_COMMON_CUH

#define FULL_MASK 0xffffffffu
#define NEG_INF __int_as_float(0xff800000)

// ATT_TILE keys (or query rows) per shared-memory tile: one per lane.
#define ATT_TILE 32
// ATT_WARPS warps per attention block, each owning one query (or key), so
// a K/V tile loaded once serves ATT_WARPS rows.
#define ATT_WARPS 8
// ATT_MAXD = max head size / 32: each lane keeps HS/32 output dims in
// registers. Head sizes up to 128 (MiniMind uses 64) also keep the shared
// memory of every attention kernel under the 48 KiB default.
#define ATT_MAXD 4
// MOE_MAXE bounds the routed experts per token row (MiniMind uses 4).
#define MOE_MAXE 64

__device__ __forceinline__ float warp_sum(float v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ double warp_sum_d(double v) {
    for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(FULL_MASK, v, o);
    return v;
}

__device__ __forceinline__ float warp_max(float v) {
    for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(FULL_MASK, v, o));
    return v;
}

// block_sum_d returns the block-wide sum to every thread. blockDim.x must
// be a multiple of 32; sh holds at least 32 doubles. Reductions that the
// reference does in float64 (norms, log-sum-exp) are done in double here
// too, so fp32 mode meets the CPU tolerances.
__device__ double block_sum_d(double v, double* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_sum_d(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = (threadIdx.x < (blockDim.x >> 5)) ? sh[lane] : 0.0;
    if (warp == 0) v = warp_sum_d(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads(); // sh may be reused by the caller's next reduction
    return v;
}

__device__ float block_max(float v, float* sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    v = warp_max(v);
    if (lane == 0) sh[warp] = v;
    __syncthreads();
    v = (threadIdx.x < (blockDim.x >> 5)) ? sh[lane] : NEG_INF;
    if (warp == 0) v = warp_max(v);
    if (threadIdx.x == 0) sh[0] = v;
    __syncthreads();
    v = sh[0];
    __syncthreads();
    return v;
}

#endif // MINIMIND_COMMON_CUH
