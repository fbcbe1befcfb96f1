"""The power goes out: a command SIGKILLed (the out-of-memory killer, ``kill -9``) leaves
nothing running and nothing locked, and never an output that reads as complete when it is not.

Each command is a real ``python -m model ...`` subprocess, killed with its whole process group
once its own outputs show it got to the point under test.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study
from model_process import spawn_model, start_nproc_training, wait_while_running
from tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint, write_tiny_preset

from dashboard.processes import descendants, process_alive
from model.cli import main as cli_main
from model.data.store import LOCK_FILE
from model.errors import UserError
from model.training.checkpoint import read_checkpoint_meta
from model.training.run_folder import LOCK_FILE as RUN_LOCK_FILE
from model.training.run_folder import RunFolder
from model.zeroshot_cli import metrics_path

ROOT = Path(__file__).resolve().parents[1]


def _processes_naming(text: str) -> list[int]:
    """Pids of the live processes whose command line names ``text`` (a test's own folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if text in cmdline and state != "Z":
            found.append(int(entry.name))
    return found


def _gone(text: str, deadline_s: float = 60.0) -> list[int]:
    """Wait (up to ``deadline_s``) for every process naming ``text`` to end; those left."""
    deadline = time.monotonic() + deadline_s
    while (left := _processes_naming(text)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _lock_released(lock_file: Path, deadline_s: float = 60.0) -> bool:
    """Wait (up to ``deadline_s``) until ``lock_file``'s lock can be taken. A killed process
    whose memory is already released reads an empty command line (``_gone`` no longer sees
    it) a moment before the kernel closes its files, and with them the lock."""
    deadline = time.monotonic() + deadline_s
    fd = os.open(lock_file, os.O_RDONLY)
    try:
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.05)
                continue
            fcntl.flock(fd, fcntl.LOCK_UN)
            return True
    finally:
        os.close(fd)


def test_killed_ingest_with_workers_leaves_no_worker_holding_the_dataset(
    tmp_path: Path,
) -> None:
    # ingest's pool workers leave its process group (a Cancel reaches the parent only), so
    # kill -9 of that group missed them: they waited forever for work from a dead parent,
    # holding the .ingest.lock they were forked with, and every rerun was refused
    src, out, log = tmp_path / "dicom", tmp_path / "dataset", tmp_path / "ingest.log"
    for i in range(12):
        write_study(src, StudySpec(accession=f"ACC{i:04d}", patient_id=f"PID{i:04d}"))
    argv = ["ingest", str(src), "--out", str(out), "--workers", "2"]
    proc = spawn_model(argv, log, own_session=True)
    try:
        wait_while_running(proc, lambda: _tensors(out) >= 2, log, "ingest never wrote a study")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    left = _gone(str(out))
    for pid in left:  # the old code's orphans: leave none behind on this machine
        os.kill(pid, signal.SIGKILL)
    assert not left, f"processes of the killed ingest still run: {left}"
    assert _lock_released(out / LOCK_FILE), "a process of the killed ingest holds its lock"

    assert cli_main(["ingest", str(src), "--out", str(out)]) == 0
    ids = pd.read_parquet(out / "studies.parquet")["study_id"].tolist()
    assert len(ids) == len(set(ids)) == 12


def test_killed_nproc_launcher_stops_its_training_processes(tmp_path: Path) -> None:
    # torchrun starts each training process in a session of its own: kill -9 of the
    # ``train --nproc 2`` group (the out-of-memory killer, a group kill) missed them, and they
    # trained on unseen, the run reading "running" while its job had ended
    log = tmp_path / "train.log"
    proc, data, out = start_nproc_training(tmp_path, log)
    try:
        wait_while_running(proc, RunFolder(out).read_metrics, log, "never trained a step")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=60)
    left = _gone(str(out), deadline_s=120.0)  # each saves after its step, then ends
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert not left, f"training processes of the killed launcher still run: {left}"
    assert _lock_released(out / RUN_LOCK_FILE), "a killed training process holds its lock"
    assert RunFolder(out).read_status()["state"] == "stopped"
    saved = read_checkpoint_meta(out / "last.pt").step
    argv = ["train", "--nproc", "2", "--device", "cpu", "--data", str(data), "--out", str(out)]
    assert cli_main([*argv, "--resume", "--max-steps", str(saved + 1)]) == 0
    assert read_checkpoint_meta(out / "last.pt").step == saved + 1


def _killed_at(function: str, args: list[str], log: Path) -> int:
    """Run ``python -m model ARGS`` with ``function`` (``module.name``) replaced by a SIGKILL
    of the process itself: killed at that point, always; returns its exit status."""
    module, name = function.rsplit(".", 1)
    patch = (
        f"import os, signal, importlib; m = importlib.import_module({module!r}); "
        f"setattr(m, {name!r}, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))"
    )
    return _run_patched(patch, args, log)


def _run_patched(patch: str, args: list[str], log: Path) -> int:
    """Run ``python -m model ARGS`` after the Python code ``patch``; its exit status."""
    script = f"{patch}\nimport sys\nfrom model.cli import main\nsys.exit(main(sys.argv[1:]))"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with open(log, "wb") as handle:
        done = subprocess.run(
            [sys.executable, "-c", script, *args], cwd=ROOT, env=env, stdout=handle, stderr=handle
        )
    return done.returncode


def test_zeroshot_killed_before_its_metrics_leaves_no_earlier_runs_metrics_beside_it(
    tmp_path: Path,
) -> None:
    # the scores were written, then the metrics computed (bootstrap intervals: seconds): a kill
    # then left this run's scores beside the metrics of an earlier run's other prompts
    data, checkpoint = shared_tiny_checkpoint()
    out = tmp_path / "scores.csv"
    read = ["zeroshot", "--checkpoint", str(checkpoint), "--data", str(data)]
    read += ["--labels", str(data / "labels.csv"), "--out", str(out)]
    assert cli_main(read) == 0
    earlier = out.read_bytes()
    assert metrics_path(out).is_file()

    other = ["--prompts", str(ROOT / "sample_data" / "prompts" / "paraphrase.yaml")]
    code = _killed_at("model.zeroshot_cli.evaluate_by_site", [*read, *other], tmp_path / "z.log")
    assert code == -signal.SIGKILL, (tmp_path / "z.log").read_text(errors="replace")[-2000:]
    assert out.read_bytes() != earlier, "the killed run wrote its scores"
    assert not metrics_path(out).exists(), "an earlier run's metrics beside these scores"


def test_a_job_killed_with_its_runner_or_lost_to_a_restart_says_it_stopped_unexpectedly(
    manager,
) -> None:
    # its panel read only "Train lost": not whether it ended, nor what of it is kept
    import dashboard.jobs as jobs_module

    killed = manager.launch("train", [sys.executable, "-c", "import time; time.sleep(600)"])
    os.killpg(killed.pid, signal.SIGKILL)  # the runner and its command: no result.json
    rebooted = manager.launch("ingest", [sys.executable, "-c", "pass"])
    jobs_module._reap(rebooted.pid)
    deadline = time.monotonic() + 60
    while process_alive(killed.pid) or process_alive(rebooted.pid):
        assert time.monotonic() < deadline, "the jobs never ended"
        time.sleep(0.05)
        jobs_module._reap(killed.pid)
        jobs_module._reap(rebooted.pid)
    (rebooted.folder / "result.json").unlink()  # the machine went down before it was written
    info = json.loads((rebooted.folder / "job.json").read_text())
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:  # after the restart its pid is another program's, started at another tick
        (rebooted.folder / "job.json").write_text(json.dumps(info | {"pid": other.pid}))
        for job in (manager.get(killed.id), manager.get(rebooted.id)):
            assert job.state == "lost" and not job.running
            assert "stopped unexpectedly" in job.outcome, job.outcome
            assert "what it finished is kept" in job.outcome
    finally:
        other.kill()
        other.wait()
    manager.check_idle("train")  # a new run may start


def test_evaluate_killed_while_moving_its_outputs_leaves_no_earlier_summary(
    tmp_path: Path,
) -> None:
    # the outputs are moved from a hidden staging folder one by one, summary.json last: a kill
    # between two moves left this run's first tables under the earlier run's summary
    data = make_tiny_dataset(tmp_path / "data", n=40, seed=0)
    checkpoint = shared_tiny_checkpoint()[1]
    out = tmp_path / "eval"
    argv = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    argv += ["--episodes", "2", "--bootstrap", "10", "--shots", "1", "--folds", "2"]
    argv += ["--probe-c", "1", "--no-train-split-probes"]  # less work: the moves are under test
    assert cli_main(argv) == 0
    assert (out / "summary.json").is_file()

    kill_after_first_move = (
        "import os, signal, types\nimport model.evaluation.outputs as o\n"
        "def _move(a, b): os.replace(a, b); os.kill(os.getpid(), signal.SIGKILL)\n"
        "o.os = types.SimpleNamespace(replace=_move, access=os.access, W_OK=os.W_OK, "
        "X_OK=os.X_OK)"
    )
    log = tmp_path / "eval.log"
    code = _run_patched(kill_after_first_move, [*argv, "--seed", "1"], log)
    assert code == -signal.SIGKILL, log.read_text(errors="replace")[-2000:]
    assert not (out / "summary.json").exists(), "the earlier summary over this run's tables"
    assert cli_main(argv) == 0  # the rerun writes it whole
    assert (out / "summary.json").is_file()


def test_ingest_whose_worker_the_oom_killer_picks_says_so_in_one_line(tmp_path: Path) -> None:
    # the out-of-memory killer picks the largest process, often a pool worker: ingest ended
    # with concurrent.futures' BrokenProcessPool traceback
    src, out, log = tmp_path / "dicom", tmp_path / "dataset", tmp_path / "ingest.log"
    for i in range(36):  # enough that a loaded machine's ingest is still at work when killed
        write_study(src, StudySpec(accession=f"ACC{i:04d}", patient_id=f"PID{i:04d}"))
    proc = spawn_model(["ingest", str(src), "--out", str(out), "--workers", "2"], log)
    try:
        wait_while_running(proc, lambda: _tensors(out) >= 2, log, "ingest never wrote a study")
        _kill_a_worker(proc, log)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert code == 1 and "Traceback" not in text, text[-2000:]
    assert "a worker process of ingest was killed" in text
    assert cli_main(["ingest", str(src), "--out", str(out)]) == 0
    assert len(pd.read_parquet(out / "studies.parquet")) == 36


def _kill_a_worker(proc: subprocess.Popen, log: Path) -> None:
    """SIGKILL one live process below ``proc``: a worker listed may end before the signal
    (its pool shutting down), so go on to the next, while ``proc`` runs."""
    while proc.poll() is None:
        for pid, _, _ in descendants(proc.pid):
            try:
                os.kill(pid, signal.SIGKILL)
                return
            except ProcessLookupError:
                continue
        time.sleep(0.02)
    raise AssertionError(f"ended before a worker was killed:\n{log.read_text()[-2000:]}")


def test_a_run_killed_before_its_first_checkpoint_says_how_to_start_afresh(
    tmp_path: Path,
) -> None:
    # "cannot resume: last.pt does not exist" did not say that the run folder is still usable
    # (the same command without --resume starts it afresh in it), nor why there is no last.pt
    data = make_tiny_dataset(tmp_path / "data", n=24, seed=3)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=1)
    out, log = tmp_path / "run", tmp_path / "train.log"
    argv = ["train", "--data", str(data), "--preset", str(preset), "--out", str(out)]
    code = _killed_at("model.training.checkpoint.save_checkpoint", argv, log)
    assert code == -signal.SIGKILL, log.read_text(errors="replace")[-2000:]
    assert RunFolder(out).read_metrics() and not (out / "last.pt").exists()

    with pytest.raises(UserError, match="without --resume"):
        RunFolder(out).prepare(resume=True)
    assert cli_main(argv) == 0  # the same command without --resume: afresh, in the same folder
    steps = [r["step"] for r in RunFolder(out).read_metrics() if r["kind"] == "train"]
    assert steps == list(range(1, len(steps) + 1))
    assert RunFolder(out).read_status()["state"] == "finished"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_generate_whose_worker_is_killed_fails_in_one_line_and_resumes(tmp_path: Path) -> None:
    # multiprocessing's Pool replaced the killed worker and waited for its study forever: the
    # demo's first step (and its dashboard job) read "running" for good
    out, log, progress = tmp_path / "raw", tmp_path / "generate.log", tmp_path / "progress.json"
    argv = ["generate", "--out", str(out), "--studies", "20", "--seed", "4"]
    proc = spawn_model([*argv, "--workers", "2"], log, progress)
    try:
        wait_while_running(proc, lambda: _done(progress) >= 2, log, "generate never wrote a study")
        workers = [pid for pid, _, _ in descendants(proc.pid) if _is_pool_worker(pid)]
        os.kill(workers[0], signal.SIGKILL)
        code = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert code == 1 and "Traceback" not in text, text[-2000:]
    assert "a worker process of generate was killed" in text
    assert not out.exists(), "an unfinished output looks complete"

    assert cli_main(argv) == 0  # resumes from the studies kept
    assert cli_main([*argv[:2], str(tmp_path / "whole"), *argv[3:]]) == 0
    assert _files(out) == _files(tmp_path / "whole")


def _tensors(dataset: Path) -> int:
    return len(list((dataset / "tensors").glob("*.npy")))


def _done(progress: Path) -> int:
    try:
        return int(json.loads(progress.read_text()).get("done") or 0)
    except (OSError, ValueError):
        return 0


def _is_pool_worker(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return b"spawn_main" in cmdline and b"resource_tracker" not in cmdline
