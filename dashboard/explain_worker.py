"""Explanations computed off the script thread: one background worker per server.

An occlusion explanation takes seconds on a CPU. Run inside a script run it froze the page, and
any click (a rerun) started it again. The worker runs each on an executor's thread (one at a
time: they use every core), keyed as the explanation's cache is; a page asks for a key on every
run and gets the same ``Pending`` back while it computes, so a rerun never starts a second
computation of a key already queued or running. Finished ones stay, a few (``KEEP``), for the
page to draw; queued ones no page asked for lately (beyond ``QUEUED``: a user flipping through
studies) are cancelled, so the one on screen is not kept waiting behind them.

A job's failure is kept as the exception its future holds (logged here with its traceback, the
page shows one line); ``forget`` drops it so the page can ask again. The jobs run on a daemon
thread (``DaemonThread``): a server told to stop does not wait for the explanation it is
computing, as it would for a ``ThreadPoolExecutor``'s threads (joined at exit).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Protocol

from model.errors import UserError

log = logging.getLogger(__name__)
KEEP = 8  # finished explanations kept for pages to draw (the explanation cache keeps as many)
QUEUED = 2  # queued (not yet started) explanations kept; older ones are cancelled


class Submits(Protocol):
    """What the worker runs its jobs on: ``submit(fn, *args) -> Future``, as an executor."""

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future: ...


class DaemonThread:
    """An executor of one daemon thread, started on the first job, running jobs in turn."""

    def __init__(self, name: str):
        self._name = name
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def submit(self, fn: Callable[..., Any], /, *args: Any) -> Future:
        """Queue ``fn(*args)``; its future (cancelled before it starts, it never runs)."""
        future: Future = Future()
        self._jobs.put((future, fn, args))
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
                self._thread.start()
        return future

    def _run(self) -> None:
        while True:
            future, fn, args = self._jobs.get()
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except Exception as err:  # noqa: BLE001 - the future holds it for the page
                future.set_exception(err)


@dataclass(frozen=True)
class Pending:
    """One requested explanation: its ``future`` and when it was asked for (``time.monotonic``)."""

    future: Future
    asked: float

    def seconds(self) -> float:
        """Seconds since it was asked for (queued and computing)."""
        return time.monotonic() - self.asked


class ExplainWorker:
    """Jobs on ``executor`` keyed by an explanation's cache key, at most one per key."""

    def __init__(self, executor: Submits, keep: int = KEEP, queued: int = QUEUED):
        self._executor = executor
        self._keep = keep
        self._queued = queued
        self._jobs: OrderedDict[Hashable, Pending] = OrderedDict()
        self._lock = threading.Lock()

    def request(self, key: Hashable, job: Callable[[], Any]) -> Pending:
        """The job of ``key``: the one already asked for (queued, running or finished), else
        ``job`` submitted now. Asking again marks it as still wanted."""
        with self._lock:
            pending = self._jobs.get(key)
            if pending is not None and not pending.future.cancelled():
                self._jobs.move_to_end(key)
                return pending
            pending = Pending(self._executor.submit(_logged, job), time.monotonic())
            self._jobs[key] = pending
            self._trim()
            return pending

    def forget(self, key: Hashable) -> None:
        """Drop the job of ``key`` (a failure the user asks to try again); one still running
        finishes unseen."""
        with self._lock:
            self._jobs.pop(key, None)

    def _trim(self) -> None:
        """Keep the newest ``keep`` finished jobs and ``queued`` queued ones, every running one."""
        finished = queued = 0
        for key, pending in reversed(list(self._jobs.items())):
            future = pending.future
            if future.done():
                finished += 1
                if finished > self._keep:
                    del self._jobs[key]
            elif not future.running():
                queued += 1
                if queued > self._queued and future.cancel():
                    del self._jobs[key]


def failure_text(error: BaseException) -> str:
    """One line for a failed explanation: a ``UserError``'s own message (a damaged study says
    what to do), else the error's type and text and where the details are."""
    if isinstance(error, UserError):
        return f"The explanation failed: {error}"
    return f"The explanation failed ({type(error).__name__}: {error}). The server log has details."


def _logged(job: Callable[[], Any]) -> Any:
    """Run ``job``; an unexpected failure goes to the server log with its traceback."""
    try:
        return job()
    except UserError as err:
        log.info("explanation refused: %s", err)
        raise
    except Exception:
        log.exception("explanation failed")
        raise
