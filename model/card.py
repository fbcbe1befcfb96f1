"""``python -m model card --checkpoint CKPT [--evaluation DIR ...] --out FILE.md``: a model card
(Hugging Face style Markdown) built from the facts a checkpoint's files hold: its metadata, its
run folder, its training dataset and the evaluations that measured its weights. Nothing is typed
in by hand and nothing is guessed: what the files do not say, the card says it does not know.

``card_facts`` gathers them; ``model.card_markdown.render_card`` writes the Markdown;
``write_card`` writes it atomically: a refusal (not a checkpoint, an evaluation of other
weights, one without a summary) leaves no card and no earlier card changed. The card holds
aggregate counts only: no study ids, accession numbers, names or birth dates (none of them is
read), and its files by their folder's name (only the command of a card "not evaluated" names
the dataset's folder as this machine finds it).

``count_weights=False`` (the dashboard) never imports torch when the checkpoint's metadata
sidecar vouches for it: parameter counts then come from the metadata (recorded by training
since 2026-12) or are said not to be recorded; ``python -m model card`` counts them from the
model its config builds.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_text
from model.card_evaluation import EvaluationFigures, given_evaluation, newest_evaluation
from model.card_markdown import TEXT_PACKAGE, render_card
from model.card_run import DatasetFacts, RunRecord, describe_dataset, read_run
from model.checkpoint_meta import CheckpointFacts, checkpoint_facts, read_sidecar
from model.errors import UserError
from model.provenance import file_sha256, software_versions

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CardFacts:
    """Everything a model card states, read from files."""

    facts: CheckpointFacts
    shown: str  # the checkpoint as the card names it: run folder / file
    sha256: str
    size_bytes: int
    parameters: dict[str, int] | None
    text_version: str  # the installed text package's version, "" when not installed
    run: RunRecord
    dataset: DatasetFacts | None
    evaluations: list[EvaluationFigures] = field(default_factory=list)
    searched: bool = False  # evaluations were looked up (none given), not named

    @property
    def meta(self) -> Any:
        return self.facts.meta


def _checkpoint_sha256(checkpoint: Path) -> str:
    """The checkpoint file's SHA-256; ``UserError`` when it cannot be read."""
    digest = file_sha256(checkpoint)
    if digest is None:
        raise UserError(f"{checkpoint} cannot be read: no model card")
    return digest


def recorded_parameters(extra: dict[str, Any]) -> dict[str, int] | None:
    """The parameter counts a checkpoint's ``extra`` records, None when it records none."""
    counts = extra.get("parameters")
    if not isinstance(counts, dict):
        return None
    try:
        return {"total": int(counts["total"]), "trainable": int(counts["trainable"])}
    except (KeyError, TypeError, ValueError):
        return None


def counted_parameters(config: dict[str, Any]) -> dict[str, int]:
    """Parameter counts of the model ``config`` builds (imports torch; loads the text tower)."""
    from model.nn.clip_model import CMRClip
    from model.nn.presets import model_config_from_dict
    from model.training.weights import parameter_counts

    try:
        return parameter_counts(CMRClip(model_config_from_dict(config["model"])))
    except (KeyError, TypeError, ValueError) as err:
        raise UserError(f"the checkpoint's model config is not valid here: {err}") from None


def read_facts(checkpoint: Path, count_weights: bool) -> CheckpointFacts:
    """The checkpoint's metadata: its sidecar's when it vouches for the file, else read with
    ``torch.load(weights_only=True)``; a one-line CheckpointError for a file that is not one."""
    if not checkpoint.exists():
        raise UserError(f"checkpoint {checkpoint} does not exist")
    found = read_sidecar(checkpoint)
    if found is not None:
        return found
    return checkpoint_facts(checkpoint, remember=count_weights)


def card_facts(
    checkpoint: str | Path,
    evaluations: list[Path] | None = None,
    count_weights: bool = True,
    data_root: Path | None = None,
) -> CardFacts:
    """The facts of ``checkpoint``'s card; ``evaluations``: folders to report (each must have
    measured these weights), None to use the newest the dashboard lists for them under
    ``data_root`` (default: ``$CMR_DATA_ROOT``); ``count_weights``: build the model to count
    its parameters when its metadata does not record them (imports torch)."""
    checkpoint = Path(checkpoint)
    facts = read_facts(checkpoint, count_weights)
    meta = facts.meta
    shown = f"{checkpoint.resolve().parent.name}/{checkpoint.name}"
    if evaluations is None:
        newest = newest_evaluation(checkpoint, meta.fingerprint, data_root)
        figures = [] if newest is None else [newest]
    else:
        figures = [given_evaluation(Path(f), meta.fingerprint, shown) for f in evaluations]
    parameters = recorded_parameters(meta.extra)
    if parameters is None and count_weights:
        parameters = counted_parameters(meta.config)
    run = read_run(meta)
    return CardFacts(
        facts=facts,
        shown=shown,
        sha256=_checkpoint_sha256(checkpoint),
        size_bytes=checkpoint.stat().st_size,
        parameters=parameters,
        text_version=software_versions().get(TEXT_PACKAGE, ""),
        run=run,
        dataset=describe_dataset(run, meta.data_fingerprint, data_root),
        evaluations=figures,
        searched=evaluations is None,
    )


def check_card_path(path: str | Path) -> Path:
    """``path`` as a card's file: UserError for a folder, a missing folder or another suffix
    than ``.md`` (a mistyped ``--out best.pt`` would replace the checkpoint)."""
    path = Path(path)
    if path.is_dir():
        raise UserError(f"--out {path} is a folder; give the card's file, e.g. {path}/README.md")
    if path.suffix.lower() != ".md":
        raise UserError(f"--out {path} is not a Markdown file; give a name ending in .md")
    if not path.parent.is_dir():
        raise UserError(f"--out: the folder {path.parent} does not exist")
    return path


def write_card(path: str | Path, text: str) -> Path:
    """Write the card atomically (a reader never sees half of one); returns its path."""
    path = check_card_path(path)
    atomic_write_text(path, text)
    return path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", type=Path, required=True, help="a run's best.pt or last.pt")
    parser.add_argument(
        "--evaluation",
        type=Path,
        nargs="+",
        help="evaluation folders (python -m model evaluate --out) of this checkpoint to report; "
        "default: the newest the dashboard lists for its weights",
    )
    parser.add_argument("--out", type=Path, required=True, help="the card's Markdown file")


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    check_card_path(args.out)  # before any work
    facts = card_facts(args.checkpoint, args.evaluation)
    text = render_card(facts, args.checkpoint.name)
    out = write_card(args.out, text)
    reported = ", ".join(e.folder.name for e in facts.evaluations) or "none (not evaluated)"
    log.info(
        "model card of %s written to %s in %.1f s (evaluations: %s)",
        facts.shown,
        out,
        time.perf_counter() - started,
        reported,
    )
    return 0
