"""generate -> ingest -> Dataset round trip on both synthetic sites: every view lands in its slot,
LV size in millimetres agrees with the generator's masks at both pixel spacings, and no planted
PHI string reaches any output file."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from model.data.dataset import CMRDataset, StudyVideoDataset
from model.data.ingest import ingest
from model.data.reports import extract_impression
from model.data.resample import GridConfig, resample_fov
from model.schema import VIEW_SLOTS
from sample_data import generate as sample_generate

SITES = {"internal": 11, "external": 12}
LV_CAVITY, LV_MYOCARDIUM = 1, 2


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("roundtrip")
    for site, seed in SITES.items():
        sample_generate.generate(root / site, studies=2, site=site, seed=seed)
        ingest(
            root / site / "dicom", root / "dataset", reports=root / site / "reports.csv", site=site
        )
    return {"root": root, "dataset": CMRDataset.open(root / "dataset")}


def _accession_to_study(ds: CMRDataset) -> dict[str, str]:
    linkage = ds.linkage()
    return dict(zip(linkage["accession_number"], linkage["study_id"], strict=True))


def test_round_trip_fills_every_slot_with_report_impressions(built: dict) -> None:
    ds: CMRDataset = built["dataset"]
    assert len(ds) == 4 and set(ds.studies["site"]) == set(SITES)
    assert all(list(frames) == [16] * 6 + [frames[6], 1, 1] for frames in ds.studies["view_frames"])
    assert set(ds.studies["views"]) == {",".join(VIEW_SLOTS)}
    study_of = _accession_to_study(ds)
    for site in SITES:
        reports = pd.read_csv(built["root"] / site / "reports.csv", dtype=str)
        for accession, report in zip(reports["accession_number"], reports["report"], strict=True):
            impression = ds.row(study_of[accession])["impression"]
            assert impression and impression == extract_impression(report)
            assert "FINDINGS" not in impression and "MRN" not in impression
    item = StudyVideoDataset(ds, ds.ids(), frames=8, size=32)[0]
    assert item["video"].shape == (9, 8, 32, 32) and bool(item["view_mask"].all())


def _measured_lv_area(
    image: np.ndarray, mask: np.ndarray, spacing: float, grid: GridConfig
) -> float:
    """LV cavity area (mm^2) measured in an ingested frame by thresholding blood vs myocardium."""

    def warp(selected: np.ndarray) -> np.ndarray:
        return resample_fov(selected[None].astype(np.float32), (spacing, spacing), grid)[0]

    cavity, myocardium = warp(mask == LV_CAVITY), warp(mask == LV_MYOCARDIUM)
    region = warp(np.isin(mask, [LV_CAVITY, LV_MYOCARDIUM])) > 0.2
    threshold = (image[cavity > 0.9].mean() + image[myocardium > 0.9].mean()) / 2
    assert image[cavity > 0.9].mean() > image[myocardium > 0.9].mean() + 60  # views line up
    return float(((image > threshold) & region).sum() * grid.spacing_mm**2)


def test_lv_millimetres_agree_between_sites(built: dict) -> None:
    ds: CMRDataset = built["dataset"]
    grid = GridConfig(
        **{
            k: json.loads((ds.root / "dataset.json").read_text())[k]
            for k in ("frames", "size", "fov_mm")
        }
    )
    study_of = _accession_to_study(ds)
    ratios: dict[str, list[float]] = {site: [] for site in SITES}
    for site in SITES:
        for accession in pd.read_csv(built["root"] / site / "labels.csv", dtype=str)[
            "accession_number"
        ]:
            study_id = study_of[accession]
            spacing = float(ds.row(study_id)["pixel_spacing_mm"])
            video = ds.load_video(study_id).astype(np.float32)
            masks = np.load(built["root"] / site / "masks" / f"{accession}.npz")
            areas = []
            for slot in ("sax_base", "sax_mid", "sax_apex"):
                truth = float((masks[slot][0] == LV_CAVITY).sum() * spacing**2)
                measured = _measured_lv_area(
                    video[VIEW_SLOTS.index(slot), 0], masks[slot][0], spacing, grid
                )
                ratios[site].append(measured / truth)
                areas.append(measured)
            assert areas[0] > areas[2]  # base is wider than apex: slots are not swapped
    medians = {site: float(np.median(values)) for site, values in ratios.items()}
    assert all(0.8 < value < 1.3 for value in medians.values()), medians
    assert abs(medians["internal"] - medians["external"]) < 0.2, medians


def test_no_planted_phi_in_any_output(built: dict) -> None:
    planted: set[str] = set()
    for site in SITES:
        phi = json.loads((built["root"] / site / "phi.json").read_text())
        for values in phi["studies"].values():
            planted.update(v for v in values if len(v) >= 4)
    assert planted
    for path in (built["root"] / "dataset").rglob("*"):
        if not path.is_file() or path.name == "linkage.csv":
            continue
        data = path.read_bytes().lower()
        for value in planted:
            assert value.lower().encode() not in data, (value, path.name)
