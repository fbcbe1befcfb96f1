"""Cost of one study's occlusion explanation (``model.explain``) at a preset's size.

    .venv/bin/python bench/bench_explain.py [--preset cpu-small] [--threads 2] [--repeats 3]
        [--chunks 16 32 64] [--strides 0 4] [--patch PX]

The preset's video tower (random weights: the cost depends on the forward count and shapes,
not on what was learned) explains one study of the demo's shape: six cine views and the LGE
short-axis stack with every frame, single LGE long-axis images. A row per chunk size and
stride (0: the patch size, squares side by side): the occlusions encoded, the best wall and CPU
seconds of ``--repeats`` runs after a warm-up, and the occlusions per second.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model.explain import OcclusionGrid, StudyInput, explain_study  # noqa: E402
from model.nn.clip_model import build_video_tower  # noqa: E402
from model.nn.presets import load_preset  # noqa: E402
from model.schema import VIEW_SLOTS  # noqa: E402


def demo_study(frames: int, size: int, seed: int = 0) -> StudyInput:
    """``video [9, T, S, S]`` with the demo's masks: every view present, LGE long axes one image."""
    generator = torch.Generator().manual_seed(seed)
    video = torch.rand(len(VIEW_SLOTS), frames, size, size, generator=generator)
    frame_mask = torch.ones(len(VIEW_SLOTS), frames, dtype=torch.bool)
    for slot in ("lge_4ch", "lge_2ch"):
        frame_mask[VIEW_SLOTS.index(slot), 1:] = False
    return StudyInput(video, torch.ones(len(VIEW_SLOTS), dtype=torch.bool), frame_mask)


def timed(
    preset: str, chunk: int, stride: int, repeats: int, patch: int | None = None
) -> tuple[int, float, float]:
    """(occlusions, best wall s, best CPU s) of explaining ``demo_study`` ``repeats`` times."""
    cfg = load_preset(preset).model
    tower = build_video_tower(cfg.video, cfg.embed_dim).eval()
    study = demo_study(cfg.video.frames, cfg.video.image_size)
    rng = np.random.default_rng(0)
    positive, negative = (v / np.linalg.norm(v) for v in rng.normal(size=(2, cfg.embed_dim)))
    grid = OcclusionGrid.of(cfg.video.image_size, patch, stride or None)
    walls, cpus, count = [], [], 0
    for run in range(repeats + 1):
        wall, cpu = time.perf_counter(), time.process_time()
        count = explain_study(tower, study, (positive, negative, 14.3), grid, chunk).occlusions
        if run:  # the first run warms up
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
    return count, min(walls), min(cpus)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunks", type=int, nargs="+", default=[16, 32, 64])
    parser.add_argument("--strides", type=int, nargs="+", default=[0])
    parser.add_argument("--patch", type=int, help="square side in px (default: an eighth)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    print("| chunk | stride | occlusions | wall s | CPU s | occlusions/s |")
    print("|---:|---:|---:|---:|---:|---:|")
    for stride in args.strides:
        for chunk in args.chunks:
            count, wall, cpu = timed(args.preset, chunk, stride, args.repeats, args.patch)
            shown = stride or "patch"
            print(
                f"| {chunk} | {shown} | {count:,} | {wall:.2f} | {cpu:.2f} | {count / wall:.0f} |"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
