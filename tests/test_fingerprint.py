"""The dataset fingerprint (checkpoints, run configs, embedding caches, evaluations) follows the
content: a copy without modification times is the same data, a changed tensor is not, and a
fingerprint recorded before (size and mtime of each tensor) still names its unchanged dataset."""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from model.data.dataset import CMRDataset
from model.data.fingerprint import mtime_fingerprint
from model.errors import UserError
from model.training.checkpoint import check_resumable_with, read_checkpoint_meta
from model.training.run_preset import resolve_preset
from model.training.train import TrainOptions, train
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset


def _restore_without_times(dataset: Path, scratch: Path) -> None:
    """A backup restored over ``dataset`` as ``cp -r`` (no ``-p``) or ``rsync`` without ``-t``
    does: the same bytes, every modification time new."""
    shutil.copytree(dataset, scratch, copy_function=shutil.copyfile)
    shutil.rmtree(dataset)
    scratch.rename(dataset)
    for path in dataset.rglob("*"):
        os.utime(path, ns=(path.stat().st_atime_ns, path.stat().st_mtime_ns + 10**9))


def test_a_copy_without_modification_times_keeps_the_fingerprint(tmp_path: Path) -> None:
    root = make_tiny_dataset(tmp_path / "data", n=4)
    before = CMRDataset.open(root).fingerprint()
    _restore_without_times(root, tmp_path / "restored")
    assert CMRDataset.open(root).fingerprint() == before


def test_a_tensor_changed_inside_changes_the_fingerprint(tmp_path: Path) -> None:
    root = make_tiny_dataset(tmp_path / "data", n=4)
    dataset = CMRDataset.open(root)
    before = dataset.fingerprint()
    path = dataset.paths.tensor(dataset.ids()[1])
    video = np.load(path)
    video[4] = 255 - video[4]  # one view of the middle of the file, same size
    np.save(path, video)
    assert CMRDataset.open(root).fingerprint() != before


def test_a_fingerprint_recorded_before_names_its_unchanged_dataset_only(tmp_path: Path) -> None:
    root = make_tiny_dataset(tmp_path / "data", n=4)
    dataset = CMRDataset.open(root)
    recorded = mtime_fingerprint(dataset.paths, dataset.ids())  # what a run of 2026-11 holds
    assert recorded != dataset.fingerprint() and dataset.matches_fingerprint(recorded)
    other = CMRDataset.open(make_tiny_dataset(tmp_path / "other", n=4, seed=1))
    assert not other.matches_fingerprint(recorded) and not other.matches_fingerprint("")


@pytest.fixture(scope="module")
def stopped_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    """(dataset, preset, run folder) of a run stopped after one step."""
    folder = tmp_path_factory.mktemp("run")
    data = make_tiny_dataset(folder / "data", n=24, seed=0)
    preset = write_tiny_preset(folder / "tiny.json", batch_size=4)
    out = folder / "run"
    train(TrainOptions(data=data, out=out, preset=str(preset), max_steps=1, device="cpu"))
    return data, preset, out


def test_a_run_resumes_on_its_dataset_restored_from_a_backup(
    stopped_run: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    data, preset, out = stopped_run
    _restore_without_times(data, tmp_path / "restored")
    options = TrainOptions(
        data=data, out=out, preset=str(preset), max_steps=2, resume=True, device="cpu"
    )
    assert train(options).step == 2


def test_an_older_checkpoints_fingerprint_resumes_on_the_same_files(
    stopped_run: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    data, preset, out = stopped_run
    dataset = CMRDataset.open(data)
    meta = read_checkpoint_meta(out / "last.pt")
    resolved = resolve_preset(TrainOptions(data=data, out=out, preset=str(preset), device="cpu"))
    older = dataclasses.replace(
        meta, data_fingerprint=mtime_fingerprint(dataset.paths, dataset.ids())
    )
    check_resumable_with(older, resolved, dataset.matches_fingerprint)
    other = CMRDataset.open(make_tiny_dataset(tmp_path / "other", n=24, seed=1))
    with pytest.raises(UserError, match="the dataset changed since this run started"):
        check_resumable_with(older, resolved, other.matches_fingerprint)


def test_an_evaluation_tells_an_older_checkpoints_dataset_by_its_files(tmp_path: Path) -> None:
    from model.evaluation.encoders import Encoder
    from model.evaluation.outputs import current_trained_on, trained_on_words

    dataset = CMRDataset.open(make_tiny_dataset(tmp_path / "data", n=4))
    older = mtime_fingerprint(dataset.paths, dataset.ids())
    encoder = Encoder("run/best", "checkpoint", len, len, 1.0, trained_on=older)
    [now] = current_trained_on([encoder], [dataset])
    sites = [{"name": "internal", "selection": "test split", "fingerprint": dataset.fingerprint()}]
    assert trained_on_words(now.trained_on, sites) == "internal's train split"
