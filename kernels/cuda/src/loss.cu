// loss.cu: softmax cross-entropy over the vocabulary, one block per row.
// The max is a float reduction (exact); the sum of exponentials is
// accumulated in double, as the reference does, so a 6400-way softmax
// keeps fp32 accuracy.
#include "common.cuh"

__device__ double row_lse(const float* x, int V, float* shf, double* shd) {
    float mx = NEG_INF;
    for (int j = threadIdx.x; j < V; j += blockDim.x) mx = fmaxf(mx, x[j]);
    mx = block_max(mx, shf);
    double s = 0;
    for (int j = threadIdx.x; j < V; j += blockDim.x) s += (double)expf(x[j] - mx);
    s = block_sum_d(s, shd);
    return (double)mx + log(s);
}

// losses[i] = logsumexp(logits[i]) − logits[i, targets[i]]; 0 when the
// target is negative (ignored position).
extern "C" __global__ void cross_entropy_forward(float* losses, const float* logits, const int* targets, int N, int V) {
    __shared__ float shf[32];
    __shared__ double shd[32];
    int i = blockIdx.x;
    int tg = targets[i];
    if (tg < 0) { // block-uniform: every thread returns together
        if (threadIdx.x == 0) losses[i] = 0.0f;
        return;
    }
    const float* x = logits + (long long)i * V;
    double l = row_lse(x, V, shf, shd);
    if (threadIdx.x == 0) losses[i] = (float)(l - (double)x[tg]);
}

// dLogits[i] = dLoss[i]·(softmax(logits[i]) − onehot(targets[i])); WRITES,
// zero rows for ignored targets. dLogits may alias logits: every thread
// finishes reading the row for the reductions before any element is
// written, and then reads each element just before writing it.
extern "C" __global__ void cross_entropy_backward(float* dLogits, const float* logits, const int* targets, const float* dLoss, int N, int V) {
    __shared__ float shf[32];
    __shared__ double shd[32];
    int i = blockIdx.x;
    int tg = targets[i];
    float* d = dLogits + (long long)i * V;
    if (tg < 0) {
        for (int j = threadIdx.x; j < V; j += blockDim.x) d[j] = 0.0f;
        return;
    }
    const float* x = logits + (long long)i * V;
    double l = row_lse(x, V, shf, shd);
    float g = dLoss[i];
    for (int j = threadIdx.x; j < V; j += blockDim.x) {
        float p = expf((float)((double)x[j] - l));
        if (j == tg) p -= 1.0f;
        d[j] = g * p;
    }
}
