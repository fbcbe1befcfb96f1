"""Quick checks of a command's input files, made before any slow work.

``zeroshot``, ``fewshot``, ``index`` and ``evaluate`` read a labels file, open datasets or embed
studies before they load the checkpoint; a mistyped ``--checkpoint`` (or a dataset folder given
for it) was named only after those seconds or minutes. ``check_inputs`` looks at each file the
command line names first, cheaply (a checkpoint's metadata, a dataset's ``studies.parquet``, a
prompt set's YAML, a labels file's header), and stops with the message its full reader would
give: the commands then read them in whatever order their work needs.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from model.checkpoint_meta import read_checkpoint_meta
from model.data.dataset import check_dataset_folder
from model.labels import check_labels_header
from model.prompts import PromptSet


def check_inputs(
    *,
    checkpoint: Path | None = None,
    datasets: Iterable[Path] = (),
    prompts: Path | None = None,
    labels: Iterable[Path | None] = (),
) -> None:
    """Raise ``CheckpointError`` / ``DataError`` naming the first of the given inputs that is
    missing or not of its kind: the checkpoint (a CMR-CLIP ``.pt``), each dataset folder, the
    prompt-set YAML, each labels CSV (None entries, an option not given, are skipped)."""
    if checkpoint is not None:
        read_checkpoint_meta(checkpoint)  # a sidecar, or the checkpoint memory-mapped
    for dataset in datasets:
        check_dataset_folder(Path(dataset))
    if prompts is not None:
        PromptSet.load(prompts)  # a few lines of YAML
    for path in labels:
        if path is not None:
            check_labels_header(path)
