"""The Train page on a machine with GPUs: torchrun over the GPUs chosen on the form, and only
those visible to the run (none chosen: the CPU). GPUs are faked; no GPU is needed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import cache
from dashboard.gpus import training_env
from dashboard.run_launch import prepare_run
from dashboard.runs import TrainForm
from tests.tiny_dataset import make_tiny_dataset

APP = str(Path(__file__).resolve().parent.parent / "app.py")
GPUS = [
    "GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-0a0a0a0a-0000-0000-0000-000000000000)",
    "GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-1b1b1b1b-1111-1111-1111-111111111111)",
    "GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-2c2c2c2c-2222-2222-2222-222222222222)",
]


@pytest.fixture
def fake_gpus(monkeypatch: pytest.MonkeyPatch):
    """Three GPUs detected, for the pages (their one-minute cache cleared before and after)."""
    monkeypatch.setattr(cache, "detect_gpus", lambda: list(GPUS))
    cache.gpus.clear()
    yield GPUS
    cache.gpus.clear()


def _uuid(line: str) -> str:
    return line.split("UUID: ")[1].rstrip(")")


def test_the_run_sees_only_the_gpus_chosen() -> None:
    assert "CUDA_VISIBLE_DEVICES" not in training_env(GPUS, GPUS)  # all: as the machine is
    two = training_env(GPUS[1:], GPUS)
    assert two["CUDA_VISIBLE_DEVICES"] == f"{_uuid(GPUS[1])},{_uuid(GPUS[2])}"
    assert training_env([], GPUS)["CUDA_VISIBLE_DEVICES"] == ""  # none chosen: the CPU
    assert training_env(["GPU 3: Tesla T4"], GPUS)["CUDA_VISIBLE_DEVICES"] == "3"
    assert training_env([], []) == {}  # a CPU machine
    # torchrun's ranks get time to save after a Stop before torchrun kills them
    assert int(two["TORCH_ELASTIC_SHUTDOWN_TIMEOUT"]) > 30
    assert "TORCH_ELASTIC_SHUTDOWN_TIMEOUT" not in training_env(GPUS[:1], GPUS)


def test_a_multi_gpu_run_starts_its_processes_through_nproc(tmp_path: Path) -> None:
    """``train --nproc`` (torchrun's launcher on a free port, a failure in one line); a
    second --nproc or a torchrun prefix would start N x N processes."""
    dataset = make_tiny_dataset(tmp_path / "ds", n=8)
    _, command = prepare_run(TrainForm(dataset, "multi"), tmp_path / "runs", gpus=2)
    assert command[1:4] == ["-m", "model", "train"] and command[-2:] == ["--nproc", "2"]
    assert command.count("--nproc") == 1 and "torch.distributed.run" not in command


@pytest.mark.usefixtures("fake_gpus")
def test_the_train_page_launches_torchrun_on_the_gpus_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *a, **kw: launched.append((a, kw)))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    assert not at.exception, [e.value for e in at.exception]
    shown = next(n for n in at.number_input if n.label == "Learning rate").proto.format
    for lr in (1e-6, 3e-5, 2.5e-4, 0.1):  # as the browser shows it (a printf format)
        assert float(shown % lr) == pytest.approx(lr, rel=0.05)
    at.multiselect[0].unselect(GPUS[0])
    next(b for b in at.button if b.label == "Launch training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (_, kind, command, _), options = launched[0]
    assert kind == "train" and command[-2:] == ["--nproc", "2"]
    assert options["env"]["CUDA_VISIBLE_DEVICES"] == f"{_uuid(GPUS[1])},{_uuid(GPUS[2])}"
    assert options["outputs"]["gpus"].splitlines() == GPUS[1:]  # what a resume runs on


@pytest.mark.usefixtures("fake_gpus")
def test_a_resume_runs_on_the_gpus_its_run_was_launched_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    dataset = make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    run = root / "runs" / "stopped"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "stopped", "epoch": 1, "epochs": 4}))
    (run / "last.pt").write_bytes(b"")
    job = root / "jobs" / "train-stopped"
    job.mkdir(parents=True)
    outputs = {"run": str(run), "dataset": str(dataset), "gpus": GPUS[1]}
    info = {"id": "train-stopped", "kind": "train", "pid": 2**22 + 1, "started": 1.0}
    (job / "job.json").write_text(json.dumps(info | {"outputs": outputs}))
    (job / "result.json").write_text(json.dumps({"returncode": 0}))
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *a, **kw: launched.append((a, kw)))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    next(b for b in at.button if b.label == "Resume").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (_, _, command, _), options = launched[0]
    assert "--nproc" not in command and "--resume" in command  # one GPU
    assert options["env"]["CUDA_VISIBLE_DEVICES"] == _uuid(GPUS[1])
    assert options["outputs"]["gpus"] == GPUS[1]


def test_the_dataset_chosen_stays_when_another_user_imports_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "a", n=4)
    chosen = make_tiny_dataset(root / "ds" / "b", n=4, seed=1)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *a, **kw: launched.append(a[2]))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    next(s for s in at.selectbox if s.label == "Dataset").set_value(chosen).run()
    make_tiny_dataset(root / "ds" / "c", n=4, seed=2)  # imported on another dashboard
    next(b for b in at.button if b.label == "Launch training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    [command] = launched
    assert command[command.index("--data") + 1] == str(chosen)
