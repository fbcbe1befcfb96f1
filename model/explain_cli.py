"""``python -m model explain``: which view, frame and region drive one study's finding score.

Scores the study ``--study`` of ``--data`` against the finding ``--finding`` of ``--prompts``
as the ``zeroshot`` command does, then occludes each view, each frame and each square of each
view (``model.explain``) and writes into ``--out``:

- ``attributions.csv``: a row per view and per frame (``part, view, frame, present,
  attribution``), the attribution being the probability minus the probability with that part
  occluded (positive: the part raises the finding; blank: the part is absent);
- ``<view>.png`` per present view: the frame whose occlusion lowers the probability most, with
  the region map over it (red: occluding the square lowers the probability).

Every input is checked before anything is computed, and the files are written only once all of
them are made, each atomically: a refused or failed run leaves nothing half-written.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_bytes, atomic_write_with
from model.errors import DataError
from model.explain import (
    CHUNK,
    Explanation,
    OcclusionGrid,
    check_finding,
    explain_with_model,
    finding_vectors,
    study_input,
)
from model.explain_figure import attribution_table, view_png
from model.input_checks import check_inputs
from model.output_path import check_not_an_input, check_output_path
from model.prompts import DEFAULT_PROMPTS, PromptSet
from model.schema import VIEW_SLOTS

log = logging.getLogger(__name__)
TABLE = "attributions.csv"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .pt checkpoint")
    parser.add_argument("--data", required=True, type=Path, help="an ingested dataset folder")
    parser.add_argument("--study", required=True, help="the study_id to explain")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="prompt-set YAML")
    parser.add_argument("--finding", required=True, help="a finding of the prompt set")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help=f"output folder: {TABLE} (view and frame attributions) and a PNG per view",
    )
    parser.add_argument(
        "--patch",
        type=int,
        help="occluded square's side in pixels (default: an eighth of the frame, 8 x 8 squares)",
    )
    parser.add_argument(
        "--stride",
        type=int,
        help="pixels between squares (default: the patch size; smaller overlaps them, finer "
        "maps at (patch/stride)^2 times the cost)",
    )
    parser.add_argument("--chunk", type=int, default=CHUNK, help="occluded studies per forward")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def run(args: argparse.Namespace) -> int:
    from model.data.dataset import CMRDataset
    from model.embed import embed_texts
    from model.training.checkpoint import load_checkpoint
    from model.training.distributed import resolve_device

    check_output_path(args.out, "--out", folder=True)
    check_not_an_input(args.out / TABLE, "--out", (), args.data)
    if args.chunk < 1:
        raise DataError(f"--chunk must be at least 1, got {args.chunk}")
    check_inputs(checkpoint=args.checkpoint, datasets=[args.data], prompts=args.prompts)
    prompt_set = PromptSet.load(args.prompts)
    check_finding(prompt_set, args.finding)
    ds = CMRDataset.open(args.data)
    ds.row(args.study)  # DataError naming the study and the dataset
    model, _ = load_checkpoint(args.checkpoint, device=resolve_device(args.device))
    grid = OcclusionGrid.of(model.input_size, args.patch, args.stride)
    study = study_input(ds, args.study, model.input_frames, model.input_size)
    positive, negative = finding_vectors(
        prompt_set, args.finding, lambda texts: embed_texts(model, texts)
    )
    scale = float(model.logit_scale.exp().item())  # as the zeroshot command scores
    found = explain_with_model(model, study, (positive, negative, scale), grid, args.chunk)
    log.info(
        "p(%s) = %.3f for %s: %d occlusions (squares of %d px every %d px) in %.1f s",
        args.finding,
        found.probability,
        args.study,
        found.occlusions,
        grid.patch,
        grid.stride,
        found.seconds,
    )
    _write(args.out, found, study.video.numpy(), args.finding)
    return 0


def _write(out: Path, found: Explanation, video: np.ndarray, finding: str) -> None:
    """The table and the PNGs, all made first, then each written atomically."""
    table = attribution_table(found, VIEW_SLOTS)
    pictures = {
        out / f"{name}.png": view_png(found, video, v, f"{name}: what drives p({finding})")
        for v, name in enumerate(VIEW_SLOTS)
        if found.view_present[v]
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_with(out / TABLE, lambda tmp: table.to_csv(tmp, index=False))
    for path, data in pictures.items():
        atomic_write_bytes(path, data)
    log.info("wrote %s and %d view images to %s", TABLE, len(pictures), out)
