#!/usr/bin/env python3
"""PyTorch reference timings for `minimind bench train|generate`.

A faithful MiniMind2 model in plain PyTorch (RMSNorm, rotate-half RoPE with
theta 1e6, GQA 8 query / 2 KV heads, SwiGLU FFN 1536, tied embeddings,
vocab 6400; --use_moe: 4 routed experts top-2 + 1 shared, softmax router
with renormalised top-k and the sequence-level aux loss left out as in
eval), fp32 on the CPU. It prints the same JSON keys as our bench so the
two can be compared line by line. Run both back to back on the same
machine: timings depend on load.

  /usr/bin/python3 scripts/bench_torch.py train [--use_moe] [--batch_size 8] [--max_seq_len 512]
  /usr/bin/python3 scripts/bench_torch.py generate [--batch_size 1] [--prompt_len 128] [--new_tokens 128] [--fill_kv]
  /usr/bin/python3 scripts/bench_torch.py blas    (which BLAS library torch runs on; exit 1 if the reference one)

Every JSON line also names the BLAS library ("blas": its path, or
"reference" for the netlib reference BLAS) and the peak resident memory
("peak_rss_bytes"). Debian's torch is built against the generic
libblas.so.3, and which library that is is chosen at run time
(update-alternatives). The reference BLAS is ~20× slower than OpenBLAS
(install libopenblas0-pthread) and makes any comparison meaningless.
"""
import argparse
import ctypes
import json
import math
import os
import resource
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Cfg:
    hidden = 512
    layers = 8
    heads = 8
    kv_heads = 2
    inter = 1536
    vocab = 6400
    theta = 1e6
    eps = 1e-5
    max_pos = 32768
    rope_len = 4096  # positions the RoPE tables cover
    use_moe = False
    experts = 4
    top_k = 2
    shared = 1


class RMSNorm(nn.Module):
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps))


def rope_tables(hs, n, theta):
    inv = 1.0 / (theta ** (torch.arange(0, hs, 2).float() / hs))
    f = torch.outer(torch.arange(n).float(), inv)
    return torch.cat([f.cos(), f.cos()], -1), torch.cat([f.sin(), f.sin()], -1)


def rotate_half(x):
    h = x.shape[-1] // 2
    return torch.cat([-x[..., h:], x[..., :h]], -1)


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.nh, self.nkv, self.hs = c.heads, c.kv_heads, c.hidden // c.heads
        self.q_proj = nn.Linear(c.hidden, c.hidden, bias=False)
        self.k_proj = nn.Linear(c.hidden, self.nkv * self.hs, bias=False)
        self.v_proj = nn.Linear(c.hidden, self.nkv * self.hs, bias=False)
        self.o_proj = nn.Linear(c.hidden, c.hidden, bias=False)

    def forward(self, x, cos, sin, past=None):
        B, T, _ = x.shape
        q = self.q_proj(x).view(B, T, self.nh, self.hs)
        k = self.k_proj(x).view(B, T, self.nkv, self.hs)
        v = self.v_proj(x).view(B, T, self.nkv, self.hs)
        c, s = cos[:, None, :], sin[:, None, :]
        q = q * c + rotate_half(q) * s
        k = k * c + rotate_half(k) * s
        if past is not None:
            k = torch.cat([past[0], k], 1)
            v = torch.cat([past[1], v], 1)
        present = (k, v)
        rep = self.nh // self.nkv
        k = k.repeat_interleave(rep, 2)
        v = v.repeat_interleave(rep, 2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        # PyTorch 1.13 has no scaled_dot_product_attention: the classic
        # materialised softmax(QKᵀ/√d + causal mask)·V.
        sc = (q @ k.transpose(-1, -2)) * (1.0 / math.sqrt(self.hs))
        if T > 1:
            S = k.shape[2]
            sc = sc + torch.full((T, S), float("-inf")).triu(S - T + 1)
        o = sc.softmax(-1) @ v
        return self.o_proj(o.transpose(1, 2).reshape(B, T, -1)), present


class FFN(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden, c.inter, bias=False)
        self.down_proj = nn.Linear(c.inter, c.hidden, bias=False)
        self.up_proj = nn.Linear(c.hidden, c.inter, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class MoE(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.k = c.top_k
        self.experts = nn.ModuleList([FFN(c) for _ in range(c.experts)])
        self.gate = nn.Linear(c.hidden, c.experts, bias=False)
        self.shared_experts = nn.ModuleList([FFN(c) for _ in range(c.shared)])

    def forward(self, x):
        shp = x.shape
        x2 = x.reshape(-1, shp[-1])
        probs = self.gate(x2).softmax(-1)
        w, idx = probs.topk(self.k, -1)
        w = w / (w.sum(-1, keepdim=True) + 1e-20)
        y = torch.zeros_like(x2)
        for e, ex in enumerate(self.experts):
            rows, slot = (idx == e).nonzero(as_tuple=True)
            if rows.numel():
                y.index_add_(0, rows, ex(x2[rows]) * w[rows, slot, None])
        for s in self.shared_experts:
            y = y + s(x2)
        return y.view(shp)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.self_attn = Attention(c)
        self.input_layernorm = RMSNorm(c.hidden, c.eps)
        self.post_attention_layernorm = RMSNorm(c.hidden, c.eps)
        self.mlp = MoE(c) if c.use_moe else FFN(c)

    def forward(self, x, cos, sin, past=None):
        a, present = self.self_attn(self.input_layernorm(x), cos, sin, past)
        h = x + a
        return h + self.mlp(self.post_attention_layernorm(h)), present


class MiniMind(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab, c.hidden)
        self.layers = nn.ModuleList([Block(c) for _ in range(c.layers)])
        self.norm = RMSNorm(c.hidden, c.eps)
        self.lm_head = nn.Linear(c.hidden, c.vocab, bias=False)
        self.lm_head.weight = self.embed_tokens.weight  # tied
        cos, sin = rope_tables(c.hidden // c.heads, c.rope_len, c.theta)
        self.register_buffer("cos", cos, persistent=False)
        self.register_buffer("sin", sin, persistent=False)

    def forward(self, ids, past=None, start=0, keep=0):
        T = ids.shape[1]
        x = self.embed_tokens(ids)
        cos, sin = self.cos[start:start + T], self.sin[start:start + T]
        presents = []
        for i, l in enumerate(self.layers):
            x, p = l(x, cos, sin, None if past is None else past[i])
            presents.append(p)
        x = self.norm(x)
        if keep:
            x = x[:, -keep:]
        return self.lm_head(x), presents


def blas_info():
    """The BLAS library torch's matmuls run on: the library that the
    dynamic linker resolves sgemm_ to in libtorch_cpu's dependency order
    (dlsym on its handle, then dladdr), which is what torch calls. Returns
    {"blas": its path, "reference": True unless it is OpenBLAS, BLIS or
    MKL}."""
    path = "not found"
    try:
        lib = os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so")
        fn = ctypes.cast(ctypes.CDLL(lib).sgemm_, ctypes.c_void_p)

        class DlInfo(ctypes.Structure):
            _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                        ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]

        info = DlInfo()
        if ctypes.CDLL(None).dladdr(fn, ctypes.byref(info)) and info.dli_fname:
            path = os.path.realpath(info.dli_fname.decode())
    except (OSError, AttributeError) as e:
        path = "not found (%s)" % e
    fast = any(k in path.lower() for k in ("openblas", "blis", "mkl"))
    return {"blas": path, "reference": not fast}


def train_flops(c, B, T):
    # The same napkin math as model.TrainFLOPs, so both MFUs share one
    # basis: 3 × forward, where forward counts 2 FLOPs per multiply-add of
    # the projections a token actually runs through (for MoE: its top-k
    # routed experts, the shared ones and the router, not every expert),
    # the tied LM head, and attention over all T positions.
    C, F, V, L = c.hidden, c.inter, c.vocab, c.layers
    q, kv = C, c.kv_heads * (C // c.heads)
    per_tok = 2 * C * q + 2 * C * kv
    ffn = 3 * C * F
    if c.use_moe:
        ffn = 3 * C * (c.top_k + c.shared) * F
        per_tok += C * c.experts
    per_tok = (per_tok + ffn) * L + C * V
    att = 2 * T * q * L
    return 3.0 * 2 * (per_tok + att) * B * T


def process_facts():
    info = blas_info()
    return {"blas": "reference" if info["reference"] else info["blas"],
            "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["train", "generate", "blas"])
    ap.add_argument("--use_moe", action="store_true")
    ap.add_argument("--batch_size", type=int, default=None)
    ap.add_argument("--max_seq_len", type=int, default=512)
    ap.add_argument("--prompt_len", type=int, default=128)
    ap.add_argument("--new_tokens", type=int, default=128)
    ap.add_argument("--fill_kv", action="store_true",
                    help="generate: start decoding after a KV cache of --prompt_len random positions instead of prefilling a prompt (decode speed at long context without the prefill's time and memory); prefill is then not timed")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--peak_gflops", type=float, default=0,
                    help="train: fp32 peak for the MFU figure (0: no MFU; bench_compare.sh divides by the peak our own run measured)")
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    blas = blas_info()
    if a.mode == "blas":
        print(json.dumps(blas))
        sys.exit(1 if blas["reference"] else 0)
    torch.manual_seed(0)
    c = Cfg()
    c.use_moe = a.use_moe
    c.rope_len = max(c.rope_len, a.max_seq_len, a.prompt_len + a.new_tokens)
    m = MiniMind(c)
    n_params = sum(p.numel() for p in m.parameters())
    if a.mode == "train":
        B = a.batch_size or 8
        T = a.max_seq_len
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, weight_decay=0.01)
        ids = torch.randint(0, c.vocab, (B, T + 1))
        x, y = ids[:, :-1], ids[:, 1:]
        times = []
        for s in range(a.steps + 1):
            t0 = time.perf_counter()
            opt.zero_grad(set_to_none=True)
            logits, _ = m(x)
            loss = F.cross_entropy(logits.view(-1, c.vocab), y.reshape(-1))
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            if s > 0:
                times.append(time.perf_counter() - t0)
        step = statistics.median(times)
        gflops = train_flops(c, B, T) / step / 1e9
        print(json.dumps({"tokens_per_s": B * T / step, "step_s": step, "gflops": gflops,
                          **({"mfu": gflops / a.peak_gflops, "peak_gflops": a.peak_gflops} if a.peak_gflops > 0 else {}),
                          "batch_size": B, "seq_len": T, "use_moe": c.use_moe,
                          "backend": "torch %s cpu, %d threads" % (torch.__version__, a.threads), **process_facts()}))
        return
    B = a.batch_size or 1
    m.eval()
    pre, dec = [], []
    with torch.no_grad():
        prompt = torch.randint(0, c.vocab, (B, a.prompt_len))
        tok = torch.randint(0, c.vocab, (B, 1))
        hs = c.hidden // c.heads
        for s in range(a.steps + 1):
            t0 = time.perf_counter()
            if a.fill_kv:
                past = [(torch.randn(B, a.prompt_len, c.kv_heads, hs), torch.randn(B, a.prompt_len, c.kv_heads, hs))
                        for _ in range(c.layers)]
            else:
                _, past = m(prompt, keep=1)
            t1 = time.perf_counter()
            pos = a.prompt_len
            for _ in range(a.new_tokens):
                _, past = m(tok, past=past, start=pos, keep=1)
                pos += 1
            t2 = time.perf_counter()
            if s > 0:
                pre.append(B * a.prompt_len / (t1 - t0))
                dec.append(B * a.new_tokens / (t2 - t1))
    print(json.dumps({"prefill_tokens_per_s": None if a.fill_kv else statistics.median(pre), "decode_tokens_per_s": statistics.median(dec),
                      "batch_size": B, "prompt_len": a.prompt_len, "dtype": "f32",
                      "backend": "torch %s cpu, %d threads" % (torch.__version__, a.threads), **process_facts()}))


if __name__ == "__main__":
    main()
