"""The run folder a training run writes and the dashboard reads (docs/ARCHITECTURE.md, "Run folder").

``config.json`` (the resolved preset and command line), ``status.json`` (state, epoch, step, ETA,
message; the writer's host, pid and process start, which tell a live run from a pid reused, and
the folder it wrote, which tells it from a copy of the folder), ``metrics.jsonl`` (one JSON
object per event), ``train.log`` (the run's log lines), ``last.pt`` and ``best.pt`` (each with
its metadata sidecar ``*.pt.meta.json``, ``model.checkpoint_meta``). Status and config are
replaced atomically; metrics are appended one complete line at a time, so a reader never sees
half a record. A training process holds ``.train.lock`` (``writer_lock``) while it writes the
folder, so a second one is refused.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_json, atomic_write_text, remove_stale_temps
from model.clock import LOG_DATE_FORMAT
from model.errors import UserError
from model.file_lock import FileLock
from model.output_path import check_output_path
from model.process_start import proc_start, this_host

STATES: tuple[str, ...] = ("queued", "running", "finished", "failed", "stopped")
LOCK_FILE = ".train.lock"
_NO_FILE_LOCKS = (errno.ENOSYS, errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOTSUP)
log = logging.getLogger(__name__)
_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def _clean(value: Any) -> Any:
    """JSON-safe value: NaN/inf become None so every line stays strict JSON."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class RunFolder:
    """Paths and writers of one run folder; only rank 0 of a run writes to it."""

    root: Path
    _status: dict[str, Any] = field(default_factory=dict)
    _log_handler: logging.Handler | None = None
    _logger_level: int = logging.NOTSET  # the model logger's own level before attach_log

    @property
    def config_path(self) -> Path:
        return self.root / "config.json"

    @property
    def status_path(self) -> Path:
        return self.root / "status.json"

    @property
    def metrics_path(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def log_path(self) -> Path:
        return self.root / "train.log"

    @property
    def last_checkpoint(self) -> Path:
        return self.root / "last.pt"

    @property
    def best_checkpoint(self) -> Path:
        return self.root / "best.pt"

    @property
    def final_checkpoint(self) -> Path:
        """The checkpoint to evaluate: ``best.pt``, or ``last.pt`` when no best was kept."""
        return self.best_checkpoint if self.best_checkpoint.exists() else self.last_checkpoint

    def kept_after_divergence(self) -> str:
        """What a run whose loss diverged leaves to go back to."""
        if self.last_checkpoint.exists():
            return (
                f"the run stopped and kept its last good checkpoint, {self.last_checkpoint} "
                "(try a lower learning rate)"
            )
        return (
            "the run stopped before saving any checkpoint (start afresh with a lower learning rate)"
        )

    def kept_for_resume(self) -> str:
        """What a run that stopped on a failure it did not cause leaves to continue from."""
        if self.last_checkpoint.exists():
            return f"its last checkpoint, {self.last_checkpoint}, is kept: --resume continues"
        return "it had saved no checkpoint yet: start it afresh"

    def prepare(self, resume: bool) -> None:
        """Create the folder; refuse to overwrite a finished or running run unless resuming."""
        check_output_path(self.root, "run folder", folder=True)
        if not resume and self.last_checkpoint.exists():
            raise UserError(
                f"run folder {self.root} already holds a run (last.pt); "
                "pass --resume to continue it or choose another --out"
            )
        if resume and not self.last_checkpoint.exists():
            raise UserError(f"cannot resume: {self.last_checkpoint} does not exist{self._why()}")
        self.root.mkdir(parents=True, exist_ok=True)
        if not resume and self.metrics_path.exists():
            self.metrics_path.unlink()

    def _why(self) -> str:
        """Why a run that started here has no last.pt, and what to do: a run killed before
        its first checkpoint (the end of its first epoch) has only its log and status."""
        if not self.status_path.exists():
            return ""
        return (
            ": the run ended before saving its first checkpoint (at the end of its first "
            "epoch); start it afresh with the same command without --resume"
        )

    @contextlib.contextmanager
    def writer_lock(self, resume: bool) -> Iterator[None]:
        """Hold ``.train.lock`` while this process writes the run (the kernel frees it when the
        process ends, even killed); UserError when another training process holds it. Holding
        it, clear the temporaries that killed checkpoint writes left behind."""
        if not resume:
            with contextlib.suppress(OSError):  # prepare() says what is wrong with --out
                self.root.mkdir(parents=True, exist_ok=True)
        if not self.root.is_dir():
            yield  # no run here to guard: prepare() refuses
            return

        def busy(holder: str) -> str:
            return (
                f"another training process ({holder}) is writing {self.root}; wait for it to end "
                "or stop it (then --resume continues the run), or choose another --out"
            )

        lock = FileLock(self.root / LOCK_FILE, busy)
        if not self._lock_if_possible(lock):
            yield
            return
        try:
            if stale := remove_stale_temps(self.root):
                log.info(
                    "removed %d temporary file(s) that a killed run left in %s", stale, self.root
                )
            yield
        finally:
            lock.release()

    def _lock_if_possible(self, lock: FileLock) -> bool:
        """Take ``lock``; False, said in a warning, where the file system has no file locks: a
        cluster's shared file system may not (Lustre mounted without ``-o flock``, NFS without
        its lock daemon), and the run there went no further than a traceback. Unlocked, the
        temporaries of killed writes are left: they may be another writer's."""
        try:
            lock.acquire()
        except OSError as err:
            if err.errno not in _NO_FILE_LOCKS:
                raise
            log.warning(
                "%s cannot be locked (%s): its file system has no file locks, so nothing keeps a "
                "second training process from writing this run at the same time",
                self.root,
                err.strerror,
            )
            return False
        return True

    def write_config(self, config: dict[str, Any]) -> None:
        atomic_write_json(self.config_path, config)

    def read_config(self) -> dict[str, Any]:
        return json.loads(self.config_path.read_text())

    def update_status(self, **fields: Any) -> dict[str, Any]:
        """Merge ``fields`` into status.json (state must be one of ``STATES``) and rewrite it."""
        state = fields.get("state")
        if state is not None and state not in STATES:
            raise ValueError(f"unknown run state {state!r}")
        self._status.update({k: _clean(v) for k, v in fields.items()})
        pid = os.getpid()
        self._status.update(pid=pid, proc_start=proc_start(pid), host=this_host())
        self._status["folder"] = str(self.root.resolve())  # a copied run's status is not live
        self._status["updated"] = time.time()
        atomic_write_json(self.status_path, self._status)
        return dict(self._status)

    def record_failure(self, **fields: Any) -> None:
        """``update_status`` of a run that stopped on an error, when the disk lets it: a full
        disk must not replace why the run stopped (and what it kept) by this write's error.
        The reason also ends train.log (only there: the console prints it once), so the Train
        page's log excerpt of a failed run says why it stopped."""
        if self._log_handler is not None:
            self._log_handler.handle(_failure_record(str(fields.get("message", ""))))
        try:
            self.update_status(**fields)
        except OSError as err:
            log.warning("the run's failure is not recorded in %s (%s)", self.status_path, err)

    def read_status(self) -> dict[str, Any]:
        if not self.status_path.exists():
            return {}
        return json.loads(self.status_path.read_text())

    def append_metrics(self, record: dict[str, Any]) -> None:
        """Append one event (``kind`` = train / val) as a single JSON line."""
        line = json.dumps({k: _clean(v) for k, v in record.items()}, sort_keys=True)
        with open(self.metrics_path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")
            handle.flush()

    def read_metrics(self) -> list[dict[str, Any]]:
        """Every complete metrics record (a torn last line, or one that is no record, is
        skipped)."""
        if not self.metrics_path.exists():
            return []
        records = []
        for line in self.metrics_path.read_text(encoding="utf-8").splitlines():
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(record, dict):
                records.append(record)
        return records

    def truncate_metrics_after(self, step: int) -> None:
        """On resume, drop records logged after the checkpoint's step (they will be redone)."""
        kept = [r for r in self.read_metrics() if int(r.get("step", 0)) <= step]
        atomic_write_text(
            self.metrics_path, "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        )

    def attach_log(self) -> None:
        """Copy the ``model`` logger's records into train.log for the rest of the run."""
        handler = _RunLog(self.log_path)
        handler.setFormatter(logging.Formatter(_LOG_FORMAT, datefmt=LOG_DATE_FORMAT))
        handler.setLevel(logging.INFO)
        logger = logging.getLogger("model")
        logger.addHandler(handler)
        self._logger_level = logger.level  # put back by detach_log: a library user's setting
        if logger.getEffectiveLevel() > logging.INFO:
            logger.setLevel(logging.INFO)
        self._log_handler = handler

    def detach_log(self) -> None:
        if self._log_handler is not None:
            logging.getLogger("model").removeHandler(self._log_handler)
            logging.getLogger("model").setLevel(self._logger_level)
            self._log_handler.close()
            self._log_handler = None


def _failure_record(message: str) -> logging.LogRecord:
    return logging.makeLogRecord(
        {
            "name": log.name,
            "levelno": logging.ERROR,
            "levelname": "ERROR",
            "msg": "run failed: %s",
            "args": (message,),
        }
    )


class _RunLog(logging.FileHandler):
    """``train.log``. When it cannot be written (a full disk), the console says so once and the
    run goes on without it: no "Logging error" traceback per line, no finished run reported as
    failed because the log could not be flushed at its end."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, encoding="utf-8")
        self.broken = False

    def emit(self, record: logging.LogRecord) -> None:
        if not self.broken:
            super().emit(record)

    def handleError(self, record: logging.LogRecord) -> None:  # noqa: N802 (logging's name)
        if self.broken:
            return
        self.broken = True
        err = sys.exc_info()[1]
        reason = getattr(err, "strerror", None) or err
        log.warning("%s is no longer written (%s); the run goes on", self.baseFilename, reason)

    def close(self) -> None:
        with contextlib.suppress(OSError):  # the last flush of a log that could not be written
            super().close()
