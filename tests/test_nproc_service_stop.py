"""``systemctl stop`` of the dashboard's service while a ``train --nproc 2`` job runs.

systemd signals every process of the unit at once (KillMode=control-group): the job's runner,
which passes the SIGTERM on to the launcher, the launcher (torchrun's elastic agent) itself and
each training process. A SIGTERM reaching the launcher again while it waits for its processes
to save (the runner's, a repeated stop) made the agent give up waiting and end, leaving the
processes running on without it: the job read ended while they still wrote the run folder.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path

from dashboard.processes import descendants, process_alive
from model.training.checkpoint import read_checkpoint_meta
from model.training.run_folder import RunFolder

STOP_ASKED = "stop requested (SIGTERM); finishing the current step"


def _steps(out: Path) -> int:
    if not (out / "metrics.jsonl").exists():
        return 0
    return sum(1 for r in RunFolder(out).read_metrics() if r["kind"] == "train")


def _training_processes(launcher: int) -> list[int]:
    """The launcher's training processes (each has its LOCAL_RANK in its environment)."""
    found = []
    for pid, _, _ in descendants(launcher):
        with contextlib.suppress(OSError):  # ended while read
            if b"LOCAL_RANK=" in Path(f"/proc/{pid}/environ").read_bytes():
                found.append(pid)
    return found


def _stop_as_systemd_does(launcher: int, ranks: list[int]) -> list[int]:
    """SIGTERM to the launcher and each training process at once, then the launcher again and
    again (the runner passing its own on, a repeated stop) while any training process runs;
    the training processes still running when the launcher ended."""
    for pid in (launcher, *ranks):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + 120
    while any(process_alive(pid) for pid in ranks) and time.monotonic() < deadline:
        time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(launcher, signal.SIGTERM)
        if not process_alive(launcher):
            return [pid for pid in ranks if process_alive(pid)]
    return []


def test_a_service_stop_with_repeated_sigterms_lets_every_process_save(tmp_path: Path) -> None:
    from model_process import start_nproc_training, wait_while_running

    log = tmp_path / "job.log"
    proc, _, out = start_nproc_training(tmp_path, log)
    try:
        wait_while_running(proc, lambda: _steps(out) >= 2, log, "never reached step 2")
        ranks = _training_processes(proc.pid)
        assert len(ranks) == 2
        left_running = _stop_as_systemd_does(proc.pid, ranks)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert not left_running, f"the launcher ended before its processes: {text[-3000:]}"
    assert code == 128 + signal.SIGTERM and "Traceback" not in text, text[-3000:]
    assert text.rstrip().endswith(
        "stopped by SIGTERM; each process's own lines above say where it stopped"
    )
    assert text.count(STOP_ASKED) == 2, text[-3000:]  # each process says it once
    assert RunFolder(out).read_status()["state"] == "stopped", text[-3000:]
    assert read_checkpoint_meta(out / "last.pt").step >= 2


def test_a_stop_after_the_command_returned_leaves_its_status() -> None:
    """``python -m model`` ignores SIGTERM and SIGUSR1 once its command has returned: a late
    stop (the test above sends them until the launcher is gone) ended a stopped launcher by the
    signal's default action, after it had said it stopped."""
    import subprocess
    import sys

    late_stop = (
        "import os, signal, sys\n"
        "from model.cli import ignore_stops\n"
        "ignore_stops()\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "os.kill(os.getpid(), signal.SIGUSR1)\n"
        "sys.exit(143)\n"
    )
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, "-c", late_stop], cwd=root, timeout=120, check=False)
    assert done.returncode == 128 + signal.SIGTERM
    main = (root / "model" / "__main__.py").read_text()
    assert (
        main.index("main(process_entry=True)")
        < main.index("ignore_stops()")
        < main.index("sys.exit(status)")
    )
