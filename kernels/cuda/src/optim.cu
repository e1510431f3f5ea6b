// optim.cu: gradient-norm reduction and the fused AdamW step.
#include "common.cuh"

// partial[blockIdx.x] = Σ x² over this block's grid-stride share, in
// double. The host adds the partials in block order, so the total does not
// depend on scheduling (the grid size is fixed by the caller).
extern "C" __global__ void sum_squares_partial(double* partial, const float* x, long long n) {
    __shared__ double sh[32];
    double s = 0;
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
        s += (double)x[i] * (double)x[i];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = s;
}

// One torch.optim.AdamW step (decoupled weight decay), in the reference's
// order of operations. The host precomputes, in float32 exactly as the
// reference does: decay = 1 − lr·wd, omb1 = 1 − β1, omb2 = 1 − β2,
// stepSize = lr/(1−β1^t) and bc2Sqrt = sqrt(1−β2^t).
extern "C" __global__ void adamw(float* p, const float* g, float* m, float* v, long long n, float decay, float beta1,
                                 float omb1, float beta2, float omb2, float eps, float stepSize, float bc2Sqrt) {
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x) {
        float gi = g[i];
        float pi = p[i] * decay;
        float mi = beta1 * m[i] + omb1 * gi;
        float vi = beta2 * v[i] + omb2 * gi * gi;
        m[i] = mi;
        v[i] = vi;
        p[i] = pi - stepSize * mi / (sqrtf(vi) / bc2Sqrt + eps);
    }
}
