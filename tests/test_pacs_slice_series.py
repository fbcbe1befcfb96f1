"""Slice series judged with their siblings, and long-axis cines cut short, as PACS exports write
them: a CardiacNumberOfImages wrong on every slice series, a slice series that lost its last
phase and names no CardiacNumberOfImages, a long-axis cine whose last phases were not exported.

Slices are told apart by their discs' radii (``test_pacs_series.level_slices``)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from dicom_factory import disc_radius_mm, write_study
from test_pacs_series import FOV_MM, SIZE, _spec, level_slices

from model.data.dicom_read import read_headers
from model.data.ingest import ingest
from model.data.resample import resample_cycle
from model.data.series import build_series, group_series
from model.data.slice_series import judge_slice_series
from model.schema import VIEW_SLOTS


def _report(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)


def _retag(folder: Path, numbers: range, count: int) -> None:
    """Write CardiacNumberOfImages ``count`` on every image of the series ``numbers``."""
    for path in sorted(folder.glob("*.dcm")):
        if int(path.name[:3]) in numbers:
            ds = pydicom.dcmread(path)
            ds.CardiacNumberOfImages = count
            ds.save_as(path)


def test_a_cardiac_number_of_images_wrong_on_every_slice_series_is_set_aside(
    tmp_path: Path,
) -> None:
    """The scanner wrote its nominal 8 on every slice series of 6 phases: each slice was left
    out as short of its cycle and every short-axis view stayed empty. The stack's own count
    decides, one line says the tag was wrong, and only the slice that lost its last phase
    (short of its siblings) is left out."""
    src = tmp_path / "src"
    folder = write_study(src, _spec())
    _retag(folder, range(2, 9), 8)  # the slice series are 2 .. 8, base to apex
    (folder / "005_0006.dcm").unlink()  # slice 3's last phase
    out = tmp_path / "out"
    assert ingest(src, out, size=SIZE, fov_mm=FOV_MM).studies_written == 1
    report = _report(out)
    assert "rejected" not in set(report["level"])
    [aside] = report.query("reason.str.contains('header')", engine="python")["reason"]
    assert aside.startswith("CardiacNumberOfImages 8 on the 7 slice series of this stack")
    [short] = report.query("reason.str.contains('left out')", engine="python").to_dict("records")
    assert short["series"] == "5 FIESTA SA"
    assert short["reason"].startswith("slice left out, 5 phases, 1 fewer than the 6 of 6 sibling")
    assert level_slices(out) == {"sax_base": 1, "sax_mid": 2, "sax_apex": 5}


def test_a_slice_series_without_its_last_phase_and_no_tag_is_short_of_its_siblings(
    tmp_path: Path,
) -> None:
    """No CardiacNumberOfImages and the last phase dropped: no gap inside the slice to see, so
    it filled the mid level with a cycle one phase short. Its siblings at the same TriggerTime
    step have one phase more: it is left out, named in one line."""
    src = tmp_path / "src"
    folder = write_study(src, _spec(cardiac_number_of_images=False))
    (folder / "005_0006.dcm").unlink()
    out = tmp_path / "out"
    ingest(src, out, size=SIZE, fov_mm=FOV_MM)
    lines = _report(out).query("reason.str.contains('left out')", engine="python")
    assert lines["series"].tolist() == ["5 FIESTA SA"]
    assert lines["reason"].tolist() == [
        "slice left out, 5 phases, 1 fewer than the 6 of 6 sibling slice series at its "
        "TriggerTime step of 150 ms (an image missing from the export?)"
    ]
    assert level_slices(out) == {"sax_base": 1, "sax_mid": 2, "sax_apex": 5}


def test_a_slice_at_another_heart_rate_is_no_sibling_of_the_others(tmp_path: Path) -> None:
    """A breath-hold at another heart rate has fewer phases at another TriggerTime step: it is
    not compared with the others, and kept (with or without a tag)."""
    folder = write_study(tmp_path, _spec(cardiac_number_of_images=False))
    headers = [h for path in sorted(folder.iterdir()) for h in read_headers(path)]
    parts = list(group_series(headers).values())
    slower = [
        dataclasses.replace(h, trigger_time=index * 180.0) for index, h in enumerate(parts[3][:5])
    ]
    stacks = [build_series(images) for images in [*parts[:3], slower, *parts[4:]]]
    lines, wrong = judge_slice_series(stacks)
    assert not lines and not wrong
    assert all(stack.locations[0].complete and not stack.left_out for stack in stacks)


def _lax_study(src: Path, dropped: str, **fields) -> Path:
    """A stack of one series and an 8-phase 4ch cine (series 3) with ``dropped`` phase files
    removed."""
    spec = _spec(
        series={"sax": "FIESTA SA", "4ch": "CINE_4CH"},
        one_series_per_sax_slice=False,
        phases=8,
        **fields,
    )
    folder = write_study(src, spec)
    for name in dropped.split():
        (folder / name).unlink()
    return folder


@pytest.mark.parametrize(
    ("dropped", "kept"),
    [("003_0008.dcm", True), ("003_0007.dcm 003_0008.dcm", True), ("003_0001.dcm", False)],
    ids=["last phase", "last two phases", "first phase"],
)
def test_a_long_axis_cine_cut_at_the_end_of_its_cycle_is_kept(
    tmp_path: Path, dropped: str, kept: bool
) -> None:
    """A long-axis cine short of its CardiacNumberOfImages left its view empty, though only the
    end of its cycle was missing (systole and filling there): it is kept, one line says so, and
    its phases keep their place in the named cycle. Without its first phase (end-diastole) its
    cycle is misaligned: left out as before."""
    src = tmp_path / "src"
    _lax_study(src, dropped)
    out = tmp_path / "out"
    ingest(src, out, size=SIZE, fov_mm=FOV_MM)
    report = _report(out).query("series == '3 CINE_4CH'")
    views = pd.read_parquet(out / "studies.parquet").iloc[0].views.split(",")
    assert ("4ch" in views) == kept
    if not kept:
        assert "4ch: left empty, every slice of its series is incomplete" in set(report["reason"])
        return
    missing = len(dropped.split())
    [line] = report["reason"]
    assert line.startswith(f"4ch: kept with {8 - missing} of the 8 phases")
    assert f"only the last {missing} missing" in line
    row = pd.read_parquet(out / "studies.parquet").iloc[0]
    view = np.load(out / "tensors" / f"{row.study_id}.npy")[VIEW_SLOTS.index("4ch")]
    bright = int((view[len(view) // 2] > 127).sum())  # mid-cycle: phase 4 of the 8
    radius = np.sqrt(bright * (FOV_MM / SIZE) ** 2 / np.pi)
    assert abs(radius - disc_radius_mm(4, 8)) < abs(radius - disc_radius_mm(3, 8)) / 2


@pytest.mark.parametrize(
    ("per_slice", "lax"), [(True, 10), (False, 3)], ids=["slice series", "one stack series"]
)
def test_a_long_axis_cine_with_the_stacks_wrong_tag_is_its_whole_cycle(
    tmp_path: Path, per_slice: bool, lax: int
) -> None:
    """The scanner wrote its nominal 10 on every cine: the short-axis slices showed it wrong,
    so the 4ch cine of 8 phases under it is whole, not bridged as if 2 phases were cut off."""
    src = tmp_path / "src"
    spec = _spec(
        series={"sax": "FIESTA SA", "4ch": "CINE_4CH"}, phases=8, one_series_per_sax_slice=per_slice
    )
    folder = write_study(src, spec)
    _retag(folder, range(2, lax + 1), 10)  # the short-axis series, then the 4ch (``lax``)
    out = tmp_path / "out"
    ingest(src, out, size=SIZE, fov_mm=FOV_MM)
    report = _report(out)
    assert "rejected" not in set(report["level"])
    [line] = report.query(f"series == '{lax} CINE_4CH'")["reason"]
    assert line == (
        "4ch: its CardiacNumberOfImages 10 set aside, as the short-axis stack's was; its 8 "
        "evenly stepped phases taken as its whole cycle"
    )
    views = pd.read_parquet(out / "studies.parquet").iloc[0].views.split(",")
    assert views == [
        slot for slot in VIEW_SLOTS if slot in {"sax_base", "sax_mid", "sax_apex", "4ch"}
    ]


def test_a_cycle_cut_at_its_end_keeps_its_phases_in_place_and_bridges_the_end() -> None:
    """6 of an 8-phase cycle onto 8 frames: the 6 stay where they were, the 2 missing phases
    are bridged from the last back to the first; a whole cycle is resampled as before."""
    phases = np.arange(1.0, 7.0, dtype=np.float32)[:, None, None]
    bridged = resample_cycle(phases, 8, cycle=8)[:, 0, 0]
    np.testing.assert_allclose(bridged, [1, 2, 3, 4, 5, 6, 6 - 5 / 3, 6 - 10 / 3], rtol=1e-6)
    whole = resample_cycle(phases, 4)[:, 0, 0]
    np.testing.assert_allclose(whole, [1, 2.5, 4, 5.5], rtol=1e-6)
