"""What a model card tells of a checkpoint's training: its run folder and its training data.

A checkpoint holds its preset (model and training settings), its data fingerprint, its epoch
and step; the run folder beside it (``config.json``, ``status.json``, ``metrics.jsonl``) holds
the rest: the dataset's folder, the split sizes, the device, the software versions, the
validation figures of each epoch and why ``best.pt`` is the epoch it is. A checkpoint copied
alone, or beside another run's files, has no run folder of its own: ``RunRecord.missing`` says
so and the card states what it cannot know. The dataset is described from its own folder when
it is still here and unchanged (its fingerprint), in aggregate counts only.
"""

from __future__ import annotations

import calendar
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.atomic import read_json_object
from model.checkpoint_meta import CheckpointMeta
from model.data.dataset import CMRDataset
from model.errors import UserError
from model.relocate import locate
from model.schema import default_data_root
from model.training.run_folder import RunFolder

log = logging.getLogger(__name__)
GENERATOR_TRUTH = "ground_truth.csv"  # what `python -m model generate` writes beside its DICOM


@dataclass(frozen=True)
class RunRecord:
    """The run folder's record of a checkpoint; empty with ``missing`` saying why when the
    folder beside it is not this checkpoint's run."""

    config: dict[str, Any] = field(default_factory=dict)
    status: dict[str, Any] = field(default_factory=dict)
    val_rows: list[dict[str, Any]] = field(default_factory=list)
    missing: str = ""

    def best_row(self, step: int) -> dict[str, Any] | None:
        """The validation row ``metrics.jsonl`` logged at ``step`` (the checkpoint's)."""
        return next((row for row in self.val_rows if row.get("step") == step), None)

    def wall_time_s(self) -> float | None:
        """Seconds from ``config.json``'s start to ``status.json``'s last update of a finished
        run (a resumed run's last session only), None when either is not recorded."""
        started, updated = self.config.get("started"), self.status.get("updated")
        if self.status.get("state") != "finished" or not isinstance(started, str):
            return None
        try:
            begin = calendar.timegm(time.strptime(started, "%Y-%m-%dT%H:%M:%SZ"))
            return max(float(updated) - begin, 0.0)
        except (TypeError, ValueError):
            return None


@dataclass(frozen=True)
class DatasetFacts:
    """The training dataset in aggregate: its folder's name, per site the studies of the train
    and val splits with a report impression (what training reads), whether it is the synthetic
    demo; ``note`` says why the counts are not known when they are not."""

    name: str
    sites: dict[str, tuple[int, int]] = field(default_factory=dict)
    synthetic: bool = False
    note: str = ""


def read_run(meta: CheckpointMeta) -> RunRecord:
    """The record of the run folder beside checkpoint ``meta.path``, if it is this one's."""
    folder = meta.path.parent
    config_path = folder / "config.json"
    if not config_path.is_file():
        return RunRecord(
            missing="the checkpoint was copied without its run folder (no config.json beside it)"
        )
    config = read_json_object(config_path)
    preset = config.get("preset") if isinstance(config.get("preset"), dict) else {}
    same_data = config.get("data_fingerprint") == meta.data_fingerprint
    if preset.get("model") != meta.config.get("model") or not same_data:
        why = "the config.json beside the checkpoint is of another model or dataset"
        return RunRecord(missing=why)
    return RunRecord(config, read_json_object(folder / "status.json"), _val_rows(folder))


def _val_rows(folder: Path) -> list[dict[str, Any]]:
    """The validation rows of ``metrics.jsonl`` (a damaged line is skipped)."""
    try:
        return [row for row in RunFolder(folder).read_metrics() if row.get("kind") == "val"]
    except (OSError, UnicodeDecodeError):
        return []


def describe_dataset(
    run: RunRecord, data_fingerprint: str, data_root: Path | None = None
) -> DatasetFacts | None:
    """The training dataset as the run recorded it, its counts read from its folder when that
    is here (or moved with the data root) and still the data trained on; None without a run
    record."""
    recorded = run.config.get("data")
    if not isinstance(recorded, str) or not recorded:
        return None
    name = Path(recorded).name
    root = data_root or default_data_root()
    found = locate(recorded, root, lambda p: (p / "studies.parquet").is_file())
    if found is None:
        return DatasetFacts(name, note=f"its folder ({name}) is not on this machine")
    try:
        dataset = CMRDataset.open(found.path)
        same = dataset.matches_fingerprint(data_fingerprint)
    except (UserError, OSError) as err:
        log.debug("dataset %s unreadable for the card", found.path, exc_info=True)
        return DatasetFacts(name, note=f"its folder ({name}) cannot be read: {type(err).__name__}")
    if not same:
        return DatasetFacts(name, note=f"its folder ({name}) has changed since training")
    return DatasetFacts(name, _site_counts(dataset), is_synthetic_demo(found.path))


def _site_counts(dataset: CMRDataset) -> dict[str, tuple[int, int]]:
    """Per site, (train, val) studies with a report impression."""
    table = dataset.studies.set_index("study_id")
    site = table["site"] if "site" in table.columns else None
    counts: dict[str, list[int]] = {}
    for column, split in enumerate(("train", "val")):
        ids, _ = dataset.reported_ids(split)
        names = ["unknown"] * len(ids) if site is None else site.loc[ids].fillna("unknown")
        for name in names:
            counts.setdefault(str(name), [0, 0])[column] += 1
    return {name: (train, val) for name, (train, val) in sorted(counts.items())}


def is_synthetic_demo(dataset: Path) -> bool:
    """Whether ``dataset`` is the demo's ingest of generated studies: ``demo/<site>`` under a
    data root whose ``demo/raw/<site>`` holds the generator's ground truth."""
    raw = dataset.parent / "raw" / dataset.name
    return dataset.parent.name == "demo" and (raw / GENERATOR_TRUTH).is_file()
