"""Where the dashboard finds things: the data root, datasets, run folders and the active checkpoint.

Everything lives under one data root (env ``CMR_DATA_ROOT``, default ``./data``):

```
DATA_ROOT/
  active.json          the last checkpoint and dataset chosen on any page (read under a moved root)
  demo/                what ``python -m model demo --root DATA_ROOT`` builds
  imports/             zips and folders imported from the Studies page
  runs/                training runs launched from the Train page
  jobs/                one folder per background job (dashboard/jobs.py)
  prompts/             prompt sets saved from the Zero-shot page
  fewshot/             example sets saved from the Few-shot page
  evaluations/         evaluation outputs launched from the Evaluate page
```

Datasets and runs are found by their marker files (``studies.parquet``, ``status.json``), so a
dataset or run placed anywhere under the root shows up.

The active dataset and checkpoint belong to one browser session (``Settings.session``): a page
opened later starts from ``active.json``, and a choice made in one session (another user's, on
another dashboard over the same root) never changes what an open page is showing.
"""

from __future__ import annotations

import json
import os
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashboard.run_state import read_status, run_is_live, run_state
from model.atomic import atomic_write_json
from model.demo import DemoLayout
from model.errors import UserError
from model.relocate import is_dataset, locate
from model.schema import default_data_root

if TYPE_CHECKING:
    from model.index.client import ChromaLocation

_SEARCH_DEPTH = 5
_SKIP_DIRS = {"tensors", "dicom", "chroma", "embeddings", "masks", "jobs", "__pycache__"}
_SESSION_CHOICE = "active-choice"
_SESSION_SHOWN = "active-choice-shown"  # the names of it a page has used


@dataclass(frozen=True)
class Settings:
    """Paths of one dashboard installation, all under ``data_root``.

    ``session`` (a browser session's state) keeps that session's active dataset and checkpoint;
    without one they are read from ``active.json`` each time."""

    data_root: Path
    session: MutableMapping[str, Any] | None = field(default=None, compare=False, repr=False)

    @classmethod
    def from_env(cls, session: MutableMapping[str, Any] | None = None) -> Settings:
        return cls(default_data_root().resolve(), session)

    @property
    def active_file(self) -> Path:
        return self.data_root / "active.json"

    @property
    def imports_dir(self) -> Path:
        return self.data_root / "imports"

    @property
    def uploads_dir(self) -> Path:
        """Where uploaded zips are unpacked: DICOM trees, never a dataset or a run."""
        return self.imports_dir / "uploads"

    @property
    def runs_dir(self) -> Path:
        return self.data_root / "runs"

    @property
    def jobs_dir(self) -> Path:
        return self.data_root / "jobs"

    @property
    def prompts_dir(self) -> Path:
        return self.data_root / "prompts"

    @property
    def fewshot_dir(self) -> Path:
        return self.data_root / "fewshot"

    @property
    def evaluations_dir(self) -> Path:
        return self.data_root / "evaluations"

    def chroma_location(self, dataset: Path) -> ChromaLocation:
        """Where the case index of ``dataset`` is: the Chroma server named by ``CMR_CHROMA_HOST`` /
        ``CMR_CHROMA_PORT`` (``CMR_CHROMA_TOKEN``), else the embedded folder ``DATASET/../chroma``
        that ``python -m model index`` writes by default (the same rules as the CLI)."""
        from model.index.client import default_chroma_path, resolve_location

        return resolve_location(None, None, None, default_chroma_path(dataset))

    def inside_root(self, path: str | Path) -> Path:
        """Resolve ``path`` (relative to the root or absolute) and refuse anything outside it."""
        text = str(path).strip()
        if not text:
            raise UserError("enter a folder path under the data root")
        try:  # a NUL byte, ~user unknown, a link loop, a name too long for the file system
            candidate = Path(text).expanduser()
            if not candidate.is_absolute():
                candidate = self.data_root / candidate
            resolved = candidate.resolve()
            resolved.exists()
        except (OSError, ValueError, RuntimeError) as err:
            shown = repr(text if len(text) <= 120 else text[:120] + "…")
            raise UserError(f"cannot use the path {shown}: {_reason(err)}") from err
        if resolved != self.data_root and self.data_root not in resolved.parents:
            raise UserError(
                f"{text} is outside the data root {self.data_root}; copy it there first"
            )
        return resolved

    def datasets(self) -> list[Path]:
        """Every ingested dataset folder (holds ``studies.parquet``) under the root, sorted."""
        found = find_named(self.data_root, {"studies.parquet"}, skip=self.uploads_dir)
        return sorted(p.parent for p in found)

    def own_datasets(self, found: list[Path] | None = None) -> list[Path]:
        """The datasets (of ``found``, else every one) that are not the demo's: a hospital's own,
        an import."""
        demo = DemoLayout(self.data_root).dataset("")
        found = self.datasets() if found is None else found
        return [path for path in found if demo not in path.parents]

    def runs(self) -> list[Path]:
        """Every training run folder, newest first: one that holds ``status.json``, a
        ``config.json`` beside a training log, or a ``best.pt`` / ``last.pt`` in a folder of its
        own under ``runs/`` (a checkpoint copied from another machine without its run folder)."""
        names = {*RUN_MARKERS, "config.json", "studies.parquet"}
        markers = find_named(self.data_root, names, skip=self.uploads_dir)
        found = {
            p.parent
            for p in markers
            if p.name == "status.json" or (p.name == "config.json" and _is_run(p.parent))
        }
        copied = {p.parent for p in markers if p.name in CHECKPOINT_NAMES} - found
        # a checkpoint dropped beside runs, datasets or the dashboard's own files (data/runs/,
        # the root, a dataset, data/evaluations/) does not make their folder a run: deleting
        # that 'run' would delete them with it
        datasets = {p.parent for p in markers if p.name == "studies.parquet"}
        others = found | copied | datasets
        found |= {
            folder
            for folder in copied - datasets
            if self.runs_dir in folder.parents
            and not any(folder in other.parents for other in others)
        }
        return sorted(found, key=_mtime, reverse=True)

    def checkpoints(self) -> list[Path]:
        """``best.pt`` / ``last.pt`` of every run, newest first."""
        out = []
        for run in self.runs():
            out.extend(p for p in map(run.joinpath, CHECKPOINT_FILES) if p.is_file())
        return out

    def read_active(self) -> dict[str, str]:
        """The chosen checkpoint and dataset (``{}`` when none was chosen or the file is bad)."""
        try:
            data = json.loads(self.active_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return {k: str(v) for k, v in data.items() if k in ("checkpoint", "dataset") and v}

    def write_active(
        self, checkpoint: Path | None = None, dataset: Path | None = None
    ) -> str | None:
        """Record the active checkpoint and/or dataset (kept fields stay as they were).

        On a data root this account cannot write (a colleague's, or mounted read-only) a
        session still takes the choice, and the returned line says it holds for this session
        only; without a session that is a ``UserError``. ``None`` when it was recorded."""
        active = self.read_active()
        if checkpoint is not None:
            if not Path(checkpoint).is_file():
                raise UserError(f"checkpoint {checkpoint} does not exist")
            active["checkpoint"] = str(Path(checkpoint).resolve())
        if dataset is not None:
            if not (Path(dataset) / "studies.parquet").is_file():
                raise UserError(f"{dataset} is not an ingested dataset (no studies.parquet)")
            active["dataset"] = str(Path(dataset).resolve())
        note = None
        try:
            atomic_write_json(self.active_file, active)
        except OSError as err:
            what = " and ".join(
                name for name, given in (("checkpoint", checkpoint), ("dataset", dataset)) if given
            )
            problem = f"cannot write {self.active_file} ({err.strerror or err})"
            if self.session is None:
                raise UserError(f"cannot record the active {what}: {problem}") from err
            note = (
                f"The active {what} is this session's only: {problem}, so pages opened later "
                "start from the last choice recorded there."
            )
        for name, given in (("checkpoint", checkpoint), ("dataset", dataset)):
            if given is not None:
                self._pin(name, Path(active[name]))
        return note

    def active_checkpoint(self) -> Path | None:
        """This session's checkpoint, else the chosen one, else the one for the dataset pages
        open on: on the demo's, the demo's checkpoint (a newer trial run, or a run still
        training, is no one's choice); on the root's own (a hospital's), the newest of the
        root's own runs (a model trained on synthetic studies is no default for them). Else the
        newest ``best.pt``/``last.pt`` found, else None; never one of a run still training (the
        demo build's epoch-1 best.pt was every page's while the build went on)."""
        for chosen in (self._choice().get("checkpoint"), self.read_active().get("checkpoint")):
            if found := locate(chosen, self.data_root, Path.is_file):
                return self._pin("checkpoint", found.path)
        found = [p for p in self.checkpoints() if not run_is_live(run_state(read_status(p.parent)))]
        demo = DemoLayout(self.data_root)
        dataset = self.active_dataset()
        if dataset is None or demo.dataset("") in dataset.parents:
            preferred = [demo.checkpoint] if demo.checkpoint in found else []
        else:
            preferred = [path for path in found if demo.run not in path.parents]
        return self._pin("checkpoint", (preferred or found or [None])[0])

    def active_dataset(self) -> Path | None:
        """This session's dataset, else the chosen one, else the first dataset found (the root's
        own before the demo's: a hospital's root where the demo was built too; an internal
        site's first), else None."""
        for chosen in (self._choice().get("dataset"), self.read_active().get("dataset")):
            if found := locate(chosen, self.data_root, is_dataset):
                return self._pin("dataset", found.path)
        found = self.datasets()
        own = self.own_datasets(found) or found
        preferred = [path for path in own if "internal" in path.name]
        return self._pin("dataset", (preferred or own or [None])[0])

    def _choice(self) -> dict[str, str]:
        """The session's active dataset and checkpoint, first taken from ``active.json``; the
        file itself without a session."""
        if self.session is None:
            return self.read_active()
        if _SESSION_CHOICE not in self.session:
            self.session[_SESSION_CHOICE] = self.read_active()
        return self.session[_SESSION_CHOICE]

    def _pin(self, name: str, path: Path | None) -> Path | None:
        """Keep ``path`` as the session's ``name``, so a page stays on what it has shown."""
        if self.session is not None and path is not None:
            self._choice()[name] = str(path)
            self.session.setdefault(_SESSION_SHOWN, set()).add(name)
        elif self.session is not None:  # none left: a choice that is gone is said once only
            self._choice().pop(name, None)
        return path

    def gone_choices(self) -> dict[str, str]:
        """The session's active checkpoint and dataset (by ``checkpoint`` / ``dataset``) that a
        page has shown and that no longer exist: deleted, perhaps on another dashboard. The next
        ``active_checkpoint`` / ``active_dataset`` moves on to another; this says from what."""
        if self.session is None:
            return {}
        choice = self.session.get(_SESSION_CHOICE, {})
        exists = {"checkpoint": Path.is_file, "dataset": is_dataset}
        return {
            name: choice[name]
            for name in self.session.get(_SESSION_SHOWN, ())
            if name in choice and not locate(choice[name], self.data_root, exists[name])
        }


def position_of(active: Path | None, datasets: list[Path]) -> int:
    """Index of ``active`` in ``datasets`` (compared resolved), else 0: a form's starting choice."""
    if active is None:
        return 0
    resolved = [path.resolve() for path in datasets]
    return resolved.index(active.resolve()) if active.resolve() in resolved else 0


CHECKPOINT_FILES = ("best.pt", "last.pt")  # a run's checkpoints, the one named first preferred
CHECKPOINT_NAMES = frozenset(CHECKPOINT_FILES)
RUN_MARKERS = frozenset({"status.json", *CHECKPOINT_NAMES})


def _is_run(folder: Path) -> bool:
    return (folder / "metrics.jsonl").exists() or (folder / "train.log").exists()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


def find_named(root: Path, names: set[str], skip: Path | None = None) -> list[Path]:
    """Files called one of ``names`` up to a few levels under ``root``, in one walk that skips
    bulky data folders and the folder ``skip`` (pages list datasets and runs on every rerun: an
    unpacked DICOM upload of 100,000 files cost a Train page rerun about 0.3 s)."""
    if not root.is_dir():
        return []
    hits: list[Path] = []
    stack: list[tuple[Path, int]] = [(root, 0)]
    while stack:
        folder, depth = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_file() and entry.name in names:
                hits.append(Path(entry.path))
            elif (
                entry.is_dir(follow_symlinks=False)
                and depth < _SEARCH_DEPTH
                and entry.name not in _SKIP_DIRS
                and not entry.name.startswith(".")
                and entry.path != str(skip)
            ):
                stack.append((Path(entry.path), depth + 1))
    return hits


def _reason(err: Exception) -> str:
    """Why a typed path cannot be used, in a few words (``File name too long``)."""
    return (err.strerror if isinstance(err, OSError) else None) or str(err) or type(err).__name__
