"""Progress reporting for long jobs: a tqdm bar on the terminal and, for the dashboard, a JSON file.

When the environment variable ``CMR_PROGRESS_FILE`` names a file, every ``Progress`` writes
``{"stage", "done", "total", "fraction", "eta_s", "message", "updated"}`` to it atomically, at most
a few times a second. The dashboard's job monitor only reads that file.

A stage may run a part of its work that has a ``Progress`` of its own (training validates after
an epoch, embedding the val studies): inside ``with bar.part("epoch 3/~16 · validating")`` a
``Progress`` opened reports into the outer one's record as ``part`` and ``part_fraction``
instead of writing its own, so the job's bar keeps its stage and count (it jumped to the
embedding's own bar, "embed studies — 40/100", and back).
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from collections.abc import Iterator
from types import TracebackType

from tqdm import tqdm

from model.atomic import atomic_write_json
from model.clock import LOG_DATE_FORMAT

PROGRESS_ENV = "CMR_PROGRESS_FILE"
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_MIN_INTERVAL_S = 0.3
_prefixes: list[str] = []
_parts: list[Progress] = []  # the stages whose ``part`` is under way, innermost last


def configure_logging(level: int) -> None:
    """Log records at ``level`` and above to stderr, one line each, as every command does.

    httpx (the Chroma server client) logs every request at INFO; its lines show with --verbose.
    matplotlib's debug lines never do: it scores every installed font for each figure, some 200
    lines per evaluation that would bury the command's own.
    """
    logging.basicConfig(level=level, format=LOG_FORMAT, datefmt=LOG_DATE_FORMAT)
    logging.getLogger("httpx").setLevel(level if level <= logging.DEBUG else logging.WARNING)
    logging.getLogger("matplotlib").setLevel(max(level, logging.INFO))


def stage_prefixes() -> tuple[str, ...]:
    """The stage prefixes in force (``stage_prefix``), outermost first."""
    return tuple(_prefixes)


def continue_stages(prefixes: tuple[str, ...]) -> None:
    """In a child process: report progress under the parent's ``stage_prefixes()``."""
    _prefixes[:] = prefixes


@contextlib.contextmanager
def stage_prefix(name: str) -> Iterator[None]:
    """Prefix every progress stage inside the block, e.g. ``"2/5 ingest"`` for a pipeline step."""
    _prefixes.append(name)
    try:
        yield
    finally:
        _prefixes.pop()


class Progress:
    """``with Progress("ingest", total=n) as bar: bar.update(1)``."""

    def __init__(
        self,
        stage: str,
        total: int | None,
        unit: str = "it",
        disable: bool = False,
        estimated: bool = False,
    ):
        self.stage = " · ".join([*_prefixes, stage])
        self.pipeline_step = bool(_prefixes)  # one step of several: its ETA is the step's only
        self.total = total
        self.estimated = estimated  # a total still being chosen (a time budget's epochs): "3/~15"
        self.done = 0
        self.message = ""
        self.eta_limit_s: float | None = None  # an ETA the stage knows it cannot exceed
        self._start = time.monotonic()
        self._last_write = 0.0
        self._path = os.environ.get(PROGRESS_ENV)
        self._outer = _parts[-1] if _parts else None  # the stage this one is a part of
        self._part: tuple[str, float | None] | None = None  # (label, fraction) while one runs
        self._bar = tqdm(
            total=total,
            desc=self.stage,
            unit=unit,
            disable=disable or not (sys.stderr.isatty() or os.environ.get("CMR_FORCE_TQDM") == "1"),
            dynamic_ncols=True,
        )

    def __enter__(self) -> Progress:
        self._write(force=True)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._write(force=True)
        self._bar.close()

    def update(self, n: int = 1, message: str | None = None) -> None:
        self.done += n
        if message is not None:
            self.message = message
            self._bar.set_postfix_str(message, refresh=False)
        self._bar.update(n)
        self._write()

    @contextlib.contextmanager
    def part(self, label: str) -> Iterator[None]:
        """A part of this stage's work, ``label`` on its bar: a ``Progress`` opened inside the
        block reports its share done here (``part_fraction``) instead of writing its own."""
        self._part = (label, None)
        _parts.append(self)
        self._write(force=True)
        try:
            yield
        finally:
            _parts.remove(self)
            self._part = None
            self._write(force=True)

    def set_total(self, total: int, estimated: bool = False) -> None:
        """Change how many units the stage has (a run that learns its length part-way);
        ``estimated``: the best guess so far, shown as one, not a count already chosen."""
        self.total = total
        self.estimated = estimated
        self._bar.total = total
        self._bar.refresh()
        self._write(force=True)

    def eta_s(self) -> float | None:
        if not self.total or self.done <= 0:
            return None
        elapsed = time.monotonic() - self._start
        eta = elapsed / self.done * max(self.total - self.done, 0)
        return eta if self.eta_limit_s is None else min(eta, self.eta_limit_s)

    def _write(self, force: bool = False) -> None:
        if self._outer is not None and self._outer._part is not None:
            fraction = self.done / self.total if self.total else None
            self._outer._part = (self._outer._part[0], fraction)
            self._outer._write(force)
            return
        if not self._path:
            return
        now = time.monotonic()
        if not force and now - self._last_write < _MIN_INTERVAL_S:
            return
        self._last_write = now
        fraction = self.done / self.total if self.total else None
        atomic_write_json(
            self._path,
            {
                "stage": self.stage,
                "done": self.done,
                "total": self.total,
                "estimated": self.estimated,
                "fraction": fraction,
                "eta_s": self.eta_s(),
                "pipeline_step": self.pipeline_step,
                "message": self.message,
                "part": self._part[0] if self._part else None,
                "part_fraction": self._part[1] if self._part else None,
                "updated": time.time(),
            },
        )
