"""What the batch-matched validation loss adds to one epoch's validation (cpu-small, the demo's
val split size).

    python -m bench.bench_val_loss [--preset cpu-small] [--studies 140] [--repeats 5] [--threads N]

A cpu-small model (random weights: the cost does not depend on them) validates ``--studies`` val
studies (140 in the demo's internal split) of random videos at the preset's input size, with
impressions written by the demo generator's report phrasing. Validation is timed without and
with ``val_loss_batch`` (the val set in batches of the preset's global batch, scored with its
CLIP + sentence loss), each after one untimed warm-up (it fills the text tower's cache, as the
first epoch does in a run); the parts are timed alone too: the val texts' embedding as before
(``embed_texts``) and with the sentence features kept for the loss, and the chunked loss; on a
loaded machine the parts tell the added time better than the whole (whose video tower, about
three quarters of it, swings by more than the loss costs). Prints medians over ``--repeats``; figures are printed,
not asserted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

from model.nn.clip_model import CMRClip
from model.nn.loss import ClipLoss
from model.nn.presets import load_preset
from model.schema import VIEW_SLOTS
from model.training.val_loss import TrainingLoss, batch_matched_loss, val_features
from model.training.validation import validate
from sample_data import reports
from sample_data.diagnoses import draw_diagnosis, draw_parameters

LOADER_BATCH = 16  # study_loader's


class RandomValSet:
    """What ``validate`` reads of a ``ValSet``: ids, impressions, held input batches."""

    def __init__(self, studies: int, frames: int, size: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        self.ids = [f"val{i:04d}" for i in range(studies)]
        self.texts = [impression(rng) for _ in self.ids]
        generator = torch.Generator().manual_seed(seed)
        views = len(VIEW_SLOTS)
        self._held = [
            {
                "video": torch.rand(len(part), views, frames, size, size, generator=generator),
                "view_mask": torch.ones(len(part), views, dtype=torch.bool),
                "frame_mask": torch.ones(len(part), views, frames, dtype=torch.bool),
                "study_id": part,
            }
            for part in (self.ids[i : i + LOADER_BATCH] for i in range(0, studies, LOADER_BATCH))
        ]

    def batches(self) -> list[dict]:
        return self._held


def impression(rng: np.random.Generator) -> str:
    """One impression as the demo generator words it (its sentences joined, prose style)."""
    params = draw_parameters(rng, draw_diagnosis(rng, "internal"))
    phrasing = reports._Phrasing(str(rng.choice(["terse", "prose"])), rng)
    return " ".join(reports.impression_sentences(params, reports.measure(params, rng), phrasing))


def interleaved_medians(runs: dict[str, Callable[[], object]], repeats: int) -> dict[str, float]:
    """Median wall seconds of each run over ``repeats`` rounds, the runs taking turns within a
    round (on a shared machine a burst of load then falls on every run alike), after one untimed
    warm-up round."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    for round_ in range(repeats + 1):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            if round_:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in times.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--studies", type=int, default=140)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="torch threads (0: its own)")
    args = parser.parse_args(argv)
    if args.threads:  # one thread: no spinning OpenMP team on a machine shared with others
        torch.set_num_threads(args.threads)
    preset = load_preset(args.preset)
    torch.manual_seed(0)
    model = CMRClip(preset.model).eval()
    cfg = preset.train
    val = RandomValSet(args.studies, cfg.frames, cfg.image_size)
    matched = TrainingLoss(cfg.batch_size, cfg.sentence_loss)
    loss_fn = ClipLoss(distributed=False)
    vectors = np.zeros((len(val.ids), preset.model.embed_dim), np.float32)  # any unit rows
    vectors[:, 0] = 1.0
    features = val_features(model, vectors, val.texts, matched.sentence_weight > 0)
    seconds = interleaved_medians(
        {
            "before": lambda: validate(model, loss_fn, val),
            "after": lambda: validate(model, loss_fn, val, None, None, matched),
            "plain": lambda: val_features(model, vectors, val.texts, False),
            "with_loss": lambda: val_features(model, vectors, val.texts, True),
            "part": lambda: batch_matched_loss(features, model.scale(), matched),
        },
        args.repeats,
    )
    before, after, plain, with_loss, part = seconds.values()
    sentences = sum(len(model.text.read_sentences([t])[0]) for t in val.texts)
    print(
        f"{args.preset}: {len(val.ids)} val studies ({sentences} sentences), batches of "
        f"{matched.batch}, sentence weight {matched.sentence_weight}, torch threads "
        f"{torch.get_num_threads()}\n"
        f"validation without val_loss_batch {before:.3f} s, with it {after:.3f} s "
        f"({after - before:+.3f} s)\n"
        f"its parts: val texts by embed_texts {plain * 1000:.0f} ms, with the sentence features "
        f"kept for the loss {with_loss * 1000:.0f} ms; the chunked loss {part * 1000:.1f} ms; "
        f"added by the parts {(with_loss - plain + part) * 1000:+.0f} ms"
    )


if __name__ == "__main__":
    main()
