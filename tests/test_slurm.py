"""``train`` on a Slurm cluster: tasks started by ``srun`` (no torchrun) find their rank and rank 0
from SLURM_*, a time-limit signal (SIGUSR1) stops the run resumably, and ``--resume auto`` lets
one command start a run and continue it. Simulated on the CPU: plain processes given the
variables srun sets, gloo on loopback."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from model.errors import UserError
from model.training.run_folder import RunFolder
from model.training.slurm import DEFAULT_PORT, first_host, slurm_task
from model.training.stopping import resolve_resume, stop_requests
from tests.test_ddp import single_process_reference, train_losses

REPO = Path(__file__).resolve().parent.parent
_TASK = {"SLURM_PROCID": "1", "SLURM_NTASKS": "2", "SLURM_LOCALID": "1"}


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
    data, preset, single_losses = single_process_reference(tmp_path)
    out = tmp_path / "srun"
    command = [sys.executable, "-m", "model", "train", "--data", str(data), "--out", str(out)]
    command += ["--preset", str(preset), "--device", "cpu", "--max-steps", "2"]
    env = _slurm_env(SLURM_NTASKS="2", SLURM_LOCALID="0")
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
    assert "model.training.train: run " not in logs[1]  # rank 0 alone reports the run
    assert RunFolder(out).read_config()["world_size"] == 2
    assert train_losses(out) == pytest.approx(single_losses, rel=1e-4, abs=1e-5)
