"""Ingesting the same export twice gives the same dataset: each new dataset folder draws its own
secret salt (so pseudonyms differ), but the train/val/test split of every study must not, or a
reviewer re-running ingest trains and tests on other studies; a patient already in a dataset
keeps its split when more of its studies arrive."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study

from model.data.deid import SALT_FILE
from model.data.ingest import ingest

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
