"""Ingesting the same export twice gives the same dataset: each new dataset folder draws its own
secret salt (so pseudonyms differ), but the train/val/test split of every study must not, or a
reviewer re-running ingest trains and tests on other studies; a patient already in a dataset
keeps its split when more of its studies arrive. Which files a study is built from never depends
on what the files are called (exports name them differently, filesystems list them in any order)."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from dicom_factory import StudySpec, write_study

from model.data.deid import SALT_FILE
from model.data.ingest import ingest
from model.errors import DataError

PATIENTS = 8
ROTATED = {"train": "val", "val": "test", "test": "train"}


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    src = tmp_path_factory.mktemp("export")
    for i in range(PATIENTS):
        spec = StudySpec(accession=f"ACC{i:04d}", patient_id=f"PID{i:04d}", phases=2, sax_slices=1)
        write_study(src, spec)
    return src


def _splits(dataset: Path) -> dict[str, str]:
    """accession number -> split."""
    studies = pd.read_parquet(dataset / "studies.parquet")
    linkage = pd.read_csv(dataset / "linkage.csv", dtype=str)
    rows = studies.merge(linkage, on="study_id")
    return dict(zip(rows["accession_number"], rows["split"], strict=True))


def test_two_ingests_with_different_salts_split_alike(export: Path, tmp_path: Path) -> None:
    datasets = []
    for name, salt in (("first", "a" * 64), ("second", "b" * 64)):
        dataset = tmp_path / name
        dataset.mkdir()
        (dataset / SALT_FILE).write_text(salt + "\n")
        ingest(export, dataset)
        datasets.append(dataset)
    first, second = (_splits(d) for d in datasets)
    assert len(first) == PATIENTS
    assert first == second
    ids = [set(pd.read_parquet(d / "studies.parquet")["study_id"]) for d in datasets]
    assert not ids[0] & ids[1]  # pseudonyms still differ: the salts do


def test_a_patient_already_in_the_dataset_keeps_its_split(export: Path, tmp_path: Path) -> None:
    """A dataset whose splits were drawn otherwise (an older ingest) is never re-split: a patient's
    later studies would land in another split than its earlier ones."""
    dataset = tmp_path / "dataset"
    ingest(export, dataset)
    studies = pd.read_parquet(dataset / "studies.parquet")
    studies["split"] = studies["split"].map(ROTATED)
    studies.to_parquet(dataset / "studies.parquet", index=False)
    earlier = _splits(dataset)
    ingest(export, dataset)
    assert _splits(dataset) == earlier


def test_a_dataset_whose_salt_was_lost_or_replaced_is_not_ingested_into(
    export: Path, tmp_path: Path
) -> None:
    """salt.key is owner-only, so a colleague's copy of the dataset folder lacks it: a new salt
    would give every re-ingested study a new study_id, storing each study twice."""
    dataset = tmp_path / "dataset"
    ingest(export, dataset)
    studies = (dataset / "studies.parquet").read_bytes()
    (dataset / SALT_FILE).unlink()
    with pytest.raises(DataError, match="salt.key is missing"):
        ingest(export, dataset)
    assert not (dataset / SALT_FILE).exists()
    (dataset / SALT_FILE).write_text("d" * 64 + "\n")  # another dataset's salt
    with pytest.raises(DataError, match="not the salt"):
        ingest(export, dataset)
    assert (dataset / "studies.parquet").read_bytes() == studies


def _tensor(dataset: Path) -> np.ndarray:
    (study_id,) = pd.read_parquet(dataset / "studies.parquet")["study_id"]
    return np.load(dataset / "tensors" / f"{study_id}.npy")


def test_a_repeated_view_without_series_numbers_is_chosen_whatever_the_file_names(
    tmp_path: Path,
) -> None:
    """Two 4-chamber cines and no SeriesNumber (stripped by an anonymiser): the one kept must
    not be whichever the file names list first."""
    src = tmp_path / "export"
    write_study(src, StudySpec(phases=2, sax_slices=1, extra_series=[("4ch", "CINE_4CH")]))
    files = sorted(src.rglob("*.dcm"))
    four_chamber: list[str] = []  # series uids in file order
    for path in files:
        image = pydicom.dcmread(path)
        if "4CH" in image.SeriesDescription and image.SeriesInstanceUID not in four_chamber:
            four_chamber.append(image.SeriesInstanceUID)
        if four_chamber[1:] == [image.SeriesInstanceUID]:  # the repeat shows another image
            pixels = np.roll(image.pixel_array, 12, axis=1)
            image.PixelData = pixels.astype(image.pixel_array.dtype).tobytes()
        del image.SeriesNumber
        image.save_as(path)
    renamed = tmp_path / "renamed"
    renamed.mkdir()
    for i, path in enumerate(files):  # the same files, listed in the reverse order
        shutil.copy(path, renamed / f"IM{len(files) - i:05d}")
    ingest(src, tmp_path / "first")
    ingest(renamed, tmp_path / "second")
    assert np.array_equal(_tensor(tmp_path / "first"), _tensor(tmp_path / "second"))


def test_re_ingesting_a_study_keeps_its_place_in_the_dataset(export: Path, tmp_path: Path) -> None:
    """Bootstrap resamples, few-shot episodes and probe folds follow the studies' order: a study
    re-ingested (a report added later) moving to the end would change every figure."""
    dataset = tmp_path / "dataset"
    ingest(export, dataset)
    before = list(_splits(dataset))
    ingest(export / before[0], dataset)
    assert list(_splits(dataset)) == before


def test_part_of_a_study_sent_again_does_not_replace_the_whole_study(tmp_path: Path) -> None:
    """A later export holds one series of a study the dataset has whole (a PACS re-send): the
    study keeps its views and its tensor, and the report says why it was not replaced."""
    whole = write_study(tmp_path / "A", StudySpec(phases=2, sax_slices=1))
    resent = tmp_path / "B" / "resend"
    resent.mkdir(parents=True)
    for path in sorted(whole.rglob("*.dcm")):
        if "4CH" in pydicom.dcmread(path, stop_before_pixels=True).SeriesDescription:
            shutil.copy(path, resent / path.name)
    dataset = tmp_path / "dataset"
    ingest(tmp_path / "A", dataset)
    before = pd.read_parquet(dataset / "studies.parquet")
    tensor = _tensor(dataset)
    summary = ingest(tmp_path / "B", dataset)
    assert summary.studies_written == 0 and summary.warnings == 1
    pd.testing.assert_frame_equal(pd.read_parquet(dataset / "studies.parquet"), before)
    assert np.array_equal(_tensor(dataset), tensor)
    report = pd.read_csv(dataset / "ingest_report.csv", dtype=str, keep_default_na=False)
    assert "keeps the study as it was" in report["reason"].iloc[-1]
    (study_id,) = before["study_id"]
    assert report["study_id"].iloc[-1] == study_id
