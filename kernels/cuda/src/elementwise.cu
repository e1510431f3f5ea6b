// elementwise.cu: kernels with one thread per element (grid-stride loops),
// plus the precision conversions used by the bf16 GEMM path.
#include "common.cuh"

#define GRID_STRIDE(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// out[N,C] = table[ids[i]]
extern "C" __global__ void embedding_forward(float* out, const int* ids, const float* table, int N, int C) {
    GRID_STRIDE(e, (long long)N * C) {
        long long i = e / C, j = e % C;
        out[e] = table[(long long)ids[i] * C + j];
    }
}

// out[rows[i],:] += w[i]·in[i,:] for i < M (w may be null = 1).
// One thread per column walks the rows in order, so repeated rows add up in
// a fixed order: the result is deterministic, unlike an atomicAdd scatter.
// Embedding backward is this kernel with rows = ids and w = null.
extern "C" __global__ void scatter_add(float* out, const float* in, const int* rows, const float* w, int M, int C) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= C) return;
    for (int i = 0; i < M; i++) {
        float s = w ? w[i] : 1.0f;
        out[(long long)rows[i] * C + j] += s * in[(long long)i * C + j];
    }
}

// out[i,:] = w[i]·in[rows[i],:] for i < M (w may be null = 1).
extern "C" __global__ void gather(float* out, const float* in, const int* rows, const float* w, int M, int C) {
    GRID_STRIDE(e, (long long)M * C) {
        long long i = e / C, j = e % C;
        float s = w ? w[i] : 1.0f;
        out[e] = s * in[(long long)rows[i] * C + j];
    }
}

// out[i] += dot(a[rows[i],:], b[i,:]); one warp per row.
extern "C" __global__ void row_dot(float* out, const float* a, const int* rows, const float* b, int M, int C) {
    int i = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    if (i >= M) return;
    const float* ar = a + (long long)rows[i] * C;
    const float* br = b + (long long)i * C;
    double s = 0;
    for (int j = lane; j < C; j += 32) s += (double)ar[j] * (double)br[j];
    s = warp_sum_d(s);
    if (lane == 0) out[i] += (float)s;
}

// out = silu(gate)·up
extern "C" __global__ void swiglu_forward(float* out, const float* gate, const float* up, long long n) {
    GRID_STRIDE(i, n) {
        float g = gate[i];
        float s = 1.0f / (1.0f + expf(-g));
        out[i] = g * s * up[i];
    }
}

// dGate, dUp += ∂; silu'(g) = σ(g)·(1 + g·(1 − σ(g))).
extern "C" __global__ void swiglu_backward(float* dGate, float* dUp, const float* dOut, const float* gate, const float* up, long long n) {
    GRID_STRIDE(i, n) {
        float g = gate[i], dy = dOut[i];
        float s = 1.0f / (1.0f + expf(-g));
        dUp[i] += dy * g * s;
        dGate[i] += dy * up[i] * s * (1.0f + g * (1.0f - s));
    }
}

// out = a + b (out may alias a or b: each element is read before written).
extern "C" __global__ void add(float* out, const float* a, const float* b, long long n) {
    GRID_STRIDE(i, n) { out[i] = a[i] + b[i]; }
}

// x *= s
extern "C" __global__ void scale(float* x, float s, long long n) {
    GRID_STRIDE(i, n) { x[i] *= s; }
}

// f32_to_bf16 rounds to nearest even, as torch does; NaN stays NaN.
extern "C" __global__ void f32_to_bf16(unsigned short* out, const float* in, long long n) {
    GRID_STRIDE(i, n) {
        unsigned int u = __float_as_uint(in[i]);
        if ((u & 0x7fffffffu) > 0x7f800000u) {
            out[i] = (unsigned short)((u >> 16) | 0x40u);
        } else {
            u += 0x7fffu + ((u >> 16) & 1u);
            out[i] = (unsigned short)(u >> 16);
        }
    }
}

// half16_to_f32 widens 16-bit weights exactly: bfloat16 (bf16 != 0) is the
// top half of a float; IEEE binary16 is decoded by hand (no cuda_fp16.h
// under NVRTC).
extern "C" __global__ void half16_to_f32(float* out, const unsigned short* in, long long n, int bf16) {
    GRID_STRIDE(i, n) {
        unsigned int h = in[i];
        if (bf16) {
            out[i] = __uint_as_float(h << 16);
            continue;
        }
        unsigned int sign = (h & 0x8000u) << 16, e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
        float f;
        if (e == 0) {
            f = (float)m * 5.9604644775390625e-8f; // subnormal: m·2^-24, exact
            f = __uint_as_float(__float_as_uint(f) | sign);
        } else if (e == 31) {
            f = __uint_as_float(sign | 0x7f800000u | (m << 13));
        } else {
            f = __uint_as_float(sign | ((e + 112u) << 23) | (m << 13));
        }
        out[i] = f;
    }
}
