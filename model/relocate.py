"""Find a path recorded under another data root in the data root in use now.

Run records (``config.json``), the dashboard's ``active.json`` and job records hold absolute
paths as they were when written. A data root copied or moved elsewhere (a laptop for a talk, a
USB disk, a share mounted at another path) keeps its layout under the root, so the same file
is the recorded path's tail under the new root: ``/old/root/demo/internal`` is
``ROOT/demo/internal``. Records stay as written (what was used, where); readers resolve them
here and say where they found them. A recorded path outside the data root that has no copy
under it is kept: a dataset or checkpoint that really lives elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Located:
    """Where a recorded path is now: ``path``, and whether that is not where it was recorded."""

    path: Path
    recorded: str
    moved: bool


def recorded_path(path: str | os.PathLike[str] | None) -> str | None:
    """``path`` as a record keeps it: absolute, since its readers (the dashboard, a resume typed
    in another folder) cannot know the folder a relative one was given from; None stays None."""
    return str(Path(path).resolve()) if path else None


def locate(
    recorded: object, root: Path, fits: Callable[[Path], bool] = Path.exists
) -> Located | None:
    """Where ``recorded`` (a path written in a record) is under ``root``, the data root now.

    A relative path is read from ``root``. An absolute one under ``root`` is itself; one outside
    it is first looked for as its tail under ``root`` (the longest tail that ``fits``, e.g. a
    dataset folder with its studies.parquet): the root was copied or moved, and the copy here
    is the one this root's pages and jobs may use. Else the recorded path itself when it still
    ``fits``, else None."""
    if not isinstance(recorded, str | os.PathLike) or not str(recorded):
        return None
    path = Path(recorded)
    root = Path(root)
    if not path.is_absolute():
        return Located(root / path, str(recorded), False) if fits(root / path) else None
    if _under(path, root):
        return Located(path, str(recorded), False) if fits(path) else None
    parts = path.parts[1:]  # without the anchor ("/")
    for start in range(len(parts)):
        candidate = root.joinpath(*parts[start:])
        if fits(candidate):
            return Located(candidate, str(recorded), True)
    return Located(path, str(recorded), False) if fits(path) else None


def locate_near(
    recorded: object, anchor: Path, fits: Callable[[Path], bool] = Path.exists
) -> Located | None:
    """``locate`` for a record with no data root at hand (a run folder read by ``model train
    --resume``): the nearest of ``anchor``'s folders (not the filesystem's root) that holds an
    absolute recorded path's tail stands for the root; else the recorded path itself when it
    ``fits`` (a relative one read from the current folder, where the command was given)."""
    if not isinstance(recorded, str | os.PathLike) or not str(recorded):
        return None
    if Path(recorded).is_absolute():
        for root in [Path(anchor), *Path(anchor).parents][:-1]:
            found = locate(recorded, root, fits)
            if found is not None and (found.moved or _under(found.path, root)):
                return found
    path = Path(recorded)
    return Located(path, str(recorded), False) if fits(path) else None


def written_elsewhere(recorded: object, folder: Path) -> bool:
    """Whether a record in ``folder`` that names the folder it was written in (``recorded``)
    was written in another one: its data root was copied or moved since, so a process the
    record names writes (and ends) at the old place, not here. A record naming none (written
    before records named their folder) counts as written here."""
    if not isinstance(recorded, str) or not recorded:
        return False
    try:
        return not os.path.samefile(recorded, folder)
    except OSError:  # the old place is gone (moved) or unreadable
        return Path(recorded) != Path(folder).resolve()


def is_dataset(folder: Path) -> bool:
    """Whether ``folder`` is an ingested dataset (holds studies.parquet): ``locate``'s test."""
    return (folder / "studies.parquet").is_file()


def _under(path: Path, root: Path) -> bool:
    return path == root or root in path.parents
