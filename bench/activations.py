"""Activation memory of the video towers: what a training forward keeps for its backward pass.

    python -m bench.activations [--presets gpu-base] [--kinds multiview,flat,static]
                                [--batch-size 2] [--frames N] [--image-size S]

Counts the bytes of every tensor autograd saves during one training-mode forward of the video
tower (``torch.autograd.graph.saved_tensors_hooks``; a storage saved twice counts once), with
and without gradient checkpointing (``CMRClip.set_grad_checkpointing``), on the CPU in float32
with random input. That is a count, not a timing, so it is the same on any machine; on a GPU
under bf16 autocast the matmul inputs are saved in half the bytes. ``--frames`` and
``--image-size`` shrink the input for presets too large to run forward on a CPU.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import torch

from bench.bench_train import batch_inputs, preset_with_kind
from model.nn.blocks import set_grad_checkpointing
from model.nn.clip_model import build_video_tower


def saved_bytes(forward: Callable[[], torch.Tensor]) -> int:
    """Bytes of the distinct storages autograd saves for backward while ``forward()`` runs."""
    storages: dict[tuple[int, int], int] = {}

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        storage = tensor.untyped_storage()
        storages[(storage.data_ptr(), storage.nbytes())] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        forward()
    return sum(storages.values())


def measure(preset_name: str, kind: str, batch: int, frames: int | None, size: int | None) -> dict:
    """Saved MiB per study of one tower, plain and with gradient checkpointing."""
    preset = preset_with_kind(preset_name, kind)
    frames = frames or preset.train.frames
    size = size or preset.train.image_size
    tower = build_video_tower(preset.model.video, preset.model.embed_dim).train()
    video, view_mask, frame_mask, _ = batch_inputs(batch, frames, size, torch.device("cpu"))
    result = {"preset": preset_name, "kind": kind, "frames": frames, "size": size}
    for name, enable in (("plain", False), ("checkpointed", True)):
        set_grad_checkpointing(tower, enable)
        mib = saved_bytes(lambda: tower(video, view_mask, frame_mask)) / 2**20
        result[name] = mib / batch
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default="gpu-base")
    parser.add_argument("--kinds", default="multiview,flat,static")
    parser.add_argument("--batch-size", type=int, default=2)
    parser.add_argument("--frames", type=int, help="frames per view instead of the preset's")
    parser.add_argument("--image-size", type=int, help="pixels per side instead of the preset's")
    args = parser.parse_args()
    torch.manual_seed(0)
    for preset in args.presets.split(","):
        for kind in args.kinds.split(","):
            r = measure(preset, kind, args.batch_size, args.frames, args.image_size)
            print(
                f"{r['preset']:10s} {r['kind']:10s} {r['frames']:3d} frames {r['size']:4d} px  "
                f"saved per study: {r['plain']:9.1f} MiB plain, {r['checkpointed']:8.1f} MiB "
                f"checkpointed ({r['plain'] / r['checkpointed']:.1f}x less)"
            )


if __name__ == "__main__":
    main()
