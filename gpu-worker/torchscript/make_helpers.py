"""Scripts the TorchScript helper modules that the engine loads through DJL on a GPU.

DJL's PyTorch engine has no fused attention, pinned memory, CUDA streams or float8 type; these
few-line modules reach them. Run once with the PyTorch of the machine the helpers are for:

    python3 make_helpers.py OUT_DIR

Each helper is saved as OUT_DIR/<name>.pt and checked against eager PyTorch before it is
written. The engine finds them as class-path resources under dev/fleet/engine/gpu/.
"""
import sys
from typing import List, Tuple

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
    print("helpers ok")


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
    }
    for name, module in modules.items():
        torch.jit.script(module).save(f"{out}/{name}.pt")
        print("scripted", name)
    check(out)
