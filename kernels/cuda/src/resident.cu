// resident.cu: the bookkeeping of a device-resident training or decode
// step, so that nothing but token ids goes up and a few scalars come down:
// the masked loss and its gradient weights, the final gradient-norm sum,
// the MoE grouping and balance loss, fp16 rounding, the KV-cache append.
// Each mirrors a loop of the CPU model (model/forward.go, model/moe.go,
// model/kvcache.go) and is deterministic: single-block reductions in a
// fixed order, no atomics.
#include "common.cuh"

#define GRID_STRIDE_R(i, n) \
    for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// loss_reduce (one block), as model's pass.loss: out[0] = Σ losses[i]·mask[i]
// over targets[i] ≥ 0, in double; dLoss[i] = scale·mask[i]/msum for those
// rows (0 elsewhere, and everywhere when msum is 0). msum = Σ mask over
// targets ≥ 0 is known to the host, which built the batch.
extern "C" __global__ void loss_reduce(double* out, float* dLoss, const float* losses, const int* targets,
                                       const float* mask, int N, double msum, float scale) {
    __shared__ double sh[32];
    double s = 0;
    for (int i = threadIdx.x; i < N; i += blockDim.x) {
        float d = 0.0f;
        if (targets[i] >= 0) {
            s += (double)losses[i] * (double)mask[i];
            if (msum > 0) d = (float)((double)scale * (double)mask[i] / msum);
        }
        dLoss[i] = d;
    }
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0) out[0] = s;
}

// sum_doubles (one block): out[0] = Σ in[0..n), e.g. the sum-of-squares
// partials, so the gradient norm comes down as one double.
extern "C" __global__ void sum_doubles(double* out, const double* in, int n) {
    __shared__ double sh[32];
    double s = 0;
    for (int i = threadIdx.x; i < n; i += blockDim.x) s += in[i];
    s = block_sum_d(s, sh);
    if (threadIdx.x == 0) out[0] = s;
}

// fill: x[i] = v.
extern "C" __global__ void fill(float* x, float v, long long n) {
    GRID_STRIDE_R(i, n) { x[i] = v; }
}

// index_set: out[idx[j]] = in[j] for j < n (a permutation: one writer each).
extern "C" __global__ void index_set(float* out, const float* in, const int* idx, int n) {
    GRID_STRIDE_R(j, n) { out[idx[j]] = in[j]; }
}

// f32_to_f16 rounds to IEEE binary16, nearest even (overflow to ±inf, as
// torch's .half()), with the PTX conversion: NVRTC has no cuda_fp16.h.
extern "C" __global__ void f32_to_f16(unsigned short* out, const float* in, long long n) {
    GRID_STRIDE_R(i, n) {
        unsigned short h;
        asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(in[i]));
        out[i] = h;
    }
}

// GROUP_THREADS threads of moe_group each sort one contiguous chunk.
#define GROUP_THREADS 128

// moe_group (one block of GROUP_THREADS) groups the NK = N·K (token, slot)
// pairs by expert, stably, as model.moeForward's counting sort: grouped row
// r is token tok[r] = j/K, slot slot[r] = j, weight wSel[r] = topW[j], and
// expert e owns rows [off[e], off[e+1]) (off has E+1 entries). Each thread
// counts its chunk of j, the counts are scanned in (expert, thread) order,
// and each thread writes its chunk in order: the order within an expert is
// j's order, exactly the CPU's. inv[j] = the grouped row of pair j (for
// moe_combine).
extern "C" __global__ void moe_group(int* off, int* tok, int* slot, int* inv, float* wSel, const int* topIdx,
                                     const float* topW, int NK, int K, int E) {
    __shared__ int cnt[GROUP_THREADS * MOE_MAXE];
    __shared__ int base[MOE_MAXE + 1];
    int t = threadIdx.x;
    int chunk = (NK + GROUP_THREADS - 1) / GROUP_THREADS;
    int lo = min(NK, t * chunk), hi = min(NK, lo + chunk);
    int* mine = cnt + t * MOE_MAXE;
    for (int e = 0; e < E; e++) mine[e] = 0;
    for (int j = lo; j < hi; j++) mine[topIdx[j]]++;
    __syncthreads();
    if (t == 0) {
        base[0] = 0;
        for (int e = 0; e < E; e++) {
            int s = 0;
            for (int u = 0; u < GROUP_THREADS; u++) s += cnt[u * MOE_MAXE + e];
            base[e + 1] = base[e] + s;
        }
    }
    __syncthreads();
    if (t < E) { // exclusive scan of expert t's counts over the threads
        int run = base[t];
        for (int u = 0; u < GROUP_THREADS; u++) {
            int c = cnt[u * MOE_MAXE + t];
            cnt[u * MOE_MAXE + t] = run;
            run += c;
        }
    }
    __syncthreads();
    for (int j = lo; j < hi; j++) {
        int dst = mine[topIdx[j]]++;
        tok[dst] = j / K;
        slot[dst] = j;
        inv[j] = dst;
        wSel[dst] = topW[j];
    }
    if (t <= E) off[t] = base[t];
}

// moe_balance (one block) is model.balanceLoss: tokens in `groups` groups
// of `per`; counts[g,E] = count_g(e)·E/(per·kdiv) (kept for backward) and
// out[0] = coef·Σ_g Σ_e counts[g,e]·mean_t probs[g·per+t, e] / groups.
extern "C" __global__ void moe_balance(double* out, double* counts, const float* probs, const int* topIdx, int E,
                                       int K, int groups, int per, int kdiv, double coef) {
    __shared__ double sh[32];
    double aux = 0;
    long long pk = (long long)per * K;
    for (int g = 0; g < groups; g++) {
        for (int e = 0; e < E; e++) {
            double c = 0, pm = 0;
            for (long long j = threadIdx.x; j < pk; j += blockDim.x) c += topIdx[g * pk + j] == e ? 1.0 : 0.0;
            for (int t = threadIdx.x; t < per; t += blockDim.x) pm += (double)probs[((long long)g * per + t) * E + e];
            c = block_sum_d(c, sh);
            pm = block_sum_d(pm, sh);
            c *= (double)E / ((double)per * (double)kdiv);
            if (threadIdx.x == 0) counts[g * E + e] = c;
            aux += c * pm / per;
        }
    }
    if (threadIdx.x == 0) out[0] = coef * aux / groups;
}

// moe_balance_grad: dProbs[n,e] = k·counts[n/per, e], the balance loss's
// gradient reaching the router probabilities (k = scale·coef/groups/per).
extern "C" __global__ void moe_balance_grad(float* dProbs, const double* counts, int N, int E, int per, double k) {
    GRID_STRIDE_R(i, (long long)N * E) {
        long long n = i / E;
        int e = (int)(i % E);
        dProbs[i] = (float)(k * counts[(n / per) * E + e]);
    }
}

// kv_store appends T new positions of x[B,T,W] to cache[B,S,W] at each
// row's length lens[b] (W = NKV·HS), as model's KVCache.store.
extern "C" __global__ void kv_store(float* cache, const float* x, const int* lens, int B, int T, int S, int W) {
    GRID_STRIDE_R(e, (long long)B * T * W) {
        long long bt = e / W;
        int w = (int)(e % W);
        int b = (int)(bt / T), t = (int)(bt % T);
        cache[((long long)b * S + lens[b] + t) * W + w] = x[e];
    }
}

// positions: pos[i] = i % T + (lens ? lens[i / T] : 0), as model's forward.
extern "C" __global__ void positions(int* pos, const int* lens, int N, int T) {
    GRID_STRIDE_R(i, N) { pos[i] = (int)(i % T) + (lens ? lens[i / T] : 0); }
}

// advance: lens[b] += T after a forward pass over T new positions.
extern "C" __global__ void advance(int* lens, int B, int T) {
    GRID_STRIDE_R(b, B) { lens[b] += T; }
}

// embedding_backward: dTable[tok,:] += Σ dOut[i,:] over the positions i of
// each token, with the positions sorted by token on the host: seg holds
// nseg+1 segment starts, then nseg token ids; order the positions. Block
// (s, x) owns token s's row and 128 of its columns, adding the rows in
// position order: each output element sees exactly the float additions
// of a sequential scatter-add, in the same order (deterministic, and
// bit-identical to the CPU's), while every token's row runs in parallel
// — a one-thread-per-column scatter over B·T rows would not.
extern "C" __global__ void embedding_backward(float* dTable, const float* dOut, const int* order, const int* seg, int nseg, int C) {
    int s = blockIdx.x;
    int j = blockIdx.y * blockDim.x + threadIdx.x;
    if (s >= nseg || j >= C) return;
    int tok = seg[nseg + 1 + s];
    float* out = dTable + (long long)tok * C + j;
    float v = *out;
    for (int i = seg[s]; i < seg[s + 1]; i++) v += dOut[(long long)order[i] * C + j];
    *out = v;
}

// moe_combine: out[n,:] += Σ_s w[r]·in[r,:] over token n's K grouped rows
// r = inv[n·K+s], added in increasing r: per element, exactly the float
// operations of a sequential scatter-add of the grouped rows (w null: 1),
// but one thread per output element instead of one per column.
extern "C" __global__ void moe_combine(float* out, const float* in, const int* inv, const float* w, int N, int K, int C) {
    GRID_STRIDE_R(e, (long long)N * C) {
        long long n = e / C;
        int c = (int)(e % C);
        int r[MOE_MAXE];
        for (int s = 0; s < K; s++) { // insertion sort: K is tiny
            int v = inv[n * K + s], i = s;
            for (; i > 0 && r[i - 1] > v; i--) r[i] = r[i - 1];
            r[i] = v;
        }
        float acc = out[e];
        for (int s = 0; s < K; s++) acc += (w ? w[r[s]] : 1.0f) * in[(long long)r[s] * C + c];
        out[e] = acc;
    }
}
