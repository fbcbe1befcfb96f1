"""Gradient accumulation (``train --accum-freq K``): what a step costs and what it holds.

    python -m bench.bench_accumulation [--preset cpu-small] [--kind multiview] [--freqs 1,2,4,8]
                                       [--steps 4] [--rounds 3] [--batch-size N] [--device auto]

One process, the trainer's own ``Engine`` (forward, loss, backward, AdamW step) on random videos
of the preset's input size and report-like texts. For each K the step time is the median over
``--rounds`` rounds that alternate the Ks (so load on a shared machine falls on every K alike),
given as a ratio to K = 1 measured in the same run, on the wall clock and in this process's
CPU time. The memory a step holds for its backward is
counted, not timed: the bytes autograd saves during the forward of the largest micro-batch
(``bench.activations.saved_bytes``), the activations an accumulated step keeps alive at once; on
CUDA the peak allocated memory of the steps is printed too. glibc's allocator is tuned as the
train command tunes it.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from bench.activations import saved_bytes
from bench.bench_train import batch_inputs, preset_with_kind
from bench.mfu import synchronize
from model.allocator import tune_allocator
from model.nn.clip_model import CMRClip
from model.nn.loss import ClipLoss
from model.training.accumulation import split_batch
from model.training.distributed import DistContext, resolve_device
from model.training.engine import Engine
from model.training.schedule import build_optimizer


def build_engine(preset_name: str, kind: str, device: torch.device) -> Engine:
    """The trainer's engine for ``preset_name`` with its video tower of ``kind``, on ``device``."""
    preset = preset_with_kind(preset_name, kind)
    torch.manual_seed(0)
    model = CMRClip(preset.model).to(device)
    cfg = preset.train
    optimizer = build_optimizer(model, cfg)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    ctx = DistContext(rank=0, world_size=1, local_rank=0, device=device)
    loss_fn = ClipLoss(local_loss=True, gather_with_grad=True)
    sentence_weight = cfg.sentence_loss
    return Engine(model, loss_fn, optimizer, scheduler, ctx, cfg.grad_clip, cfg.precision,
                  sentence_weight)  # fmt: skip


def a_batch(preset_name: str, batch: int | None, device: torch.device) -> dict:
    cfg = preset_with_kind(preset_name, "multiview").train
    video, view_mask, frame_mask, texts = batch_inputs(
        batch or cfg.batch_size, cfg.frames, cfg.image_size, device
    )
    return {"video": video, "view_mask": view_mask, "frame_mask": frame_mask, "text": texts}


def step_seconds(engine: Engine, batch: dict, freq: int, steps: int) -> tuple[float, float]:
    """Mean (wall, CPU) seconds of ``steps`` training steps at ``freq`` micro-batches; the CPU
    time (this process's, every thread) is less moved by other work on a shared machine."""
    engine.accum_freq = freq
    synchronize(engine.ctx.device)
    start, cpu_start = time.perf_counter(), time.process_time()
    for step in range(steps):
        engine.train_step(batch, step + 1)
    synchronize(engine.ctx.device)
    return (time.perf_counter() - start) / steps, (time.process_time() - cpu_start) / steps


def held_mib(engine: Engine, batch: dict, freq: int) -> float:
    """MiB autograd saves for the backward of the largest of ``freq`` micro-batches."""
    part = max(split_batch(batch, freq), key=lambda micro: len(micro["text"]))
    engine.model.train()
    return saved_bytes(lambda: engine.features_of(part).video.sum()) / 2**20


def measure(args: argparse.Namespace) -> list[dict]:
    device = resolve_device(args.device)
    engine = build_engine(args.preset, args.kind, device)
    batch = a_batch(args.preset, args.batch_size, device)
    freqs = [int(f) for f in args.freqs.split(",")]
    for freq in freqs:  # warm-up: caches, allocator, the text tower's frozen states
        step_seconds(engine, batch, freq, 1)
    times: dict[int, list[tuple[float, float]]] = {freq: [] for freq in freqs}
    peaks: dict[int, float] = {}
    for round_index in range(args.rounds):
        order = freqs if round_index % 2 == 0 else freqs[::-1]
        for freq in order:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats(device)
            times[freq].append(step_seconds(engine, batch, freq, args.steps))
            if device.type == "cuda":
                peaks[freq] = torch.cuda.max_memory_allocated(device) / 2**30
    wall = {freq: statistics.median(t for t, _ in times[freq]) for freq in freqs}
    cpu = {freq: statistics.median(c for _, c in times[freq]) for freq in freqs}
    return [
        {
            "freq": freq,
            "micro_batch": -(-len(batch["text"]) // freq),
            "step_s": wall[freq],
            "ratio": wall[freq] / wall[freqs[0]],
            "cpu_s": cpu[freq],
            "cpu_ratio": cpu[freq] / cpu[freqs[0]],
            "held_mib": held_mib(engine, batch, freq),
            "peak_gib": peaks.get(freq),
        }
        for freq in freqs
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--kind", default="multiview")
    parser.add_argument("--freqs", default="1,2,4,8", help="Ks to compare; the first is the base")
    parser.add_argument("--steps", type=int, default=4, help="steps per K in each round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch-size", type=int, help="the global batch (default: the preset's)")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)
    tune_allocator()  # as the train command does (model/allocator.py)
    rows = measure(args)
    studies = rows[0]["micro_batch"]  # the first K's micro-batch: the whole batch at K = 1
    print(f"{args.preset} {args.kind} on {resolve_device(args.device)}, {studies} studies per step")
    for row in rows:
        peak = f"  peak {row['peak_gib']:.2f} GiB" if row["peak_gib"] is not None else ""
        print(
            f"K={row['freq']:<3d} micro-batch {row['micro_batch']:4d}  step {row['step_s']:.3f} s "
            f"wall ({row['ratio']:.2f}x), {row['cpu_s']:.3f} s CPU ({row['cpu_ratio']:.2f}x)  "
            f"held for backward {row['held_mib']:7.1f} MiB "
            f"({rows[0]['held_mib'] / row['held_mib']:.1f}x less){peak}"
        )


if __name__ == "__main__":
    main()
