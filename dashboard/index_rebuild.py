"""Which datasets the Case browser's "Rebuild the case index" job is given.

A checkpoint's index holds every dataset indexed with it: the data root's sibling datasets that
share its Chroma folder (``imports/chroma``) or server, and on a server a colleague's too. A
rebuild writes the index afresh from the datasets it is given and stops rather than drop the
others silently (``model.index.held_datasets``). So the job is given the active dataset and the
data root's other datasets the index holds, which are rebuilt with it; those it holds from
elsewhere (a colleague's, a dataset since deleted) cannot be: the offer names them and passes
``--drop-others``, so the button says what it drops. An index whose contents cannot be read is
rebuilt from the active dataset, and the job itself names what it can.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from model.index.embedding_index import EmbeddingIndex
from model.index.held_datasets import HeldDataset, dropped_by_rebuild, held_datasets, identity_of

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RebuildPlan:
    """The datasets to rebuild the index from (the active one first) and those it drops."""

    datasets: list[Path]
    dropped: list[HeldDataset]


def rebuild_plan(index: EmbeddingIndex, active: Path, siblings: list[Path]) -> RebuildPlan:
    """The plan for rebuilding ``index`` from ``active``, with those of ``siblings`` (the data
    root's datasets sharing its location) that it holds."""
    from model.data.dataset import CMRDataset

    try:
        held = index.read(held_datasets)
    except Exception as err:  # a damaged index may not read at all: the job reads it afresh
        log.info("cannot read which datasets %s holds: %s", index.name, err)
        return RebuildPlan([active], [])
    identities = {active: identity_of(CMRDataset.open(active), active)}
    for path in siblings:
        try:
            identity = identity_of(CMRDataset.open(path), path)
        except Exception as err:  # a dataset being ingested or damaged: not one to rebuild
            log.info("leaving %s out of the rebuild: %s", path, err)
            continue
        if path != active and any(one.is_one_of([identity]) for one in held):
            identities[path] = identity
    return RebuildPlan(list(identities), dropped_by_rebuild(held, list(identities.values())))
