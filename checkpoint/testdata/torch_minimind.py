"""Loads a MiniMind .pth written by minimind-go into an independent PyTorch
MiniMind2 (2510) model with load_state_dict(strict=True) and prints its
logits for the given ids as JSON. Used by checkpoint's torch interop test.

usage: torch_minimind.py MODEL.pth CONFIG.json IDS_JSON
"""
import json, math, sys
import torch
import torch.nn as nn
import torch.nn.functional as F

pth, cfg_path, ids_json = sys.argv[1], sys.argv[2], sys.argv[3]
cfg = json.load(open(cfg_path))
H, L = cfg["hidden_size"], cfg["num_hidden_layers"]
NH, NKV, V, I = cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["vocab_size"], cfg["intermediate_size"]
HD, EPS, THETA = H // NH, cfg["rms_norm_eps"], cfg["rope_theta"]

class RMSNorm(nn.Module):
    def __init__(s, d):
        super().__init__(); s.weight = nn.Parameter(torch.ones(d))
    def forward(s, x):
        return s.weight * (x.float() * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + EPS)).type_as(x)

class FFN(nn.Module):
    def __init__(s):
        super().__init__()
        s.gate_proj = nn.Linear(H, I, bias=False); s.down_proj = nn.Linear(I, H, bias=False); s.up_proj = nn.Linear(H, I, bias=False)
    def forward(s, x):
        return s.down_proj(F.silu(s.gate_proj(x)) * s.up_proj(x))

class Attn(nn.Module):
    def __init__(s):
        super().__init__()
        s.q_proj = nn.Linear(H, NH * HD, bias=False); s.k_proj = nn.Linear(H, NKV * HD, bias=False)
        s.v_proj = nn.Linear(H, NKV * HD, bias=False); s.o_proj = nn.Linear(NH * HD, H, bias=False)
    def forward(s, x, cos, sin):
        B, T, _ = x.shape
        q = s.q_proj(x).view(B, T, NH, HD); k = s.k_proj(x).view(B, T, NKV, HD); v = s.v_proj(x).view(B, T, NKV, HD)
        rot = lambda t: torch.cat((-t[..., HD // 2:], t[..., :HD // 2]), -1)
        q = q * cos[:, None] + rot(q) * sin[:, None]; k = k * cos[:, None] + rot(k) * sin[:, None]
        k = k.repeat_interleave(NH // NKV, dim=2); v = v.repeat_interleave(NH // NKV, dim=2)
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)
        s_ = q @ k.transpose(-2, -1) / math.sqrt(HD)
        s_ = s_ + torch.triu(torch.full((T, T), float("-inf")), 1)
        o = (F.softmax(s_.float(), -1) @ v).transpose(1, 2).reshape(B, T, -1)
        return s.o_proj(o)

class Block(nn.Module):
    def __init__(s):
        super().__init__()
        s.self_attn = Attn(); s.input_layernorm = RMSNorm(H); s.post_attention_layernorm = RMSNorm(H); s.mlp = FFN()
    def forward(s, x, cos, sin):
        x = x + s.self_attn(s.input_layernorm(x), cos, sin)
        return x + s.mlp(s.post_attention_layernorm(x))

class Inner(nn.Module):
    def __init__(s):
        super().__init__()
        s.embed_tokens = nn.Embedding(V, H); s.layers = nn.ModuleList([Block() for _ in range(L)]); s.norm = RMSNorm(H)

class MiniMind(nn.Module):
    def __init__(s):
        super().__init__()
        s.model = Inner(); s.lm_head = nn.Linear(H, V, bias=False); s.model.embed_tokens.weight = s.lm_head.weight
    def forward(s, ids):
        T = ids.shape[1]
        inv = 1.0 / (THETA ** (torch.arange(0, HD, 2).float() / HD))
        ang = torch.outer(torch.arange(T).float(), inv)
        cos, sin = torch.cat([ang.cos()] * 2, -1), torch.cat([ang.sin()] * 2, -1)
        x = s.model.embed_tokens(ids)
        for b in s.model.layers:
            x = b(x, cos, sin)
        return s.lm_head(s.model.norm(x))

m = MiniMind()
sd = torch.load(pth, map_location="cpu")
m.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)
with torch.no_grad():
    logits = m(torch.tensor([json.loads(ids_json)]))
print(json.dumps({"keys": len(sd), "dtype": str(next(iter(sd.values())).dtype), "logits": logits[0].flatten().tolist()}))
