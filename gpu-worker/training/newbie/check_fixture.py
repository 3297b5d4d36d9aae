#!/usr/bin/env python3
"""Recomputes a newbie-tiny fixture from its files and its README's description alone: an
independent implementation (torch, no reference code) of the DiT, the Jina tower, Gemma's
hidden_states[-2], CFG with truncation and the norm clamp, and the Euler sampler, compared with
expected.safetensors by relative L2 error. A check that the README says what the reference code
does, and a head start for the engine's implementation.

    python3 gpu-worker/training/newbie/check_fixture.py FIXTURE_DIR [--tol 1e-5]

Needs torch and numpy only (any version from 1.13).
"""

import argparse
import json
import math
import struct
import sys
from pathlib import Path

import numpy as np
import torch


def load(path):
    data = Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for k, h in header.items():
        if k == "__metadata__":
            continue
        a, b = h["data_offsets"]
        buf = data[8 + n + a:8 + n + b]
        if h["dtype"] == "BF16":
            raw = np.frombuffer(buf, dtype=np.uint16).astype(np.uint32) << 16
            t = torch.from_numpy(raw.view(np.float32).copy())
        else:
            dt = {"F32": np.float32, "I64": np.int64, "U8": np.uint8}[h["dtype"]]
            t = torch.from_numpy(np.frombuffer(buf, dtype=dt).copy())
        out[k] = t.reshape(h["shape"])
    return out


def rms(x, w, eps, plus_one=False):
    x32 = x.float()
    y = x32 * torch.rsqrt(x32.pow(2).mean(-1, keepdim=True) + eps)
    return y * ((1.0 + w) if plus_one else w)


def lin(W, p, x, bias=True):
    y = x @ W[p + ".weight"].t()
    if bias and (p + ".bias") in W:
        y = y + W[p + ".bias"]
    return y


def attention(q, k, v, key_mask, scale):
    """q [B, L, H, d], k/v [B, L, H, d] (already repeated), key_mask [B, L] bool or None."""
    s = torch.einsum("blhd,bmhd->bhlm", q, k) * scale
    if key_mask is not None:
        s = s.masked_fill(~key_mask[:, None, None, :], float("-inf"))
    return torch.einsum("bhlm,bmhd->blhd", s.softmax(-1), v)


# ------------------------------------------------------------------------------------------ DiT
def rope_angles(pos, axes, theta=10000.0):
    """pos [B, L, 3] int -> cos, sin [B, L, sum(axes)/2]; pairs of axis 0, then 1, then 2."""
    cs, ss = [], []
    for i, d in enumerate(axes):
        freqs = 1.0 / (theta ** (torch.arange(0, d, 2, dtype=torch.float64) / d))
        ang = (pos[..., i].to(torch.float64)[..., None] * freqs).float()
        cs.append(torch.cos(ang))
        ss.append(torch.sin(ang))
    return torch.cat(cs, -1), torch.cat(ss, -1)


def rope_interleaved(x, cos, sin):
    """x [B, L, H, d]: pairs (x[2j], x[2j+1]) rotated by the angle of pair j."""
    xr = x.reshape(*x.shape[:-1], -1, 2)
    a, b = xr[..., 0], xr[..., 1]
    c, s = cos[:, :, None, :], sin[:, :, None, :]
    return torch.stack([a * c - b * s, a * s + b * c], -1).reshape(x.shape)


def dit_block(W, p, cfg, x, key_mask, cos, sin, c):
    D, H, KV = cfg["dim"], cfg["n_heads"], cfg["n_kv_heads"]
    hd, eps = D // H, cfg["norm_eps"]

    def attn(h):
        B, L, _ = h.shape
        qkv = lin(W, p + ".attention.qkv", h, bias=False)
        q, k, v = qkv.split([H * hd, KV * hd, KV * hd], -1)
        q, k, v = q.reshape(B, L, H, hd), k.reshape(B, L, KV, hd), v.reshape(B, L, KV, hd)
        q = rms(q, W[p + ".attention.q_norm.weight"], 1e-6)
        k = rms(k, W[p + ".attention.k_norm.weight"], 1e-6)
        q, k = rope_interleaved(q, cos, sin), rope_interleaved(k, cos, sin)
        rep = H // KV
        k, v = k.repeat_interleave(rep, dim=2), v.repeat_interleave(rep, dim=2)
        o = attention(q, k, v, key_mask, 1.0 / math.sqrt(hd)).reshape(B, L, H * hd)
        return lin(W, p + ".attention.out", o, bias=False)

    def ffn(h):
        a = lin(W, p + ".feed_forward.w1", h, bias=False)
        b = lin(W, p + ".feed_forward.w3", h, bias=False)
        return lin(W, p + ".feed_forward.w2", torch.nn.functional.silu(a) * b, bias=False)

    n = lambda name, h: rms(h, W[f"{p}.{name}.weight"], eps)  # noqa: E731
    if c is not None:
        mod = lin(W, p + ".adaLN_modulation.1", torch.nn.functional.silu(c))
        s_msa, g_msa, s_mlp, g_mlp = mod.chunk(4, dim=1)
        x = x + g_msa.tanh()[:, None] * n("attention_norm2", attn(n("attention_norm1", x) * (1 + s_msa[:, None])))
        x = x + g_mlp.tanh()[:, None] * n("ffn_norm2", ffn(n("ffn_norm1", x) * (1 + s_mlp[:, None])))
    else:
        x = x + n("attention_norm2", attn(n("attention_norm1", x)))
        x = x + n("ffn_norm2", ffn(n("ffn_norm1", x)))
    return x


def dit_forward(W, cfg, x, t, cap_feats, cap_mask, pooled):
    B, C, Hl, Wl = x.shape
    P = cfg["patch_size"]
    half = 128
    om = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float32) / half)
    f = torch.cat([torch.cos(t[:, None].float() * om), torch.sin(t[:, None].float() * om)], -1)
    t_emb = lin(W, "t_embedder.mlp.2", torch.nn.functional.silu(lin(W, "t_embedder.mlp.0", f)))
    clip = lin(W, "clip_text_pooled_proj.1", rms(pooled, W["clip_text_pooled_proj.0.weight"], 1e-6))
    c = lin(W, "time_text_embed.1", torch.nn.functional.silu(torch.cat([t_emb, clip], -1)))
    cap = lin(W, "cap_embedder.1", rms(cap_feats, W["cap_embedder.0.weight"], cfg["norm_eps"]))
    cap_len = cap_mask.sum(1).tolist()
    Hp, Wp = Hl // P, Wl // P
    n_img = Hp * Wp
    patches = x.reshape(B, C, Hp, P, Wp, P).permute(0, 2, 4, 3, 5, 1).reshape(B, n_img, P * P * C)
    img = lin(W, "x_embedder", patches)
    rows = torch.arange(Hp).repeat_interleave(Wp)
    cols = torch.arange(Wp).repeat(Hp)
    Lc = cap.shape[1]
    S = max(cap_len) + n_img
    pos = torch.zeros(B, S, 3, dtype=torch.int64)
    for i, cl in enumerate(cap_len):
        pos[i, :cl, 0] = torch.arange(cl)
        pos[i, cl:cl + n_img, 0] = cl
        pos[i, cl:cl + n_img, 1] = rows
        pos[i, cl:cl + n_img, 2] = cols
    cos, sin = rope_angles(pos, cfg["axes_dims"])
    cap_cos = torch.zeros(B, Lc, cos.shape[-1])
    cap_sin = torch.zeros(B, Lc, cos.shape[-1])
    img_cos = torch.zeros(B, n_img, cos.shape[-1])
    img_sin = torch.zeros(B, n_img, cos.shape[-1])
    for i, cl in enumerate(cap_len):
        cap_cos[i, :cl], cap_sin[i, :cl] = cos[i, :cl], sin[i, :cl]
        img_cos[i], img_sin[i] = cos[i, cl:cl + n_img], sin[i, cl:cl + n_img]
    for j in range(cfg["n_refiner_layers"]):
        cap = dit_block(W, f"context_refiner.{j}", cfg, cap, cap_mask.bool(), cap_cos, cap_sin, None)
    for j in range(cfg["n_refiner_layers"]):
        img = dit_block(W, f"noise_refiner.{j}", cfg, img, None, img_cos, img_sin, c)
    h = torch.zeros(B, S, cfg["dim"])
    mask = torch.zeros(B, S, dtype=torch.bool)
    for i, cl in enumerate(cap_len):
        h[i, :cl] = cap[i, :cl]
        h[i, cl:cl + n_img] = img[i]
        mask[i, :cl + n_img] = True
    for j in range(cfg["n_layers"]):
        h = dit_block(W, f"layers.{j}", cfg, h, mask, cos, sin, c)
    scale = lin(W, "final_layer.adaLN_modulation.1", torch.nn.functional.silu(c))
    h = torch.nn.functional.layer_norm(h, (cfg["dim"],), eps=1e-6) * (1 + scale[:, None])
    h = lin(W, "final_layer.linear", h)
    out = torch.stack([h[i, cl:cl + n_img] for i, cl in enumerate(cap_len)])
    out = out.reshape(B, Hp, Wp, P, P, C).permute(0, 5, 1, 3, 2, 4).reshape(B, C, Hl, Wl)
    return out


def cfg_step(W, cfg, x, t, cap_feats, cap_mask, pooled, scale, trunc, renorm):
    if float(t[0]) < trunc:
        out = dit_forward(W, cfg, x, t, cap_feats, cap_mask, pooled)
        cond, uncond = out[:1], out[1:2]
        g = uncond + scale * (cond - uncond)
        if renorm > 0:
            cn, gn = cond.norm() * renorm, g.norm()
            if gn.item() >= cn.item():
                g = g * (cn / gn)
    else:
        g = dit_forward(W, cfg, x[:1], t[:1], cap_feats[:1], cap_mask[:1], pooled[:1])
    return torch.cat([g, g])


# ----------------------------------------------------------------------------------------- Jina
def rope_halves(x, base):
    """x [B, L, H, d]: rotate_half convention over the whole head, positions 0 .. L-1."""
    B, L, H, d = x.shape
    inv = 1.0 / (base ** (torch.arange(0, d, 2, dtype=torch.float32) / d))
    ang = torch.outer(torch.arange(L, dtype=torch.float32), inv)
    emb = torch.cat([ang, ang], -1)
    cos, sin = emb.cos()[None, :, None], emb.sin()[None, :, None]
    x1, x2 = x[..., : d // 2], x[..., d // 2:]
    return x * cos + torch.cat([-x2, x1], -1) * sin


def jina_forward(W, pre, cfg, ids, mask):
    Wd = cfg["hidden_size"]
    H = cfg["num_attention_heads"]
    hd = Wd // H
    ln = lambda name, h: torch.nn.functional.layer_norm(  # noqa: E731
        h, (Wd,), W[pre + name + ".weight"], W[pre + name + ".bias"], cfg["layer_norm_eps"])
    x = W[pre + "embeddings.word_embeddings.weight"][ids] + W[pre + "embeddings.token_type_embeddings.weight"][0]
    x = ln("emb_ln", x)
    B, L, _ = x.shape
    for i in range(cfg["num_hidden_layers"]):
        p = f"{pre}encoder.layers.{i}."
        qkv = lin(W, p + "mixer.Wqkv", x).reshape(B, L, 3, H, hd)
        q, k, v = qkv[:, :, 0], qkv[:, :, 1], qkv[:, :, 2]
        q, k = rope_halves(q, cfg["rotary_emb_base"]), rope_halves(k, cfg["rotary_emb_base"])
        o = attention(q, k, v, mask.bool(), 1.0 / math.sqrt(hd)).reshape(B, L, Wd)
        x = ln(f"encoder.layers.{i}.norm1", x + lin(W, p + "mixer.out_proj", o))
        m = lin(W, p + "mlp.fc2", torch.nn.functional.gelu(lin(W, p + "mlp.fc1", x)))
        x = ln(f"encoder.layers.{i}.norm2", x + m)
    mf = mask.float()[..., None]
    return x, (x * mf).sum(1) / mf.sum(1)


# ---------------------------------------------------------------------------------------- Gemma
def gemma_forward(W, cfg, ids, mask, inv_full, inv_slide):
    """hidden_states[-2] of Gemma3TextModel (eager), as the fixture README describes it."""
    Hd, H, KV, hd = cfg["hidden_size"], cfg["num_attention_heads"], cfg["num_key_value_heads"], cfg["head_dim"]
    eps = cfg["rms_norm_eps"]
    B, L = ids.shape
    x = W["embed_tokens.weight"][ids] * torch.tensor(Hd ** 0.5, dtype=torch.float32)
    i_ = torch.arange(L)
    causal = i_[None, :] <= i_[:, None]
    window = (i_[:, None] - i_[None, :]) < cfg["sliding_window"]
    pos = torch.arange(L, dtype=torch.float32)

    def rot(t, inv):
        ang = torch.outer(pos, inv)
        emb = torch.cat([ang, ang], -1)
        cos, sin = emb.cos()[None, :, None], emb.sin()[None, :, None]
        t1, t2 = t[..., : hd // 2], t[..., hd // 2:]
        return t * cos + torch.cat([-t2, t1], -1) * sin

    layers = cfg["layer_types"]
    for li in range(len(layers) - 1):  # up to layer L-2: hidden_states[-2]
        p = f"layers.{li}."
        full = layers[li] == "full_attention"
        vis = causal & (True if full else window)
        vis = vis[None] & mask.bool()[:, None, :]
        h = rms(x, W[p + "input_layernorm.weight"], eps, plus_one=True)
        q = lin(W, p + "self_attn.q_proj", h, bias=False).reshape(B, L, H, hd)
        k = lin(W, p + "self_attn.k_proj", h, bias=False).reshape(B, L, KV, hd)
        v = lin(W, p + "self_attn.v_proj", h, bias=False).reshape(B, L, KV, hd)
        q = rms(q, W[p + "self_attn.q_norm.weight"], eps, plus_one=True)
        k = rms(k, W[p + "self_attn.k_norm.weight"], eps, plus_one=True)
        inv = inv_full if full else inv_slide
        q, k = rot(q, inv), rot(k, inv)
        k, v = k.repeat_interleave(H // KV, 2), v.repeat_interleave(H // KV, 2)
        s = torch.einsum("blhd,bmhd->bhlm", q, k) * cfg["query_pre_attn_scalar"] ** -0.5
        s = s.masked_fill(~vis[:, None], float("-inf"))
        pr = torch.nan_to_num(s.softmax(-1))  # fully hidden rows (padding only): 0
        o = torch.einsum("bhlm,bmhd->blhd", pr, v).reshape(B, L, H * hd)
        x = x + rms(lin(W, p + "self_attn.o_proj", o, bias=False), W[p + "post_attention_layernorm.weight"], eps, plus_one=True)
        h = rms(x, W[p + "pre_feedforward_layernorm.weight"], eps, plus_one=True)
        g = torch.nn.functional.gelu(lin(W, p + "mlp.gate_proj", h, bias=False), approximate="tanh")
        m = lin(W, p + "mlp.down_proj", g * lin(W, p + "mlp.up_proj", h, bias=False), bias=False)
        x = x + rms(m, W[p + "post_feedforward_layernorm.weight"], eps, plus_one=True)
    return torch.where(mask.bool()[..., None], x, torch.zeros_like(x))


# ------------------------------------------------------------------------------------------ main
def rel(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / max(b.norm(), 1e-30))


def run(root, tol=1e-5):
    """Checks the fixture at root; prints one line per check; returns the worst relative error."""
    root = Path(root)
    E = load(root / "expected.safetensors")
    case = json.loads((root / "case.json").read_text())
    dcfg = json.loads((root / "transformer/config.json").read_text())
    results = []

    def check(name, got, key):
        r = rel(got, E[key])
        results.append((name, r))
        print(f"{'ok ' if r <= tol else 'BAD'} {r:.2e}  {name} vs {key}", flush=True)

    Wd = load(root / "transformer/newbie.safetensors")
    check("dit", dit_forward(Wd, dcfg, E["dit.in.x"], E["dit.in.t"], E["dit.in.cap_feats"],
                             E["dit.in.cap_mask"], E["dit.in.clip_text_pooled"]), "dit.out")
    Wb = load(root / "transformer/newbie-bf16.safetensors")
    check("dit bf16 weights", dit_forward(Wb, dcfg, E["dit.in.x"], E["dit.in.t"], E["dit.in.cap_feats"],
                                          E["dit.in.cap_mask"], E["dit.in.clip_text_pooled"]), "dit.out.bf16")
    for name in ("cfg", "cfg_trunc"):
        check(name, cfg_step(Wd, dcfg, E[f"dit.{name}.in.x"], E[f"dit.{name}.in.t"], E["dit.in.cap_feats"],
                             E["dit.in.cap_mask"], E["dit.in.clip_text_pooled"], case["cfg_scale"],
                             case["cfg_trunc"], case["renorm_cfg"]), f"dit.{name}.out")

    jcfg = json.loads((root / "clip_model/config.json").read_text())["text_config"]["hf_model_config_kwargs"]
    Wj = load(root / "clip_model/model.safetensors")
    seq, pooled = jina_forward(Wj, "text_model.transformer.roberta.", jcfg, E["jina.in.ids"], E["jina.in.mask"])
    check("jina pooled", pooled, "jina.out.pooled")
    check("jina sequence", seq, "jina.out.last_hidden_state")

    if (root / "text_encoder/model.safetensors").is_file() and "gemma.out.hidden_states_m2" in E:
        gcfg = json.loads((root / "text_encoder/config.json").read_text())
        d = gcfg["head_dim"]
        rp = gcfg.get("rope_parameters") or {}
        full = rp.get("full_attention") or {"rope_theta": gcfg.get("rope_theta"),
                                             "factor": (gcfg.get("rope_scaling") or {}).get("factor", 1.0)}
        slide = rp.get("sliding_attention") or {"rope_theta": gcfg.get("rope_local_base_freq")}
        ar = torch.arange(0, d, 2, dtype=torch.float32) / d
        inv_full = 1.0 / (float(full["rope_theta"]) ** ar) / float(full.get("factor") or 1.0)
        inv_slide = 1.0 / (float(slide["rope_theta"]) ** ar)
        Wg = load(root / "text_encoder/model.safetensors")
        try:
            got = gemma_forward(Wg, gcfg, E["gemma.in.ids"], E["gemma.in.mask"], inv_full, inv_slide)
            check("gemma hidden_states[-2]", got, "gemma.out.hidden_states_m2")
        except Exception as e:  # noqa: BLE001
            results.append(("gemma", float("inf")))
            print(f"BAD gemma check failed to run: {e!r}")

    # the whole sampling loop from the recorded text features
    steps = case["steps"]
    s = torch.linspace(0, 1, steps + 1)
    sh = case["time_shift"]
    grid = s / (s + sh - sh * s)
    check("time grid", grid, "pipe.t")
    x = E["pipe.noise"].repeat(2, 1, 1, 1)
    for k in range(steps):
        t = torch.full((2,), float(grid[k]))
        v = cfg_step(Wd, dcfg, x, t, E["pipe.cap_feats"], E["pipe.cap_mask"], E["pipe.clip_text_pooled"],
                     case["cfg_scale"], case["cfg_trunc"], case["renorm_cfg"])
        x = x + (grid[k + 1] - grid[k]) * v
        check(f"latents step {k + 1}", x[:1], f"pipe.latents.step{k + 1}")
    worst = max(r for _, r in results)
    print(f"worst {worst:.2e} ({'PASS' if worst <= tol else 'FAIL'}, tol {tol:g})", flush=True)
    return worst


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("fixture")
    ap.add_argument("--tol", type=float, default=1e-5)
    args = ap.parse_args()
    sys.exit(0 if run(args.fixture, args.tol) <= args.tol else 1)


if __name__ == "__main__":
    main()
