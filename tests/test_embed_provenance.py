"""What an embedding file records (checkpoint, dataset, software), and that the study
embeddings a command uses come from the one checkpoint it names, read as that checkpoint trained.
"""

from __future__ import annotations

import logging
import shutil
from importlib import metadata
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import model.training.checkpoint as checkpoint_module
from model.cli import main
from model.data.dataset import CMRDataset
from model.embed import StudyEmbeddings, cache_path, cached_study_embeddings, embed_studies
from model.evaluation.encoders import checkpoint_encoder
from model.provenance import code_version
from model.training.checkpoint import load_checkpoint, read_checkpoint_meta
from model.training.train import TrainOptions, train
from tests.tiny_dataset import TINY_PRESET, shared_tiny_checkpoint, write_tiny_preset

pytestmark = pytest.mark.usefixtures("one_torch_thread")
FEWER_FRAMES = 2  # train.frames of a custom preset, below its model.video.frames


@pytest.fixture(scope="module")
def fewer_frames(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-step checkpoint of the shared tiny dataset, trained at fewer frames than its video
    config holds (as a custom preset may)."""
    data, _ = shared_tiny_checkpoint()
    root = tmp_path_factory.mktemp("fewer-frames")
    preset = write_tiny_preset(root / "preset.json", frames=FEWER_FRAMES)
    options = TrainOptions(data=data, out=root / "run", preset=str(preset), max_steps=1)
    return train(options).last_checkpoint


def _copy_of_data(tmp_path: Path) -> Path:
    data, _ = shared_tiny_checkpoint()
    return Path(shutil.copytree(data, tmp_path / "data", ignore=shutil.ignore_patterns("emb*")))


def _replaced_after_reading(monkeypatch: pytest.MonkeyPatch, path: Path, by: Path) -> None:
    """The first read of ``path``'s metadata is followed by ``by`` replacing it (a training run
    publishing a new best.pt at that moment)."""
    read = checkpoint_module.read_checkpoint_meta
    calls: list[int] = []

    def read_then_replace(target: str | Path) -> checkpoint_module.CheckpointMeta:
        meta = read(target)
        if not calls:
            shutil.copyfile(by, path)
        calls.append(1)
        return meta

    monkeypatch.setattr(checkpoint_module, "read_checkpoint_meta", read_then_replace)


@pytest.mark.parametrize("suffix", [".npz", ".parquet"])
def test_the_embed_command_records_checkpoint_dataset_and_software(
    tmp_path: Path, suffix: str
) -> None:
    data, checkpoint = shared_tiny_checkpoint()
    out = tmp_path / f"embeddings{suffix}"
    assert (
        main(["embed", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)])
        == 0
    )
    provenance = StudyEmbeddings.load(out).provenance
    assert provenance["checkpoint"] == str(checkpoint)
    assert provenance["checkpoint_fingerprint"] == read_checkpoint_meta(checkpoint).fingerprint
    assert provenance["data_fingerprint"] == CMRDataset.open(data).fingerprint()
    assert provenance["versions"]["torch"] == metadata.version("torch")
    command = ["python", "-m", "model", "embed", "--checkpoint", str(checkpoint), "--data"]
    assert provenance["command"] == " ".join([*command, str(data), "--out", str(out)])
    assert provenance["code"] == code_version() and provenance["threads"]["torch"] == 1
    train_config = TINY_PRESET["train"]
    assert (provenance["frames"], provenance["image_size"]) == (
        train_config["frames"],
        train_config["image_size"],
    )


def test_embedding_files_written_before_provenance_still_load(tmp_path: Path) -> None:
    vectors = np.eye(3, dtype=np.float32)
    with open(tmp_path / "old.npz", "wb") as handle:
        np.savez(handle, ids=np.asarray(["a", "b", "c"]), vectors=vectors)
    table = pd.DataFrame(vectors, columns=["e0", "e1", "e2"])
    table.insert(0, "study_id", ["a", "b", "c"])
    table.to_parquet(tmp_path / "old.parquet", index=False)
    for name in ("old.npz", "old.parquet"):
        loaded = StudyEmbeddings.load(tmp_path / name)
        assert loaded.ids == ["a", "b", "c"] and loaded.provenance == {}
        np.testing.assert_array_equal(loaded.vectors, vectors)


def test_library_and_command_read_studies_at_the_frames_the_checkpoint_trained_on(
    fewer_frames: Path, tmp_path: Path
) -> None:
    data = _copy_of_data(tmp_path)
    ds = CMRDataset.open(data)
    model, _ = load_checkpoint(fewer_frames)
    library = embed_studies(model, ds)
    command = cached_study_embeddings(fewer_frames, ds)
    np.testing.assert_allclose(library.vectors, command.vectors, atol=1e-6)
    assert library.provenance["frames"] == command.provenance["frames"] == FEWER_FRAMES


def test_a_checkpoint_replaced_while_embedding_does_not_poison_the_cache(
    fewer_frames: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, original = shared_tiny_checkpoint()
    checkpoint = Path(shutil.copyfile(original, tmp_path / "best.pt"))
    ds = CMRDataset.open(_copy_of_data(tmp_path))
    before = read_checkpoint_meta(checkpoint).fingerprint
    _replaced_after_reading(monkeypatch, checkpoint, by=fewer_frames)
    embedded = cached_study_embeddings(checkpoint, ds)
    now = read_checkpoint_meta(fewer_frames).fingerprint
    assert not cache_path(ds, before).exists()  # the old checkpoint's name holds no other vectors
    assert StudyEmbeddings.load(cache_path(ds, now)).ids == ds.ids()
    assert embedded.provenance["checkpoint_fingerprint"] == now


def test_an_evaluation_embeds_studies_with_the_checkpoint_it_loaded(
    fewer_frames: Path, tmp_path: Path
) -> None:
    _, original = shared_tiny_checkpoint()
    checkpoint = Path(shutil.copyfile(original, tmp_path / "best.pt"))
    ds = CMRDataset.open(_copy_of_data(tmp_path))
    encoder = checkpoint_encoder(checkpoint)
    shutil.copyfile(fewer_frames, checkpoint)  # a new best.pt, published mid-evaluation
    expected = embed_studies(load_checkpoint(original)[0], ds).vectors
    np.testing.assert_allclose(encoder.studies(ds, ds.ids()), expected, atol=1e-6)


def test_an_index_of_a_checkpoint_replaced_while_indexing_is_not_written(
    fewer_frames: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    _, original = shared_tiny_checkpoint()
    checkpoint = Path(shutil.copyfile(original, tmp_path / "best.pt"))
    data = _copy_of_data(tmp_path)
    _replaced_after_reading(monkeypatch, checkpoint, by=fewer_frames)
    chroma = tmp_path / "chroma"
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(data)]
    with caplog.at_level(logging.ERROR):
        assert main([*argv, "--chroma-path", str(chroma)]) == 2
    assert f"checkpoint {checkpoint} was replaced while indexing" in caplog.text
