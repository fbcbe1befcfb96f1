"""Background jobs: long actions (demo build, ingest, training, embedding, case index,
evaluation) run as separate processes.

Each job gets a folder ``DATA_ROOT/jobs/<id>/`` holding

```
job.json       id, kind, title, command, pid, process start tick, host, started, user, outputs,
               cancel flag, the folder it was written in (a copied data root's job is not its)
log.txt        the process's stdout + stderr
progress.json  model.progress writes it (env CMR_PROGRESS_FILE): stage, done, total, fraction, eta_s
result.json    exit code and end time, written by the job runner when the command ends
command.json   the command's pid and start tick, written by the runner when it starts it
```

The command runs under a tiny runner (``python -m dashboard.job_runner JOBDIR -- CMD...``) that is a
process-group leader, waits for the command and records its exit code, so a job's state is known
from disk alone: it survives a dashboard restart or a browser refresh. Cancelling kills the job's
own process group (never processes found by name). Only one job of a kind runs at a time.
Starting a job removes the records of ended jobs beyond the newest ``KEPT_JOBS`` of each kind
(``model/job_records.py``), so the folder, and what each page rerun reads of it, stays bounded.

A job records the account that started it (several people may run dashboards over one data
root), so a refusal or a panel says whose it is; another account's job is refused a stop. It
records the machine too: on a data root shared by several, a job another one runs reads
``running on HOST`` (its pid means nothing here) until its result.json says it ended, counts
as the running job of its kind, and is refused a stop here. One silent for ``REMOTE_SILENCE_S``
(no log line, progress or job.json change, on the file server's clock: ``dashboard.file_clock``;
that machine went down with it) reads ``lost``, as
does a train job as soon as its run folder's status says the run ended or was lost there
(``dashboard.run_state.run_ended_since``) while no result.json came.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from dashboard.file_clock import silent_s
from dashboard.job import (
    COPIED,
    VANISHED,
    WENT_DOWN,
    Job,
    busy_refusal,
    check_here,
    check_may_stop,
    ended_state,
    orphaned_command,
    stop_grace_s,
)
from dashboard.processes import current_user, kill_tree, process_alive
from dashboard.run_state import run_ended_since
from model.atomic import atomic_write_json, read_json_object
from model.clock import utc_stamp
from model.errors import UserError, storage_problem
from model.file_lock import FileLock
from model.job_records import prune_jobs
from model.process_start import host_elsewhere, proc_start, this_host
from model.progress import PROGRESS_ENV
from model.relocate import written_elsewhere

REPO_ROOT = Path(__file__).resolve().parent.parent
log = logging.getLogger(__name__)
_CHILDREN: dict[int, subprocess.Popen] = {}
_LAUNCH_LOCK = ".launch.lock"
_LAUNCH_WAIT_S = 10.0
REMOTE_SILENCE_S = 6 * 3600.0  # a job on another machine silent this long died with it


def model_command(*args: str) -> list[str]:
    """``python -m model ARGS`` with this interpreter."""
    return [sys.executable, "-m", "model", *args]


class JobManager:
    """Launch, list and cancel jobs whose state lives in ``jobs_dir``; their times are written
    in ``zone`` (the reader's, an IANA name; None: this machine's)."""

    def __init__(self, jobs_dir: Path, zone: str | None = None):
        self.jobs_dir = Path(jobs_dir)
        self.zone = zone

    def launch(
        self,
        kind: str,
        command: Sequence[str],
        title: str = "",
        outputs: dict[str, str] | None = None,
        env: dict[str, str] | None = None,
        prepare: Callable[[], None] | None = None,
        own: Collection[str] = (),
    ) -> Job:
        """Start ``command`` in its own process group; refuse a second running job of ``kind``
        (``own``: the ids of the jobs the asking page session started, see ``check_idle``).

        The check and the start happen under one lock on the jobs folder, so two pages (two
        browser tabs) pressing the same button at once start one job, not two. ``prepare``
        (writing the files the command reads, e.g. a run's preset.json) runs there too, after
        the check: one who is refused never writes over the inputs of the job that starts."""
        lock = FileLock(self.jobs_dir / _LAUNCH_LOCK, _launch_busy, wait_s=_LAUNCH_WAIT_S)
        try:
            lock.acquire()
        except OSError as err:
            raise UserError(
                f"cannot start the {kind} job: cannot write {err.filename or self.jobs_dir} "
                f"({err.strerror}); the data root must be a folder this user can write"
            ) from err
        try:
            self.check_idle(kind, own)
            if prepare is not None:
                prepare()
            job = self._start(kind, command, title, outputs, env)
            prune_jobs(self.jobs_dir)  # ended ones beyond the newest of each kind: bounded
            return job
        finally:
            lock.release()

    def check_idle(self, kind: str, own: Collection[str] = ()) -> None:
        """UserError naming the running job, who started it and when, when a job of ``kind``
        runs now; ``own``: the ids of the jobs the asking page session started."""
        busy = [job for job in self.list(kind) if job.running]
        if busy:
            raise UserError(busy_refusal(kind, busy[0], busy[0].id in own))

    def _start(
        self,
        kind: str,
        command: Sequence[str],
        title: str,
        outputs: dict[str, str] | None,
        env: dict[str, str] | None,
    ) -> Job:
        job_id = f"{kind}-{utc_stamp()}-{secrets.token_hex(3)}"
        folder = self.jobs_dir / job_id
        folder.mkdir(parents=True)
        child_env = {**os.environ, **(env or {})}
        child_env[PROGRESS_ENV] = str(folder / "progress.json")
        child_env["PYTHONUNBUFFERED"] = "1"
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO_ROOT), child_env.get("PYTHONPATH", "")) if p
        )
        runner = [sys.executable, "-m", "dashboard.job_runner", str(folder), "--", *command]
        with open(folder / "log.txt", "ab") as log:
            proc = subprocess.Popen(
                runner,
                cwd=REPO_ROOT,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _CHILDREN[proc.pid] = proc
        info = {
            "id": job_id,
            "kind": kind,
            "title": title or kind,
            "command": list(command),
            "pid": proc.pid,
            "proc_start": proc_start(proc.pid),
            "host": this_host(),
            "started": time.time(),
            "user": current_user(),
            "outputs": outputs or {},
            "cancel_requested": False,
            "folder": str(folder.resolve()),
        }
        try:
            atomic_write_json(folder / "job.json", info)
        except OSError as err:  # a full disk: without its record no page could show or stop it
            _abandon(proc, folder)
            problem = storage_problem(err)
            if problem is None:
                raise
            raise UserError(f"the {kind} job was not started: {problem}") from err
        return self._read(folder)

    def list(self, kind: str | None = None) -> list[Job]:
        """Jobs (optionally of one kind), newest first."""
        if not self.jobs_dir.is_dir():
            return []
        jobs = []
        for folder in self.jobs_dir.iterdir():
            if (folder / "job.json").is_file():
                job = self._read(folder)
                if job is not None and (kind is None or job.kind == kind):
                    jobs.append(job)
        return sorted(jobs, key=lambda j: float(j.info.get("started", 0)), reverse=True)

    def latest(self, kind: str) -> Job | None:
        jobs = self.list(kind)
        return jobs[0] if jobs else None

    def get(self, job_id: str) -> Job:
        folder = self.jobs_dir / job_id
        job = self._read(folder) if (folder / "job.json").is_file() else None
        if job is None:
            raise UserError(f"no job called {job_id!r}")
        return job

    def cancel(self, job_id: str, wait: bool = True) -> Job:
        """Stop a running job: SIGTERM to its own process group, SIGKILL after a grace (short,
        or as long as a training run may need to finish its step and save ``last.pt``).

        ``wait=False`` (the pages) spends the grace in a background thread, so a page's script
        thread is never held for it; the job reads ``stopping`` until it has ended."""
        job = self.get(job_id)
        check_here(job)
        if job.state != "running":  # ended, or already stopping
            return job
        check_may_stop(job)
        info = dict(job.info, cancel_requested=True, cancel_requested_at=time.time())
        try:
            atomic_write_json(job.folder / "job.json", info)
        except OSError as err:  # a full disk (a run filling it, say) must not keep the job going
            log.warning("stopping job %s without recording the request (%s)", job.id, err)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(job.pid, signal.SIGTERM)
        grace = (*job.target, stop_grace_s(job.kind))  # the command's, once its runner is gone
        if wait:
            _kill_after_grace(*grace)
        else:
            threading.Thread(
                target=_kill_after_grace, args=grace, name=f"cancel-{job.id}", daemon=True
            ).start()
        return self.get(job_id)

    def force_stop(self, job_id: str) -> Job:
        """Kill a job that is stopping at once: its runner, its command and every process
        below them (torchrun's ranks included, which run in sessions of their own). A training
        run keeps its last.pt; its status then reads ``crashed``."""
        job = self.get(job_id)
        check_here(job)
        if job.state != "stopping":
            return job
        check_may_stop(job)
        kill_tree(*job.target)
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline and process_alive(*job.target):
            time.sleep(0.05)
        _reap(job.pid)
        return self.get(job_id)

    def _read(self, folder: Path) -> Job | None:
        info = read_json_object(folder / "job.json")
        if not info or "pid" not in info:
            return None
        result = read_json_object(folder / "result.json")
        progress = read_json_object(folder / "progress.json")
        pid = int(info["pid"])
        _reap(pid)
        if result:
            code = int(result.get("returncode", 1))
            state = ended_state(code, bool(info.get("cancel_requested")))
            ended = result.get("finished")
            finished = float(ended) if isinstance(ended, int | float) else None
            return Job(folder, info, state, code, progress, finished=finished, zone=self.zone)
        host = host_elsewhere(info)
        if host is not None and _silent_s(folder) < REMOTE_SILENCE_S and not _run_ended(info):
            # its runner there writes result.json when it ends
            state = "stopping" if info.get("cancel_requested") else "running"
            return Job(folder, info, f"{state} on {host}", None, progress, host, zone=self.zone)
        if host is not None:  # that machine went down with it: it no longer blocks its kind
            return Job(folder, info, "lost", None, progress, zone=self.zone, lost=WENT_DOWN)
        if written_elsewhere(info.get("folder"), folder):  # a copied root's: ends at the old place
            return Job(folder, info, "lost", None, progress, zone=self.zone, lost=COPIED)
        if process_alive(pid, info.get("proc_start")):
            state = "stopping" if info.get("cancel_requested") else "running"
            return Job(folder, info, state, None, progress, zone=self.zone)
        if orphan := orphaned_command(folder):  # its runner alone was killed: it still runs
            state = "stopping" if info.get("cancel_requested") else "running"
            return Job(folder, info, state, None, progress, zone=self.zone, orphan=orphan)
        if info.get("cancel_requested"):
            return Job(folder, info, "cancelled", None, progress, zone=self.zone)
        return Job(folder, info, "lost", None, progress, zone=self.zone, lost=VANISHED)


def _silent_s(folder: Path) -> float:
    """Seconds since the job's folder last changed (its log, progress or job.json), on the
    clock that stamps its files."""
    silent = silent_s([folder / "job.json", folder / "log.txt", folder / "progress.json"])
    return float("inf") if silent is None else silent


def _run_ended(info: dict[str, Any]) -> bool:
    """Whether the training run a train job writes says it ended (or was lost with its
    machine) though the job's runner never recorded the end: that machine went down."""
    run = (info.get("outputs") or {}).get("run")
    if info.get("kind") != "train" or not isinstance(run, str):
        return False
    started = info.get("started")
    since = float(started) if isinstance(started, int | float) else float("inf")
    return run_ended_since(Path(run), since) is not None


def _launch_busy(holder: str) -> str:
    return f"another job is being started ({holder}); try again in a moment"


def _abandon(proc: subprocess.Popen, folder: Path) -> None:
    """Stop a job just started whose record could not be written, and remove its folder: it ran
    for milliseconds, and its files are written atomically, so nothing is left half-written."""
    kill_tree(proc.pid, proc_start(proc.pid))
    proc.wait()
    _CHILDREN.pop(proc.pid, None)
    shutil.rmtree(folder, ignore_errors=True)


def _reap(pid: int) -> None:
    """Collect the exit status of a child this process started (no zombies left behind)."""
    proc = _CHILDREN.get(pid)
    if proc is not None and proc.poll() is not None:
        _CHILDREN.pop(pid, None)


def _kill_after_grace(pid: int, start_tick: Any, grace_s: float) -> None:
    """SIGKILL ``pid`` and the processes below it if it outlives ``grace_s`` after its SIGTERM."""
    deadline = time.monotonic() + grace_s
    while time.monotonic() < deadline and process_alive(pid, start_tick):
        time.sleep(0.05)
    if process_alive(pid, start_tick):
        kill_tree(pid, start_tick)
        time.sleep(0.1)
    _reap(pid)
