"""The runs trained with withdrawn studies, which ``forget`` lists: a checkpoint's weights
were trained on the studies and cannot be un-trained, so the runs whose ``config.json`` names
the dataset (by folder, or by the fingerprint it had before the erasure) are listed, with their
data fingerprint, for the officer to decide whether to retrain."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass
class TrainedRun:
    """A run folder whose checkpoints were trained on the dataset."""

    folder: Path
    data_fingerprint: str
    checkpoints: list[Path]


def trained_runs(folders: list[Path], dataset: Path, fingerprints: set[str]) -> list[TrainedRun]:
    """Run folders under ``folders`` (the data root first) whose ``config.json`` names
    ``dataset``, with their checkpoints: by its folder, by its place under the data root (a
    root moved or copied since), or by a fingerprint it had (``fingerprints``: before the
    erasure, and those its embedding caches were named after)."""
    runs = []
    target = dataset.resolve()
    tail = _tail(target, folders[0].resolve())
    configs = {config.resolve() for folder in folders for config in folder.rglob("config.json")}
    for config in sorted(configs):
        try:
            record = json.loads(config.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(record, dict) or "data" not in record:
            continue
        data_fp = str(record.get("data_fingerprint", ""))
        named = Path(str(record["data"])).expanduser()
        same_place = named.resolve() == target or (tail and named.as_posix().endswith(tail))
        if same_place or data_fp in fingerprints:
            runs.append(TrainedRun(config.parent, data_fp, sorted(config.parent.glob("*.pt"))))
    return runs


def _tail(dataset: Path, root: Path) -> str:
    """``/<dataset relative to root>`` ("" when it is not under it)."""
    try:
        return "/" + dataset.relative_to(root).as_posix()
    except ValueError:
        return ""
