"""``python -m model demo --root DATA``: build the demo end to end, resumably.

generate (internal + external sites) -> ingest both -> train cpu-small -> embed + index both
-> the Embeddings page's UMAP map of both (kept beside their embeddings, so the page's first
visit reads it instead of fitting UMAP).
Every step is skipped when its output is already complete, so an interrupted build continues where
it stopped and a finished one costs nothing. A site's generated or ingested folder counts as
complete only while it matches the record written when its command finished
(``model/demo_outputs.py``); a damaged one is cleared and made again. Progress goes to the
terminal and, through ``model.progress``, to the dashboard (each step prefixes its stage, e.g. ``"3/5 train"``).

Layout under ``ROOT``::

    demo/raw/{internal,external}/   generator output (DICOM, reports.csv, labels.csv, ...)
    demo/{internal,external}/       ingested datasets
    runs/demo-cpu-small/            the training run (best.pt is the demo checkpoint)
    demo/chroma/                    the embedded Chroma index of both sites
    demo/{internal,external}/embeddings/   study embeddings and their maps
    demo/records/                   what each finished generate / ingest command left
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from model.atomic import atomic_write_json
from model.data.deid import SALT_FILE, load_or_create_salt
from model.demo_outputs import StageOutput, reusable
from model.errors import DataError, Stopped, UserError
from model.file_lock import FileLock
from model.output_path import check_output_path
from model.progress import stage_prefix
from model.schema import DATA_ROOT_ENV, DatasetPaths, default_data_root
from model.workers import usable_cpus

log = logging.getLogger(__name__)
# The build's steps in order; its progress stages read "N/5 NAME" (the dashboard tells from them
# which step makes what a page lacks, ``dashboard.demo_wait``).
STEP_NAMES = ("generate", "ingest", "train", "index", "map")
# The build's job title, on Home's panel and in its failure message: the same for the build
# ./run.sh starts and the one Home's button starts (the first named four of five steps).
DEMO_TITLE = "Demo build"


@dataclass(frozen=True)
class DemoLayout:
    """Where each demo artefact lives under the data root."""

    root: Path

    def raw(self, site: str) -> Path:
        return self.root / "demo" / "raw" / site

    def dataset(self, site: str) -> Path:
        return self.root / "demo" / site

    @property
    def run(self) -> Path:
        return self.root / "runs" / "demo-cpu-small"

    @property
    def checkpoint(self) -> Path:
        return self.run / "best.pt"

    @property
    def build_lock(self) -> Path:
        """Held by the one demo build writing under this root (``model.file_lock``)."""
        return self.root / "demo" / ".build.lock"

    @property
    def ready_marker(self) -> Path:
        return self.root / "demo" / "ready.json"

    def is_built(self) -> bool:
        return self.ready_marker.is_file() and self.checkpoint.is_file()

    def raw_output(self, site: str) -> StageOutput:
        return StageOutput(self.raw(site), self._record("generate", site))

    def dataset_output(self, site: str) -> StageOutput:
        """The site's dataset: its embedding cache is the index step's; its salt outlives a
        clearing (same study ids as the trained run's) unless the salt itself is damaged."""
        return StageOutput(
            self.dataset(site),
            self._record("ingest", site),
            ignore=frozenset({DatasetPaths(self.dataset(site)).embeddings.name}),
            keep=_intact_salt,
        )

    def _record(self, stage: str, site: str) -> Path:
        return self.root / "demo" / "records" / f"{stage}-{site}.json"

    @property
    def labels(self) -> list[Path]:
        return [self.raw(site) / "labels.csv" for site in ("internal", "external")]


@dataclass(frozen=True)
class DemoOptions:
    root: Path
    internal: int = 1000
    external: int = 300
    seed: int = 0
    workers: int = field(default_factory=usable_cpus)
    epochs: int | None = None
    preset: str = "cpu-small"


def run_command(module: str, argv: list[str]) -> int:
    """Run one ``python -m model`` command in this process, through its own argument parser."""
    from model.cli import parsed_command  # not at import: the pages import this module

    command, args = parsed_command(module, argv)  # args.argv: the command line recorded
    return int(command.run(args) or 0)


def _intact_salt(path: Path) -> bool:
    """Whether ``path`` is a dataset's salt file that ingest can still use."""
    if path.name != SALT_FILE or not path.is_file():
        return False
    try:
        load_or_create_salt(path.parent)
    except (DataError, OSError, UnicodeError):
        return False
    return True


def _set_aside_stale_run(layout: DemoLayout) -> None:
    """Move the demo's run aside (kept, under a free name) so the train step trains afresh: called
    when this build's ingest step redid the internal dataset, on which the run had trained.

    The ingest step redoes a site whose folder it cannot vouch for: a root built by a version
    that kept no completion records, or studies imported into the demo's dataset since. Skipped
    as finished, the old run's checkpoint was indexed and evaluated as the new dataset's demo
    model (the re-ingest splits by today's rule: studies it trained on land in the test split);
    resumed, train refuses the changed dataset at every rerun. A run still training is left."""
    has_checkpoint = any((layout.run / name).is_file() for name in ("best.pt", "last.pt"))
    try:
        status = json.loads((layout.run / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        status = {}
    if not has_checkpoint or (isinstance(status, dict) and status.get("state") == "running"):
        return
    aside = layout.run.with_name(f"{layout.run.name}-previous")
    number = 1
    while aside.exists():
        number += 1
        aside = layout.run.with_name(f"{layout.run.name}-previous-{number}")
    layout.run.rename(aside)
    log.warning(
        "demo train: %s trained on the earlier %s, which this build redid; kept as %s, "
        "training the demo model afresh",
        layout.run,
        layout.dataset("internal"),
        aside,
    )


def _trained(layout: DemoLayout) -> bool:
    status = layout.run / "status.json"
    if not (layout.checkpoint.is_file() and status.is_file()):
        return False
    return json.loads(status.read_text(encoding="utf-8")).get("state") == "finished"


def _train_argv(options: DemoOptions, layout: DemoLayout) -> list[str]:
    """``model.training.train`` arguments: the internal dataset, resumed when the run exists.

    The generator's labels go in as ``--val-labels``: the run logs each epoch's val zero-shot
    AUC for the Train page's curves; they never choose a checkpoint or enter training."""
    argv = ["--data", str(layout.dataset("internal")), "--preset", options.preset]
    argv += ["--out", str(layout.run), "--val-labels", str(layout.raw("internal") / "labels.csv")]
    if options.epochs is not None:
        argv += ["--epochs", str(options.epochs)]
    if (layout.run / "last.pt").is_file():  # a run killed before its first checkpoint restarts
        argv.append("--resume")
    return argv


def _index_argv(layout: DemoLayout, sites: list[str]) -> list[str]:
    """``model.index.cli_index`` arguments: the checkpoint, every site's dataset and labels."""
    argv = ["--checkpoint", str(layout.checkpoint)]
    for site in sites:
        argv += ["--data", str(layout.dataset(site))]
    for labels in layout.labels:
        argv += ["--labels", str(labels)]
    return argv


# module, argv, is its output complete (else cleared for a rerun)?, record the finished output
Command = tuple[str, list[str], Callable[[], bool], Callable[[], None]]


def _nothing_to_record() -> None:
    return None


def _steps(options: DemoOptions, layout: DemoLayout) -> list[tuple[str, list[Command]]]:
    """(name, [(module, argv, done?, finish), ...]) for each step; a step's commands are per site,
    so a rerun redoes only the sites an interruption left unfinished."""
    sites = {"internal": options.internal, "external": options.external}
    workers = str(options.workers)
    generate = [
        (
            "sample_data.generate",
            [
                "--out",
                str(layout.raw(site)),
                "--studies",
                str(n),
                "--site",
                site,
                "--seed",
                str(options.seed + i),
                "--workers",
                workers,
            ],
            lambda site=site: reusable(layout.raw_output(site), "generate"),
            layout.raw_output(site).finish,
        )
        for i, (site, n) in enumerate(sites.items())
    ]
    ingest = [
        (
            "model.data.ingest_cli",
            [
                str(layout.raw(site) / "dicom"),
                "--out",
                str(layout.dataset(site)),
                "--reports",
                str(layout.raw(site) / "reports.csv"),
                "--site",
                site,
                "--workers",
                workers,
            ],
            lambda site=site: reusable(layout.dataset_output(site), "ingest"),
            layout.dataset_output(site).finish,
        )
        for site in sites
    ]
    train = _train_argv(options, layout)
    index = _index_argv(layout, list(sites))
    maps = ["--checkpoint", str(layout.checkpoint)]
    for site in sites:
        maps += ["--data", str(layout.dataset(site))]
    commands = [
        generate,
        ingest,
        [("model.training.train", train, lambda: _trained(layout), _nothing_to_record)],
        [("model.index.cli_index", index, lambda: False, _nothing_to_record)],
        [("model.projection_store", maps, lambda: False, _nothing_to_record)],
    ]
    return list(zip(STEP_NAMES, commands, strict=True))


def build_demo(options: DemoOptions) -> DemoLayout:
    """Build (or finish building) the demo under ``options.root``; returns its layout.

    One build per root at a time: a second one (the dashboard's and a terminal's) is refused."""
    _check_train_options(options)
    check_output_path(options.root, "--root", folder=True)
    layout = DemoLayout(options.root.resolve())

    def busy(holder: str) -> str:
        return f"another demo build ({holder}) is writing {layout.root}; wait for it to finish"

    with FileLock(layout.build_lock, busy):
        _build_steps(options, layout)
        atomic_write_json(layout.ready_marker, {"checkpoint": str(layout.checkpoint)})
    log.info("demo ready: checkpoint %s", layout.checkpoint)
    return layout


def _check_train_options(options: DemoOptions) -> None:
    """Refuse the --preset or --epochs the train step would refuse, before the first step: it
    stopped the build at step 3, after generating and ingesting (minutes at the default size)."""
    from model.nn.presets import load_preset

    if options.epochs is not None and options.epochs <= 0:
        raise UserError(f"--epochs must be > 0, got {options.epochs}")
    load_preset(options.preset)


def _build_steps(options: DemoOptions, layout: DemoLayout) -> None:
    """Run every step whose output is not complete yet, in order."""
    redone: set[str] = set()  # the sites this build ingests (anew)
    for number, name in enumerate(STEP_NAMES, start=1):
        if name == "train" and "internal" in redone:
            _set_aside_stale_run(layout)
        steps = _steps(options, layout)  # the train argv resumes only a run still there
        commands = dict(steps)[name]
        todo = [(module, argv, finish) for module, argv, done, finish in commands if not done()]
        if name == "ingest":
            redone = {argv[argv.index("--site") + 1] for _, argv, _ in todo}
        if not todo:
            log.info("demo step %d/%d %s: already complete", number, len(steps), name)
            continue
        log.info("demo step %d/%d %s", number, len(steps), name)
        with stage_prefix(f"{number}/{len(steps)} {name}"):
            for module, argv, finish in todo:
                # a step of one command per site names the site: each reports its own progress
                site = argv[argv.index("--site") + 1] if len(commands) > 1 else None
                with stage_prefix(f"{site} site") if site else contextlib.nullcontext():
                    if run_command(module, argv) != 0:
                        raise UserError(f"demo step {name} failed; see the log above, then rerun")
                finish()
        if name == "train" and not _trained(layout):  # stopped (Ctrl-C, SIGTERM): no index
            raise Stopped(
                "demo training stopped before it finished; run the demo again to continue"
            )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        type=Path,
        # the dashboard's data root, so a demo built from the terminal is the one ./run.sh shows
        default=default_data_root(),
        help=f"data root (default: ${DATA_ROOT_ENV}, as the dashboard reads it, else ./data)",
    )
    parser.add_argument("--internal", type=int, default=1000, help="internal-site studies")
    parser.add_argument("--external", type=int, default=300, help="external-site studies")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=usable_cpus(), help="worker processes")
    parser.add_argument("--epochs", type=int, default=None, help="override the preset's epochs")
    parser.add_argument("--preset", default="cpu-small")


def run(args: argparse.Namespace) -> int:
    build_demo(
        DemoOptions(
            root=args.root,
            internal=args.internal,
            external=args.external,
            seed=args.seed,
            workers=args.workers,
            epochs=args.epochs,
            preset=args.preset,
        )
    )
    return 0
