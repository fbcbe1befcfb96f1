"""A data root copied or moved elsewhere (a laptop for a talk, a USB disk, a share mounted at
another path): its records hold the old place's absolute paths, and what the dashboard and
``train --resume`` use must be the copy under the root in use, found by its place there, never
the old place's files nor silently another dataset."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dashboard.run_compare import facts_line, run_facts
from dashboard.run_dataset import trained_on
from dashboard.run_state import read_status, run_state
from dashboard.settings import Settings
from model.data.dataset import CMRDataset
from model.errors import UserError
from model.training.run_folder import RunFolder
from model.training.train import TrainOptions, with_run_val_labels
from tests.tiny_dataset import make_tiny_dataset


def _root(root: Path) -> Path:
    """A data root of a dataset, its labels and one finished run that records them by their
    absolute paths (as ``model train`` writes config.json); two checkpoints, so a lost choice
    shows."""
    dataset = make_tiny_dataset(root / "demo" / "internal", n=8)
    labels = root / "demo" / "raw" / "internal" / "labels.csv"
    labels.parent.mkdir(parents=True)
    labels.write_text("accession_number,lge\n")
    for name in ("older", "newer"):
        run = root / "runs" / name
        run.mkdir(parents=True)
        (run / "best.pt").write_bytes(b"weights")
        (run / "last.pt").write_bytes(b"weights")
        config = {
            "data": str(dataset),
            "data_fingerprint": CMRDataset.open(dataset).fingerprint(),
            "val_labels": str(labels),
        }
        (run / "config.json").write_text(json.dumps(config))
    Settings(root).write_active(root / "runs" / "older" / "best.pt", dataset)
    return root


@pytest.fixture(params=["copied", "moved"])
def relocated(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[Path, Path]:
    """(the old place, the root copied from it); "moved": the old place is gone."""
    old = _root(tmp_path / "old")
    new = tmp_path / "mnt" / "usb" / "new"
    shutil.copytree(old, new)  # copy2: modification times kept, as cp -a and rsync -a do
    if request.param == "moved":
        old.rename(tmp_path / "away")
    return old, new


def test_the_active_choice_is_the_copy_under_the_root_in_use(relocated) -> None:
    old, new = relocated
    settings = Settings(new, session={})
    assert settings.active_checkpoint() == new / "runs" / "older" / "best.pt"
    assert settings.active_dataset() == new / "demo" / "internal"


def test_a_run_resumes_on_its_dataset_copied_under_the_root(relocated) -> None:
    old, new = relocated
    assert trained_on(new / "runs" / "older", new) == (new / "demo" / "internal").resolve()


def test_the_runs_facts_name_the_dataset_under_the_root_not_the_old_place(relocated) -> None:
    old, new = relocated
    line = facts_line(run_facts(new / "runs" / "older", new))
    assert "trained on demo/internal" in line and str(old) not in line


def test_a_resume_from_the_command_line_keeps_its_val_labels_from_the_copy(relocated) -> None:
    old, new = relocated
    options = TrainOptions(data=new / "demo" / "internal", out=new / "runs" / "older", resume=True)
    labels = with_run_val_labels(options).val_labels
    assert labels == new / "demo" / "raw" / "internal" / "labels.csv"


def test_a_run_training_at_the_old_place_is_not_live_in_the_copy(tmp_path: Path) -> None:
    # copied for a talk while a run trains on this machine: the copy's status names a live
    # process, which writes (and ends) the old folder; the copy's run never moves again
    run = tmp_path / "old" / "runs" / "trial"
    run.mkdir(parents=True)
    status = RunFolder(run).update_status(state="running", epoch=1)  # this process: alive
    shutil.copytree(tmp_path / "old", tmp_path / "new")
    assert run_state(status, run) == "running"
    assert (
        run_state(
            read_status(tmp_path / "new" / "runs" / "trial"), tmp_path / "new" / "runs" / "trial"
        )
        == "crashed"
    )


def test_a_run_whose_dataset_is_gone_says_so_naming_it(tmp_path: Path) -> None:
    old = _root(tmp_path / "old")
    new = tmp_path / "new"
    shutil.copytree(old, new, ignore=shutil.ignore_patterns("demo"))
    shutil.rmtree(old)
    with pytest.raises(UserError, match=r"trained on .*old/demo/internal, which is gone"):
        trained_on(new / "runs" / "older", new)


def test_a_copy_of_another_version_of_the_dataset_is_refused_not_trained_on(
    tmp_path: Path,
) -> None:
    old = _root(tmp_path / "old")
    new = tmp_path / "new"
    shutil.copytree(old, new)
    shutil.rmtree(old)
    make_tiny_dataset(new / "demo" / "internal", n=8, seed=5)  # re-ingested since the run
    with pytest.raises(UserError, match="another version of it"):
        trained_on(new / "runs" / "older", new)


def test_a_run_trained_from_the_command_line_with_relative_paths_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's `train --data data/ds/internal --out data/runs/cpu-small`, typed in the
    project folder whose data/ is the dashboard's root: the run records where its dataset and
    val labels are, so the Train page finds the dataset (it read the recorded relative path
    under the root, data/data/ds/internal, and called the dataset gone) and a resume typed in
    another folder keeps logging the val AUC."""
    from model.training.train import train
    from tests.tiny_dataset import write_tiny_preset

    project = tmp_path / "project"
    dataset = make_tiny_dataset(project / "data" / "ds" / "internal", n=16)
    monkeypatch.chdir(project)
    run = Path("data/runs/tiny")
    run.mkdir(parents=True)
    options = TrainOptions(
        data=Path("data/ds/internal"),
        out=run,
        preset=str(write_tiny_preset(Path("tiny-preset.json"))),
        max_steps=2,
        device="cpu",
        val_labels=Path("data/ds/internal/labels.csv"),
    )
    train(options)
    config = json.loads((run / "config.json").read_text())
    assert Path(config["data"]).is_absolute() and Path(config["val_labels"]).is_absolute()
    assert trained_on(project / run, project / "data") == dataset.resolve()
    monkeypatch.chdir(tmp_path)
    resumed = with_run_val_labels(TrainOptions(data=dataset, out=project / run, resume=True))
    assert resumed.val_labels == dataset.resolve() / "labels.csv"


def test_a_root_copied_without_modification_times_still_resumes_its_runs(tmp_path: Path) -> None:
    """``cp -r`` without ``-p`` or ``rsync`` without ``-t``: the same data, new times."""
    old = _root(tmp_path / "old")
    new = tmp_path / "new"
    shutil.copytree(old, new, copy_function=shutil.copyfile)
    shutil.rmtree(old)
    assert trained_on(new / "runs" / "older", new) == (new / "demo" / "internal").resolve()
