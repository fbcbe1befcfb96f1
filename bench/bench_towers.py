"""Training throughput of the video towers at equal input: studies/s for forward + backward.

    .venv/bin/python bench/bench_towers.py [--preset cpu-small] [--batch 16] [--steps 5]
        [--threads 2] [--kinds multiview flat static] [--tubelets 1 2]

Every tower gets the same batch ``[B, 9, T, S, S]`` (T frames and S pixels from the preset) with
the demo dataset's mask pattern: six cine views and the LGE short-axis stack with every frame,
single LGE long-axis images (frame 0 only), and one view in eight missing at random. The figure
is the median over ``--steps`` timed steps after one warm-up step (CPU, fp32). ``--tubelets``
adds a multiview row per tubelet size (``multiview/tN``), side by side with the preset's own.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.nn.clip_model import build_video_tower  # noqa: E402
from model.nn.presets import load_preset  # noqa: E402
from model.schema import VIEW_SLOTS  # noqa: E402


def demo_batch(batch: int, frames: int, size: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """``video [B, 9, T, S, S]``, ``view_mask [B, 9]``, ``frame_mask [B, 9, T]`` like ingest's."""
    generator = torch.Generator().manual_seed(seed)
    video = torch.rand(batch, len(VIEW_SLOTS), frames, size, size, generator=generator)
    view_mask = torch.rand(batch, len(VIEW_SLOTS), generator=generator) > 0.125
    frame_mask = view_mask.unsqueeze(-1).repeat(1, 1, frames)
    for slot in ("lge_4ch", "lge_2ch"):
        frame_mask[:, VIEW_SLOTS.index(slot), 1:] = False
    return video, view_mask, frame_mask


def studies_per_second(
    kind: str, preset: str, batch: int, steps: int, tubelet: int | None = None
) -> tuple[float, float, int]:
    """Median forward+backward studies/s (wall clock), CPU seconds per study, parameter count.

    CPU time is less sensitive than wall time to other processes sharing the cores. ``tubelet``
    overrides the preset's (multiview).
    """
    cfg = load_preset(preset).model
    video_cfg = replace(cfg.video, kind=kind, tubelet=tubelet or cfg.video.tubelet)
    tower = build_video_tower(video_cfg, cfg.embed_dim)
    tower.train()
    video, view_mask, frame_mask = demo_batch(batch, cfg.video.frames, cfg.video.image_size)
    timings, cpu_times = [], []
    for step in range(steps + 1):
        start, cpu_start = time.perf_counter(), time.process_time()
        tower.zero_grad(set_to_none=True)
        features = tower(video, view_mask, frame_mask)
        features.square().mean().backward()
        if step:
            timings.append(time.perf_counter() - start)
            cpu_times.append(time.process_time() - cpu_start)
    params = sum(p.numel() for p in tower.parameters())
    return batch / statistics.median(timings), statistics.median(cpu_times) / batch, params


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--kinds", nargs="+", default=["multiview", "flat", "static"])
    parser.add_argument("--tubelets", nargs="*", type=int, default=[], help="extra multiview rows")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    results = {}
    load = os.getloadavg()[0]
    print(
        f"preset={args.preset} batch={args.batch} threads={args.threads} (forward+backward), "
        f"load average before: {load:.1f}"
    )
    rows = [(kind, kind, None) for kind in args.kinds]
    rows += [(f"multiview/t{t}", "multiview", t) for t in args.tubelets]
    for name, kind, tubelet in rows:
        rate, cpu_per_study, params = studies_per_second(
            kind, args.preset, args.batch, args.steps, tubelet
        )
        results[name] = (rate, cpu_per_study)
        print(
            f"{name:>12}: {rate:7.2f} studies/s wall, {1000 * cpu_per_study:7.1f} CPU-ms/study "
            f"({params / 1e6:.2f} M parameters)"
        )
    if "multiview" in results and "flat" in results:
        wall = results["multiview"][0] / results["flat"][0]
        cpu = results["flat"][1] / results["multiview"][1]
        print(f"multiview / flat throughput: {wall:.2f}x wall clock, {cpu:.2f}x by CPU time")


if __name__ == "__main__":
    main()
