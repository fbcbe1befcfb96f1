"""The Home page's status summary: which datasets, runs, checkpoint and index exist."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq

from dashboard.evaluation_view import list_evaluations
from dashboard.job import Job
from dashboard.jobs import model_command
from dashboard.settings import Settings
from model.demo import DemoLayout
from model.errors import NEARLY_FULL, UserError


@dataclass(frozen=True)
class DatasetSummary:
    """One ingested dataset: folder and number of studies."""

    path: Path
    studies: int


@dataclass(frozen=True)
class StudioStatus:
    """Everything the Home page reports, read from disk."""

    datasets: list[DatasetSummary]
    active_dataset: Path | None
    runs: int
    active_checkpoint: Path | None
    indexes: list[Path]
    demo_built: bool  # every step of the demo build ended well (``DemoLayout.is_built``)
    evaluations: list[Path]  # finished or not, newest first (``list_evaluations``)
    index_server: str | None = None  # the Chroma server every page searches, described


def running_evaluations(jobs: list[Job]) -> set[Path]:
    """The output folders of ``jobs`` (evaluate jobs) still running: a folder without its
    ``summary.json`` there is being written, not one that failed or was cancelled."""
    return {
        Path(job.outputs["folder"]) for job in jobs if job.running and job.outputs.get("folder")
    }


def latest_finished(evaluations: list[Path]) -> tuple[Path | None, list[Path]]:
    """The newest of ``evaluations`` (newest first) that wrote its ``summary.json`` (the file an
    evaluation writes last), and the newer ones without it: running, or stopped before the end.
    Home quotes the finished one; a newer unfinished one has no sentence to quote."""
    for place, folder in enumerate(evaluations):
        if (folder / "summary.json").is_file():
            return folder, evaluations[:place]
    return None, list(evaluations)


def study_count(dataset: Path) -> int:
    """Rows of ``studies.parquet`` from its footer (no data read); 0 if unreadable."""
    try:
        return int(pq.ParquetFile(dataset / "studies.parquet").metadata.num_rows)
    except (OSError, ValueError):
        return 0


def index_folders(datasets: list[Path]) -> list[Path]:
    """The embedded case indexes of ``datasets``, sorted: each one's ``DATASET/../chroma`` folder
    (``model.index.client.default_chroma_path``) that holds a Chroma database. The root scan
    (``settings.find_named``) skips ``chroma`` folders, so they are looked up here instead."""
    folders = {dataset.resolve().parent / "chroma" for dataset in datasets}
    return sorted(folder for folder in folders if (folder / "chroma.sqlite3").is_file())


def index_server(settings: Settings) -> str | None:
    """The Chroma server (``CMR_CHROMA_HOST``) that holds the case index, described; ``None``
    when each dataset's index is the embedded folder beside it. Named, never contacted: Home
    draws while the server is down too (the Case browser says so when it searches)."""
    try:
        location = settings.chroma_location(settings.data_root)
    except UserError as err:  # a bad CMR_CHROMA_PORT: the Case browser stops on it
        return f"Chroma server, misconfigured: {err}"
    return location.describe() if location.is_server else None


def studio_status(settings: Settings) -> StudioStatus:
    """Scan the data root once."""
    paths = settings.datasets()
    return StudioStatus(
        datasets=[DatasetSummary(p, study_count(p)) for p in paths],
        active_dataset=settings.active_dataset(),
        runs=len(settings.runs()),
        active_checkpoint=settings.active_checkpoint(),
        indexes=index_folders(paths),
        demo_built=DemoLayout(settings.data_root).is_built(),
        evaluations=list_evaluations(settings),
        index_server=index_server(settings),
    )


# Minutes a demo build spends outside its training on 2 idle CPU cores: a fresh clone's
# ./run.sh built the demo in 14 min 52 s, 13 min 10 s of them training (session 41, AMD EPYC;
# 1.2 min outside training on Intel, session 35). Other work on the cores stretches every step
# (session 44 measured 7.4 min outside training under a load of 7).
DEMO_OTHER_STEPS_MIN = 1.7


def demo_minutes() -> tuple[int, int]:
    """About how many minutes a demo build takes on 2 CPU cores, and how many of them its
    training does: the cpu-small preset's time budget (a faster machine trains more epochs in
    it, not fewer minutes)."""
    from model.nn.presets import load_preset

    training = load_preset("cpu-small").train.time_budget_s / 60
    return round(training + DEMO_OTHER_STEPS_MIN), round(training)


def demo_command(settings: Settings) -> list[str]:
    """``python -m model demo --root DATA_ROOT``: generate -> ingest -> train -> embed -> index."""
    return model_command("demo", "--root", str(settings.data_root))


def unwritable_root(root: Path) -> str | None:
    """What Home says first when the data root cannot take new files: this account may not write
    it (a share mounted read-only for a talk, a colleague's root) or its disk is nearly full.
    Every page still shows what it holds; what writes there is refused when tried, so this says
    so before the user starts. None when the root can be written (or does not exist yet)."""
    if not root.is_dir():
        return None
    if not os.access(root, os.W_OK):
        return (
            f"The data root {root} is read-only for this account: every page shows what it "
            "holds, but jobs (the demo, training, imports, evaluations, the index), saved prompt "
            "and example sets, and choices of the active dataset or checkpoint beyond this "
            "session need a data root this account can write."
        )
    try:
        free = shutil.disk_usage(root).free
    except OSError:  # gone meanwhile, or a share that does not answer: the pages say so
        return None
    if free >= NEARLY_FULL:
        return None
    return (
        f"The disk holding the data root {root} has only {free // 1024:,} KB free: jobs, imports "
        "and saved sets may fail until some space is freed there (or the data root is moved)."
    )
