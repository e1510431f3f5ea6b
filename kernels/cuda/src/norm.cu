// norm.cu: RMSNorm and RoPE.
#include "common.cuh"

// RMSNorm forward, one block per row: out = w ⊙ x·r, r = 1/sqrt(mean(x²)+eps).
extern "C" __global__ void rmsnorm_forward(float* out, float* rstd, const float* in, const float* w, int N, int C, float eps) {
    __shared__ double sh[32];
    int i = blockIdx.x;
    const float* x = in + (long long)i * C;
    double ss = 0;
    for (int j = threadIdx.x; j < C; j += blockDim.x) ss += (double)x[j] * (double)x[j];
    ss = block_sum_d(ss, sh);
    float r = (float)(1.0 / sqrt(ss / C + (double)eps));
    if (threadIdx.x == 0) rstd[i] = r;
    for (int j = threadIdx.x; j < C; j += blockDim.x) out[(long long)i * C + j] = w[j] * (x[j] * r);
}

// RMSNorm backward for dIn, one block per row. With n = x·r, g = w⊙dy:
// dx += r·(g − n·mean(g⊙n)).
extern "C" __global__ void rmsnorm_backward_dx(float* dIn, const float* dOut, const float* in, const float* w, const float* rstd, int N, int C) {
    __shared__ double sh[32];
    int i = blockIdx.x;
    const float* x = in + (long long)i * C;
    const float* dy = dOut + (long long)i * C;
    double r = rstd[i];
    double dot = 0;
    for (int j = threadIdx.x; j < C; j += blockDim.x) dot += (double)w[j] * dy[j] * (x[j] * r);
    dot = block_sum_d(dot, sh) / C;
    for (int j = threadIdx.x; j < C; j += blockDim.x) {
        double n = x[j] * r, g = (double)w[j] * dy[j];
        dIn[(long long)i * C + j] += (float)(r * (g - n * dot));
    }
}

// RMSNorm backward for dW, two passes without atomics (deterministic):
// rmsnorm_backward_dw_partial has block (x, p) sum rows [p·rows, (p+1)·rows)
// of its columns, part[p,j] = Σ_i dy[i,j]·x[i,j]·r[i] in double; then
// rmsnorm_backward_dw adds the P partials of each column in order:
// dW[j] += Σ_p part[p,j]. One thread per column over all N rows would
// leave most of the GPU idle at N = B·T in the tens of thousands.
extern "C" __global__ void rmsnorm_backward_dw_partial(double* part, const float* dOut, const float* in, const float* rstd,
                                                       int N, int C, int rows) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= C) return;
    int lo = blockIdx.y * rows, hi = min(N, lo + rows);
    double s = 0;
    for (int i = lo; i < hi; i++) s += (double)dOut[(long long)i * C + j] * ((double)in[(long long)i * C + j] * rstd[i]);
    part[(long long)blockIdx.y * C + j] = s;
}

extern "C" __global__ void rmsnorm_backward_dw(float* dW, const double* part, int P, int C) {
    int j = blockIdx.x * blockDim.x + threadIdx.x;
    if (j >= C) return;
    double s = 0;
    for (int p = 0; p < P; p++) s += part[(long long)p * C + j];
    dW[j] += (float)s;
}

// RoPE ("rotate half") on x[N,NH,HS] in place; sign = -1 is the inverse
// rotation (the backward pass). One thread per rotated pair.
extern "C" __global__ void rope(float* x, const int* pos, const float* cos, const float* sin, int N, int NH, int HS, float sign) {
    int half = HS / 2;
    long long total = (long long)N * NH * half;
    for (long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x; e < total; e += (long long)gridDim.x * blockDim.x) {
        int j = (int)(e % half);
        long long ih = e / half; // i*NH + h
        int i = (int)(ih / NH);
        float c = cos[(long long)pos[i] * half + j], s = sin[(long long)pos[i] * half + j];
        float* v = x + ih * HS;
        float a = v[j], b = v[j + half];
        v[j] = a * c - b * sign * s;
        v[j + half] = b * c + a * sign * s;
    }
}
