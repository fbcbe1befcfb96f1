"""Checkpoint size and save time, frozen MiniLM layers stored by value against by reference.

    python -m bench.bench_checkpoint [--preset cpu-small] [--repeats 5] [--out FOLDER]

A training run writes ``last.pt`` after every epoch. This writes the checkpoint a run would write
(the preset's model, its AdamW state after one step) ``repeats`` times each way, alternated:
every tensor stored, and the text tower's frozen part stored by reference
(``model.training.weights``), and reports the file size and the median save time of each,
plus the time to load the by-reference file with its fingerprint check. The files go to
``--out`` (default: a temporary folder) and are removed afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import torch

from model.allocator import tune_allocator
from model.nn.clip_model import CMRClip
from model.nn.presets import load_preset, preset_to_dict
from model.training.checkpoint import load_checkpoint, save_checkpoint
from model.training.schedule import build_optimizer


def trained_model(preset_name: str) -> tuple[CMRClip, dict, dict]:
    """The preset's model after one optimiser step, its config and the resume state a run
    would save."""
    preset = load_preset(preset_name)
    torch.manual_seed(0)
    model = CMRClip(preset.model)
    optimizer = build_optimizer(model, preset.train)
    sum((p**2).sum() for p in model.parameters() if p.requires_grad).backward()
    optimizer.step()
    return model, preset_to_dict(preset), {"optimizer": optimizer.state_dict()}


def timed_save(path: Path, model: CMRClip, config: dict, resume: dict, by_reference: bool) -> float:
    pretrained = model.pretrained_state_names() if by_reference else ()
    start = time.perf_counter()
    save_checkpoint(
        path,
        model,
        config,
        data_fingerprint="bench",
        epoch=0,
        step=0,
        resume_state=resume,
        pretrained=pretrained,
    )
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, help="folder for the files (default: temporary)")
    args = parser.parse_args()
    tune_allocator()
    model, config, resume = trained_model(args.preset)
    with tempfile.TemporaryDirectory(dir=args.out) as folder:
        paths = {False: Path(folder) / "whole.pt", True: Path(folder) / "by_reference.pt"}
        seconds: dict[bool, list[float]] = {False: [], True: []}
        for _ in range(args.repeats):
            for by_reference, path in paths.items():
                seconds[by_reference].append(timed_save(path, model, config, resume, by_reference))
        for by_reference, path in paths.items():
            kind = "by reference" if by_reference else "every tensor"
            print(
                f"{args.preset} {kind:13s} {path.stat().st_size / 2**20:6.1f} MiB, save median "
                f"{statistics.median(seconds[by_reference]):.3f} s "
                f"({', '.join(f'{s:.3f}' for s in seconds[by_reference])})"
            )
        start = time.perf_counter()
        load_checkpoint(paths[True])
        print(
            f"load by reference (model built, fingerprint checked) {time.perf_counter() - start:.2f} s"
        )


if __name__ == "__main__":
    main()
