#!/usr/bin/env python3
"""Trains the bundled model `gpu-worker/models/flux-shapes`: a small FLUX.1 (BFL architecture and
key layout, schnell-style: no guidance embedding) that draws the synthetic scenes of `shapes.py`.

What it builds, all from scratch and from one seed:
1. tokenizers for the caption vocabulary (CLIP-style and T5-style `tokenizer.json`, word level);
2. the autoencoder (BFL `AutoEncoder`), trained for reconstruction (L1 + MSE + a small KL); its
   latent scale and shift are measured afterwards so that the DiT sees unit-variance latents;
3. the DiT (BFL `Flux`) together with the CLIP and T5 text encoders (Hugging Face `CLIPTextModel`,
   `T5EncoderModel`), trained by rectified flow (x_t = (1 - t) x0 + t e, target e - x0, t logit-
   normal), with an exponential moving average of the weights, which is what is exported;
4. a held-out evaluation: captions from another seed, sampled as the engine samples (unshifted
   schedule, Euler) at several step counts, scored by `shapes.score`, and a grid of samples.

Run on the lent GPU (needs torch, transformers, safetensors, pillow and BFL's `flux` package on
the path — `src/flux` of black-forest-labs/flux, used here, never copied into this repository):
    python3 train_shapes.py --out OUTDIR [--seed 7] [--ae-seconds 90] [--dit-seconds 330]
It writes OUTDIR/model (the model directory), OUTDIR/samples.png and OUTDIR/report.json.

Data: a pool of scenes (`--pool` of them, a `--zh-share` of them captioned in Chinese) is drawn once,
deterministically from the seed, by a process pool on the host's cores and kept on the GPU as
numbers (`shapes.scene_table` rows and token ids); each training step picks a random batch of it and
renders it there (`shapes.render_table`), so no step waits on Python.
"""

import argparse
import json
import math
import os
import random
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import shapes  # noqa: E402

SIZES = [(128, 128), (128, 96), (96, 128)]  # (width, height) of training batches
TEXT_LENGTH = 40  # the longest caption is 31 words; CLIP adds two


# ---------------------------------------------------------------- tokenizers
def clip_tokenizer_json(vocab):
    ids = {"<|unk|>": 0}
    for w in vocab:
        ids[w] = len(ids)
    bos, eos = len(ids), len(ids) + 1
    ids["<|startoftext|>"], ids["<|endoftext|>"] = bos, eos
    special = [
        {"id": bos, "content": "<|startoftext|>"},
        {"id": eos, "content": "<|endoftext|>"},
        {"id": 0, "content": "<|unk|>"},
    ]
    return _tokenizer_json(
        ids,
        "<|unk|>",
        special,
        single=[{"SpecialToken": {"id": "<|startoftext|>", "type_id": 0}},
                {"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "<|endoftext|>", "type_id": 0}}],
        specials={"<|startoftext|>": bos, "<|endoftext|>": eos},
        pad=("<|endoftext|>", eos),
    ), {"bos": bos, "eos": eos, "pad": eos, "size": eos + 1}


def t5_tokenizer_json(vocab):
    ids = {"<pad>": 0, "</s>": 1, "<unk>": 2}
    for w in vocab:
        ids[w] = len(ids)
    special = [{"id": 0, "content": "<pad>"}, {"id": 1, "content": "</s>"}, {"id": 2, "content": "<unk>"}]
    return _tokenizer_json(
        ids,
        "<unk>",
        special,
        single=[{"Sequence": {"id": "A", "type_id": 0}},
                {"SpecialToken": {"id": "</s>", "type_id": 0}}],
        specials={"</s>": 1},
        pad=("<pad>", 0),
    ), {"eos": 1, "pad": 0, "size": len(ids)}


def _tokenizer_json(ids, unk, special, single, specials, pad):
    return {
        "version": "1.0",
        "truncation": {"direction": "Right", "max_length": TEXT_LENGTH, "strategy": "LongestFirst", "stride": 0},
        "padding": {"strategy": {"Fixed": TEXT_LENGTH}, "direction": "Right", "pad_to_multiple_of": None,
                    "pad_id": pad[1], "pad_type_id": 0, "pad_token": pad[0]},
        "added_tokens": [dict(t, single_word=False, lstrip=False, rstrip=False, normalized=False, special=True)
                         for t in special],
        "normalizer": {"type": "Sequence", "normalizers": [{"type": "NFC"}, {"type": "Lowercase"}]},
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "WhitespaceSplit"},
            {"type": "Split", "pattern": {"Regex": shapes.WORD_PATTERN}, "behavior": "Isolated", "invert": False}]},
        "post_processor": {
            "type": "TemplateProcessing",
            "single": single,
            "pair": single[:-1] + [{"Sequence": {"id": "B", "type_id": 1}}] + single[-1:],
            "special_tokens": {k: {"id": k, "ids": [v], "tokens": [k]} for k, v in specials.items()},
        },
        "decoder": {"type": "WordPiece", "prefix": "##", "cleanup": True},
        "model": {"type": "WordLevel", "vocab": ids, "unk_token": unk},
    }


def encode(text, tok, info, clip):
    """Token ids as the tokenizer.json above gives them, padded to TEXT_LENGTH."""
    vocab = tok["model"]["vocab"]
    unk = vocab[tok["model"]["unk_token"]]
    body = [vocab.get(w, unk) for w in shapes.words(text)]
    if clip:
        body = [info["bos"]] + body[: TEXT_LENGTH - 2] + [info["eos"]]
    else:
        body = body[: TEXT_LENGTH - 1] + [info["eos"]]
    return body + [info["pad"]] * (TEXT_LENGTH - len(body))


# ---------------------------------------------------------------- models
def build(args, clip_info, t5_info):
    from flux.model import Flux, FluxParams
    from flux.modules.autoencoder import AutoEncoder, AutoEncoderParams
    from transformers import CLIPTextConfig, CLIPTextModel, T5Config, T5EncoderModel

    ae_params = AutoEncoderParams(resolution=128, in_channels=3, ch=32, out_ch=3, ch_mult=[1, 2, 2, 2],
                                  num_res_blocks=1, z_channels=16, scale_factor=1.0, shift_factor=0.0)
    clip_cfg = CLIPTextConfig(vocab_size=clip_info["size"], hidden_size=64, intermediate_size=256,
                              num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=TEXT_LENGTH,
                              hidden_act="quick_gelu", layer_norm_eps=1e-5, projection_dim=64,
                              bos_token_id=clip_info["bos"], eos_token_id=clip_info["eos"],
                              pad_token_id=clip_info["pad"], attention_dropout=0.0)
    t5_cfg = T5Config(vocab_size=t5_info["size"], d_model=128, d_kv=32, d_ff=384, num_layers=2,
                      num_decoder_layers=0, num_heads=4, relative_attention_num_buckets=32,
                      relative_attention_max_distance=128, dropout_rate=0.0, layer_norm_epsilon=1e-6,
                      feed_forward_proj="gated-gelu", is_encoder_decoder=False, use_cache=False,
                      pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)
    flux_params = FluxParams(in_channels=64, out_channels=64, vec_in_dim=64, context_in_dim=128,
                             hidden_size=192, mlp_ratio=4.0, num_heads=3, depth=2, depth_single_blocks=4,
                             axes_dim=[16, 24, 24], theta=10000, qkv_bias=True, guidance_embed=False)
    ae = AutoEncoder(ae_params)
    clip = CLIPTextModel(clip_cfg)
    t5 = T5EncoderModel(t5_cfg)
    dit = Flux(flux_params)
    return ae, ae_params, clip, t5, dit, flux_params


def pack(z):
    b, c, h, w = z.shape
    return z.reshape(b, c, h // 2, 2, w // 2, 2).permute(0, 2, 4, 1, 3, 5).reshape(b, (h // 2) * (w // 2), c * 4)


def unpack(x, h, w):
    b = x.shape[0]
    return x.reshape(b, h // 2, w // 2, -1, 2, 2).permute(0, 3, 1, 4, 2, 5).reshape(b, -1, h, w)


def image_ids(b, h, w, device):
    ids = torch.zeros(h // 2, w // 2, 3, device=device)
    ids[..., 1] = torch.arange(h // 2, device=device)[:, None]
    ids[..., 2] = torch.arange(w // 2, device=device)[None, :]
    return ids.reshape(1, -1, 3).expand(b, -1, -1)


def condition(clip, t5, clip_ids, t5_ids):
    y = clip(input_ids=clip_ids).pooler_output
    txt = t5(input_ids=t5_ids).last_hidden_state
    return y, txt


def scenes_batch(rng, n):
    sc = [shapes.Scene.sample(rng) for _ in range(n)]
    return sc, [shapes.caption(s) for s in sc]


# ---------------------------------------------------------------- the scene pool
POOL_CHUNK = 8192
_TOK = None  # the tokenizers, set before the process pool forks


def _pool_chunk(job):
    """One chunk of the pool, from its own seed: scene tables and token ids as numpy arrays."""
    import numpy as np
    seed, chunk, n, zh_share = job
    rng = random.Random(seed * 1_000_003 + chunk)
    (clip_tok, clip_info), (t5_tok, t5_info) = _TOK
    bgs, items, clip_ids, t5_ids, zh = [], [], [], [], []
    for _ in range(n):
        scene = shapes.Scene.sample(rng)
        chinese = rng.random() < zh_share
        cap = shapes.caption_zh(scene) if chinese else shapes.caption(scene)
        bg, rows = shapes.scene_row(scene)
        bgs.append(bg)
        items.append(rows)
        clip_ids.append(encode(cap, clip_tok, clip_info, True))
        t5_ids.append(encode(cap, t5_tok, t5_info, False))
        zh.append(chinese)
    return (np.array(bgs, np.int64), np.array(items, np.float32), np.array(clip_ids, np.int32),
            np.array(t5_ids, np.int32), np.array(zh, np.bool_))


def make_pool(seed, size, zh_share, tok, dev, log):
    """`size` scenes drawn on the host's cores (deterministic from the seed whatever the core count),
    as tensors on `dev`: backgrounds, item tables, CLIP ids, T5 ids, and which are in Chinese."""
    import multiprocessing as mp
    import numpy as np
    global _TOK
    _TOK = tok
    start = time.time()
    jobs = [(seed, c, min(POOL_CHUNK, size - c * POOL_CHUNK), zh_share)
            for c in range((size + POOL_CHUNK - 1) // POOL_CHUNK)]
    with mp.get_context("fork").Pool(max(1, min(16, (os.cpu_count() or 2) - 1))) as workers:
        parts = workers.map(_pool_chunk, jobs)
    pool = [torch.from_numpy(np.concatenate([p[i] for p in parts])).to(dev) for i in range(5)]
    log(f"scene pool: {size} scenes ({pool[4].float().mean().item():.0%} Chinese) in {time.time() - start:.1f}s")
    return pool


def pool_batch(pool, n, gen):
    """A random batch of the pool: (backgrounds, items, clip ids, t5 ids)."""
    idx = torch.randint(pool[0].shape[0], (n,), device=pool[0].device, generator=gen)
    return pool[0][idx], pool[1][idx], pool[2][idx].long(), pool[3][idx].long()


def lr_at(frac, peak, warm=0.03):
    if frac < warm:
        return peak * frac / warm
    return peak * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, (frac - warm) / (1 - warm)))))


# ---------------------------------------------------------------- training
def train_autoencoder(ae, pool, gen, rng, dev, seconds, log, batch=64, peak=4e-4):
    opt = torch.optim.AdamW(ae.parameters(), lr=peak, weight_decay=0.0, betas=(0.9, 0.99))
    start, step = time.time(), 0
    while time.time() - start < seconds:
        w, h = rng.choice(SIZES)
        bg, items, _, _ = pool_batch(pool, batch, gen)
        x = shapes.render_table(bg, items, w, h)
        for g in opt.param_groups:
            g["lr"] = lr_at((time.time() - start) / seconds, peak)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            moments = ae.encoder(x)
        mean, logvar = moments.float().chunk(2, dim=1)
        logvar = logvar.clamp(-30, 20)
        z = mean + torch.exp(0.5 * logvar) * torch.randn_like(mean)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            rec = ae.decoder(z)
        rec = rec.float()
        kl = 0.5 * (mean.pow(2) + logvar.exp() - 1 - logvar).mean()
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x) + 1e-4 * kl
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 500 == 0:
            log(f"ae step {step} loss {loss.item():.5f} kl {kl.item():.3f} {time.time() - start:.0f}s")
    return step, loss.item()


def train_decoder(ae, pool, gen, rng, seconds, log, batch=64, peak=2e-4):
    """Sharpens the decoder of a trained autoencoder with its encoder frozen, so that the latent
    space a resumed DiT was trained on stays the same: decode(encoder mean) against the image."""
    ae.encoder.requires_grad_(False)
    ae.decoder.train().requires_grad_(True)
    opt = torch.optim.AdamW(ae.decoder.parameters(), lr=peak, weight_decay=0.0, betas=(0.9, 0.99))
    start, step = time.time(), 0
    while time.time() - start < seconds:
        w, h = rng.choice(SIZES)
        bg, items, _, _ = pool_batch(pool, batch, gen)
        x = shapes.render_table(bg, items, w, h)
        for g in opt.param_groups:
            g["lr"] = lr_at((time.time() - start) / seconds, peak)
        with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
            mean, _ = ae.encoder(x).float().chunk(2, dim=1)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            rec = ae.decoder(mean)
        rec = rec.float()
        loss = F.l1_loss(rec, x) + F.mse_loss(rec, x)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(ae.decoder.parameters(), 1.0)
        opt.step()
        step += 1
        if step % 500 == 0:
            log(f"decoder step {step} loss {loss.item():.5f} {time.time() - start:.0f}s")
    ae.eval().requires_grad_(False)
    return step, loss.item()


@torch.no_grad()
def latent_statistics(ae, pool, gen):
    zs = []
    for _ in range(8):
        bg, items, _, _ = pool_batch(pool, 64, gen)
        mean, _ = ae.encoder(shapes.render_table(bg, items, 128, 128)).chunk(2, dim=1)
        zs.append(mean.float())
    z = torch.cat(zs)
    return z.mean().item(), z.std().item()


def resume(model_dir, ae, clip, t5, dit, dev, log):
    """Loads a model directory this script exported; returns the autoencoder's latent shift and
    standard deviation (1 / scale)."""
    from safetensors.torch import load_file
    ae.load_state_dict(load_file(os.path.join(model_dir, "vae", "ae.safetensors")))
    ae.eval().requires_grad_(False)
    cfg = json.load(open(os.path.join(model_dir, "vae", "config.json")))
    sd = {k: v.float() for k, v in load_file(os.path.join(model_dir, "transformer", "flux-shapes-bf16.safetensors")).items()}
    dit.load_state_dict(sd)
    for name, m in (("text_encoder", clip), ("text_encoder_2", t5)):
        m.load_state_dict(load_file(os.path.join(model_dir, name, "model.safetensors")), strict=False)
    log(f"resumed from {model_dir}")
    return cfg["shift_factor"], 1.0 / cfg["scale_factor"], 0, float("nan")


def train_dit(dit, clip, t5, ae, pool, gen, rng, dev, seconds, log, batch=128, peak=3e-4):
    params = list(dit.parameters()) + list(clip.parameters()) + list(t5.parameters())
    opt = torch.optim.AdamW(params, lr=peak, weight_decay=0.01, betas=(0.9, 0.99))
    ema = [p.detach().clone() for p in params]
    start, step, losses = time.time(), 0, []
    while time.time() - start < seconds:
        frac = (time.time() - start) / seconds
        for g in opt.param_groups:
            g["lr"] = lr_at(frac, peak)
        w, h = rng.choice(SIZES)
        bg, items, clip_ids, t5_ids = pool_batch(pool, batch, gen)
        with torch.no_grad():
            x = shapes.render_table(bg, items, w, h)
            with torch.autocast("cuda", dtype=torch.bfloat16):
                mean, _ = ae.encoder(x).chunk(2, dim=1)
            x0 = ae.scale_factor * (mean.float() - ae.shift_factor)
        b, _, lh, lw = x0.shape
        t = torch.sigmoid(torch.randn(b, device=dev, generator=gen))
        noise = torch.randn(x0.shape, device=dev, generator=gen)
        xt = (1 - t[:, None, None, None]) * x0 + t[:, None, None, None] * noise
        target = pack(noise - x0)
        with torch.autocast("cuda", dtype=torch.bfloat16):
            y, txt = condition(clip, t5, clip_ids, t5_ids)
            pred = dit(img=pack(xt), img_ids=image_ids(b, lh, lw, dev), txt=txt,
                       txt_ids=torch.zeros(b, txt.shape[1], 3, device=dev), timesteps=t, y=y)
        loss = F.mse_loss(pred.float(), target)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        d = min(0.9995, (1 + step) / (10 + step))
        with torch.no_grad():
            torch._foreach_lerp_(ema, [p.detach() for p in params], 1 - d)
        losses.append(loss.detach())
        step += 1
        if step % 1000 == 0:
            recent = torch.stack(losses[-1000:]).mean().item()
            losses = losses[-1000:]
            log(f"dit step {step} loss(avg 1000) {recent:.4f} lr {opt.param_groups[0]['lr']:.2e} "
                f"{time.time() - start:.0f}s")
    with torch.no_grad():
        for p, e in zip(params, ema):
            p.copy_(e)
    return step, torch.stack(losses[-1000:]).mean().item()


# ---------------------------------------------------------------- sampling and evaluation
@torch.no_grad()
def sample(dit, clip, t5, ae, tok, captions, w, h, steps, seed, dev):
    """As the engine samples a schnell-style model: unshifted linspace(1, 0) schedule, Euler."""
    (clip_tok, clip_info), (t5_tok, t5_info) = tok
    b = len(captions)
    lh, lw = 2 * math.ceil(h / 16), 2 * math.ceil(w / 16)
    g = torch.Generator("cpu").manual_seed(seed)
    z = torch.randn(b, 16, lh, lw, generator=g).to(dev)
    clip_ids = torch.tensor([encode(c, clip_tok, clip_info, True) for c in captions], device=dev)
    t5_ids = torch.tensor([encode(c, t5_tok, t5_info, False) for c in captions], device=dev)
    y, txt = condition(clip, t5, clip_ids, t5_ids)
    img = pack(z)
    ts = torch.linspace(1, 0, steps + 1).tolist()
    ids = image_ids(b, lh, lw, dev)
    txt_ids = torch.zeros(b, txt.shape[1], 3, device=dev)
    for t_curr, t_prev in zip(ts[:-1], ts[1:]):
        tv = torch.full((b,), t_curr, device=dev)
        pred = dit(img=img, img_ids=ids, txt=txt, txt_ids=txt_ids, timesteps=tv, y=y)
        img = img + (t_prev - t_curr) * pred
    return ae.decode(unpack(img, lh, lw)).clamp(-1, 1)[:, :, :h, :w]


def summarize(results):
    """Shares of checks passed over a list of `shapes.score` results."""
    bg = [r["background"] for r in results if r["background"] is not None]
    col = [c for r in results for c in r["colour"]]
    shp = [c for r in results for c in r["shape"]]
    allok = [r["background"] is not False and all(r["colour"]) and all(r["shape"]) for r in results]
    return {"background": sum(bg) / len(bg), "object_colour_at_place": sum(col) / len(col),
            "shape": sum(shp) / len(shp), "whole_scene": sum(allok) / len(results), "images": len(results)}


def evaluate(dit, clip, t5, ae, tok, dev, steps_list, n=96, seed=20261205, chinese=False):
    """Held-out captions (a seed the training never draws from), sampled at each step count and
    scored; in English, or in Chinese for the same scenes."""
    rng = random.Random(seed)
    scenes = [shapes.Scene.sample(rng) for _ in range(n)]
    caps = [(shapes.caption_zh if chinese else shapes.caption)(s) for s in scenes]
    out = {}
    for steps in steps_list:
        imgs = sample(dit, clip, t5, ae, tok, caps, 128, 128, steps, seed, dev).float().cpu()
        out[steps] = summarize([shapes.score(imgs[i], scenes[i]) for i in range(n)])
    return out, scenes, caps


@torch.no_grad()
def autoencoder_ceiling(ae, dev, n=96, seed=20261205):
    """The score of the held-out scenes drawn exactly and passed through the autoencoder: what the
    DiT could reach at best."""
    rng = random.Random(seed)
    scenes = [shapes.Scene.sample(rng) for _ in range(n)]
    x = shapes.render(scenes, 128, 128, dev)
    mean, _ = ae.encoder(x).chunk(2, dim=1)
    rec = ae.decoder(mean).clamp(-1, 1).float().cpu()
    return summarize([shapes.score(rec[i], scenes[i]) for i in range(n)])


def grid_png(images, captions, path, cols=4):
    from PIL import Image, ImageDraw
    n = len(images)
    h, w = images.shape[2], images.shape[3]
    cell_h = h + 44
    rows = (n + cols - 1) // cols
    sheet = Image.new("RGB", (cols * (w + 8) + 8, rows * (cell_h + 8) + 8), (255, 255, 255))
    draw = ImageDraw.Draw(sheet)
    arr = ((images + 1) * 127.5).round().clamp(0, 255).byte().permute(0, 2, 3, 1).cpu().numpy()
    for i in range(n):
        x, y = 8 + (i % cols) * (w + 8), 8 + (i // cols) * (cell_h + 8)
        sheet.paste(Image.fromarray(arr[i]), (x, y))
        line, lines = "", []
        for word in captions[i].split():
            if len(line) + len(word) + 1 > 22:
                lines.append(line)
                line = word
            else:
                line = (line + " " + word).strip()
        lines.append(line)
        draw.multiline_text((x, y + h + 2), "\n".join(lines[:4]), fill=(0, 0, 0), spacing=1)
    sheet.save(path)


# ---------------------------------------------------------------- export
def export(out, ae, ae_params, clip, t5, dit, flux_params, tok):
    from safetensors.torch import save_file
    (clip_tok, _), (t5_tok, _) = tok
    for sub in ["transformer", "vae", "text_encoder", "text_encoder_2", "tokenizer", "tokenizer_2"]:
        os.makedirs(os.path.join(out, sub), exist_ok=True)
    sd = {k: v.detach().to(torch.bfloat16).contiguous().cpu() for k, v in dit.state_dict().items()}
    save_file(sd, os.path.join(out, "transformer", "flux-shapes-bf16.safetensors"))
    json.dump(vars(flux_params), open(os.path.join(out, "transformer", "config.json"), "w"), indent=1)
    sd = {k: v.detach().float().contiguous().cpu() for k, v in ae.state_dict().items()}
    save_file(sd, os.path.join(out, "vae", "ae.safetensors"))
    cfg = dict(vars(ae_params), scale_factor=float(ae.scale_factor), shift_factor=float(ae.shift_factor))
    json.dump(cfg, open(os.path.join(out, "vae", "config.json"), "w"), indent=1)
    clip.float().save_pretrained(os.path.join(out, "text_encoder"))
    t5.float().save_pretrained(os.path.join(out, "text_encoder_2"))
    json.dump(clip_tok, open(os.path.join(out, "tokenizer", "tokenizer.json"), "w"), indent=1)
    json.dump(t5_tok, open(os.path.join(out, "tokenizer_2", "tokenizer.json"), "w"), indent=1)


def check_tokenizers(tok, rng):
    """The ids this script trains with are the ids Hugging Face tokenizers (and so the engine) give."""
    from tokenizers import Tokenizer
    for (tj, info), clip in zip(tok, [True, False]):
        t = Tokenizer.from_str(json.dumps(tj))
        for i in range(400):
            scene = shapes.Scene.sample(rng)
            cap = shapes.caption_zh(scene) if i % 2 else shapes.caption(scene)
            got = t.encode(cap).ids
            want = encode(cap, tj, info, clip)
            if got != want:
                raise SystemExit(f"tokenizer mismatch for {cap!r}:\n{got}\n{want}")


def write_token_cases(path, n=60, seed=31):
    """Captions (half in Chinese) with the ids this script trains with, for the engine's tokenizer
    test (gpu-worker/src/test/resources/shapes-token-cases.json)."""
    tok = (clip_tokenizer_json(shapes.VOCABULARY), t5_tokenizer_json(shapes.VOCABULARY))
    rng = random.Random(seed)
    cases = []
    for i in range(n):
        scene = shapes.Scene.sample(rng)
        cap = shapes.caption_zh(scene) if i % 2 else shapes.caption(scene)
        cases.append({"caption": cap, "clip_ids": encode(cap, *tok[0], True),
                      "t5_ids": encode(cap, *tok[1], False)})
    cases.append({"caption": "A Red Fox, in the SNOW", "clip_ids": encode("A Red Fox, in the SNOW", *tok[0], True),
                  "t5_ids": encode("A Red Fox, in the SNOW", *tok[1], False)})
    with open(path, "w", encoding="utf-8") as f:
        json.dump(cases, f, ensure_ascii=False, indent=0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--ae-seconds", type=float, default=90)
    ap.add_argument("--dit-seconds", type=float, default=330)
    ap.add_argument("--resume", help="a model directory this script wrote: keep its autoencoder and "
                    "tokenizers, continue training the DiT and the text encoders from its weights")
    ap.add_argument("--decoder-seconds", type=float, default=0,
                    help="with --resume: first sharpen the autoencoder's decoder (encoder frozen) this long")
    ap.add_argument("--batch", type=int, default=384)
    ap.add_argument("--ae-batch", type=int, default=64)
    ap.add_argument("--peak-lr", type=float, default=4e-4)
    ap.add_argument("--pool", type=int, default=1_500_000, help="scenes in the training pool")
    ap.add_argument("--zh-share", type=float, default=0.3, help="share of the pool captioned in Chinese")
    ap.add_argument("--write-token-cases", metavar="FILE",
                    help="only write captions and their token ids to FILE (no GPU needed) and stop")
    args = ap.parse_args()
    if args.write_token_cases:
        write_token_cases(args.write_token_cases)
        return
    t_all = time.time()
    lines = []

    def log(msg):
        print(msg, flush=True)
        lines.append(msg)

    torch.manual_seed(args.seed)
    rng = random.Random(args.seed)
    dev = "cuda"
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.backends.cudnn.benchmark = True
    tok = (clip_tokenizer_json(shapes.VOCABULARY), t5_tokenizer_json(shapes.VOCABULARY))
    check_tokenizers(tok, random.Random(1))
    pool = make_pool(args.seed, args.pool, args.zh_share, tok, dev, log)  # forks: before CUDA work
    gen = torch.Generator(dev).manual_seed(args.seed)
    ae, ae_params, clip, t5, dit, flux_params = build(args, tok[0][1], tok[1][1])
    for m in (ae, clip, t5, dit):
        m.to(dev)
    counts = {n: sum(p.numel() for p in m.parameters()) for n, m in
              [("dit", dit), ("ae", ae), ("clip", clip), ("t5", t5)]}
    log(f"parameters {counts} on {torch.cuda.get_device_name()} torch {torch.__version__}")
    model_dir = os.path.join(args.out, "model")
    export(model_dir, ae, ae_params, clip, t5, dit, flux_params, tok)  # fails now rather than at the end
    evaluate(dit, clip, t5, ae, tok, dev, [2], n=4)

    if args.resume:
        mu, sd, ae_steps, ae_loss = resume(args.resume, ae, clip, t5, dit, dev, log)
        if args.decoder_seconds > 0:
            ae_steps, ae_loss = train_decoder(ae, pool, gen, rng, args.decoder_seconds, log, args.ae_batch)
    else:
        ae.train()
        ae_steps, ae_loss = train_autoencoder(ae, pool, gen, rng, dev, args.ae_seconds, log, args.ae_batch)
        ae.eval().requires_grad_(False)
        mu, sd = latent_statistics(ae, pool, gen)
    ae.shift_factor, ae.scale_factor = mu, 1.0 / sd
    log(f"latents mean {mu:.4f} std {sd:.4f}")
    with torch.no_grad():
        sc, _ = scenes_batch(random.Random(99), 64)
        x = shapes.render(sc, 128, 128, dev)
        rec = ae.decode(ae.encode(x)).clamp(-1, 1)
        ae_psnr = (10 * torch.log10(4 / F.mse_loss(rec, x))).item()
    ceiling = autoencoder_ceiling(ae, dev)
    log(f"autoencoder: {ae_steps} steps, loss {ae_loss:.5f}, held-out PSNR {ae_psnr:.2f} dB, "
        f"held-out score of its reconstructions {ceiling}")

    dit_steps, dit_loss = train_dit(dit, clip, t5, ae, pool, gen, rng, dev, args.dit_seconds, log,
                                    args.batch, args.peak_lr)
    for m in (dit, clip, t5):
        m.eval()
    # Evaluate what the engine will load: the DiT in bf16 storage.
    with torch.no_grad():
        for p in dit.parameters():
            p.copy_(p.to(torch.bfloat16).float())
    scores, scenes, caps = evaluate(dit, clip, t5, ae, tok, dev, [8, 16, 28])
    for k, v in scores.items():
        log(f"held-out, {k} steps: {v}")
    scores_zh, _, caps_zh = evaluate(dit, clip, t5, ae, tok, dev, [16], chinese=True)
    log(f"held-out in Chinese, 16 steps: {scores_zh[16]}")
    best = max(scores, key=lambda k: (scores[k]["whole_scene"], -k))
    demo = ["a red circle on a blue background", "a large yellow star, on a black background",
            "a green triangle on the left and a purple square on the right, on a white background",
            "一个红色圆形，蓝色背景"]
    imgs = sample(dit, clip, t5, ae, tok, demo + caps[:12], 128, 128, 16, 1234, dev).float().cpu()
    # PIL's built-in font has no Chinese: the grid names a Chinese caption by its English one
    labels = demo[:3] + ["(in Chinese) " + demo[0]] + caps[:12]
    grid_png(imgs, labels, os.path.join(args.out, "samples.png"))
    export(model_dir, ae, ae_params, clip, t5, dit, flux_params, tok)
    report = {
        "seed": args.seed, "device": torch.cuda.get_device_name(), "torch": torch.__version__,
        "parameters": counts, "pool": {"scenes": args.pool, "zh_share": args.zh_share},
        "autoencoder": {"steps": ae_steps, "seconds": args.decoder_seconds if args.resume else args.ae_seconds,
                        "decoder_only": bool(args.resume), "batch": args.ae_batch,
                        "final_loss": ae_loss, "heldout_psnr_db": ae_psnr, "latent_shift": mu,
                        "latent_scale": 1 / sd, "heldout_score_of_reconstructions": ceiling},
        "dit": {"steps": dit_steps, "seconds": args.dit_seconds, "batch": args.batch, "peak_lr": args.peak_lr,
                "resumed_from": args.resume, "final_loss_avg1000": dit_loss},
        "heldout": scores, "heldout_chinese": scores_zh, "best_steps": best,
        "total_seconds": time.time() - t_all, "log": lines,
    }
    json.dump(report, open(os.path.join(args.out, "report.json"), "w"), indent=1)
    log(f"done in {time.time() - t_all:.0f}s")


if __name__ == "__main__":
    main()
