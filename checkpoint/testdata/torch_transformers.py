"""Run an exported transformers directory the way transformers would.

A transcription of transformers' LlamaForCausalLM, Qwen3ForCausalLM and
Qwen3MoeForCausalLM forward passes (modeling_llama.py, modeling_qwen3.py,
modeling_qwen3_moe.py: eval mode, no cache, eager attention, plain RoPE),
for machines without the transformers package. It reads only what
transformers reads: config.json, with each class's defaults for absent
keys, and model.safetensors, loaded into modules named as transformers
names them with load_state_dict(strict=True) after tying lm_head to the
embedding when tie_word_embeddings says so.

usage: python3 torch_transformers.py '[{"dir": DIR, "ids": [...]}, ...]'
prints one {"architecture": ..., "logits": [...]} per directory (one
sequence, all positions), as a JSON list (torch starts once for all).
"""
import json
import struct
import sys

import torch
import torch.nn.functional as F
from torch import nn

# Each config class's defaults for the keys a file may leave out
# (configuration_llama.py, configuration_qwen3.py, configuration_qwen3_moe.py).
DEFAULTS = {
    "llama": dict(rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False, hidden_act="silu",
                  attention_bias=False, mlp_bias=False, num_key_value_heads=None, head_dim=None),
    "qwen3": dict(rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False, hidden_act="silu",
                  attention_bias=False, num_key_value_heads=32, head_dim=128),
    "qwen3_moe": dict(rms_norm_eps=1e-6, rope_theta=10000.0, tie_word_embeddings=False, hidden_act="silu",
                      attention_bias=False, num_key_value_heads=4, norm_topk_prob=False, decoder_sparse_step=1,
                      mlp_only_layers=[]),
}
ARCH = {"llama": "LlamaForCausalLM", "qwen3": "Qwen3ForCausalLM", "qwen3_moe": "Qwen3MoeForCausalLM"}


class Cfg:
    def __init__(self, d):
        mt = d["model_type"]
        for k, v in {**DEFAULTS[mt], **d}.items():
            setattr(self, k, v)
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        # LlamaAttention / Qwen3MoeAttention: getattr(config, "head_dim", hidden // heads)
        if getattr(self, "head_dim", None) is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        assert self.hidden_act == "silu" and not self.attention_bias and not getattr(self, "mlp_bias", False)
        assert self.rope_scaling is None or self.rope_scaling.get("rope_type", self.rope_scaling.get("type")) == "default"


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    dtypes = {"F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        a, b = t["data_offsets"]
        x = torch.frombuffer(bytearray(body[a:b]), dtype=dtypes[t["dtype"]]) if b > a else torch.empty(0)
        out[name] = x.reshape(t["shape"]).float()
    return out


class RMSNorm(nn.Module):  # LlamaRMSNorm / Qwen3RMSNorm
    def __init__(self, n, eps):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(n))
        self.variance_epsilon = eps

    def forward(self, h):
        dt = h.dtype
        h = h.to(torch.float32)
        var = h.pow(2).mean(-1, keepdim=True)
        h = h * torch.rsqrt(var + self.variance_epsilon)
        return self.weight * h.to(dt)


def rotate_half(x):
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2:]
    return torch.cat((-x2, x1), dim=-1)


class Attention(nn.Module):
    def __init__(self, c, qk_norm):
        super().__init__()
        self.c, self.hd = c, c.head_dim
        self.q_proj = nn.Linear(c.hidden_size, c.num_attention_heads * self.hd, bias=False)
        self.k_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * self.hd, bias=False)
        self.v_proj = nn.Linear(c.hidden_size, c.num_key_value_heads * self.hd, bias=False)
        self.o_proj = nn.Linear(c.num_attention_heads * self.hd, c.hidden_size, bias=False)
        if qk_norm:  # Qwen3: RMSNorm over each head before RoPE
            self.q_norm = RMSNorm(self.hd, c.rms_norm_eps)
            self.k_norm = RMSNorm(self.hd, c.rms_norm_eps)
        self.qk_norm = qk_norm

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        shp = (B, T, -1, self.hd)
        q, k, v = self.q_proj(x).view(shp), self.k_proj(x).view(shp), self.v_proj(x).view(shp)
        if self.qk_norm:
            q, k = self.q_norm(q), self.k_norm(k)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        cos, sin = cos[None, None], sin[None, None]
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        rep = self.c.num_attention_heads // self.c.num_key_value_heads
        k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
        w = torch.matmul(q, k.transpose(2, 3)) * self.hd ** -0.5
        w = w + torch.full((T, T), float("-inf")).triu(1)
        w = F.softmax(w, dim=-1, dtype=torch.float32).to(q.dtype)
        o = torch.matmul(w, v).transpose(1, 2).reshape(B, T, -1)
        return self.o_proj(o)


class MLP(nn.Module):
    def __init__(self, c, inter):
        super().__init__()
        self.gate_proj = nn.Linear(c.hidden_size, inter, bias=False)
        self.up_proj = nn.Linear(c.hidden_size, inter, bias=False)
        self.down_proj = nn.Linear(inter, c.hidden_size, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class SparseMoe(nn.Module):  # Qwen3MoeSparseMoeBlock
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.gate = nn.Linear(c.hidden_size, c.num_experts, bias=False)
        self.experts = nn.ModuleList([MLP(c, c.moe_intermediate_size) for _ in range(c.num_experts)])

    def forward(self, h):
        B, T, C = h.shape
        h = h.view(-1, C)
        rw = F.softmax(self.gate(h), dim=1, dtype=torch.float)
        rw, sel = torch.topk(rw, self.c.num_experts_per_tok, dim=-1)
        if self.c.norm_topk_prob:
            rw /= rw.sum(dim=-1, keepdim=True)
        rw = rw.to(h.dtype)
        out = torch.zeros_like(h)
        for e, expert in enumerate(self.experts):
            idx, top = torch.where(sel == e)
            if idx.numel():
                out.index_add_(0, idx, expert(h[idx]) * rw[idx, top, None])
        return out.view(B, T, C)


class Layer(nn.Module):
    def __init__(self, c, i, mt):
        super().__init__()
        self.self_attn = Attention(c, mt != "llama")
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        sparse = mt == "qwen3_moe" and i not in c.mlp_only_layers and c.num_experts > 0 and (i + 1) % c.decoder_sparse_step == 0
        self.mlp = SparseMoe(c) if sparse else MLP(c, c.intermediate_size)

    def forward(self, x, cos, sin):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin)
        return x + self.mlp(self.post_attention_layernorm(x))


class Model(nn.Module):
    def __init__(self, c, mt):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        self.layers = nn.ModuleList([Layer(c, i, mt) for i in range(c.num_hidden_layers)])
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class CausalLM(nn.Module):
    def __init__(self, c, mt):
        super().__init__()
        self.c = c
        self.model = Model(c, mt)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        if c.tie_word_embeddings:
            self.lm_head.weight = self.model.embed_tokens.weight

    def forward(self, ids):
        T = ids.shape[1]
        # The default rotary embedding: inv_freq from int64 arange, float32 angles.
        inv = 1.0 / (self.c.rope_theta ** (torch.arange(0, self.c.head_dim, 2, dtype=torch.int64).float() / self.c.head_dim))
        freqs = (inv[:, None] @ torch.arange(T).float()[None, :]).transpose(0, 1)
        emb = torch.cat((freqs, freqs), dim=-1)
        cos, sin = emb.cos(), emb.sin()
        x = self.model.embed_tokens(ids)
        for layer in self.model.layers:
            x = layer(x, cos, sin)
        return self.lm_head(self.model.norm(x))


def run(d, ids):
    cfg = json.load(open(f"{d}/config.json"))
    mt = cfg["model_type"]
    assert cfg["architectures"] == [ARCH[mt]], cfg["architectures"]
    c = Cfg(cfg)
    m = CausalLM(c, mt).eval()
    sd = read_safetensors(f"{d}/model.safetensors")
    if c.tie_word_embeddings:
        # save_pretrained drops the tied key; loading re-ties it.
        assert "lm_head.weight" not in sd
        sd["lm_head.weight"] = sd["model.embed_tokens.weight"]
    m.load_state_dict(sd, strict=True)
    with torch.no_grad():
        logits = m(torch.tensor([ids]))
    return {"architecture": ARCH[mt], "logits": logits[0].flatten().tolist()}


def main():
    print(json.dumps([run(job["dir"], job["ids"]) for job in json.loads(sys.argv[1])]))


if __name__ == "__main__":
    main()
