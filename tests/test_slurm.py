"""``train`` on a Slurm cluster: tasks started by ``srun`` (no torchrun) find their rank and rank 0
from SLURM_*, a time-limit signal (SIGUSR1) stops the run resumably, and the example batch
script's one command both starts a run and continues it when the job is requeued. Simulated on
the CPU: plain processes given the variables srun sets, gloo on loopback."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from model.errors import UserError
from model.training.checkpoint import read_checkpoint_meta
from model.training.run_folder import RunFolder
from model.training.slurm import (
    DEFAULT_PORT,
    apply_slurm_environment,
    first_host,
    slurm_task,
)
from model.training.stopping import resolve_resume, stop_requests
from tests.test_ddp import _torchrun, single_process_reference, train_losses
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset

REPO = Path(__file__).resolve().parent.parent
SBATCH = REPO / "scripts" / "slurm_train.sbatch"
_TASK = {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "1", "SLURM_STEP_ID": "0"}

# srun's part, for the batch script: N copies of the command with each task's variables, and the
# signals srun is sent passed on to them (as srun forwards USR1 and TERM).
FAKE_SRUN = """#!/bin/bash
n=$SLURM_NTASKS
pids=()
for ((i = 0; i < n; i++)); do
    SLURM_PROCID=$i SLURM_LOCALID=$i SLURM_STEP_ID=0 SLURM_STEP_NUM_TASKS=$n "$@" &
    pids+=($!)
done
trap 'kill -USR1 "${pids[@]}"' USR1
trap 'kill -TERM "${pids[@]}"' TERM
status=0
for pid in "${pids[@]}"; do
    wait "$pid"; code=$?
    while kill -0 "$pid" 2>/dev/null; do wait "$pid"; code=$?; done
    [ "$code" -ne 0 ] && status=$code
done
exit $status
"""


@pytest.mark.parametrize(
    ("nodelist", "host"),
    [
        ("gpu07", "gpu07"),
        ("gpu[03-05,9]", "gpu03"),
        ("gpu[03-05,9],cpu1", "gpu03"),
        ("a1,b[2-3]", "a1"),
        ("rack[2-3]-node[010-012]", "rack2-node010"),
        ("", None),
    ],
)
def test_the_first_host_of_a_slurm_host_list(nodelist: str, host: str | None) -> None:
    assert first_host(nodelist) == host


def test_an_srun_task_takes_its_rank_and_rank_zeros_host_from_slurm() -> None:
    env = {**_TASK, "SLURM_NODELIST": "gpu[03-04]", "SLURM_JOB_ID": "123456"}
    task = slurm_task(env)
    assert task is not None
    assert (task.rank, task.world_size, task.local_rank) == (1, 2, 1)
    assert task.master_addr == "gpu03"
    assert task.master_port == 15000 + 3456  # fixed by the job: the same in every task
    override = slurm_task({**env, "MASTER_ADDR": "10.0.0.5", "MASTER_PORT": "29999"})
    assert override is not None and (override.master_addr, override.master_port) == (
        "10.0.0.5",
        29999,
    )
    step = slurm_task({**env, "SLURM_NTASKS": "8", "SLURM_STEP_NUM_TASKS": "2"})
    assert step is not None and step.world_size == 2  # the step's tasks, not the job's
    launched = slurm_task({**_TASK, "SLURM_LAUNCH_NODE_IPADDR": "10.1.2.3"})
    assert launched is not None and launched.master_addr == "10.1.2.3"
    assert launched.master_port == DEFAULT_PORT


def test_torchrun_one_task_or_no_slurm_leave_the_environment_alone() -> None:
    assert slurm_task({**_TASK, "WORLD_SIZE": "4", "RANK": "3"}) is None
    assert slurm_task({**_TASK, "SLURM_NTASKS": "1", "SLURM_PROCID": "0"}) is None
    assert slurm_task({}) is None


@pytest.mark.parametrize("step", [None, "4294967294", "4294967291", "batch"])
def test_the_batch_script_itself_trains_as_one_process_and_says_how_to_use_the_tasks(
    step: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """The batch script sees the job's SLURM_NTASKS and SLURM_PROCID=0 but is no step of N
    tasks (no SLURM_STEP_ID, or a reserved one): as one, it waited for peers that never came."""
    batch = {"SLURM_PROCID": "0", "SLURM_NTASKS": "4", "SLURM_NODELIST": "gpu[01-02]"}
    if step is not None:
        batch["SLURM_STEP_ID"] = step
    environ = dict(batch)
    with caplog.at_level(logging.WARNING, logger="model.training.slurm"):
        assert apply_slurm_environment(environ) is None
    assert environ == batch  # no RANK/WORLD_SIZE for a rendezvous of 4
    assert "not started by srun" in caplog.text and "SLURM_NTASKS=4" in caplog.text
    assert slurm_task({**batch, "SLURM_STEP_ID": "7"}) is not None  # a step srun started


@pytest.mark.parametrize(
    ("change", "said"),
    [
        ({"SLURM_PROCID": "x"}, "SLURM_PROCID='x' is not a whole number"),
        ({"SLURM_PROCID": "2"}, "SLURM_PROCID=2 is not a rank of a 2-task step"),
        ({"MASTER_PORT": "70000"}, "MASTER_PORT=70000 is not a port"),
        ({}, "set MASTER_ADDR to the host of task 0"),
    ],
)
def test_bad_slurm_variables_are_named(change: dict[str, str], said: str) -> None:
    env = {**_TASK, "SLURM_NODELIST": "n1", **change} if change else dict(_TASK)
    with pytest.raises(UserError, match=said):
        slurm_task(env)


def test_nproc_is_refused_under_srun_with_several_tasks(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Each of srun's tasks would start N more processes, each training alone."""
    from model.cli import main

    for name, value in {**_TASK, "SLURM_NODELIST": "n1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    assert main(["train", "--nproc", "2", "--data", "d", "--out", "o"]) == 2
    assert "under srun with several tasks leave it out" in caplog.text


def test_sigusr1_is_a_stop_request_like_sigterm() -> None:
    """Slurm's ``--signal=USR1@SECONDS`` before the time limit: by default it killed the run
    mid-step, losing every step since the last epoch's checkpoint."""
    before = signal.getsignal(signal.SIGUSR1)
    with stop_requests() as flag:
        os.kill(os.getpid(), signal.SIGUSR1)
        assert flag == [True]
    assert signal.getsignal(signal.SIGUSR1) == before


def test_resume_auto_continues_a_run_with_a_last_checkpoint_else_starts(tmp_path: Path) -> None:
    assert resolve_resume("auto", tmp_path) is False
    (tmp_path / "last.pt").write_bytes(b"")
    assert resolve_resume("auto", tmp_path) is True
    assert resolve_resume(None, tmp_path) is False and resolve_resume(True, tmp_path) is True


def test_a_stopped_runs_next_command_is_started_as_the_run_was() -> None:
    """``--nproc 8`` put a two-node srun or torchrun run's processes on one machine."""
    from model.training.launch import train_command

    data, out = Path("ds"), Path("runs/r")
    srun = {"SLURM_PROCID": "0", "RANK": "0", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "8"}
    assert train_command(data, out, 8, srun) == "srun python -m model train --data ds --out runs/r"
    nodes = {"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "8", "LOCAL_WORLD_SIZE": "4"}
    assert train_command(data, out, 8, nodes).startswith("torchrun TORCHRUN_OPTIONS -m model")
    here = {"TORCHELASTIC_RUN_ID": "x", "WORLD_SIZE": "2", "LOCAL_WORLD_SIZE": "2"}
    assert train_command(data, out, 2, here).startswith("python -m model train --nproc 2 ")
    assert train_command(data, out, 1, srun).startswith("python -m model train --data")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _slurm_env(**extra: str) -> dict[str, str]:
    """This environment less any torchrun variables, as a Slurm job's on one loopback node."""
    env = {k: v for k, v in os.environ.items() if k not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    env.update(PYTHONPATH=str(REPO), OMP_NUM_THREADS="1", SLURM_NODELIST="localhost")
    env.update(MASTER_PORT=str(_free_port()), SLURM_JOB_ID="4242", **extra)
    return env


def test_two_srun_tasks_on_two_nodes_match_one_process(tmp_path: Path) -> None:
    """Two tasks, each its node's first (SLURM_LOCALID=0 in both, as on two nodes): they join one
    run, rank 0 alone writes it, and they train as one process on the same global batch."""
    data, preset, single_losses, _ = single_process_reference()
    out = tmp_path / "srun"
    command = [sys.executable, "-m", "model", "train", "--data", str(data), "--out", str(out)]
    command += ["--preset", str(preset), "--device", "cpu", "--max-steps", "2"]
    env = _slurm_env(SLURM_NTASKS="2", SLURM_LOCALID="0", SLURM_STEP_ID="0")
    procs = [
        subprocess.Popen(
            command,
            cwd=REPO,
            env={**env, "SLURM_PROCID": str(rank)},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    try:
        logs = [proc.communicate(timeout=300)[1] for proc in procs]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert [proc.returncode for proc in procs] == [0, 0], logs[0][-3000:] + logs[1][-3000:]
    assert "joined process group: rank 1 of 2 (gloo)" in logs[1]
    assert "model.training.train: run stopped" in logs[0]
    assert (
        f"to continue it: srun python -m model train --data {data} --out {out} --resume" in logs[0]
    )
    assert "model.training.train: run " not in logs[1]  # rank 0 alone reports the run
    assert RunFolder(out).read_config()["world_size"] == 2
    assert train_losses(out) == pytest.approx(single_losses, rel=1e-4, abs=1e-5)


def test_torchrun_on_two_nodes_writes_the_run_from_global_rank_zero_alone(tmp_path: Path) -> None:
    """``torchrun --nnodes 2`` started once per node (here twice on loopback): each process is
    its node's LOCAL_RANK 0, and only global rank 0 writes (a second writer is refused the run
    folder's lock) and reports; the losses are one process's on the same global batch."""
    data, preset, single_losses, _ = single_process_reference()
    out = tmp_path / "two-nodes"
    command = [*_torchrun(), "--nnodes", "2", "--nproc-per-node", "1", "--rdzv-backend", "c10d"]
    command += ["--rdzv-endpoint", f"localhost:{_free_port()}", "--rdzv-id", "two-nodes"]
    command += ["-m", "model", "train", "--data", str(data), "--preset", str(preset)]
    command += ["--out", str(out), "--device", "cpu", "--max-steps", "2"]
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    pipes = {"stdout": subprocess.DEVNULL, "stderr": subprocess.PIPE, "text": True}
    nodes = [subprocess.Popen(command, cwd=REPO, env=env, **pipes) for _ in range(2)]
    try:
        logs = "".join(node.communicate(timeout=300)[1] for node in nodes)
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
    assert [node.returncode for node in nodes] == [0, 0], logs[-3000:]
    assert "joined process group: rank 1 of 2 (gloo)" in logs
    assert logs.count("model.training.train: run stopped") == 1
    assert train_losses(out) == pytest.approx(single_losses, rel=1e-4, abs=1e-5)


def _submit(tmp_path: Path, data: Path, preset: Path, out: Path, log: Path) -> subprocess.Popen:
    """The example batch script as Slurm runs it: 2 tasks on this node, fake srun/scontrol."""
    bin_dir = tmp_path / "bin"
    if not bin_dir.is_dir():
        bin_dir.mkdir()
        (bin_dir / "srun").write_text(FAKE_SRUN)
        (bin_dir / "scontrol").write_text(f'#!/bin/bash\necho "$@" >> {tmp_path / "scontrol"}\n')
        for tool in bin_dir.iterdir():
            tool.chmod(0o755)
    env = _slurm_env(SLURM_NTASKS="2", SLURM_PROCID="0", SLURM_LOCALID="0")
    env.update(DATA=str(data), OUT=str(out), PYTHON=sys.executable)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    args = ["bash", str(SBATCH), "--preset", str(preset), "--device", "cpu"]
    with open(log, "wb") as handle:
        return subprocess.Popen(args, cwd=REPO, env=env, stdout=handle, stderr=handle)


def _finish(proc: subprocess.Popen, log: Path) -> tuple[int, str]:
    try:
        code = proc.wait(timeout=300)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return code, log.read_text(errors="replace")


def test_the_batch_script_parses() -> None:
    done = subprocess.run(["bash", "-n", str(SBATCH)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def _signal_after(steps: int, job: subprocess.Popen, out: Path, stop: signal.Signals) -> None:
    """``stop`` to the batch script alone once the run has trained ``steps`` steps in ``job``."""
    before = len(train_losses(out))
    deadline = time.monotonic() + 240
    while len(train_losses(out)) < before + steps and job.poll() is None:
        assert time.monotonic() < deadline, "the job never trained"
        time.sleep(0.05)
    job.send_signal(stop)


def test_the_batch_script_stops_when_preempted_or_near_its_time_limit_and_continues(
    tmp_path: Path,
) -> None:
    """A preemption or ``scancel`` sends SIGTERM: the script passes it on and waits (its own end
    would end the job and kill the processes mid-save); Slurm, not the script, requeues. Near
    the time limit (``--signal=B:USR1@300``) the script stops the run and requeues the job
    itself. Each requeued job reruns the same command: it continues the run, not "already
    holds a run"."""
    data = make_tiny_dataset(tmp_path / "data", n=24, seed=3)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=3)
    out, requeued = tmp_path / "run", tmp_path / "scontrol"
    preempted = _submit(tmp_path, data, preset, out, tmp_path / "preempted.log")
    _signal_after(2, preempted, out, signal.SIGTERM)
    code, text = _finish(preempted, tmp_path / "preempted.log")
    assert code == 0 and "Traceback" not in text, text[-3000:]
    assert RunFolder(out).read_status()["state"] == "stopped", text[-3000:]
    preempted_at = read_checkpoint_meta(out / "last.pt").step
    assert preempted_at >= 2
    assert not requeued.exists()

    timed_out = _submit(tmp_path, data, preset, out, tmp_path / "timed-out.log")
    _signal_after(1, timed_out, out, signal.SIGUSR1)
    code, text = _finish(timed_out, tmp_path / "timed-out.log")
    assert code == 0 and "Traceback" not in text, text[-3000:]
    assert f"at step {preempted_at}" in text
    assert "stop requested (SIGUSR1)" in text, text[-3000:]
    assert RunFolder(out).read_status()["state"] == "stopped", text[-3000:]
    stopped_at = read_checkpoint_meta(out / "last.pt").step
    assert stopped_at > preempted_at
    assert requeued.read_text() == "requeue 4242\n"

    again = tmp_path / "again.log"
    code, text = _finish(_submit(tmp_path, data, preset, out, again), again)
    assert code == 0, text[-3000:]
    assert f"at step {stopped_at}" in text
    folder = RunFolder(out)
    assert folder.read_status()["state"] == "finished"
    steps = [r["step"] for r in folder.read_metrics() if r["kind"] == "train"]
    assert steps == list(range(1, folder.read_config()["total_steps"] + 1))
    assert requeued.read_text() == "requeue 4242\n"  # a finished run is not requeued


def test_a_run_folder_on_a_file_system_without_locks_trains_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A cluster's shared file system may have no file locks (Lustre mounted without
    ``-o flock`` answers ENOSYS): the run stopped there in a traceback before its first step."""
    import errno
    import fcntl

    from model.training.train import TrainOptions, train

    def no_locks(fd: int, operation: int) -> None:
        raise OSError(errno.ENOSYS, os.strerror(errno.ENOSYS))

    data = make_tiny_dataset(tmp_path / "data", n=16, seed=3)
    preset = write_tiny_preset(tmp_path / "tiny.json")
    out = tmp_path / "run"
    monkeypatch.setattr(fcntl, "flock", no_locks)
    options = TrainOptions(data=data, out=out, preset=str(preset), max_steps=1, device="cpu")
    with caplog.at_level("WARNING"):
        result = train(options)
    assert result.step == 1 and (out / "last.pt").is_file()
    assert f"{out} cannot be locked (Function not implemented)" in caplog.text
