"""Which evaluated studies a checkpoint trained on: a site's figures are held out only without them.

A checkpoint records the fingerprint of the dataset it trained on (its train split; its val
split chose ``best.pt``). The internal site's test split is held out when that dataset is the
one evaluated. On another dataset (a copy whose splits were drawn otherwise, an older ingest of
the same export, the training data passed as an external site) the studies it learned from can
sit among those evaluated, and their figures would not be held-out ones. Studies are matched by
content (``tensor_digest`` of each study's tensor, as the fingerprint reads it), not by id:
study ids are keyed by each dataset folder's own salt. The dataset trained on is an evaluated
site with its fingerprint, else the one its run folder's ``config.json`` names beside the
checkpoint; a checkpoint without either cannot be checked, and an internal site of another
dataset is then said to be unverified.
"""

from __future__ import annotations

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from model.data.fingerprint import READERS, tensor_digest
from model.errors import DataError
from model.relocate import is_dataset, locate_near

log = logging.getLogger(__name__)
UNREADABLE = "-1"  # tensor_digest of a file it could not read: matches nothing
NOT_HELD_OUT = "not held out"  # how a site's note starts, and the headline's words for it
UNVERIFIED = "held out unverified"


def digests(dataset: Any, ids: list[str]) -> list[str]:
    """``tensor_digest`` of each study's tensor in ``dataset`` (a ``CMRDataset``), in order."""
    with ThreadPoolExecutor(READERS) as pool:
        return list(pool.map(tensor_digest, (dataset.paths.tensor(i) for i in ids)))


def trained_dataset(checkpoint: Path, fingerprint: str, datasets: list[Any]) -> Any | None:
    """The dataset (``CMRDataset``) whose fingerprint the checkpoint recorded: one of
    ``datasets``, else the one its run folder's config.json names, when it is still that
    dataset; None when neither is."""
    from model.data.dataset import CMRDataset

    for dataset in datasets:
        if dataset.matches_fingerprint(fingerprint):
            return dataset
    run = Path(checkpoint).resolve().parent
    try:
        recorded = json.loads((run / "config.json").read_text(encoding="utf-8"))["data"]
        found = locate_near(recorded, run, is_dataset)
        dataset = CMRDataset.open(found.path) if found is not None else None
    except (OSError, ValueError, KeyError, TypeError, DataError) as err:
        log.debug("no dataset trained on found beside %s: %s", checkpoint, err)
        return None
    return dataset if dataset is not None and dataset.matches_fingerprint(fingerprint) else None


def trained_digests(checkpoint: Path, fingerprint: str, datasets: list[Any]) -> set[str] | None:
    """Digests of the train and val studies the checkpoint learned from or was chosen on;
    None when the dataset it trained on cannot be found."""
    dataset = trained_dataset(checkpoint, fingerprint, datasets)
    if dataset is None:
        return None
    return set(digests(dataset, dataset.ids("train") + dataset.ids("val"))) - {UNREADABLE}


def warn_trained_among(
    checkpoint: Path, fingerprint: str, dataset: Any, ids: list[str], what: str
) -> int:
    """Log a warning when some of ``ids`` (the studies of ``dataset`` that ``what``, a figure, is
    computed over) are studies the checkpoint trained on or was chosen on: ``zeroshot`` and
    ``fewshot --label`` without ``--split test`` score every split. Returns how many (0 when
    it cannot tell: the dataset trained on is not found)."""
    if dataset.matches_fingerprint(fingerprint):  # the dataset trained on: its own splits
        split = dataset.studies.set_index("study_id")["split"].reindex(ids).astype(str)
        seen = int(split.isin(["train", "val"]).sum())
    else:
        trained = trained_digests(checkpoint, fingerprint, [])
        seen = 0 if trained is None else sum(d in trained for d in digests(dataset, ids))
    if seen:
        log.warning(
            "%s: %d of its %d studies are ones the checkpoint trained on or was chosen on (the "
            "train and val split of its dataset), so it is not a held-out figure; --split test "
            "scores the held-out studies alone",
            what,
            seen,
            len(ids),
        )
    return seen


def site_notes(encoders: list[Any], sites: list[Any]) -> dict[str, list[str]]:
    """Per site name, a note for each checkpoint (``Encoder`` with ``checkpoint`` and
    ``trained_on``) that trained on some of the site's evaluated studies (``SiteData``), or
    whose training data could not be checked at an internal site of another dataset. A site
    whose every figure is held out from every model has no entry."""
    notes: dict[str, list[str]] = {}
    datasets = [site.dataset for site in sites]
    for encoder in encoders:
        if not encoder.trained_on or encoder.checkpoint is None:
            continue  # a baseline: trained on nothing here
        trained: set[str] | None = None
        looked = False
        for site in sites:
            if site.internal and site.dataset.matches_fingerprint(encoder.trained_on):
                continue  # its test split: held out by the split itself
            if not looked:
                trained = trained_digests(encoder.checkpoint, encoder.trained_on, datasets)
                looked = True
            note = _note(encoder, site, trained)
            if note:
                notes.setdefault(site.name, []).append(note)
    return notes


def _note(encoder: Any, site: Any, trained: set[str] | None) -> str | None:
    """The site's note for one checkpoint, None when its studies are held out from it."""
    if trained is None:
        if not site.internal:
            return None
        return (
            f"{UNVERIFIED} from {encoder.name}: it trained on another dataset "
            f"({encoder.trained_on[:8]}) than this one, not found beside its checkpoint to "
            "compare; its test split is held out only if that dataset's train and val patients "
            "are none of this split's"
        )
    ids = [str(study_id) for study_id in site.studies.index]
    seen = sum(digest in trained for digest in digests(site.dataset, ids))
    if not seen:
        return None
    return (
        f"{NOT_HELD_OUT}: {seen} of its {len(ids)} evaluated studies are studies {encoder.name} "
        "trained on or was chosen on (the train and val split of the dataset it trained on), "
        "so its figures here are not those of unseen studies"
    )
