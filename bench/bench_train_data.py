"""Where a real training step's time goes: loading, video tower, text tower, on an ingested dataset.

    python -m bench.bench_train_data --data DATASET [--preset cpu-small] [--kinds multiview,flat]
                                     [--steps 6] [--warm-epochs N] [--default-allocator]

``bench_train`` times the model on random videos with six fixed texts, whose frozen text
states are cached after the first step. Training reads real studies: views and frames go
missing, and the impressions are varied every step (sentence and word dropout, fragments), so
most sentences miss the frozen-state cache. This bench takes ``steps`` batches of the train
split, varied as the preset's training varies them, and times, per tower kind:

- loading them through a ``DataLoader`` as the trainer does (decode, resize, augmentation);
- the trainer's own optimiser step (``Engine.train_step``: both losses, clipping, schedule);
- the video tower alone, forward + backward;
- the text tower alone (every sentence, frozen part included), forward + backward.

Each timing starts from a fresh model, so the text cache holds only the warm-up batch. With
``--warm-epochs N`` the warm-up is every batch as each of N epochs varies it, and the timed
batches are the same studies as epoch N varies them: the frozen text cache then holds what N
epochs of training have read, as later in a run.
The glibc allocator is tuned as ``python -m model train`` tunes it unless ``--default-allocator``.
``--autocast-bf16`` runs every timed step under CPU bf16 autocast (training on CPU is fp32; this
measures whether bf16 would pay on this CPU). ``--zero-histograms`` replaces every intensity
histogram by zeros: the outputs are wrong, the time is what a free histogram would leave (an
upper bound on what a faster one could buy).
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import time
from collections.abc import Callable
from pathlib import Path
from unittest import mock

import torch
from torch.utils.data import DataLoader

from model.allocator import tune_allocator
from model.data.dataset import CMRDataset, StudyVideoDataset
from model.nn.blocks import IntensityHistogram
from model.nn.clip_model import CMRClip
from model.nn.config import Preset
from model.nn.loss import ClipLoss
from model.nn.presets import load_preset
from model.training.distributed import DistContext
from model.training.engine import Engine
from model.training.schedule import build_optimizer, build_scheduler


def load_batches(
    data: Path, preset: Preset, steps: int, epoch: int = 0
) -> tuple[list[dict], float]:
    """``steps + 1`` batches of the train split as training varies them in ``epoch``, and the
    seconds the loader took for them."""
    cfg = preset.train
    ds = CMRDataset.open(data)
    ids, _ = ds.reported_ids("train")  # the studies the trainer trains on
    items = StudyVideoDataset(
        ds,
        ids[: (steps + 1) * cfg.batch_size],
        frames=cfg.frames,
        size=cfg.image_size,
        augment=cfg.augment,
        seed=cfg.seed * 1000 + epoch,  # the trainer's per-epoch seed
        sentence_drop=cfg.sentence_drop,
        word_drop=cfg.word_drop,
        fragment_rate=cfg.fragment_rate,
    )
    loader = DataLoader(items, batch_size=cfg.batch_size, num_workers=cfg.num_workers)
    start = time.perf_counter()
    batches = list(loader)
    return batches, time.perf_counter() - start


def timed(
    step: Callable[[dict], None], batches: list[dict], warm_up: list[dict], bf16: bool = False
) -> float:
    """Seconds per batch of ``step`` over ``batches``, after running it untimed on ``warm_up``;
    with ``bf16`` both under CPU bf16 autocast."""
    autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()
    with autocast:
        for batch in warm_up:
            step(batch)
        start = time.perf_counter()
        for batch in batches:
            step(batch)
        return (time.perf_counter() - start) / len(batches)


def fresh_model(preset: Preset) -> CMRClip:
    torch.manual_seed(preset.train.seed)
    return CMRClip(preset.model).train()


def trainer_step(preset: Preset) -> Callable[[dict], None]:
    """The trainer's optimiser step (``Engine.train_step``) on a fresh model, one process."""
    cfg = preset.train
    model = fresh_model(preset)
    optimizer = build_optimizer(model, cfg)
    engine = Engine(
        model,
        ClipLoss(),
        optimizer,
        build_scheduler(optimizer, cfg, total_steps=1000),
        DistContext(rank=0, world_size=1, local_rank=0, device=torch.device("cpu")),
        cfg.grad_clip,
        cfg.precision,
        sentence_weight=cfg.sentence_loss,
    )
    step_numbers = itertools.count(1)

    def step(batch: dict) -> None:
        engine.train_step(batch, next(step_numbers))

    return step


def video_step(preset: Preset) -> Callable[[dict], None]:
    """Video tower forward + backward on a fresh model."""
    model = fresh_model(preset)

    def step(batch: dict) -> None:
        model.visual(batch["video"], batch["view_mask"], batch["frame_mask"]).sum().backward()

    return step


def text_step(preset: Preset) -> Callable[[dict], None]:
    """Text tower forward + backward over every sentence of the batch, on a fresh model."""
    model = fresh_model(preset)

    def step(batch: dict) -> None:
        features, _ = model.text.sentence_features(list(batch["text"]))
        features.sum().backward()

    return step


def zero_histograms() -> contextlib.AbstractContextManager:
    """While active, ``IntensityHistogram.features`` returns zeros of its shape (no pixel pass)."""

    def zeros(self: IntensityHistogram, frames: torch.Tensor) -> torch.Tensor:
        return frames.new_zeros(frames.shape[0], 2 * self.bins)

    return mock.patch.object(IntensityHistogram, "features", zeros)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="an ingested dataset folder")
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--kinds", default="multiview,flat")
    parser.add_argument("--steps", type=int, default=6)
    parser.add_argument(
        "--warm-epochs",
        type=int,
        default=0,
        help="warm up on N epochs' variants of the timed studies, then time epoch N's",
    )
    parser.add_argument(
        "--default-allocator", action="store_true", help="leave glibc's thresholds as they are"
    )
    parser.add_argument(
        "--autocast-bf16", action="store_true", help="time every step under CPU bf16 autocast"
    )
    parser.add_argument(
        "--zero-histograms", action="store_true", help="time with every histogram as zeros"
    )
    args = parser.parse_args()
    tuned = not args.default_allocator and tune_allocator()
    print(
        f"torch threads {torch.get_num_threads()}, allocator tuned {tuned},"
        f" bf16 autocast {args.autocast_bf16}, zero histograms {args.zero_histograms}"
    )
    with zero_histograms() if args.zero_histograms else contextlib.nullcontext():
        for kind in args.kinds.split(","):
            time_kind(args, kind)


def time_kind(args: argparse.Namespace, kind: str) -> None:
    """Load, time and print one tower kind's row."""
    preset = load_preset(args.preset)
    preset.model.video.kind = kind
    if kind == "flat":
        preset.model.video.stem = "linear"
    batches, load_s = load_batches(args.data, preset, args.steps)
    load_ms = 1000 * load_s / len(batches)
    warm_up, batches = batches[:1], batches[1:]
    if args.warm_epochs > 0:  # the same studies, varied as each epoch varies them
        epochs = [
            load_batches(args.data, preset, args.steps, epoch)[0]
            for epoch in range(1, args.warm_epochs + 1)
        ]
        warm_up = warm_up + batches + [batch for epoch in epochs[:-1] for batch in epoch]
        batches = epochs[-1]
    size = preset.train.batch_size
    times = {
        "step": timed(trainer_step(preset), batches, warm_up, args.autocast_bf16),
        "video": timed(video_step(preset), batches, warm_up, args.autocast_bf16),
        "text": timed(text_step(preset), batches, warm_up, args.autocast_bf16),
    }
    print(
        f"{args.preset:10s} {kind:10s} batch {size:3d}  trainer step {size / times['step']:6.1f}"
        f" studies/s ({1000 * times['step']:5.0f} ms): video f+b {1000 * times['video']:5.0f}"
        f" ms, text f+b {1000 * times['text']:5.0f} ms; loading {load_ms:4.0f} ms/batch"
    )


if __name__ == "__main__":
    main()
