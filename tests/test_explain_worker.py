"""The explanation worker: one job per key, stale queued jobs dropped, failures kept for the
page, and a daemon thread, so a server told to stop does not wait for an explanation."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from dashboard.explain_worker import DaemonThread, ExplainWorker, failure_text
from model.errors import DataError


class _Queue:
    """An executor that only queues: each job's future stays pending."""

    def __init__(self) -> None:
        self.futures: list[Future] = []

    def submit(self, fn, *args) -> Future:
        self.futures.append(Future())
        return self.futures[-1]


def test_one_job_per_key_and_queued_jobs_asked_for_long_ago_are_cancelled() -> None:
    executor = _Queue()
    worker = ExplainWorker(executor, keep=8, queued=2)
    first = worker.request("a", lambda: 1)
    assert worker.request("a", lambda: 2) is first and len(executor.futures) == 1
    worker.request("b", lambda: 1)
    worker.request("a", lambda: 1)  # still wanted: now the newest
    worker.request("c", lambda: 1)
    assert executor.futures[1].cancelled() and not first.future.cancelled()
    again = worker.request("b", lambda: 1)  # asked for again: submitted again
    assert again.future is executor.futures[-1] and len(executor.futures) == 4


def test_the_daemon_thread_runs_jobs_in_turn_and_skips_cancelled_ones() -> None:
    executor = DaemonThread("test-explain")
    gate = threading.Event()
    ran: list[str] = []
    held = executor.submit(gate.wait)
    skipped = executor.submit(ran.append, "skipped")
    assert skipped.cancel()
    done = executor.submit(ran.append, "ran")
    failed = executor.submit(lambda: 1 / 0)
    gate.set()
    assert held.result(timeout=60) is True and done.result(timeout=60) is None
    assert isinstance(failed.exception(timeout=60), ZeroDivisionError)
    assert ran == ["ran"]
    assert [t.daemon for t in threading.enumerate() if t.name == "test-explain"] == [True]


def test_a_failure_is_one_line_saying_what_to_do_for_a_damaged_study() -> None:
    damaged = DataError("tensor of study s1 is damaged; re-run ingest")
    assert failure_text(damaged) == (
        "The explanation failed: tensor of study s1 is damaged; re-run ingest"
    )
    assert "server log" in failure_text(RuntimeError("x")) and "\n" not in failure_text(
        RuntimeError("x")
    )
