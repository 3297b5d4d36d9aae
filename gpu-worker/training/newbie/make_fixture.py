#!/usr/bin/env python3
"""Makes `newbie-tiny`: a tiny random-weight NewBie-image-Exp0.1 model and the outputs that the
reference implementations compute from it (float32, on CPU), for the engine's parity tests.

Reference code (imported, never copied here; see README.md next to this file for the folder that
carries it): NewBie's `models/model.py` (NextDiT_CLIP) and `transport/` (the ODE sampler),
transformers' Gemma 3 text model, ComfyUI's `comfy/text_encoders/jina_clip_2.py` (the Jina CLIP v2
text tower), BFL flux's `AutoEncoder`. Tokenizers are built here with Hugging Face `tokenizers`.

    PYTHONPATH=.devcarry/newbie:.devcarry:.devcarry/shim \\
        python3 gpu-worker/training/newbie/make_fixture.py --out OUT/newbie-tiny

At the end it runs check_fixture.py (an independent recomputation from the files and the README)
and records the worst relative error in case.json.

`--smoke` lets missing packages pass (e.g. on a torch 1.x CPU python): without tokenizers fake
token ids, without transformers random caption features instead of Gemma, without safetensors a
minimal writer. A smoke fixture is for checking this script only; it says so in its case.json.
"""

import argparse
import hashlib
import inspect
import json
import math
import os
import shutil
import struct
import sys
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

SYSTEM_PROMPT = (
    "You are an assistant designed to generate high-quality anime images based on xml format "
    "prompts. <Prompt Start> "
)
PROMPT = (
    "<character_1><n>hatsune miku</n><gender>1girl</gender>"
    "<appearance>long hair, twintails, aqua eyes</appearance></character_1>"
    "<general_tags><style>anime, cel shading</style><background>night sky, stars</background>"
    "</general_tags>"
)
NEGATIVE = "low quality, worst quality, blurry, jpeg artifacts"
EXTRA_CORPUS = [
    "<character_1><n>kagamine rin</n><gender>1girl</gender><appearance>short blonde hair, "
    "white bow</appearance><clothing>sailor collar</clothing></character_1>",
    "<general_tags><count>1girl, solo</count><style>watercolor</style><background>cherry "
    "blossoms, day</background><atmosphere>calm</atmosphere></general_tags>",
    "<character_2><n>original</n><gender>1boy</gender><expression>smile</expression>"
    "<action>waving</action></character_2>",
    "masterpiece, best quality, highly detailed, illustration, looking at viewer",
    "a girl with red eyes standing in the rain under a street lamp",
]

# ----------------------------------------------------------------------------------------------
# tiny configurations (the real values are in the comments)
# ----------------------------------------------------------------------------------------------
DIT = dict(  # NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP: dim 2304, 36 layers, 24/8 heads
    patch_size=2,
    in_channels=16,
    dim=32,
    n_layers=2,
    n_refiner_layers=2,
    n_heads=4,
    n_kv_heads=2,
    multiple_of=32,  # real: 256 (FFN 4*2304 = 9216)
    ffn_dim_multiplier=None,
    norm_eps=1e-5,
    qk_norm=True,
    cap_feat_dim=48,  # = Gemma hidden size (real 2560)
    axes_dims=[2, 2, 4],  # real [32, 32, 32]; unequal here so that axis order matters
    axes_lens=[1024, 512, 512],
    clip_text_dim=32,  # = Jina hidden size (real 1024)
)
GEMMA = dict(  # gemma-3-4b-it text: 2560 wide, 34 layers, 8 heads / 4 KV, head_dim 256
    hidden_size=48,
    intermediate_size=96,
    num_hidden_layers=5,
    num_attention_heads=4,
    num_key_value_heads=2,
    head_dim=16,  # heads * head_dim = 64 != hidden 48, as in the real model (2048 != 2560)
    query_pre_attn_scalar=16,  # real: 256 = head_dim
    hidden_activation="gelu_pytorch_tanh",
    rms_norm_eps=1e-6,
    max_position_embeddings=1024,
    sliding_window=4,  # real 1024
    layer_types=[
        "sliding_attention",
        "full_attention",
        "sliding_attention",
        "sliding_attention",
        "full_attention",
    ],  # real: full at 5, 11, 17, 23, 29; hidden_states[-2] = output of layer 3 here (32 there)
    rope_full=dict(rope_type="linear", factor=8.0, rope_theta=1_000_000.0),
    rope_sliding=dict(rope_type="default", rope_theta=10_000.0),
    pad_token_id=0,
    eos_token_id=1,
    bos_token_id=2,
    attn_logit_softcapping=None,
    final_logit_softcapping=None,
)
JINA = dict(  # jina-clip-v2 text tower (jina-embeddings-v3 XLM-R): 1024 wide, 24 layers, 16 heads
    hidden_size=32,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=64,
    rotary_emb_base=20000.0,
    layer_norm_eps=1e-5,
    type_vocab_size=1,
    pad_token_id=1,
    bos_token_id=0,
    eos_token_id=2,
)
CASE = dict(
    seed=1234,
    width=80,
    height=48,
    steps=5,
    cfg_scale=5.0,
    cfg_trunc=0.25,
    renorm_cfg=1.0,
    time_shift=6.0,
    gemma_max_length=512,
    gemma_pad_to_multiple_of=8,
    jina_max_length=2048,
)
VAE_SCALE, VAE_SHIFT = 0.3611, 0.1159
JINA_PREFIX = "text_model.transformer.roberta."


# ----------------------------------------------------------------------------------------------
# safetensors I/O: the library when present, else a minimal writer/reader (smoke runs only)
# ----------------------------------------------------------------------------------------------
try:
    import safetensors.torch as st
except ImportError:  # pragma: no cover - smoke machines
    st = None

_ST_DTYPES = {
    torch.float32: "F32",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.uint8: "U8",
}


def save_st(tensors, path):
    tensors = {k: v.detach().cpu().contiguous().clone() for k, v in tensors.items()}  # no shared storage
    for k, v in tensors.items():
        if v.dtype not in _ST_DTYPES:
            raise ValueError(f"{k}: dtype {v.dtype} not expected in the fixture")
    if st is not None:
        st.save_file(tensors, str(path), metadata={"format": "pt"})
        return
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for k in sorted(tensors):
        v = tensors[k]
        raw = (v.view(torch.int16) if v.dtype == torch.bfloat16 else v).numpy().tobytes()
        header[k] = {"dtype": _ST_DTYPES[v.dtype], "shape": list(v.shape),
                     "data_offsets": [offset, offset + len(raw)]}
        blobs.append(raw)
        offset += len(raw)
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(hb)))
        f.write(hb)
        for b in blobs:
            f.write(b)


def load_st(path):
    if st is not None:
        return st.load_file(str(path))
    data = Path(path).read_bytes()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    out = {}
    for k, h in header.items():
        if k == "__metadata__":
            continue
        a, b = h["data_offsets"]
        buf = data[8 + n + a:8 + n + b]
        if h["dtype"] == "F32":
            t = torch.from_numpy(np.frombuffer(buf, dtype=np.float32).copy())
        elif h["dtype"] == "BF16":
            t = torch.from_numpy(np.frombuffer(buf, dtype=np.int16).copy()).view(torch.bfloat16)
        else:
            raise ValueError(h["dtype"])
        out[k] = t.reshape(h["shape"])
    return out


def bf16_copy(sd):
    return {k: v.to(torch.bfloat16) for k, v in sd.items()}


def widened(sd):
    return {k: v.to(torch.bfloat16).float() for k, v in sd.items()}


# ----------------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------------
def randomize(module, gen, zero_centered_norms=False):
    """Random weights with healthy activations: matrices N(0, 1/fan_in), embedding tables
    N(0, 1/width), norm weights around 1 (around 0 for Gemma's (1 + w) norms), biases small. Every
    parameter is drawn, including the ones NewBie initialises to zero (adaLN, final layer,
    time_text_embed), so that every path carries signal."""
    with torch.no_grad():
        for mod in module.modules():
            kind = type(mod).__name__
            for name, p in mod.named_parameters(recurse=False):
                if "Norm" in kind:
                    if name == "bias":
                        p.copy_(torch.randn(p.shape, generator=gen) * 0.05)
                    elif zero_centered_norms:
                        p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
                    else:
                        p.copy_(1.0 + torch.randn(p.shape, generator=gen) * 0.2)
                elif "Embedding" in kind:
                    p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
                elif p.dim() >= 2:
                    p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
                else:
                    p.copy_(torch.randn(p.shape, generator=gen) * 0.05)


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def first_tensor(out):
    return out[0] if isinstance(out, (tuple, list)) else out


def have(module):
    try:
        __import__(module)
        return True
    except Exception:  # noqa: BLE001
        return False


def stub_tqdm():
    """NewBie's transport/dpm_solver.py imports tqdm (unused here). transformers needs the real
    one, so a stub is installed only where tqdm is missing (smoke machines)."""
    if not have("tqdm"):
        import types

        mod = types.ModuleType("tqdm")
        mod.tqdm = lambda iterable=None, *a, **k: iterable
        sys.modules["tqdm"] = mod


def polyfill_sdpa():
    """torch < 2.0 (smoke machines) lacks F.scaled_dot_product_attention, which model.py calls
    in fp32. Same contract: boolean mask True = attend, float mask added; scale kwarg."""
    if hasattr(F, "scaled_dot_product_attention"):
        return False

    def sdpa(q, k, v, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None):
        s = (1.0 / math.sqrt(q.shape[-1])) if scale is None else scale
        w = torch.matmul(q, k.transpose(-1, -2)) * s
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                w = w.masked_fill(~attn_mask, float("-inf"))
            else:
                w = w + attn_mask
        return torch.matmul(w.softmax(-1), v)

    F.scaled_dot_product_attention = sdpa
    return True


# ----------------------------------------------------------------------------------------------
# tokenizers
# ----------------------------------------------------------------------------------------------
def corpus():
    return [SYSTEM_PROMPT + PROMPT, SYSTEM_PROMPT + NEGATIVE, PROMPT, NEGATIVE] + EXTRA_CORPUS


def build_gemma_tokenizer():
    """Gemma-style: BPE over '▁'-prefixed words (no prefix space at the start), <pad>=0 <eos>=1
    <bos>=2 <unk>=3, post-processor '<bos> $A'. Real Gemma 3 also has byte fallback; this one
    maps unknown characters to <unk>."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="never")
    trainer = trainers.BpeTrainer(
        vocab_size=240,
        special_tokens=["<pad>", "<eos>", "<bos>", "<unk>"],
        min_frequency=1,
        show_progress=False,
    )
    tok.train_from_iterator(corpus(), trainer=trainer)
    bos = tok.token_to_id("<bos>")
    assert [tok.token_to_id(t) for t in ("<pad>", "<eos>", "<bos>", "<unk>")] == [0, 1, 2, 3]
    tok.post_processor = processors.TemplateProcessing(
        single="<bos> $A", pair="<bos> $A $B", special_tokens=[("<bos>", bos)]
    )
    return tok


def build_jina_tokenizer():
    """XLM-R style: Unigram over Metaspace words (prefix space always), <s>=0 <pad>=1 </s>=2
    <unk>=3, post-processor '<s> $A </s>', <mask> last. The pieces and scores are counted here
    (tokenizers' UnigramTrainer is not deterministic) over the distinct texts: every character
    seen and '▁' (score log frequency − 6), character 2- and 3-grams seen at least 3 times (− 2),
    words seen at least twice (log frequency)."""
    from collections import Counter

    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors

    pre = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    texts = [SYSTEM_PROMPT, PROMPT, NEGATIVE] + EXTRA_CORPUS
    words = Counter(w for text in texts for w, _ in pre.pre_tokenize_str(text))
    grams = {1: Counter(), 2: Counter(), 3: Counter()}
    for w, n in words.items():
        for k in grams:
            for i in range(len(w) - k + 1):
                grams[k][w[i:i + k]] += n
    total = sum(words.values()) + sum(sum(c.values()) for c in grams.values())
    pieces = {ch: math.log(n / total) - 6.0 for ch, n in grams[1].items()}
    pieces.setdefault("▁", math.log(1 / total) - 6.0)
    for k in (2, 3):
        pieces.update({g: math.log(n / total) - 2.0 for g, n in grams[k].items() if n >= 3})
    pieces.update({w: math.log(n / total) for w, n in words.items() if n >= 2 and len(w) > 1})
    specials = [("<s>", 0.0), ("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    vocab = specials + sorted(pieces.items(), key=lambda kv: (-kv[1], kv[0])) + [("<mask>", 0.0)]
    tok = Tokenizer(models.Unigram(vocab, 3, False))
    tok.pre_tokenizer = pre
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.add_special_tokens(["<s>", "<pad>", "</s>", "<unk>", "<mask>"])
    assert [tok.token_to_id(t) for t in ("<s>", "<pad>", "</s>", "<unk>")] == [0, 1, 2, 3]
    tok.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
        special_tokens=[("<s>", 0), ("</s>", 2)],
    )
    return tok


def encode_batch(tok, texts, pad_id, max_length, pad_to_multiple_of=None):
    """As NewBie's encode_prompt calls the HF tokenizers: truncation=True, max_length, padding to
    the longest (rounded up to pad_to_multiple_of), right side."""
    import copy

    t = copy.deepcopy(tok)
    t.enable_truncation(max_length=max_length)
    t.enable_padding(direction="right", pad_id=pad_id, pad_token=t.id_to_token(pad_id),
                     pad_to_multiple_of=pad_to_multiple_of)
    enc = t.encode_batch(texts)
    ids = torch.tensor([e.ids for e in enc], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in enc], dtype=torch.int64)
    return ids, mask


def fake_encode(texts, vocab, bos, eos, pad, multiple=None):
    """Smoke stand-in for a tokenizer: word hashes, specials as the real scheme places them."""
    rows = []
    for s in texts:
        ids = [4 + int(hashlib.md5(w.encode()).hexdigest(), 16) % (vocab - 8) for w in s.split()]
        rows.append(([bos] if bos is not None else []) + ids + ([eos] if eos is not None else []))
    n = max(len(r) for r in rows)
    if multiple:
        n = (n + multiple - 1) // multiple * multiple
    ids = torch.full((len(rows), n), pad, dtype=torch.int64)
    mask = torch.zeros((len(rows), n), dtype=torch.int64)
    for i, r in enumerate(rows):
        ids[i, :len(r)] = torch.tensor(r)
        mask[i, :len(r)] = 1
    return ids, mask


# ----------------------------------------------------------------------------------------------
# Gemma 3 (transformers)
# ----------------------------------------------------------------------------------------------
def gemma_config(vocab_size):
    """transformers 5 takes RoPE per layer type as `rope_parameters`; 4.5x took rope_theta +
    rope_scaling (full attention) and rope_local_base_freq (sliding). Tries both; the effective
    inv_freq buffers are checked afterwards (gemma_rope_check) and stored in the fixture."""
    from transformers import Gemma3TextConfig

    common = {k: v for k, v in GEMMA.items() if k not in ("rope_full", "rope_sliding")}
    common.update(vocab_size=vocab_size, tie_word_embeddings=True)
    full, slide = dict(GEMMA["rope_full"]), dict(GEMMA["rope_sliding"])
    attempts = [
        ("rope_parameters", dict(rope_parameters={"full_attention": full, "sliding_attention": slide})),
        ("legacy", dict(rope_theta=full["rope_theta"],
                        rope_scaling={"rope_type": "linear", "factor": full["factor"]},
                        rope_local_base_freq=slide["rope_theta"])),
    ]
    if "rope_parameters" not in inspect.signature(Gemma3TextConfig.__init__).parameters:
        attempts.reverse()
    errors = []
    for name, extra in attempts:
        try:
            cfg = Gemma3TextConfig(**common, **extra)
            print(f"[gemma] config built with {name} RoPE arguments", flush=True)
            return cfg
        except Exception as e:  # noqa: BLE001
            errors.append(f"{name}: {e!r}")
    # last resort: defaults, then the per-layer-type parameters set afterwards (checked later)
    print(f"[gemma] WARNING: both RoPE styles rejected ({'; '.join(errors)}); setting attributes", flush=True)
    cfg = Gemma3TextConfig(**common)
    cfg.rope_parameters = {"full_attention": full, "sliding_attention": slide}
    return cfg


def build_gemma(vocab_size, gen):
    from transformers import Gemma3TextModel

    cfg = gemma_config(vocab_size)
    try:
        model = Gemma3TextModel._from_config(cfg, attn_implementation="eager")
    except Exception as e:  # noqa: BLE001
        print(f"[gemma] _from_config(eager) failed ({e}); plain constructor", flush=True)
        try:
            cfg._attn_implementation = "eager"
        except Exception:  # noqa: BLE001
            pass
        model = Gemma3TextModel(cfg)
    model = model.float().eval()
    randomize(model, gen, zero_centered_norms=True)
    return model, cfg


def gemma_rope_check(model):
    """The inv_freq buffers the model really uses, against the intended RoPE settings."""
    d = GEMMA["head_dim"]
    want_full = 1.0 / (GEMMA["rope_full"]["rope_theta"] ** (torch.arange(0, d, 2).float() / d))
    want_full = want_full / GEMMA["rope_full"]["factor"]
    want_slide = 1.0 / (GEMMA["rope_sliding"]["rope_theta"] ** (torch.arange(0, d, 2).float() / d))
    bufs = {n: b.float() for n, b in model.named_buffers() if "inv_freq" in n}
    found_full = any(b.shape == want_full.shape and torch.allclose(b, want_full, rtol=1e-5)
                     for b in bufs.values())
    found_slide = any(b.shape == want_slide.shape and torch.allclose(b, want_slide, rtol=1e-5)
                      for b in bufs.values())
    status = "ok" if found_full and found_slide else (
        f"MISMATCH full={found_full} sliding={found_slide} buffers={sorted(bufs)}")
    print(f"[gemma] rope check: {status}", flush=True)
    return status, bufs


def run_gemma(model, ids, mask, record_masks=False):
    """NewBie: text_encoder(input_ids, attention_mask, output_hidden_states=True).hidden_states[-2].
    Also checks that hidden_states[-2] is the output of decoder layer L-2 (no final norm)."""
    L = len(model.layers)
    layer_out, masks = {}, {}

    def out_hook(i):
        def h(mod, args, out):
            layer_out[i] = first_tensor(out).detach().clone()
        return h

    def pre_hook(i):
        def h(mod, args, kwargs):
            m = kwargs.get("attention_mask")
            if m is None and len(args) > 1 and torch.is_tensor(args[1]):
                m = args[1]
            if torch.is_tensor(m):
                masks[i] = m.detach().clone()
        return h

    handles = [model.layers[i].register_forward_hook(out_hook(i)) for i in range(L)]
    if record_masks:
        handles += [model.layers[i].register_forward_pre_hook(pre_hook(i), with_kwargs=True)
                    for i in range(L)]
    try:
        out = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False)
    finally:
        for h in handles:
            h.remove()
    hs = out.hidden_states
    assert len(hs) == L + 1, f"expected {L + 1} hidden states, got {len(hs)}"
    m2 = hs[-2]
    same = bool(L - 2 in layer_out and torch.equal(m2, layer_out[L - 2]))
    if not same:
        print("[gemma] WARNING: hidden_states[-2] differs from decoder layer L-2's output", flush=True)
    return m2, out.last_hidden_state, hs, masks, same


def visible(m):
    """An attention mask as HF built it -> 1 where the key is visible to the query, else 0."""
    if m.dtype == torch.bool:
        return m.to(torch.int64)
    return (m > torch.finfo(m.dtype).min / 2).to(torch.int64)


def zero_pad_rows(x, mask):
    return torch.where(mask.bool().unsqueeze(-1), x, torch.zeros_like(x))


# ----------------------------------------------------------------------------------------------
# Jina CLIP v2 text tower (ComfyUI's jina_clip_2.py)
# ----------------------------------------------------------------------------------------------
def build_jina(vocab_size, gen):
    from comfy.text_encoders.jina_clip_2 import XLMRobertaConfig, XLMRobertaModel_

    cfg = XLMRobertaConfig(vocab_size=vocab_size, **JINA)
    model = XLMRobertaModel_(cfg, ops=torch.nn).float().eval()
    randomize(model, gen)
    return model, cfg


def run_jina(model, ids, mask):
    seq, _, pooled = model(ids, attention_mask=mask)
    return seq, pooled


# ----------------------------------------------------------------------------------------------
# NewBie Next-DiT (models/model.py)
# ----------------------------------------------------------------------------------------------
def build_dit(gen):
    from models.model import NextDiT_CLIP

    kw = dict(DIT)
    model = NextDiT_CLIP(**kw).float().eval()
    randomize(model, gen)
    return model


class DitRecorder:
    """Forward hooks on the reference modules: intermediate values for debugging the engine."""

    def __init__(self, model):
        self.model, self.values, self.handles = model, {}, []
        named = {
            "t_emb": model.t_embedder,
            "clip_emb": model.clip_text_pooled_proj,
            "adaln_input": model.time_text_embed,
            "cap_emb": model.cap_embedder,
            "final_layer": model.final_layer,
        }
        for i, m in enumerate(model.context_refiner):
            named[f"context_refiner.{i}"] = m
        for i, m in enumerate(model.noise_refiner):
            named[f"noise_refiner.{i}"] = m
        for i, m in enumerate(model.layers):
            named[f"layers.{i}"] = m
        for name, mod in named.items():
            self.handles.append(mod.register_forward_hook(self._hook(name)))
        self._orig = model.patchify_and_embed

        def patched(*a, **k):
            res = self._orig(*a, **k)
            full, mask, _, _, freqs = res
            self.values["joint_in"] = full.detach().clone()
            self.values["joint_mask"] = mask.detach().to(torch.int64)
            self.values["freqs_cis"] = torch.view_as_real(freqs.detach()).clone()
            return res

        model.patchify_and_embed = patched

    def _hook(self, name):
        def h(mod, args, out):
            self.values[name] = out.detach().clone()
        return h

    def close(self):
        for h in self.handles:
            h.remove()
        self.model.patchify_and_embed = self._orig


# ----------------------------------------------------------------------------------------------
# the whole generation
# ----------------------------------------------------------------------------------------------
def sample(model, z, model_kwargs, steps, time_shift):
    """NewBie's own sampler (demo.py): transport.Sampler(...).sample_ode(sampling_method='euler',
    num_steps=steps + 1, time_shifting_factor=shift) with model.forward_with_cfg: a grid of
    steps + 1 time points, i.e. `steps` Euler steps. Records each call's inputs and outputs."""
    from transport import Sampler, create_transport

    transport = create_transport("Linear", "velocity", None, None, None)
    sampler = Sampler(transport)
    sample_fn = sampler.sample_ode(
        sampling_method="euler",
        num_steps=steps + 1,
        atol=1e-6,
        rtol=1e-3,
        reverse=False,
        time_shifting_factor=time_shift,
    )
    calls = []
    orig_forward = model.forward
    last = {}

    def forward_spy(*a, **k):
        out = orig_forward(*a, **k)
        last["out"] = out.detach().clone()
        return out

    def model_fn(x, t, **kw):
        last.clear()
        out = model.forward_with_cfg(x, t, **kw)
        calls.append(dict(x=x.detach().clone(), t=t.detach().clone(), out=out.detach().clone(),
                          raw=last.get("out")))
        return out

    model.forward = forward_spy
    try:
        traj = sample_fn(z, model_fn, **model_kwargs)
    finally:
        model.forward = orig_forward
    grid = sampler_grid(steps, time_shift)
    return traj, calls, grid


def sampler_grid(steps, time_shift):
    # the grid transport/integrators.py's `ode` builds (for the record in case.json)
    from transport.integrators import ode

    o = ode(drift=None, t0=0, t1=1, sampler_type="euler", num_steps=steps + 1, atol=1e-6,
            rtol=1e-3, time_shifting_factor=time_shift)
    return o.t.clone()


def decode(ae, latents):
    """NewBie demo.py: vae.decode(samples / 0.3611 + 0.1159) (BFL AutoEncoder.decode applies the
    same scale/shift), (x + 1) / 2, clamp to [0, 1], to_pil_image -> mul(255).byte()."""
    x = ae.decode(latents)
    img = ((x + 1.0) / 2.0).clamp(0.0, 1.0)
    u8 = img[0].mul(255).byte().permute(1, 2, 0).contiguous()
    return x, img, u8


# ----------------------------------------------------------------------------------------------
def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", required=True, help="fixture directory to create (must not exist or be empty)")
    ap.add_argument("--vae", default=None,
                    help="folder with the flux-tiny ae.safetensors + config.json (default: "
                         ".devcarry/newbie/flux-tiny-vae, else ../shared/fixtures/flux-tiny/vae)")
    ap.add_argument("--no-vae-copy", action="store_true",
                    help="do not copy ae.safetensors into the fixture (vae/SOURCE.json names it and its sha256)")
    ap.add_argument("--smoke", action="store_true",
                    help="let missing packages pass: without tokenizers fake ids, without transformers "
                         "(or with torch < 2) random caption features instead of Gemma, without "
                         "safetensors a minimal writer; for checking this script only")
    args = ap.parse_args()

    torch.set_grad_enabled(False)
    torch.use_deterministic_algorithms(True, warn_only=True)
    torch.set_num_threads(max(1, min(8, os.cpu_count() or 1)))
    # everything stays on the CPU in float32 on purpose, even on a GPU machine: reproducible numbers
    polyfilled = polyfill_sdpa()
    stub_tqdm()
    if polyfilled and not args.smoke:
        sys.exit("torch < 2.0: only --smoke runs here")

    out = Path(args.out)
    if out.exists() and any(out.iterdir()):
        sys.exit(f"{out} exists and is not empty")
    for sub in ("transformer", "text_encoder", "tokenizer", "clip_model", "clip_tokenizer", "vae"):
        (out / sub).mkdir(parents=True, exist_ok=True)

    vae_dir = Path(args.vae) if args.vae else None
    if vae_dir is None:
        here = Path(__file__).resolve()
        repo = here.parents[3]
        for cand in (repo / ".devcarry/newbie/flux-tiny-vae", repo.parent / "shared/fixtures/flux-tiny/vae"):
            if (cand / "ae.safetensors").is_file():
                vae_dir = cand
                break
    if vae_dir is None or not (vae_dir / "ae.safetensors").is_file():
        sys.exit("flux-tiny VAE not found: pass --vae DIR (ae.safetensors + config.json)")

    gen = torch.Generator().manual_seed(20260512)
    expected = {}
    case = dict(CASE)
    case.update(prompt=PROMPT, negative_prompt=NEGATIVE, system_prompt=SYSTEM_PROMPT,
                smoke=bool(args.smoke), torch=torch.__version__)
    cfg = case

    # -- tokenizers ------------------------------------------------------------------------
    gemma_texts = [SYSTEM_PROMPT + PROMPT, SYSTEM_PROMPT + NEGATIVE if NEGATIVE else ""]
    jina_texts = [PROMPT, NEGATIVE]
    use_tok, use_tf = have("tokenizers"), have("transformers") and not polyfilled
    if not args.smoke and not (use_tok and use_tf and st is not None):
        sys.exit("tokenizers, transformers and safetensors are needed (or --smoke)")
    case["parts_skipped"] = [n for n, ok in (("tokenizers", use_tok), ("gemma", use_tf),
                                             ("safetensors", st is not None)) if not ok]
    if use_tok:
        import tokenizers

        gtok, jtok = build_gemma_tokenizer(), build_jina_tokenizer()
        gtok.save(str(out / "tokenizer/tokenizer.json"))
        jtok.save(str(out / "clip_tokenizer/tokenizer.json"))
        g_ids, g_mask = encode_batch(gtok, gemma_texts, 0, cfg["gemma_max_length"], cfg["gemma_pad_to_multiple_of"])
        j_ids, j_mask = encode_batch(jtok, jina_texts, 1, cfg["jina_max_length"])
        g_vocab = (gtok.get_vocab_size() // 16 + 1) * 16  # more embedding rows than tokens, as Gemma's
        j_vocab = jtok.get_vocab_size()
        case["tokenizers_version"] = tokenizers.__version__
        # the same encodings through a fresh load of the saved files
        from tokenizers import Tokenizer

        g2, _ = encode_batch(Tokenizer.from_file(str(out / "tokenizer/tokenizer.json")), gemma_texts, 0,
                             cfg["gemma_max_length"], cfg["gemma_pad_to_multiple_of"])
        j2, _ = encode_batch(Tokenizer.from_file(str(out / "clip_tokenizer/tokenizer.json")), jina_texts, 1,
                             cfg["jina_max_length"])
        assert torch.equal(g2, g_ids) and torch.equal(j2, j_ids)
    else:
        g_vocab, j_vocab = 336, 240
        g_ids, g_mask = fake_encode(gemma_texts, g_vocab, 2, None, 0, cfg["gemma_pad_to_multiple_of"])
        j_ids, j_mask = fake_encode(jina_texts, j_vocab, 0, 2, 1)
    case.update(gemma_ids=g_ids.tolist(), gemma_mask=g_mask.tolist(),
                jina_ids=j_ids.tolist(), jina_mask=j_mask.tolist(),
                gemma_vocab_size=g_vocab, jina_vocab_size=j_vocab)

    # -- Gemma 3 ----------------------------------------------------------------------------
    if use_tf:
        import transformers

        case["transformers_version"] = transformers.__version__
        gemma, gcfg = build_gemma(g_vocab, gen)
        try:
            status, bufs = gemma_rope_check(gemma)
        except Exception as e:  # noqa: BLE001  (a record, not a requirement)
            status, bufs = f"check failed: {e!r}", {}
        case["gemma_rope_check"] = status
        case["gemma_attn_implementation"] = getattr(gemma.config, "_attn_implementation", None)
        gsd = {k: v.detach().clone().float() for k, v in gemma.state_dict().items()}
        save_st(gsd, out / "text_encoder/model.safetensors")
        save_st(bf16_copy(gsd), out / "text_encoder/model-bf16.safetensors")
        gcfg_dict = gcfg.to_dict()
        gcfg_dict["architectures"] = ["Gemma3TextModel"]
        (out / "text_encoder/config.json").write_text(json.dumps(gcfg_dict, indent=1, default=str))

        try:
            m2, last, hs, masks, same = run_gemma(gemma, g_ids, g_mask, record_masks=True)
        except Exception as e:  # noqa: BLE001  (the mask hooks are extras: retry without them)
            print(f"[gemma] recording masks failed ({e!r}); without", flush=True)
            m2, last, hs, masks, same = run_gemma(gemma, g_ids, g_mask)
        case["gemma_hidden_states_m2_is_layer_L-2_output"] = same
        expected["gemma.in.ids"] = g_ids
        expected["gemma.in.mask"] = g_mask
        expected["gemma.out.hidden_states_m2"] = zero_pad_rows(m2, g_mask)
        expected["gemma.out.last_hidden_state"] = zero_pad_rows(last, g_mask)
        for i, h in enumerate(hs):
            expected[f"gemma.mid.hidden_states.{i}"] = zero_pad_rows(h, g_mask)
        for n, b in bufs.items():
            expected[f"gemma.mid.buffer.{n}"] = b.float()
        for i, m in sorted(masks.items()):
            key = f"gemma.mid.attn_visible.{GEMMA['layer_types'][i]}"
            if key not in expected:
                expected[key] = visible(m)
        case["gemma_attn_masks_recorded"] = sorted(k for k in expected if k.startswith("gemma.mid.attn_visible"))
        gemma.load_state_dict(widened(gsd))
        m2b = run_gemma(gemma, g_ids, g_mask)[0]
        expected["gemma.out.hidden_states_m2.bf16"] = zero_pad_rows(m2b, g_mask)
        gemma.load_state_dict(gsd)
        cap_feats = expected["gemma.out.hidden_states_m2"]
    else:
        cap_feats = zero_pad_rows(torch.randn(g_ids.shape[0], g_ids.shape[1], GEMMA["hidden_size"], generator=gen), g_mask)

    # -- Jina CLIP v2 text tower --------------------------------------------------------------
    jina, jcfg = build_jina(j_vocab, gen)
    jsd = {JINA_PREFIX + k: v.detach().clone().float() for k, v in jina.state_dict().items()}
    save_st(jsd, out / "clip_model/model.safetensors")
    save_st(bf16_copy(jsd), out / "clip_model/model-bf16.safetensors")
    xlmr = dict(vocab_size=j_vocab, **JINA, hidden_act="gelu", position_embedding_type="rotary",
                model_type="xlm-roberta")
    (out / "clip_model/config.json").write_text(json.dumps({
        "architectures": ["JinaCLIPModel"],
        "model_type": "jina_clip",
        "add_projections": False,
        "projection_dim": JINA["hidden_size"],
        "text_config": {
            "embed_dim": JINA["hidden_size"],
            "pooler_type": "mean_pooler",
            "proj_type": None,
            "default_lora_task": "retrieval.query",
            "hf_model_config_kwargs": xlmr,
        },
        "vision_config": None,
        "fixture_note": "text tower only, LoRA already merged; see the fixture README",
    }, indent=1))
    j_seq, j_pooled = run_jina(jina, j_ids, j_mask)
    expected["jina.in.ids"] = j_ids
    expected["jina.in.mask"] = j_mask
    expected["jina.out.pooled"] = j_pooled
    expected["jina.out.last_hidden_state"] = j_seq
    jina.load_state_dict({k[len(JINA_PREFIX):]: v for k, v in widened(jsd).items()})
    expected["jina.out.pooled.bf16"] = run_jina(jina, j_ids, j_mask)[1]
    jina.load_state_dict({k[len(JINA_PREFIX):]: v for k, v in jsd.items()})

    # -- Next-DiT ---------------------------------------------------------------------------
    dit = build_dit(gen)
    dsd = {k: v.detach().clone().float() for k, v in dit.state_dict().items()}
    save_st(dsd, out / "transformer/newbie.safetensors")
    save_st(bf16_copy(dsd), out / "transformer/newbie-bf16.safetensors")
    (out / "transformer/config.json").write_text(json.dumps(
        dict(_class="models.model.NextDiT_CLIP", **DIT,
             real=dict(model="NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP", dim=2304, n_layers=36,
                       n_heads=24, n_kv_heads=8, multiple_of=256, axes_dims=[32, 32, 32],
                       axes_lens=[1024, 512, 512], cap_feat_dim=2560, clip_text_dim=1024)), indent=1))

    lh, lw = 6, 10  # latent height/width (image 48x80): 3x5 patches
    B, Lc = 2, 16
    x_in = torch.randn(B, DIT["in_channels"], lh, lw, generator=gen)
    t_in = torch.tensor([0.3, 0.85])
    cap_in = torch.randn(B, Lc, DIT["cap_feat_dim"], generator=gen)
    cap_mask_in = torch.zeros(B, Lc, dtype=torch.int64)
    cap_mask_in[0, :13] = 1
    cap_mask_in[1, :7] = 1
    pooled_in = torch.randn(B, DIT["clip_text_dim"], generator=gen)
    rec = DitRecorder(dit)
    d_out = dit(x_in, t_in, cap_in, cap_mask_in, clip_text_pooled=pooled_in)
    rec.close()
    expected.update({"dit.in.x": x_in, "dit.in.t": t_in, "dit.in.cap_feats": cap_in,
                     "dit.in.cap_mask": cap_mask_in, "dit.in.clip_text_pooled": pooled_in,
                     "dit.out": d_out})
    for k, v in rec.values.items():
        expected[f"dit.mid.{k}"] = v
    dit.load_state_dict(widened(dsd))
    expected["dit.out.bf16"] = dit(x_in, t_in, cap_in, cap_mask_in, clip_text_pooled=pooled_in)
    dit.load_state_dict(dsd)

    # forward_with_cfg on a CFG pair ([z, z], cond/uncond text), both sides of the truncation
    z1 = torch.randn(1, DIT["in_channels"], lh, lw, generator=gen)
    xc = z1.repeat(2, 1, 1, 1)
    for name, tv in (("cfg", 0.1), ("cfg_trunc", 0.6)):
        tt = torch.full((2,), tv)
        o = dit.forward_with_cfg(xc, tt, cap_in, cap_mask_in, cfg_scale=CASE["cfg_scale"],
                                 cfg_trunc=CASE["cfg_trunc"], renorm_cfg=CASE["renorm_cfg"],
                                 clip_text_pooled=pooled_in)
        expected[f"dit.{name}.in.x"] = xc
        expected[f"dit.{name}.in.t"] = tt
        expected[f"dit.{name}.out"] = o

    # -- VAE (BFL AutoEncoder with flux-tiny's weights) -----------------------------------------
    from flux.modules.autoencoder import AutoEncoder, AutoEncoderParams

    vcfg = json.loads((vae_dir / "config.json").read_text())
    vcfg["scale_factor"], vcfg["shift_factor"] = VAE_SCALE, VAE_SHIFT
    ae = AutoEncoder(AutoEncoderParams(**vcfg)).float().eval()
    ae.load_state_dict(load_st(vae_dir / "ae.safetensors"))
    (out / "vae/config.json").write_text(json.dumps(vcfg, indent=1))
    vae_sha = sha256(vae_dir / "ae.safetensors")
    if args.no_vae_copy:
        (out / "vae/SOURCE.json").write_text(json.dumps(
            {"file": "../flux-tiny/vae/ae.safetensors", "sha256": vae_sha}, indent=1))
    else:
        shutil.copyfile(vae_dir / "ae.safetensors", out / "vae/ae.safetensors")
    case["vae_sha256"] = vae_sha

    # -- the whole seeded generation -----------------------------------------------------------
    H, W, N = CASE["height"], CASE["width"], CASE["steps"]
    assert H % 16 == 0 and W % 16 == 0
    noise = torch.randn(1, 16, H // 8, W // 8, generator=torch.Generator("cpu").manual_seed(CASE["seed"]),
                        dtype=torch.float32)
    z = noise.repeat(2, 1, 1, 1)  # [cond, uncond]
    model_kwargs = dict(
        cap_feats=cap_feats,
        cap_mask=g_mask,
        cfg_scale=CASE["cfg_scale"],
        cfg_trunc=CASE["cfg_trunc"],
        renorm_cfg=CASE["renorm_cfg"],
        clip_text_sequence=j_seq,
        clip_text_pooled=j_pooled,
        clip_img_pooled=None,
    )
    traj, calls, grid = sample(dit, z, model_kwargs, N, CASE["time_shift"])
    assert len(calls) == N and traj.shape[0] == N + 1
    expected["pipe.noise"] = noise
    expected["pipe.cap_feats"] = cap_feats
    expected["pipe.cap_mask"] = g_mask
    expected["pipe.clip_text_pooled"] = j_pooled
    expected["pipe.t"] = grid.float()
    flags_cfg, flags_clamp = [], []
    for k, c in enumerate(calls):
        t0 = float(c["t"][0])
        used = t0 < CASE["cfg_trunc"]
        flags_cfg.append(int(used))
        clamped = 0
        if used:
            cond, uncond = c["raw"][:1], c["raw"][1:2]
            guided = uncond + CASE["cfg_scale"] * (cond - uncond)
            clamped = int(guided.norm().item() >= (cond.norm() * CASE["renorm_cfg"]).item())
            expected[f"pipe.cond.step{k}"] = cond
            expected[f"pipe.uncond.step{k}"] = uncond
        else:
            expected[f"pipe.cond.step{k}"] = c["raw"][:1]
        flags_clamp.append(clamped)
        expected[f"pipe.velocity.step{k}"] = c["out"][:1]
        expected[f"pipe.latents.step{k + 1}"] = traj[k + 1][:1]
        assert torch.equal(c["out"][0], c["out"][1])
    expected["pipe.cfg_applied"] = torch.tensor(flags_cfg, dtype=torch.int64)
    expected["pipe.renorm_clamped"] = torch.tensor(flags_clamp, dtype=torch.int64)
    latents = traj[-1][:1]
    decoded, image, u8 = decode(ae, latents)
    expected["pipe.decoded"] = decoded
    expected["pipe.image"] = image
    expected["pipe.image_u8"] = u8
    case.update(
        latent_shape=list(noise.shape),
        image_seq_len=(H // 16) * (W // 16),
        t=[float(v) for v in grid],
        sigmas=[1.0 - float(v) for v in grid],
        cfg_applied=flags_cfg,
        renorm_clamped=flags_clamp,
    )
    try:
        from PIL import Image

        Image.fromarray(u8.numpy()).save(out / "expected.png")
    except ImportError:
        print("[pipe] pillow missing: no expected.png", flush=True)

    # -- write ------------------------------------------------------------------------------------
    refs = {}  # the SOURCE-*.txt notes of the carried reference folder
    for src in sorted(Path(sys.modules["models.model"].__file__).resolve().parents[1].glob("SOURCE-*.txt")):
        refs[src.name] = src.read_text().strip()
    case["references"] = refs
    for k, v in list(expected.items()):
        if v.dtype in (torch.int32, torch.int16, torch.bool):
            expected[k] = v.to(torch.int64)
        elif v.is_floating_point():
            expected[k] = v.float()
    bad = [k for k, v in expected.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    case["non_finite"] = bad
    if bad:
        print(f"WARNING: non-finite expected tensors: {bad}", flush=True)
    save_st(expected, out / "expected.safetensors")
    (out / "case.json").write_text(json.dumps(case, indent=1, ensure_ascii=False))

    # an independent recomputation from the files and the README's description (check_fixture.py);
    # its verdict is printed and recorded, the fixture stays as the reference code made it either way
    try:
        import check_fixture

        print("check_fixture.py:", flush=True)
        case["check_fixture_worst_rel_err"] = check_fixture.run(out)
    except Exception as e:  # noqa: BLE001
        print(f"check_fixture.py failed to run: {e!r}", flush=True)
        case["check_fixture_worst_rel_err"] = f"failed to run: {e!r}"
    (out / "case.json").write_text(json.dumps(case, indent=1, ensure_ascii=False))
    from fixture_readme import write_readme  # noqa: E402  (next to this script)

    weights = {"transformer/newbie.safetensors": dsd, "clip_model/model.safetensors": jsd}
    if use_tf:
        weights["text_encoder/model.safetensors"] = gsd
    write_readme(out, case, expected, DIT, GEMMA, JINA, JINA_PREFIX, weights)
    total = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
    for p in sorted(out.rglob("*")):
        if p.is_file():
            print(f"{p.stat().st_size:>10}  {p.relative_to(out)}")
    print(f"{total:>10}  total; cfg_applied={flags_cfg} renorm_clamped={flags_clamp}", flush=True)



if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    main()
