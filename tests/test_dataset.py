"""Dataset API: opening, splits, masks, fingerprint, and StudyVideoDataset items (shapes, re-picked
frames, resizing, augmentation without flips) on the tiny documented-format dataset."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_dataset import make_tiny_dataset
from torch.utils.data import DataLoader

from model.data.dataset import CMRDataset, StudyVideoDataset
from model.data.deid import split_for
from model.data.video_transforms import AugmentConfig, frame_indices, move_views
from model.errors import DataError, UserError
from model.sentences import split_sentences


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> CMRDataset:
    return CMRDataset.open(make_tiny_dataset(tmp_path_factory.mktemp("tiny"), n=12))


def test_open_refuses_what_is_not_a_dataset(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        CMRDataset.open(tmp_path / "nope")
    with pytest.raises(DataError, match="not a dataset") as caught:
        CMRDataset.open(tmp_path)
    # a raw DICOM folder given where a dataset belongs: ingest it, never into itself
    assert f"ingest {tmp_path} --out DATASET" in str(caught.value)
    assert f"--out {tmp_path}" not in str(caught.value)
    (tmp_path / "studies.parquet").write_bytes(b"garbage")
    (tmp_path / "dataset.json").write_text("{}")
    with pytest.raises(DataError, match="cannot be read"):
        CMRDataset.open(tmp_path)


def test_ids_masks_linkage(tiny: CMRDataset) -> None:
    all_ids = tiny.ids()
    assert len(all_ids) == 12
    assert sorted(tiny.ids("train") + tiny.ids("val") + tiny.ids("test")) == sorted(all_ids)
    with pytest.raises(UserError, match="unknown split"):
        tiny.ids("holdout")
    view_mask, frame_mask = tiny.masks(all_ids[0])
    assert view_mask.shape == (9,) and view_mask.all()
    assert frame_mask.shape == (9, 16) and frame_mask[:7].all() and frame_mask[7:, 0].all()
    assert not frame_mask[7:, 1:].any()
    video = tiny.load_video(all_ids[0])
    assert isinstance(video, np.memmap) and video.shape == (9, 16, 64, 64)
    assert list(tiny.linkage().columns) == ["study_id", "accession_number"]
    with pytest.raises(DataError, match="missing"):
        tiny.load_video("s-missing")


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: b"",  # a disk that filled up while the file was copied
        lambda data: data[:200],  # cut off inside the array
        lambda data: b"not an array " * 20,  # something else saved under the name
    ],
    ids=["empty", "truncated", "not-npy"],
)
def test_a_damaged_tensor_is_named_and_never_offered_to_unpickle(tmp_path: Path, damage) -> None:
    dataset = CMRDataset.open(make_tiny_dataset(tmp_path / "ds", n=2))
    study = dataset.ids()[0]
    path = dataset.paths.tensor(study)
    path.write_bytes(damage(path.read_bytes()))
    with pytest.raises(DataError, match=f"tensor of study {study} is damaged") as caught:
        dataset.load_video(study)
    assert "pickle" not in str(caught.value)


def test_fingerprint_changes_with_the_data(tmp_path: Path) -> None:
    root = make_tiny_dataset(tmp_path, n=4)
    before = CMRDataset.open(root).fingerprint()
    assert CMRDataset.open(root).fingerprint() == before
    first = CMRDataset.open(root).ids()[0]
    np.save(root / "tensors" / f"{first}.npy", np.zeros((9, 16, 64, 64), np.uint8))
    assert CMRDataset.open(root).fingerprint() != before


def test_items_have_the_documented_shapes(tiny: CMRDataset) -> None:
    item = StudyVideoDataset(tiny, tiny.ids())[0]
    assert item["video"].shape == (9, 16, 64, 64) and item["video"].dtype == torch.float32
    assert float(item["video"].min()) >= 0.0 and float(item["video"].max()) <= 1.0
    assert item["view_mask"].dtype == torch.bool and item["frame_mask"].shape == (9, 16)
    assert isinstance(item["text"], str) and item["text"]
    stored = tiny.load_video(item["study_id"])
    np.testing.assert_allclose(item["video"][3].numpy(), stored[3] / 255.0, atol=1e-6)


def test_other_frames_and_size_on_the_fly(tiny: CMRDataset) -> None:
    item = StudyVideoDataset(tiny, tiny.ids(), frames=8, size=32)[1]
    assert item["video"].shape == (9, 8, 32, 32)
    assert item["frame_mask"][:7].all() and item["frame_mask"][7:, 0].all()
    assert not item["frame_mask"][7:, 1:].any() and not item["video"][7:, 1:].any()
    stored = tiny.load_video(item["study_id"]).astype(np.float32) / 255.0
    assert abs(float(item["video"][0].mean()) - float(stored[0, ::2].mean())) < 0.02


def test_frame_indices_cine_lge_and_single() -> None:
    index, mask = frame_indices(np.array([16, 5, 1, 0, 12]), stored=16, frames=4)
    assert index[0].tolist() == [0, 4, 8, 12] and mask[0].all()
    assert mask[1].all() and index[1].tolist() == [0, 1, 3, 4]
    assert mask[2].tolist() == [True, False, False, False]
    assert not mask[3].any()
    assert index[4].tolist() == [0, 4, 7, 11]


def test_augmentation_moves_little_and_never_flips(tiny: CMRDataset) -> None:
    plain = StudyVideoDataset(tiny, tiny.ids())
    augmented = StudyVideoDataset(tiny, tiny.ids(), augment=AugmentConfig(), seed=3)
    base = plain[0]["video"]
    assert base.shape == augmented[0]["video"].shape
    # the draw depends on (seed, index) only: a resumed run augments exactly like the original,
    # and the trainer's per-epoch seed gives a new draw each epoch
    assert torch.equal(augmented[0]["video"], augmented[0]["video"])
    next_epoch = StudyVideoDataset(tiny, tiny.ids(), augment=AugmentConfig(), seed=4)
    assert not torch.equal(augmented[0]["video"], next_epoch[0]["video"])
    assert not torch.equal(augmented[0]["video"], base)
    # an image bright on its left half must stay bright on the left after augmentation
    video = torch.zeros(1, 1, 64, 64)
    video[..., :, :28] = 1.0
    for seed in range(20):
        moved = move_views(video, np.random.default_rng(seed), AugmentConfig())
        left, right = float(moved[..., 8:56, :20].mean()), float(moved[..., 8:56, 44:].mean())
        assert left > 0.8 and right < 0.2


def test_dataloader_batches(tiny: CMRDataset) -> None:
    loader = DataLoader(StudyVideoDataset(tiny, tiny.ids("train")), batch_size=4, num_workers=0)
    batch = next(iter(loader))
    assert (
        batch["video"].shape[1:] == (9, 16, 64, 64)
        and len(batch["text"]) == batch["video"].shape[0]
    )


def test_split_is_patient_grouped_and_reproducible() -> None:
    keys = [f"p{i:05d}" for i in range(3000)]
    splits = [split_for(k) for k in keys]
    assert splits == [split_for(k) for k in keys]
    counts = pd.Series(splits).value_counts(normalize=True)
    assert abs(counts["train"] - 0.70) < 0.03 and abs(counts["val"] - 0.15) < 0.03


def test_settings_are_read(tmp_path: Path) -> None:
    root = make_tiny_dataset(tmp_path, n=2)
    settings = json.loads((root / "dataset.json").read_text())
    ds = CMRDataset.open(root)
    assert ds.frames == settings["frames"] and ds.size == settings["size"]


def test_sentence_drop_varies_the_text_by_seed_only(tiny: CMRDataset) -> None:
    plain = StudyVideoDataset(tiny, tiny.ids())
    dropped = StudyVideoDataset(tiny, tiny.ids(), sentence_drop=0.5, seed=4)
    again = StudyVideoDataset(tiny, tiny.ids(), sentence_drop=0.5, seed=4)
    texts = [dropped[i]["text"] for i in range(len(dropped))]
    assert texts == [again[i]["text"] for i in range(len(again))]
    full = [plain[i]["text"] for i in range(len(plain))]
    assert texts != full
    for short, whole in zip(texts, full, strict=True):
        assert short and set(split_sentences(short)) <= set(split_sentences(whole))


def test_word_drop_shortens_sentences_by_seed_only(tiny: CMRDataset) -> None:
    plain = StudyVideoDataset(tiny, tiny.ids())
    varied = [StudyVideoDataset(tiny, tiny.ids(), word_drop=0.4, seed=4) for _ in range(2)]
    texts = [[ds[i]["text"] for i in range(len(ds))] for ds in varied]
    assert texts[0] == texts[1]
    full = [plain[i]["text"] for i in range(len(plain))]
    assert all(len(short) <= len(whole) for short, whole in zip(texts[0], full, strict=True))
    assert sum(len(t) for t in texts[0]) < sum(len(t) for t in full)


def test_a_study_with_every_view_missing_is_refused_by_name(tmp_path: Path) -> None:
    """A hand-edited studies.parquet (ingest never writes one) holding a study with no view:
    the video tower would pool nothing and give it a constant vector in every search."""
    root = make_tiny_dataset(tmp_path, n=4)
    studies = pd.read_parquet(root / "studies.parquet")
    empty = studies.loc[2, "study_id"]
    studies["view_frames"] = [list(v) for v in studies["view_frames"]]
    studies.at[2, "view_frames"] = [0] * 9
    studies.to_parquet(root / "studies.parquet", index=False)
    with pytest.raises(DataError, match=f"1 study with no view .*: {empty}\\. ") as caught:
        CMRDataset.open(root)
    assert "remove its row" in str(caught.value)
