// attention.cu: causal grouped-query attention, forward and backward, in
// the flash-attention style: scores live only in registers, one tile of
// ATT_TILE keys at a time, with an online softmax; no T×T matrix is ever
// stored. The backward pass recomputes probabilities from the saved
// log-sum-exp (lse).
//
// Layouts (see kernels/doc.go): q, out [B,T,NH,HS]; k, v [B,S,NKV,HS];
// lse [B,NH,T]; mask [B,S] (1 attend, 0 padding → adds -1e9, as the
// original); past [B] cached positions per row (forward only; null = 0).
//
// Work split: a block has ATT_WARPS warps; in the forward and dq kernels
// each warp owns one query (b, t, h) and the block's warps share every K/V
// tile they load into shared memory; in the dk/dv kernel each warp owns
// one key (b, j, kv-head) and the block shares query tiles. Each output
// row therefore has exactly one writer: no atomics, deterministic sums.
//
// Shared-memory rows that lanes read across their own index (Ks[lane][d])
// are padded to HS+1 floats so the 32 lanes hit 32 different banks.
#include "common.cuh"

// Dynamic shared memory: Ks[TILE][HS+1], Vs[TILE][HS], Qs[WARPS][HS].
extern "C" __global__ void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                                             const float* mask, const int* past, int B, int T, int S, int NH, int NKV,
                                             int HS, float scale) {
    extern __shared__ float sm[];
    const int HSP = HS + 1;
    float* Ks = sm;
    float* Vs = Ks + ATT_TILE * HSP;
    float* Qs = Vs + ATT_TILE * HS;
    int b = blockIdx.z, h = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int t0 = blockIdx.x * ATT_WARPS, t = t0 + warp;
    bool active = t < T;
    int P = past ? past[b] : 0;
    int kh = h / (NH / NKV);
    float* qw = Qs + warp * HS;
    const float* qrow = q + ((long long)(b * T + t) * NH + h) * HS;
    for (int d = lane; d < HS; d += 32) qw[d] = active ? qrow[d] : 0.0f;
    int tlast = min(T - 1, t0 + ATT_WARPS - 1);
    int kend = P + tlast + 1; // keys the block needs: [0, kend)
    int limit = P + t;        // this warp's last visible key
    float m = NEG_INF, l = 0.0f, acc[ATT_MAXD];
    for (int i = 0; i < ATT_MAXD; i++) acc[i] = 0.0f;
    for (int k0 = 0; k0 < kend; k0 += ATT_TILE) {
        __syncthreads(); // the previous tile is no longer read
        for (int e = threadIdx.x; e < ATT_TILE * HS; e += blockDim.x) {
            int j = e / HS, d = e % HS, kj = k0 + j;
            float kv = 0.0f, vv = 0.0f;
            if (kj < kend) {
                long long off = ((long long)(b * S + kj) * NKV + kh) * HS + d;
                kv = k[off];
                vv = v[off];
            }
            Ks[j * HSP + d] = kv;
            Vs[j * HS + d] = vv;
        }
        __syncthreads();
        if (!active || k0 > limit) continue;
        int kj = k0 + lane;
        float s = NEG_INF;
        if (kj <= limit) {
            float dot = 0.0f;
            for (int d = 0; d < HS; d++) dot += qw[d] * Ks[lane * HSP + d];
            s = dot * scale;
            if (mask) s += (1.0f - mask[b * S + kj]) * -1e9f;
        }
        float mnew = fmaxf(m, warp_max(s));
        float corr = expf(m - mnew); // 0 on the first tile (m = -inf)
        float p = (kj <= limit) ? expf(s - mnew) : 0.0f;
        l = l * corr + warp_sum(p);
        for (int i = 0; i < ATT_MAXD; i++) acc[i] *= corr;
        int jn = min(ATT_TILE, limit - k0 + 1);
        for (int j = 0; j < jn; j++) {
            float pj = __shfl_sync(FULL_MASK, p, j);
            for (int i = 0; i < ATT_MAXD; i++) {
                int d = lane + 32 * i;
                if (d < HS) acc[i] += pj * Vs[j * HS + d];
            }
        }
        m = mnew;
    }
    if (!active) return;
    float inv = 1.0f / l;
    float* orow = out + ((long long)(b * T + t) * NH + h) * HS;
    for (int i = 0; i < ATT_MAXD; i++) {
        int d = lane + 32 * i;
        if (d < HS) orow[d] = acc[i] * inv;
    }
    if (lane == 0) lse[((long long)b * NH + h) * T + t] = m + logf(l);
}

// attention_backward_d: D[b,t,h] = dOut·out, one warp per (row, head).
// With p_j = exp(s_j − lse), ds_j = p_j·(dOut·v_j − D).
extern "C" __global__ void attention_backward_d(float* D, const float* dOut, const float* out, int rows, int HS) {
    int r = (blockIdx.x * blockDim.x + threadIdx.x) >> 5, lane = threadIdx.x & 31;
    if (r >= rows) return;
    float s = 0.0f;
    for (int d = lane; d < HS; d += 32) s += dOut[(long long)r * HS + d] * out[(long long)r * HS + d];
    s = warp_sum(s);
    if (lane == 0) D[r] = s;
}

// attention_backward_dq: dq += scale·Σ_j ds_j·k_j, one warp per query,
// keys in shared tiles as in the forward pass (S = T, no past).
// Dynamic shared memory: Ks[TILE][HS+1], Vs[TILE][HS+1], Qs[WARPS][HS], Os[WARPS][HS].
extern "C" __global__ void attention_backward_dq(float* dq, const float* dOut, const float* lse, const float* D,
                                                 const float* q, const float* k, const float* v, const float* mask,
                                                 int B, int T, int NH, int NKV, int HS, float scale) {
    extern __shared__ float sm[];
    const int HSP = HS + 1;
    float* Ks = sm;
    float* Vs = Ks + ATT_TILE * HSP;
    float* Qs = Vs + ATT_TILE * HSP;
    float* Os = Qs + ATT_WARPS * HS;
    int b = blockIdx.z, h = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int t0 = blockIdx.x * ATT_WARPS, t = t0 + warp;
    bool active = t < T;
    int kh = h / (NH / NKV);
    long long row = ((long long)(b * T + t) * NH + h) * HS;
    float* qw = Qs + warp * HS;
    float* ow = Os + warp * HS;
    for (int d = lane; d < HS; d += 32) {
        qw[d] = active ? q[row + d] : 0.0f;
        ow[d] = active ? dOut[row + d] : 0.0f;
    }
    float L = 0.0f, Dt = 0.0f;
    if (active) {
        L = lse[((long long)b * NH + h) * T + t];
        Dt = D[(long long)(b * T + t) * NH + h];
    }
    int kend = min(T - 1, t0 + ATT_WARPS - 1) + 1;
    float acc[ATT_MAXD];
    for (int i = 0; i < ATT_MAXD; i++) acc[i] = 0.0f;
    for (int k0 = 0; k0 < kend; k0 += ATT_TILE) {
        __syncthreads();
        for (int e = threadIdx.x; e < ATT_TILE * HS; e += blockDim.x) {
            int j = e / HS, d = e % HS, kj = k0 + j;
            float kv = 0.0f, vv = 0.0f;
            if (kj < kend) {
                long long off = ((long long)(b * T + kj) * NKV + kh) * HS + d;
                kv = k[off];
                vv = v[off];
            }
            Ks[j * HSP + d] = kv;
            Vs[j * HSP + d] = vv;
        }
        __syncthreads();
        if (!active || k0 > t) continue;
        int kj = k0 + lane;
        float ds = 0.0f;
        if (kj <= t) {
            float s = 0.0f, dp = 0.0f;
            for (int d = 0; d < HS; d++) {
                s += qw[d] * Ks[lane * HSP + d];
                dp += ow[d] * Vs[lane * HSP + d];
            }
            s *= scale;
            if (mask) s += (1.0f - mask[b * T + kj]) * -1e9f;
            float p = expf(s - L);
            ds = p * (dp - Dt) * scale;
        }
        int jn = min(ATT_TILE, t - k0 + 1);
        for (int j = 0; j < jn; j++) {
            float dj = __shfl_sync(FULL_MASK, ds, j);
            for (int i = 0; i < ATT_MAXD; i++) {
                int d = lane + 32 * i;
                if (d < HS) acc[i] += dj * Ks[j * HSP + d];
            }
        }
    }
    if (!active) return;
    for (int i = 0; i < ATT_MAXD; i++) {
        int d = lane + 32 * i;
        if (d < HS) dq[row + d] += acc[i];
    }
}

// attention_backward_dkv: for key j of kv-head kh, sum over every query
// row (t ≥ j, h in kh's group of NH/NKV heads): dv_j += p·dOut,
// dk_j += ds·q. One warp per key; the block's warps share tiles of
// ATT_TILE query rows (t, h) loaded into shared memory.
// Dynamic shared memory: Qs[TILE][HS+1], Os[TILE][HS+1], Ls[TILE], Ds[TILE],
// Kw[WARPS][HS], Vw[WARPS][HS].
extern "C" __global__ void attention_backward_dkv(float* dk, float* dv, const float* dOut, const float* lse,
                                                  const float* D, const float* q, const float* k, const float* v,
                                                  const float* mask, int B, int T, int NH, int NKV, int HS,
                                                  float scale) {
    extern __shared__ float sm[];
    const int HSP = HS + 1;
    float* Qs = sm;
    float* Os = Qs + ATT_TILE * HSP;
    float* Ls = Os + ATT_TILE * HSP;
    float* Ds = Ls + ATT_TILE;
    float* Kw = Ds + ATT_TILE;
    float* Vw = Kw + ATT_WARPS * HS;
    int b = blockIdx.z, kh = blockIdx.y;
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    int G = NH / NKV;
    int j0 = blockIdx.x * ATT_WARPS, j = j0 + warp;
    bool active = j < T;
    long long krow = ((long long)(b * T + j) * NKV + kh) * HS;
    float* kw = Kw + warp * HS;
    float* vw = Vw + warp * HS;
    for (int d = lane; d < HS; d += 32) {
        kw[d] = active ? k[krow + d] : 0.0f;
        vw[d] = active ? v[krow + d] : 0.0f;
    }
    // Padding adds the same -1e9 to every score of key j.
    float madd = (active && mask) ? (1.0f - mask[b * T + j]) * -1e9f : 0.0f;
    float dka[ATT_MAXD], dva[ATT_MAXD];
    for (int i = 0; i < ATT_MAXD; i++) dka[i] = dva[i] = 0.0f;
    // Query rows r = (t − j0)·G + g for t in [j0, T): earlier queries see
    // none of this block's keys.
    int nrows = (T - j0) * G;
    for (int r0 = 0; r0 < nrows; r0 += ATT_TILE) {
        __syncthreads();
        for (int e = threadIdx.x; e < ATT_TILE * HS; e += blockDim.x) {
            int rr = e / HS, d = e % HS, r = r0 + rr;
            float qv = 0.0f, ov = 0.0f;
            if (r < nrows) {
                int t = j0 + r / G, h = kh * G + r % G;
                long long off = ((long long)(b * T + t) * NH + h) * HS + d;
                qv = q[off];
                ov = dOut[off];
            }
            Qs[rr * HSP + d] = qv;
            Os[rr * HSP + d] = ov;
        }
        if (threadIdx.x < ATT_TILE) {
            int r = r0 + threadIdx.x;
            float lv = 0.0f, dv0 = 0.0f;
            if (r < nrows) {
                int t = j0 + r / G, h = kh * G + r % G;
                lv = lse[((long long)b * NH + h) * T + t];
                dv0 = D[(long long)(b * T + t) * NH + h];
            }
            Ls[threadIdx.x] = lv;
            Ds[threadIdx.x] = dv0;
        }
        __syncthreads();
        if (!active) continue;
        int r = r0 + lane;
        int t = j0 + r / G;
        float p = 0.0f, ds = 0.0f;
        if (r < nrows && t >= j) {
            float s = 0.0f, dp = 0.0f;
            for (int d = 0; d < HS; d++) {
                s += Qs[lane * HSP + d] * kw[d];
                dp += Os[lane * HSP + d] * vw[d];
            }
            s = s * scale + madd;
            p = expf(s - Ls[lane]);
            ds = p * (dp - Ds[lane]) * scale;
        }
        for (int rr = 0; rr < ATT_TILE; rr++) {
            float pr = __shfl_sync(FULL_MASK, p, rr);
            float dr = __shfl_sync(FULL_MASK, ds, rr);
            for (int i = 0; i < ATT_MAXD; i++) {
                int d = lane + 32 * i;
                if (d < HS) {
                    dva[i] += pr * Os[rr * HSP + d];
                    dka[i] += dr * Qs[rr * HSP + d];
                }
            }
        }
    }
    if (!active) return;
    for (int i = 0; i < ATT_MAXD; i++) {
        int d = lane + 32 * i;
        if (d < HS) {
            dk[krow + d] += dka[i];
            dv[krow + d] += dva[i];
        }
    }
}
