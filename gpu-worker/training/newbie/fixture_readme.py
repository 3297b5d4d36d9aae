"""Writes the README.md of a newbie-tiny fixture (called by make_fixture.py once everything is
computed, so that the numbers and the tensor list are those of the files next to it)."""

import json

DESCRIPTIONS = [
    # (prefix, description); the first matching prefix wins
    ("gemma.in.ids", "Gemma input ids, `[2, L]` (I64): row 0 = system prompt + prompt, row 1 = system prompt + negative prompt; `<bos>` first, right-padded with `<pad>`=0 to the longest row rounded up to a multiple of 8"),
    ("gemma.in.mask", "Gemma attention mask `[2, L]` (I64, 1 = token)"),
    ("gemma.out.hidden_states_m2.bf16", "as `gemma.out.hidden_states_m2`, through `text_encoder/model-bf16.safetensors` widened to F32"),
    ("gemma.out.hidden_states_m2", "`hidden_states[-2]` = output of decoder layer L-2 (no final norm), padded rows set to 0: the caption features NewBie feeds the DiT"),
    ("gemma.out.last_hidden_state", "after the last layer and the final norm (not used by NewBie), padded rows set to 0"),
    ("gemma.mid.hidden_states.", "`hidden_states[i]`: i = 0 the scaled embeddings, i = k the output of layer k-1, the last one after the final norm; padded rows set to 0"),
    ("gemma.mid.buffer.", "RoPE inverse frequencies the model really used (transformers buffer of that name; linear scaling already divided in)"),
    ("gemma.mid.attn_visible.", "the attention mask transformers built for a layer of that type, as 1 = key visible to query, `[2, 1, L, L]`"),
    ("jina.in.ids", "Jina input ids `[2, Lj]` (I64): row 0 = prompt, row 1 = negative prompt (no system prompt), `<s> … </s>`, right-padded with `<pad>`=1 to the longest row"),
    ("jina.in.mask", "Jina attention mask `[2, Lj]` (I64)"),
    ("jina.out.pooled.bf16", "as `jina.out.pooled`, through `clip_model/model-bf16.safetensors` widened to F32"),
    ("jina.out.pooled", "mean of the last hidden states over the mask: NewBie's `clip_text_pooled`"),
    ("jina.out.last_hidden_state", "last hidden states `[2, Lj, W]` (padded rows computed normally, keys masked)"),
    ("dit.in.", "inputs of one `NextDiT_CLIP.forward(x, t, cap_feats, cap_mask, clip_text_pooled=…)` call with a batch of two different samples (valid caption lengths 13 and 7 of 16)"),
    ("dit.out.bf16", "`dit.out` through `transformer/newbie-bf16.safetensors` widened to F32"),
    ("dit.out", "its output `[2, 16, h, w]` (the velocity, data minus noise direction)"),
    ("dit.mid.t_emb", "`t_embedder(t)`"),
    ("dit.mid.clip_emb", "`clip_text_pooled_proj(clip_text_pooled)` (RMSNorm then Linear)"),
    ("dit.mid.adaln_input", "`time_text_embed(cat[t_emb, clip_emb])` = c, the modulation input of every modulated block and the final layer"),
    ("dit.mid.cap_emb", "`cap_embedder(cap_feats)` (RMSNorm then Linear), all rows"),
    ("dit.mid.context_refiner.", "output of context-refiner block i (caption rows, padded length)"),
    ("dit.mid.noise_refiner.", "output of noise-refiner block i (image tokens)"),
    ("dit.mid.joint_in", "the joint sequence entering `layers.0`: per sample the first cap_len caption rows, then the image tokens, zero-padded"),
    ("dit.mid.joint_mask", "its mask (I64)"),
    ("dit.mid.freqs_cis", "RoPE rotations of the joint sequence as (cos, sin) pairs `[2, S, head_dim/2, 2]`"),
    ("dit.mid.layers.", "output of joint block i"),
    ("dit.mid.final_layer", "`final_layer(x, c)` before unpatchify `[2, S, 4·16]`"),
    ("dit.cfg.", "`forward_with_cfg(x=[z, z], t=[0.1, 0.1], cap_feats, cap_mask, cfg_scale, cfg_trunc, renorm_cfg, clip_text_pooled)` with the `dit.in` text inputs: t < cfg_trunc, so guided and norm-clamped; both output halves equal"),
    ("dit.cfg_trunc.", "the same with t = 0.6 >= cfg_trunc: the conditional pass alone (batch half 0), duplicated"),
    ("pipe.noise", "`torch.randn(1, 16, H/8, W/8, generator=torch.Generator('cpu').manual_seed(seed))`, float32"),
    ("pipe.cap_feats", "= `gemma.out.hidden_states_m2` (the pipeline's caption features)"),
    ("pipe.cap_mask", "= `gemma.in.mask`"),
    ("pipe.clip_text_pooled", "= `jina.out.pooled`"),
    ("pipe.t", "the model-time grid t_0 … t_N (0 = noise, 1 = data)"),
    ("pipe.cond.step", "step k: the conditional half of the DiT output (before guidance)"),
    ("pipe.uncond.step", "step k: the unconditional half (only for steps that apply CFG)"),
    ("pipe.velocity.step", "step k: what `forward_with_cfg` returned (guided, clamped, or the conditional alone), batch half 0"),
    ("pipe.latents.step", "latents after Euler step k (step N = the final latents), batch half 0"),
    ("pipe.cfg_applied", "per step, 1 where t_k < cfg_trunc (I64)"),
    ("pipe.renorm_clamped", "per step, 1 where the guided norm was >= renorm_cfg · the conditional norm and got rescaled (I64)"),
    ("pipe.decoded", "`AutoEncoder.decode(latents)` (applies /scale + shift), NCHW, unclamped"),
    ("pipe.image_u8", "`(image[0] * 255).byte()` as HWC U8 (torchvision's to_pil_image): `expected.png`"),
    ("pipe.image", "`((decoded + 1) / 2).clamp(0, 1)`, NCHW"),
]


def describe(name):
    for prefix, text in DESCRIPTIONS:
        if name.startswith(prefix):
            return text
    return ""


def key_table(weights):
    """Every key outside repeated blocks, and block 0 of each repeated kind, with its shape."""
    lines = []
    for fname, sd in weights.items():
        lines.append(f"`{fname}` ({len(sd)} tensors; `.N.` blocks listed for N = 0 only):\n")
        for k in sorted(sd):
            parts = k.split(".")
            if any(p.isdigit() and p != "0" and i > 0 and parts[i - 1] in ("layers", "noise_refiner", "context_refiner")
                   for i, p in enumerate(parts)):
                continue
            lines.append(f"- `{k}` `{list(sd[k].shape)}`")
        lines.append("")
    return "\n".join(lines)


def write_readme(out, case, expected, dit, gemma, jina, jina_prefix, weights=None):
    hd = dit["dim"] // dit["n_heads"]
    ffn = dit["multiple_of"] * ((4 * dit["dim"] + dit["multiple_of"] - 1) // dit["multiple_of"])
    adaln = min(dit["dim"], 1024)
    rows = []
    for k in sorted(expected):
        v = expected[k]
        dtype = {"torch.float32": "F32", "torch.int64": "I64", "torch.uint8": "U8"}.get(str(v.dtype), str(v.dtype))
        rows.append(f"| `{k}` | {dtype} `{list(v.shape)}` | {describe(k)} |")
    versions = ", ".join(f"{k} {case[k]}" for k in ("torch", "transformers_version", "tokenizers_version") if k in case)
    smoke = ""
    if case.get("smoke") or case.get("parts_skipped"):
        smoke = (f"\n> **Smoke fixture** (`--smoke`; skipped: {case.get('parts_skipped')}): made to check the script, "
                 "not for parity tests.\n")
    text = f"""# newbie-tiny: a reference fixture for the NewBie-image-Exp0.1 pipeline
{smoke}
A complete, tiny text-to-image model in the NewBie-image-Exp0.1 architecture (Next-DiT with a
pooled CLIP path, a Gemma 3 text model, a Jina CLIP v2 text tower, FLUX's autoencoder) with random
weights, plus the outputs that the reference implementations computed from it, in float32 on CPU.
It exists so that the engine can be checked against code nobody on this project wrote. Made by
`gpu-worker/training/newbie/make_fixture.py` ({versions}).

Who computed what:
- DiT (`transformer/`): NewBie's own `models/model.py` (`NextDiT_CLIP`, the class of
  `NextDiT_3B_GQA_patch2_Adaln_Refiner_WHIT_CLIP`), fp32, so its `F.scaled_dot_product_attention`
  branch (the flash-attn branch serves fp16/bf16 only). apex is not installed, so its RMSNorms are
  `models/components.py`'s fallback: `weight · x · rsqrt(mean(x²) + eps)` computed in float32,
  with eps 1e-6 where model.py passes none (q/k norms, `clip_text_pooled_proj.0`) and `norm_eps`
  = 1e-5 elsewhere (ComfyUI's port uses the same epsilons). With apex, those would be 1e-5.
- Sampler: NewBie's `transport` package as `demo.py` drives it (`create_transport('Linear',
  'velocity')`, `Sampler.sample_ode(sampling_method='euler', num_steps=N+1, time_shifting_factor=6)`,
  `model.forward_with_cfg`), torchdiffeq's fixed-grid Euler (a stand-in with the same arithmetic).
- Gemma (`text_encoder/`): Hugging Face transformers `Gemma3TextModel`
  (`attn_implementation='eager'`), `output_hidden_states=True`, `hidden_states[-2]`, as NewBie's
  `encode_prompt`.
- Jina (`clip_model/`): ComfyUI's `comfy/text_encoders/jina_clip_2.py` `XLMRobertaModel_` (a port of
  jinaai's xlm-roberta-flash-implementation + jina-clip-implementation mean pooler; the official
  code is Hugging Face remote code that needs flash-attn and its LoRA wrapper, so it was not run).
- Autoencoder (`vae/`): Black Forest Labs' `flux/modules/autoencoder.py` `AutoEncoder` with the
  weights of `../flux-tiny/vae` (sha256 `{case.get('vae_sha256')}`), scale 0.3611, shift 0.1159
  (NewBie's values for the FLUX VAE; `decode` computes `z / 0.3611 + 0.1159` first, as demo.py).
- Tokenizers: Hugging Face `tokenizers`, trained here on a few sentences (the system prompt, XML
  prompts, tags).

## Files

- `case.json`: prompt, negative prompt, system prompt, seed, width, height, steps, cfg_scale,
  cfg_trunc, renorm_cfg, time_shift, the token ids and masks of both tokenizers, the time grid
  `t` and `sigmas` (= 1 − t), per-step `cfg_applied` / `renorm_clamped`, versions and checks.
- `transformer/newbie.safetensors` (F32) and `newbie-bf16.safetensors` (BF16): the DiT in NewBie's
  original checkpoint key names (the `consolidated*.safetensors` of a NewBie checkpoint use these
  names; ComfyUI's single file the same ones, possibly under `model.diffusion_model.`). `config.json`: the constructor arguments (a real
  checkpoint has none; it has `model_args.pth`), with the real model's values under `real`.
- `text_encoder/model.safetensors` (F32), `model-bf16.safetensors` (BF16), `config.json`
  (`Gemma3TextConfig`): keys as `Gemma3TextModel` names them (`embed_tokens.weight`,
  `layers.{{i}}.…`, `norm.weight`). The real google/gemma-3-4b-it stores the same tensors under
  `language_model.model.` (beside `vision_tower.*` and `multi_modal_projector.*`), ComfyUI's file
  under `model.`: a loader strips the prefix.
- `tokenizer/tokenizer.json`: Gemma-style BPE, `<pad>`=0 `<eos>`=1 `<bos>`=2 `<unk>`=3, '▁'-prefixed
  words (no prefix space at the start), post-processor `<bos> $A`; no padding in the file.
- `clip_model/model.safetensors` (F32), `model-bf16.safetensors` (BF16), `config.json`: the Jina
  text tower under `{jina_prefix}` as in jina-clip-v2's checkpoint, with its LoRA already merged
  (the real file holds `….parametrizations.weight.original` plus per-task `lora_A`/`lora_B`; NewBie
  uses the default task `retrieval.query`; merging is the loader's job and is not covered here).
- `clip_tokenizer/tokenizer.json`: XLM-R-style Unigram, `<s>`=0 `<pad>`=1 `</s>`=2 `<unk>`=3,
  `<mask>` last, Metaspace with a prefix space, post-processor `<s> $A </s>`.
- `vae/ae.safetensors` + `config.json` (BFL `AutoEncoderParams`): flux-tiny's autoencoder (when
  made with `--no-vae-copy`, `vae/SOURCE.json` names `../flux-tiny/vae/ae.safetensors` instead).
- `expected.safetensors`: named inputs, intermediates and outputs (list below); `expected.png`.

`../../tools/stcompare.py EXPECTED ACTUAL NAME[=TOL] ...` compares named tensors by relative L2
error. `gpu-worker/training/newbie/check_fixture.py FIXTURE` recomputes the DiT, CFG, the sampler,
the Jina tower and Gemma's `hidden_states[-2]` from these files and the description below alone
(plain torch, no reference code) and compares them with `expected.safetensors`.

## Weight keys (F32 files; the BF16 files hold the same keys)

""" + (key_table(weights) if weights else "") + f"""
## The model, precisely

Sizes here: DiT dim {dit['dim']}, {dit['n_layers']} joint layers + {dit['n_refiner_layers']} noise-refiner +
{dit['n_refiner_layers']} context-refiner blocks, {dit['n_heads']} heads / {dit['n_kv_heads']} KV heads
(head_dim {hd}), FFN {ffn}, RoPE axes {dit['axes_dims']} (lens {dit['axes_lens']}), patch {dit['patch_size']},
{dit['in_channels']} latent channels, cap_feat_dim {dit['cap_feat_dim']}, clip_text_dim {dit['clip_text_dim']},
norm_eps {dit['norm_eps']}. Real: dim 2304, 36 + 2 + 2 blocks, 24 / 8 heads (head_dim 96), FFN 9216,
axes [32, 32, 32] (lens [1024, 512, 512]), cap_feat_dim 2560, clip_text_dim 1024.

**DiT** (`NextDiT_CLIP.forward`); D = dim, A = min(D, 1024) (= {adaln} here, so this fixture cannot tell
A from D: the real model has A = 1024 < D = 2304):
1. `t_emb = t_embedder.mlp.2(SiLU(t_embedder.mlp.0(f)))`, f = [cos(t·ω), sin(t·ω)] with
   ω_i = exp(−ln(10000)·i/128), i < 128 (float32), t the model time in [0, 1] (not × 1000). Width A.
2. `clip_emb = clip_text_pooled_proj.1(RMSNorm_{{clip_text_pooled_proj.0}}(pooled))` (eps 1e-6);
   `c = time_text_embed.1(SiLU(cat[t_emb, clip_emb]))` (width A).
3. `cap = cap_embedder.1(RMSNorm_{{cap_embedder.0}}(cap_feats))` (eps norm_eps), all L_c rows.
4. Patches: latent [C, H, W] → `view(C, H/2, 2, W/2, 2).permute(1, 3, 2, 4, 0)`: token (r, c) in
   row-major order, feature (ph·2 + pw)·C + ch (C fastest) → `x_embedder` (Linear 4C → D).
5. Positions (3 axes): caption token i < cap_len → (i, 0, 0); image token (r, c) → (cap_len, r, c),
   cap_len = the sample's mask sum. Axis k of width d_k rotates d_k/2 pairs with angle
   pos · θ^(−2j/d_k), θ = 10000 (angles made in float64, rounded to float32, cos/sin in float32);
   the head's pairs are axis 0's, then axis 1's, then axis 2's. A pair is (x[2j], x[2j+1])
   (**interleaved**), rotated as the complex number x[2j] + i·x[2j+1]. Caption rows at or past
   cap_len get a zero rotation (cos = sin = 0) in the context refiner; joint-sequence padding rows
   get position (0, 0, 0).
6. Context refiner: unmodulated blocks over all L_c caption rows, keys masked by cap_mask.
   Noise refiner: modulated blocks over the image tokens (no mask).
7. Joint sequence per sample: caption rows 0 … cap_len−1, then the image tokens, zero-padded to
   max(cap_len) + n_img; mask = first cap_len + n_img. Joint blocks, keys masked.
8. Final layer: `linear(LayerNorm(x) · (1 + final_layer.adaLN_modulation.1(SiLU(c))))`, LayerNorm
   without affine, eps 1e-6; image rows cap_len … cap_len + n_img − 1 →
   `view(H/2, W/2, 2, 2, C).permute(4, 0, 2, 1, 3)` → [C, H, W]. `norm_final.weight` is in the
   checkpoint but unused.

Block (`JointTransformerBlock`): with modulation,
`scale_msa, gate_msa, scale_mlp, gate_mlp = adaLN_modulation.1(SiLU(c)).chunk(4)` (no shift);
`x += tanh(gate_msa) · attention_norm2(Attn(attention_norm1(x) · (1 + scale_msa)))`;
`x += tanh(gate_mlp) · ffn_norm2(FFN(ffn_norm1(x) · (1 + scale_mlp)))`; without modulation
(context refiner) the same with no scale and no gate. RMSNorms eps norm_eps, `weight · x̂`.
Attention: `qkv` (no bias) split [H·hd, KV·hd, KV·hd]; q, k through `q_norm`/`k_norm`
(RMSNorm(hd), eps 1e-6) then RoPE; query head h uses KV head ⌊h / (H/KV)⌋; scale 1/√hd; a
boolean mask on keys only; `out` (no bias). FFN: `w2(silu(w1 x) · w3 x)`.

**Sampling** (`transport` + `forward_with_cfg`): grid t_k = s_k / (s_k + 6 − 6 s_k),
s = linspace(0, 1, N + 1) in float32 (σ' = 6σ / (1 + 5σ) for σ = 1 − s: 1, …, 1/N, then 0);
latents start as [noise, noise] (batch [cond, uncond]), text batch [prompt, negative];
step k: v = model(x, t_k) then x ← x + (t_{{k+1}} − t_k) · v (Euler on the velocity; −v in σ).
`forward_with_cfg` (NewBie's, the CLIP class): if t_k < cfg_trunc, one batched pass over both
halves, `g = uncond + cfg·(cond − uncond)`, and when renorm_cfg > 0 and
‖g‖ ≥ renorm_cfg·‖cond‖ (L2 over all of C, H, W), `g ← g · renorm_cfg·‖cond‖ / ‖g‖` (the original
clamps only then; diffusers' Lumina2 always rescales); else the conditional half alone (batch 1).
Either way both halves get the result, so they stay equal. Note: NewBie's demo passes its
"sampling steps" as the grid size, i.e. demo steps S = S − 1 Euler steps; here `steps` = N Euler
steps. The image: `AutoEncoder.decode(latents)`, `(x + 1) / 2`, clamp [0, 1], `·255` and `byte()`
(truncation, torchvision's to_pil_image), unlike flux-tiny's `127.5·(x + 1)`.

**Gemma 3** ({gemma['num_hidden_layers']} layers, hidden {gemma['hidden_size']}, {gemma['num_attention_heads']} heads / {gemma['num_key_value_heads']} KV,
head_dim {gemma['head_dim']}, FFN {gemma['intermediate_size']}, layer types {gemma['layer_types']},
sliding window {gemma['sliding_window']}): embeddings × √hidden (in the weight dtype); per layer
`h += post_attention_layernorm(Attn(input_layernorm(h)))`,
`h += post_feedforward_layernorm(down(gelu_tanh(gate(x)) · up(x)))` with
x = `pre_feedforward_layernorm(h)`; RMSNorm `x̂ · (1 + w)` in float32, eps {gemma['rms_norm_eps']}; q/k per-head
RMSNorm (`q_norm`, `k_norm`) before RoPE; RoPE on halves (rotate_half, not interleaved): full
attention θ = {gemma['rope_full']['rope_theta']:g} with linear factor {gemma['rope_full']['factor']:g} (positions / 8), sliding θ = {gemma['rope_sliding']['rope_theta']:g};
scores × query_pre_attn_scalar^−½ ({gemma['query_pre_attn_scalar']}); causal; sliding layers also hide keys with
i − j ≥ sliding_window; padding keys hidden. Positions 0 … L−1 for every row (right padding).
Output: `hidden_states[-2]` (the output of layer L−2; the last layer and the final norm are not
needed). Rows with mask 0 are set to 0 in the fixture (the reference leaves values there that
depend on the attention kernel; nothing downstream reads them).

**Jina text tower** ({jina['num_hidden_layers']} layers, width {jina['hidden_size']}, {jina['num_attention_heads']} heads, FFN {jina['intermediate_size']}):
`x = emb_ln(word_embeddings[ids] + token_type_embeddings[0])` (no absolute positions); per layer
(post-norm) `x = norm1(x + out_proj(Attn(Wqkv x)))`, `x = norm2(x + fc2(gelu(fc1 x)))`, exact
(erf) GELU, LayerNorm eps {jina['layer_norm_eps']}; `Wqkv` (with bias) output viewed as [3, H, hd] (q, k, v
blocks); RoPE base {jina['rotary_emb_base']:g} on halves (rotate_half) over the whole head, positions 0 … L−1;
scale 1/√hd; padding keys get −finfo.max added. Pooled = Σ mask·x / Σ mask, not L2-normalised
(ComfyUI's NewBie text encoder, `comfy/text_encoders/newbie.py`, feeds this pool to the DiT too;
NewBie's own `get_text_features` is in its Hugging Face remote code, not in the public repository).

**Prompts**: Gemma reads `system_prompt + prompt` and `system_prompt + negative` (an empty
negative stays empty); Jina reads the prompt and the negative without the system prompt. Both
padded to the batch's longest row (Gemma: rounded up to a multiple of 8; truncation at 512 and
2048).

## expected.safetensors

| name | dtype, shape | what |
|---|---|---|
""" + "\n".join(rows) + f"""

## Checks recorded at making time (case.json)

- `gemma_rope_check`: {case.get('gemma_rope_check')} (the model's inv_freq buffers against θ / factor above)
- `gemma_hidden_states_m2_is_layer_L-2_output`: {case.get('gemma_hidden_states_m2_is_layer_L-2_output')}
- `gemma_attn_implementation`: {case.get('gemma_attn_implementation')}
- `non_finite`: {case.get('non_finite')}
- `check_fixture_worst_rel_err`: {case.get('check_fixture_worst_rel_err')} (check_fixture.py, tolerance 1e-5)
- `cfg_applied` {case.get('cfg_applied')}, `renorm_clamped` {case.get('renorm_clamped')}

## Not covered

The bf16 flash-attention path of model.py; apex's RMSNorm epsilons; Jina's LoRA merge; Gemma's
byte-fallback tokens; A ≠ D (see above); the diffusers conversion of the transformer
(`transformer_lumina2.py` key names); the multimodal Gemma checkpoint prefixes.
"""
    (out / "README.md").write_text(text)
