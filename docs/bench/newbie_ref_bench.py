"""The PyTorch reference for NewBie-image's guided DiT step (issue 15's GPU goal: the engine's s/step
at 1024² within 1.2x of this, on the same card in the same device call).

NewBie's own NextDiT_CLIP at the released 3.5 B shape (NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP:
dim 2304, 36 joint + 2 noise-refiner + 2 context-refiner blocks, 24 heads / 8 KV heads, FFN 9216,
QK norm, cap_feat_dim 2560, CLIP pooled 1024) with random weights, all on the device in --dtype, as
NewBie's demo runs it: one guided step is one `forward_with_cfg` on a batch of 2 (the conditional and
the unconditional pass together) at --size², with --caption tokens of caption features (the engine's
`bench --synthetic newbie` uses 512). The weights are random: the time does not depend on them.

It imports NewBie's models/model.py (NewBieAI-Lab/NewBie-image-Exp0.1, carried in the ignored
.devcarry/newbie, never committed). In fp16/bf16, model.py's attention calls flash-attn's varlen
kernel on unpadded sequences; with --attention sdpa (the default when the real flash_attn cannot
be imported) the three flash-attn functions model.py uses are replaced by the same arithmetic on
torch's scaled_dot_product_attention, one sequence at a time (the captions here are unpadded, so a
sequence is a sample). The output names which ran. In float32 model.py takes its own SDPA branch.

Usage (the lent GPU machine; PYTHONPATH puts NewBie's `models` package first):
  PYTHONPATH=.devcarry/newbie python3 docs/bench/newbie_ref_bench.py [--size 1024] [--steps 8]
      [--warmup 2] [--caption 512] [--dtype bfloat16] [--device cuda] [--attention auto|flash|sdpa]
      [--tiny]
--tiny builds a small model of the same structure (for a CPU check of the script itself).
Prints one JSON line: the median and every step's seconds, the peak allocated and reserved device
bytes (CUDA), the parameter count, the card, torch version and attention used.
"""
import argparse
import importlib
import json
import math
import statistics
import time

import torch
import torch.nn.functional as F


TORCH_SDPA = getattr(F, "scaled_dot_product_attention", None)


def sdpa(q, k, v, attn_mask=None, scale=None):
    """torch's fused attention, or its arithmetic where this torch predates it (CPU checks)."""
    if TORCH_SDPA is not None:
        return TORCH_SDPA(q, k, v, attn_mask=attn_mask, scale=scale)
    s = (q @ k.transpose(-2, -1)) * (scale if scale is not None else 1 / math.sqrt(q.shape[-1]))
    if attn_mask is not None:
        s = s.masked_fill(~attn_mask, float("-inf")) if attn_mask.dtype == torch.bool else s + attn_mask
    return torch.softmax(s, dim=-1) @ v


def varlen_sdpa(q, k, v, cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k,
                dropout_p=0.0, causal=False, softmax_scale=None):
    """flash_attn_varlen_func's contract on SDPA: (total, H, D) queries against (total, KV, D) keys
    and values, sequence i at rows cu[i]:cu[i+1]; query head h reads KV head h // (H / KV)."""
    assert not causal and dropout_p == 0.0
    out = torch.empty_like(q)
    rep = q.shape[1] // k.shape[1]
    for i in range(len(cu_seqlens_q) - 1):
        a, b = int(cu_seqlens_q[i]), int(cu_seqlens_q[i + 1])
        c, d = int(cu_seqlens_k[i]), int(cu_seqlens_k[i + 1])
        qi = q[a:b].transpose(0, 1).unsqueeze(0)
        ki = k[c:d].repeat_interleave(rep, dim=1).transpose(0, 1).unsqueeze(0)
        vi = v[c:d].repeat_interleave(rep, dim=1).transpose(0, 1).unsqueeze(0)
        out[a:b] = sdpa(qi, ki, vi, scale=softmax_scale)[0].transpose(0, 1)
    return out


def index_first_axis(x, indices):
    return x[indices]


def pad_input(x, indices, batch, seqlen):
    out = torch.zeros((batch * seqlen, *x.shape[1:]), dtype=x.dtype, device=x.device)
    out[indices] = x
    return out.view(batch, seqlen, *x.shape[1:])


def attention_backend(model_module, wanted):
    """Which varlen kernel model.py calls: the real flash-attn, or SDPA put in its place."""
    try:
        real = hasattr(importlib.import_module("flash_attn"), "__version__")  # a shim has none
    except ImportError:
        real = False
    if wanted == "flash" and not real:
        raise SystemExit("--attention flash: flash_attn is not installed (only a shim is on the path)")
    if wanted == "sdpa" or (wanted == "auto" and not real):
        model_module.flash_attn_varlen_func = varlen_sdpa
        model_module.index_first_axis = index_first_axis
        model_module.pad_input = pad_input
        if not hasattr(F, "scaled_dot_product_attention"):
            F.scaled_dot_product_attention = sdpa
        return "sdpa (per sequence, in place of flash_attn_varlen_func)"
    return "flash_attn_varlen_func"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=8)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--caption", type=int, default=512)
    ap.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float16", "float32"])
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--attention", default="auto", choices=["auto", "flash", "sdpa"])
    ap.add_argument("--cfg", type=float, default=5.0)
    ap.add_argument("--tiny", action="store_true")
    a = ap.parse_args()
    model_module = importlib.import_module("models.model")
    attention = attention_backend(model_module, a.attention) if a.dtype != "float32" else \
        "model.py's own SDPA branch (float32)"
    if a.dtype == "float32" and not hasattr(F, "scaled_dot_product_attention"):
        F.scaled_dot_product_attention = sdpa
    dtype = getattr(torch, a.dtype)
    dev = torch.device(a.device)
    torch.manual_seed(0)
    if a.tiny:
        kw = dict(patch_size=2, dim=96, n_layers=2, n_heads=6, n_kv_heads=2, axes_dims=[8, 4, 4],
                  axes_lens=[1024, 512, 512], multiple_of=32, cap_feat_dim=64, clip_text_dim=32)
    else:
        kw = dict(patch_size=2, dim=2304, n_layers=36, n_heads=24, n_kv_heads=8, axes_dims=[32, 32, 32],
                  axes_lens=[1024, 512, 512], multiple_of=256, cap_feat_dim=2560, clip_text_dim=1024)
    clip_dim = kw["clip_text_dim"]
    model = model_module.NextDiT_CLIP(in_channels=16, qk_norm=True, **kw).to(dev)
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0.0, 0.02)
    model = model.to(dtype).eval()
    params = sum(p.numel() for p in model.parameters())
    lat = a.size // 8
    g = torch.Generator(device="cpu").manual_seed(1)
    x = torch.randn(1, 16, lat, lat, generator=g).to(dev, dtype).repeat(2, 1, 1, 1)
    cap = torch.randn(2, a.caption, kw["cap_feat_dim"], generator=g).to(dev, dtype)
    mask = torch.ones(2, a.caption, dtype=torch.int32, device=dev)
    pooled = torch.randn(2, clip_dim, generator=g).to(dev, dtype)
    cuda = dev.type == "cuda"

    def step(t):
        tt = torch.full((2,), t, device=dev, dtype=dtype)
        with torch.no_grad():
            out = model.forward_with_cfg(x, tt, cap, mask, a.cfg, cfg_trunc=100, renorm_cfg=1,
                                         clip_text_pooled=pooled)
        if cuda:
            torch.cuda.synchronize()
        return out

    for i in range(a.warmup):
        step(0.5)
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times = []
    for i in range(a.steps):
        t0 = time.perf_counter()
        out = step(1.0 - (i + 0.5) / a.steps)
        times.append(time.perf_counter() - t0)
    print(json.dumps(dict(
        reference="NewBie models/model.py NextDiT_CLIP.forward_with_cfg" + (" (tiny)" if a.tiny else ""),
        size=a.size, caption=a.caption, batch=2, dtype=a.dtype, attention=attention,
        secondsPerStep=statistics.median(times), steps=[round(s, 5) for s in times],
        parameters=params, finite=bool(torch.isfinite(out.float()).all()),
        peakAllocatedBytes=torch.cuda.max_memory_allocated() if cuda else -1,
        peakReservedBytes=torch.cuda.max_memory_reserved() if cuda else -1,
        device=torch.cuda.get_device_name(0) if cuda else "cpu", torch=torch.__version__)))


if __name__ == "__main__":
    main()
