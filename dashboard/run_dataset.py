"""The dataset a training run trains on, under the data root in use now.

A run's config.json records its dataset's path as it was given and its fingerprint. Under a
data root copied or moved since (a laptop for a talk, a USB disk, a share mounted elsewhere) the
recorded path names the old place: the same dataset is its copy under this root
(``model.relocate``), once its fingerprint is the run's. A resume reads that copy, never the old
place's dataset, nor silently another dataset.
"""

from __future__ import annotations

from pathlib import Path

from dashboard.formatting import relative
from model.atomic import read_json_object
from model.data.dataset import CMRDataset
from model.errors import UserError
from model.relocate import is_dataset, locate


def trained_on(run: Path, root: Path) -> Path | None:
    """The dataset ``run`` trains on (config.json's ``data``, under ``root`` when the root was
    copied or moved), None when the run records none (not started yet). UserError naming the
    recorded path when it is found neither there nor under ``root`` with the run's
    fingerprint: a resume on any other dataset is refused."""
    config = read_json_object(run / "config.json")
    recorded = config.get("data")
    if not isinstance(recorded, str) or not recorded:
        return None
    found = locate(recorded, root, is_dataset)
    if found is None:
        raise UserError(
            f"{run.name} trained on {recorded}, which is gone, and this data root holds no "
            "copy of it at the same place: copy that dataset in (keeping its path under the "
            "data root) to resume the run"
        )
    fingerprint = config.get("data_fingerprint")
    if (
        found.moved
        and fingerprint
        and not CMRDataset.open(found.path).matches_fingerprint(fingerprint)
    ):
        raise UserError(
            f"{run.name} trained on {recorded} (dataset fingerprint {fingerprint}); "
            f"{relative(found.path, root)} here is at its place under this data root but is "
            "another version of it (studies were added, ingested again or edited since): resume "
            "the run where its dataset is, or start a new run"
        )
    return found.path.resolve()
