// moe.cu: Mixture-of-Experts routing. E (experts) is tiny, so one thread
// handles one token row with the reference's exact selection rule
// (largest probability, ties to the lower index).
#include "common.cuh"

// probs[N,E] = softmax(logits); topIdx/topW[N,K] = the K largest probs in
// descending order, renormalised when norm && K > 1.
extern "C" __global__ void moe_route(float* probs, float* topW, int* topIdx, const float* logits, int N, int E, int K, int norm) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    const float* x = logits + (long long)i * E;
    float* p = probs + (long long)i * E;
    double mx = -1e308;
    for (int e = 0; e < E; e++) mx = fmax(mx, (double)x[e]);
    double s = 0;
    for (int e = 0; e < E; e++) s += exp((double)x[e] - mx);
    double l = mx + log(s);
    for (int e = 0; e < E; e++) p[e] = (float)exp((double)x[e] - l);
    unsigned long long used = 0;
    double sum = 0;
    for (int k = 0; k < K; k++) {
        int best = -1;
        for (int e = 0; e < E; e++)
            if (!(used >> e & 1ull) && (best < 0 || p[e] > p[best])) best = e;
        used |= 1ull << best;
        topIdx[i * K + k] = best;
        topW[i * K + k] = p[best];
        sum += (double)p[best];
    }
    if (norm && K > 1) {
        float den = (float)sum + 1e-20f;
        for (int k = 0; k < K; k++) topW[i * K + k] /= den;
    }
}

// dLogits[N,E] += ∂ given dTopW[N,K] and dProbs[N,E] (may be null).
// With w_s = p_s/Z: dp_s = dw_s/Z − Σ_r dw_r·w_r/Z; then through the
// softmax: dl_e = p_e·(dp_e − Σ p·dp).
extern "C" __global__ void moe_route_backward(float* dLogits, const float* dTopW, const float* dProbs, const float* probs,
                                              const float* topW, const int* topIdx, int N, int E, int K, int norm) {
    int i = blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= N) return;
    double dp[MOE_MAXE];
    const float* p = probs + (long long)i * E;
    for (int e = 0; e < E; e++) dp[e] = dProbs ? (double)dProbs[(long long)i * E + e] : 0.0;
    if (norm && K > 1) {
        double z = 0, c = 0;
        for (int s = 0; s < K; s++) z += (double)p[topIdx[i * K + s]];
        z += 1e-20;
        for (int s = 0; s < K; s++) c += (double)dTopW[i * K + s] * (double)p[topIdx[i * K + s]] / z;
        for (int s = 0; s < K; s++) dp[topIdx[i * K + s]] += ((double)dTopW[i * K + s] - c) / z;
    } else {
        for (int s = 0; s < K; s++) dp[topIdx[i * K + s]] += (double)dTopW[i * K + s];
    }
    double dot = 0;
    for (int e = 0; e < E; e++) dot += (double)p[e] * dp[e];
    for (int e = 0; e < E; e++) dLogits[(long long)i * E + e] += (float)((double)p[e] * (dp[e] - dot));
}
