"""Scripts the TorchScript helper modules that the engine loads through DJL on a GPU.

DJL's PyTorch engine has no fused attention, pinned memory, CUDA streams or float8 type; these
few-line modules reach them. Run once with the PyTorch of the machine the helpers are for:

    python3 make_helpers.py OUT_DIR

Each helper is saved as OUT_DIR/<name>.pt and checked against eager PyTorch before it is
written. The engine finds them as class-path resources under dev/fleet/engine/gpu/.
"""
import sys
from typing import Dict, List, Tuple

import torch
import torch.nn.functional as F


class Sdpa(torch.nn.Module):
    """Fused attention: softmax(q k^T / sqrt(d)) v over (B, H, L, D)."""

    def forward(self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        return F.scaled_dot_product_attention(q, k, v)


class ToFp8Pinned(torch.nn.Module):
    """Exactly representable values (widened from e4m3 bytes) to a float8 tensor in pinned host memory.

    DJL cannot make float8 tensors nor pin memory; the result stays opaque to it and only ever
    goes back into these helpers.
    """

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w.to(torch.float8_e4m3fn).cpu().pin_memory()


class PinHost(torch.nn.Module):
    """A host tensor copied into page-locked memory (for fp16 storage)."""

    def forward(self, w: torch.Tensor) -> torch.Tensor:
        return w.cpu().pin_memory()


class UploadStart(torch.nn.Module):
    """Starts copying pinned host tensors to the GPU on a side stream; returns them and an event.

    The side stream first waits for the work already queued on the current stream (whose freed
    memory the destinations may reuse), then copies while the work queued next (the block being
    computed) runs: the copy of block i+1 overlaps the compute of block i. UploadFinish makes the
    current stream wait for the event (on the GPU, not the host) right before the block is used.
    """

    def forward(self, ws: List[torch.Tensor], device_index: int) -> Tuple[List[torch.Tensor], torch.classes.cuda.Event]:
        device = torch.device("cuda", device_index)
        current = torch.cuda.current_stream(device)
        side = torch.cuda.Stream(device)
        side.wait_stream(current)
        moved: List[torch.Tensor] = [torch.empty(w.shape, dtype=w.dtype, device=device) for w in ws]
        done = torch.cuda.Event()
        with torch.cuda.stream(side):
            for d, w in zip(moved, ws):
                d.copy_(w, non_blocking=True)
            done.record(side)
        return moved, done


class UploadFinish(torch.nn.Module):
    """Makes the current stream wait (on the GPU, not the host) for an upload; returns its tensors."""

    def forward(self, moved: List[torch.Tensor], done: torch.classes.cuda.Event, device_index: int) -> List[torch.Tensor]:
        torch.cuda.current_stream(torch.device("cuda", device_index)).wait_event(done)
        return moved


class RandomFp8Pinned(torch.nn.Module):
    """Random weights made in place for benchmarks: N(0, std) rounded to e4m3, pinned on the host."""

    def forward(self, rows: int, cols: int, std: float, device_index: int) -> torch.Tensor:
        w = torch.randn(rows, cols, device=torch.device("cuda", device_index), dtype=torch.float16) * std
        return w.to(torch.float8_e4m3fn).cpu().pin_memory()


class Widen(torch.nn.Module):
    """float8 tensors already on the device to float16."""

    def forward(self, ws: List[torch.Tensor]) -> List[torch.Tensor]:
        return [w.to(torch.float16) for w in ws]


# ---------------------------------------------------------------------------------------------
# Whole DiT blocks. DJL runs every element-wise op as its own kernel and widens a leased block's
# float8 matrices all at once; these modules run one block the way eager PyTorch does: each float8
# matrix widened right before its matmul and dropped after it, LayerNorm, tanh-GELU, modulation
# and gated residuals as single kernels (F.layer_norm, F.gelu, torch.addcmul), fused attention,
# and every temporary freed when its last use has run. The weights arrive as a dict keyed by the
# block's checkpoint names (BFL's, relative to the block: "img_attn.qkv.weight"); optional entries
# NAME.weight_scale (a float32 scalar the widened weight is multiplied by, e.g. ComfyUI's scaled
# float8) and NAME.lora_down / NAME.lora_up (a low-rank side path added to the layer's output).
# The compute dtype is the activations' (float16 on a GPU, float32 on a CPU).
# ---------------------------------------------------------------------------------------------


def _widened(w: Dict[str, torch.Tensor], name: str, dtype: torch.dtype) -> torch.Tensor:
    weight = w[name + ".weight"].to(dtype)
    scale = w.get(name + ".weight_scale")
    if scale is not None:
        weight = weight * scale.to(dtype)
    return weight


def _side(w: Dict[str, torch.Tensor], name: str, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    down = w.get(name + ".lora_down")
    up = w.get(name + ".lora_up")
    if down is not None and up is not None:
        y = y + F.linear(F.linear(x, down), up)
    return y


class WidenedLinear(torch.nn.Module):
    """y = x W^T + b (+ side path), W widened to x's dtype right here and dropped after the matmul."""

    def forward(self, w: Dict[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
        bias = w.get(name + ".bias")
        y = F.linear(x, _widened(w, name, x.dtype), None if bias is None else bias.to(x.dtype))
        return _side(w, name, x, y)


class Float8Linear(torch.nn.Module):
    """y = x W^T + b (+ side path) multiplied in float8 on fp8 tensor cores (torch._scaled_mm): W as
    stored (e4m3, its per-tensor NAME.weight_scale or 1), x scaled per tensor at run time so that its
    largest magnitude lands near e4m3's largest finite value (448; the inverse scale a power of two
    of at most 2^15, so that x * inv stays finite in float16), products accumulated with the tensor
    cores' fast accumulation (as float8 inference usually runs). Layers whose weight is not float8 or
    whose sizes are not multiples of 16 (e.g. the modulation, one row) are widened instead."""

    def __init__(self):
        super().__init__()
        self.widened = WidenedLinear()

    def forward(self, w: Dict[str, torch.Tensor], name: str, x: torch.Tensor) -> torch.Tensor:
        weight = w[name + ".weight"]
        rows = x.numel() // x.shape[-1]
        if not (weight.dtype == torch.float8_e4m3fn and rows % 16 == 0
                and weight.shape[0] % 16 == 0 and weight.shape[1] % 16 == 0):
            return self.widened(w, name, x)
        x2 = x.reshape(rows, x.shape[-1])
        amax = x2.abs().amax().float().clamp(min=1e-30)
        inv = torch.exp2(torch.floor(torch.log2(448.0 / amax))).clamp(max=32768.0)
        x8 = (x2 * inv.to(x.dtype)).to(torch.float8_e4m3fn)
        scale_b = w.get(name + ".weight_scale")
        if scale_b is None:
            scale_b = torch.ones((), dtype=torch.float32, device=x.device)
        y = torch._scaled_mm(x8, weight.t(), scale_a=1.0 / inv, scale_b=scale_b.float(), out_dtype=x.dtype,
                             use_fast_accum=True)
        shape: List[int] = list(x.shape[:-1])
        shape.append(weight.shape[0])
        y = y.reshape(shape)
        bias = w.get(name + ".bias")
        if bias is not None:
            y = y + bias.to(x.dtype)
        return _side(w, name, x, y)


def _modulate(x: torch.Tensor, shift: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """(1 + scale) * LayerNorm(x) + shift, the norm affine-free with eps 1e-6."""
    normed = F.layer_norm(x, [x.shape[-1]], eps=1e-6)
    return torch.addcmul(shift, normed, 1 + scale)


def _rms(x: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """BFL's RMSNorm: in float32, back to x's dtype, times the scale."""
    xf = x.float()
    normed = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + 1e-6)
    return normed.to(x.dtype) * scale.to(x.dtype)


def _qkv(w: Dict[str, torch.Tensor], prefix: str, packed: torch.Tensor, heads: int) -> Tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(B, L, 3*H*D) -> q, k, v (B, H, L, D), q and k RMS-normalised ("B L (K H D) -> K B H L D")."""
    b, l = packed.shape[0], packed.shape[1]
    kbhld = packed.reshape(b, l, 3, heads, -1).permute(2, 0, 3, 1, 4)
    q = _rms(kbhld[0], w[prefix + ".query_norm.scale"])
    k = _rms(kbhld[1], w[prefix + ".key_norm.scale"])
    return q, k, kbhld[2]


def _rope(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """Rotates consecutive pairs of the head dimension in float32: (x0, x1) -> (c x0 - s x1, s x0 + c x1)."""
    pairs = x.float().reshape(x.shape[0], x.shape[1], x.shape[2], -1, 2)
    x0 = pairs[..., 0]
    x1 = pairs[..., 1]
    out = torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), -1)
    return out.reshape(x.shape).to(x.dtype)


def _attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor) -> torch.Tensor:
    """RoPE on q and k, fused attention, heads merged: (B, H, L, D) -> (B, L, H*D)."""
    out = F.scaled_dot_product_attention(_rope(q, cos, sin), _rope(k, cos, sin), v)
    return out.transpose(1, 2).reshape(q.shape[0], q.shape[2], -1)


def _clamp(x: torch.Tensor) -> torch.Tensor:
    """float16's overflow guard (as ComfyUI and diffusers): block outputs clamped to +-65504."""
    if x.dtype == torch.float16:
        x = x.clamp(-65504.0, 65504.0)
    return x


class DoubleBlock(torch.nn.Module):
    """BFL's DoubleStreamBlock: text and image streams with their own weights, joint attention
    (text first). cos and sin (B, 1, T+L, D/2) float32 are the RoPE of the joint positions."""

    def __init__(self, fp8_matmul: bool):
        super().__init__()
        self.linear = Float8Linear() if fp8_matmul else WidenedLinear()

    def forward(self, w: Dict[str, torch.Tensor], img: torch.Tensor, txt: torch.Tensor, vec: torch.Tensor,
                cos: torch.Tensor, sin: torch.Tensor, heads: int) -> Tuple[torch.Tensor, torch.Tensor]:
        silu = F.silu(vec)
        im = self.linear(w, "img_mod.lin", silu)[:, None, :].chunk(6, -1)
        tm = self.linear(w, "txt_mod.lin", silu)[:, None, :].chunk(6, -1)
        iq, ik, iv = _qkv(w, "img_attn.norm", self.linear(w, "img_attn.qkv", _modulate(img, im[0], im[1])), heads)
        tq, tk, tv = _qkv(w, "txt_attn.norm", self.linear(w, "txt_attn.qkv", _modulate(txt, tm[0], tm[1])), heads)
        attn = _attention(torch.cat((tq, iq), 2), torch.cat((tk, ik), 2), torch.cat((tv, iv), 2), cos, sin)
        t = txt.shape[1]
        img = torch.addcmul(img, im[2], self.linear(w, "img_attn.proj", attn[:, t:]))
        txt = torch.addcmul(txt, tm[2], self.linear(w, "txt_attn.proj", attn[:, :t]))
        hidden = self.linear(w, "img_mlp.0", _modulate(img, im[3], im[4]))
        img = torch.addcmul(img, im[5], self.linear(w, "img_mlp.2", F.gelu(hidden, approximate="tanh")))
        hidden = self.linear(w, "txt_mlp.0", _modulate(txt, tm[3], tm[4]))
        txt = torch.addcmul(txt, tm[5], self.linear(w, "txt_mlp.2", F.gelu(hidden, approximate="tanh")))
        return _clamp(img), _clamp(txt)


class SingleBlock(torch.nn.Module):
    """BFL's SingleStreamBlock over the joint sequence: attention and MLP in parallel, their
    inputs from linear1 and their outputs merged by linear2."""

    def __init__(self, fp8_matmul: bool):
        super().__init__()
        self.linear = Float8Linear() if fp8_matmul else WidenedLinear()

    def forward(self, w: Dict[str, torch.Tensor], x: torch.Tensor, vec: torch.Tensor,
                cos: torch.Tensor, sin: torch.Tensor, heads: int) -> torch.Tensor:
        hidden = x.shape[-1]
        mod = self.linear(w, "modulation.lin", F.silu(vec))[:, None, :].chunk(3, -1)
        h = self.linear(w, "linear1", _modulate(x, mod[0], mod[1]))
        q, k, v = _qkv(w, "norm", h[..., : 3 * hidden], heads)
        attn = _attention(q, k, v, cos, sin)
        merged = torch.cat((attn, F.gelu(h[..., 3 * hidden:], approximate="tanh")), 2)
        return _clamp(torch.addcmul(x, mod[2], self.linear(w, "linear2", merged)))


class Synchronize(torch.nn.Module):
    """Waits for the device, so that host timings measure finished work."""

    def forward(self, device_index: int) -> int:
        torch.cuda.synchronize(device_index)
        return device_index


def check(out_dir: str) -> None:
    dev = torch.device("cuda")
    q, k, v = (torch.randn(1, 4, 64, 32, device=dev, dtype=torch.float16) for _ in range(3))
    ref = torch.softmax(q.float() @ k.float().transpose(-1, -2) / 32 ** 0.5, -1) @ v.float()
    got = torch.jit.load(f"{out_dir}/sdpa.pt")(q, k, v)
    assert (got.float() - ref).norm() / ref.norm() < 2e-3, "sdpa"
    w = torch.randn(64, 32) * 0.1
    w8 = torch.jit.load(f"{out_dir}/to_fp8_pinned.pt")(w)
    assert w8.is_pinned() and w8.dtype == torch.float8_e4m3fn
    moved, done = torch.jit.load(f"{out_dir}/upload_start.pt")([w8], 0)
    up = torch.jit.load(f"{out_dir}/upload_finish.pt")(moved, done, 0)[0]
    assert up.is_cuda and up.dtype == torch.float8_e4m3fn
    wide = torch.jit.load(f"{out_dir}/widen.pt")([up])[0]
    assert torch.equal(wide.cpu(), w8.to(torch.float16)), "upload + widen"
    r = torch.jit.load(f"{out_dir}/random_fp8_pinned.pt")(8, 16, 0.02, 0)
    assert r.is_pinned() and r.shape == (8, 16)
    check_blocks(out_dir)
    print("helpers ok")


def _random_block_weights(prefix_shapes: Dict[str, List[int]], dev: torch.device) -> Dict[str, torch.Tensor]:
    g = torch.Generator(device="cpu").manual_seed(7)
    out: Dict[str, torch.Tensor] = {}
    for name, shape in prefix_shapes.items():
        std = 1.0 / shape[-1] ** 0.5 if len(shape) == 2 else 0.1
        base = 1.0 if name.endswith(".scale") else 0.0
        out[name] = (base + torch.randn(shape, generator=g) * std).to(dev)
    return out


def check_blocks(out_dir: str) -> None:
    """The block modules against BFL's own DoubleStreamBlock / SingleStreamBlock (src/flux of
    black-forest-labs/flux on PYTHONPATH) with the same random weights: float32 (TF32 off) within
    1e-4 relative L2, float16 within 1e-2; the float8-matmul variant on float8 weights against the
    float16 variant on the same weights, its error printed."""
    try:
        from flux.modules.layers import DoubleStreamBlock, SingleStreamBlock
    except ImportError:
        print("BFL's flux package not importable: block modules not checked against it")
        return
    torch.backends.cuda.matmul.allow_tf32 = False
    dev = torch.device("cuda")
    hidden, heads, mlp, t, l = 256, 4, 1024, 32, 96
    ref_double = DoubleStreamBlock(hidden, heads, 4.0, qkv_bias=True).to(dev)
    ref_single = SingleStreamBlock(hidden, heads, 4.0).to(dev)
    for ref in (ref_double, ref_single):
        with torch.no_grad():
            for name, p in ref.named_parameters():
                p.copy_(_random_block_weights({name: list(p.shape)}, dev)[name])
    dw = {n: p.detach() for n, p in ref_double.named_parameters()}
    sw = {n: p.detach() for n, p in ref_single.named_parameters()}
    g = torch.Generator(device="cpu").manual_seed(8)
    img = torch.randn(1, l, hidden, generator=g).to(dev)
    txt = torch.randn(1, t, hidden, generator=g).to(dev)
    vec = torch.randn(1, hidden, generator=g).to(dev)
    ids = torch.randn(1, t + l, 3, generator=g).to(dev) * 8
    from flux.modules.layers import EmbedND
    pe = EmbedND(hidden // heads, 10000, [16, 24, 24])(ids)  # (B, 1, L, D/2, 2, 2)
    cos, sin = pe[..., 0, 0].contiguous(), pe[..., 1, 0].contiguous()

    def rel(a: torch.Tensor, b: torch.Tensor) -> float:
        return float((a.float() - b.float()).norm() / b.float().norm())

    with torch.no_grad():
        ref_img, ref_txt = ref_double(img, txt, vec, pe)
        ref_x = ref_single(torch.cat((txt, img), 1), vec, pe)
        double = torch.jit.load(f"{out_dir}/double_block.pt")
        single = torch.jit.load(f"{out_dir}/single_block.pt")
        for dtype, tol in ((torch.float32, 1e-4), (torch.float16, 1e-2)):
            dwc = {n: p.to(dtype) for n, p in dw.items()}
            swc = {n: p.to(dtype) for n, p in sw.items()}
            got_img, got_txt = double(dwc, img.to(dtype), txt.to(dtype), vec.to(dtype), cos, sin, heads)
            got_x = single(swc, torch.cat((txt, img), 1).to(dtype), vec.to(dtype), cos, sin, heads)
            errs = (rel(got_img, ref_img), rel(got_txt, ref_txt), rel(got_x, ref_x))
            print(f"blocks vs BFL in {dtype}: img {errs[0]:.2e} txt {errs[1]:.2e} single {errs[2]:.2e}")
            assert max(errs) < tol, f"block modules disagree with BFL in {dtype}"
        # float8 matmul against float16 compute on the same float8 weights
        f8 = torch.float8_e4m3fn
        dw8 = {n: (p.to(f8) if p.dim() == 2 else p.half()) for n, p in dw.items()}
        sw8 = {n: (p.to(f8) if p.dim() == 2 else p.half()) for n, p in sw.items()}
        double8 = torch.jit.load(f"{out_dir}/double_block_fp8.pt")
        single8 = torch.jit.load(f"{out_dir}/single_block_fp8.pt")
        h = (img.half(), txt.half(), vec.half())
        wide_img, _ = double(dw8, h[0], h[1], h[2], cos, sin, heads)
        fast_img, _ = double8(dw8, h[0], h[1], h[2], cos, sin, heads)
        joint = torch.cat((h[1], h[0]), 1)
        wide_x = single(sw8, joint, h[2], cos, sin, heads)
        fast_x = single8(sw8, joint, h[2], cos, sin, heads)
        print(f"fp8 matmul vs fp16 compute (same fp8 weights): double img {rel(fast_img, wide_img):.2e}, "
              f"single {rel(fast_x, wide_x):.2e}")
        assert rel(fast_img, wide_img) < 0.1 and rel(fast_x, wide_x) < 0.1, "fp8 matmul far off"
    torch.backends.cuda.matmul.allow_tf32 = True


if __name__ == "__main__":
    out = sys.argv[1]
    modules = {
        "sdpa": Sdpa(),
        "to_fp8_pinned": ToFp8Pinned(),
        "pin_host": PinHost(),
        "upload_start": UploadStart(),
        "upload_finish": UploadFinish(),
        "random_fp8_pinned": RandomFp8Pinned(),
        "widen": Widen(),
        "synchronize": Synchronize(),
        "double_block": DoubleBlock(False),
        "single_block": SingleBlock(False),
        "double_block_fp8": DoubleBlock(True),
        "single_block_fp8": SingleBlock(True),
    }
    for name, module in modules.items():
        torch.jit.script(module).save(f"{out}/{name}.pt")
        print("scripted", name)
    check(out)
