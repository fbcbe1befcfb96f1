"""Short-axis stacks as real PACS exports write them, beyond the synthetic generator's: one
series per slice (each breath-hold with its own phase count) with a file dropped from one of
them, and a slice position acquired again where the newest acquisition is the incomplete one.

The factory's disc shrinks with the slice's offset (radius 30 mm x (1 - offset / 200)), so the
radius in an ingested view tells which slice position filled it."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study

from model.data.dicom_read import read_headers
from model.data.ingest import ingest
from model.data.resample import GridConfig
from model.data.series import build_series, group_series, pooled_locations
from model.data.study import build_study
from model.schema import VIEW_SLOTS

SLICES = 7
OFFSETS = np.linspace(-30.0, 30.0, SLICES)  # base -> apex, as the factory places them
FOV_MM, SIZE = 96.0, 64  # 1.5 mm grid pixels: neighbouring slices' discs differ by ~10 % in area


def _spec(**fields) -> StudySpec:
    """A 7-slice short-axis cine of 1.5 mm pixels, one series per slice unless told otherwise."""
    values = {
        "rows": 64,
        "cols": 64,
        "spacing": 1.5,
        "sax_slices": SLICES,
        "series": {"sax": "FIESTA SA"},
        "one_series_per_sax_slice": True,
    }
    return StudySpec(**{**values, **fields})


def _report(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)


def level_slices(out: Path) -> dict[str, int]:
    """sax level -> the index (base 0) of the slice position whose disc fills its first phase."""
    row = pd.read_parquet(out / "studies.parquet").iloc[0]
    video = np.load(out / "tensors" / f"{row.study_id}.npy")
    radii = 30.0 * (1 - OFFSETS / 200.0)
    found = {}
    for slot in ("sax_base", "sax_mid", "sax_apex"):
        bright = int((video[VIEW_SLOTS.index(slot), 0] > 127).sum())
        radius = np.sqrt(bright * (FOV_MM / SIZE) ** 2 / np.pi)
        found[slot] = int(np.argmin(np.abs(radii - radius)))
    return found


def test_the_factory_study_fills_the_levels_from_the_expected_slices(tmp_path: Path) -> None:
    """The check the tests below rely on: 20 / 50 / 80 % of 7 slices are slices 1, 3 and 5."""
    write_study(tmp_path / "src", _spec())
    ingest(tmp_path / "src", tmp_path / "out", size=SIZE, fov_mm=FOV_MM)
    assert level_slices(tmp_path / "out") == {"sax_base": 1, "sax_mid": 3, "sax_apex": 5}


@pytest.mark.parametrize(
    ("slice_index", "phase", "declared", "expected", "reason"),
    [
        (3, 2, False, {"sax_base": 1, "sax_mid": 2, "sax_apex": 5}, "missing from its TriggerTime"),
        (5, 5, True, {"sax_base": 1, "sax_mid": 3, "sax_apex": 4}, "its CardiacNumberOfImages"),
    ],
    ids=["middle phase: a TriggerTime gap", "last phase: short of CardiacNumberOfImages"],
)
def test_a_file_dropped_from_one_slice_series_leaves_that_slice_out(
    tmp_path: Path, slice_index: int, phase: int, declared: bool, expected: dict, reason: str
) -> None:
    """One series per slice: each slice's phases were compared only with its own series' other
    slices, of which it has none, so a slice an export left an image short filled its level
    with a misaligned cycle. It is left out, one line names it, and the level takes the nearer
    complete neighbour (the ingested discs show which)."""
    src = tmp_path / "src"
    folder = write_study(src, _spec(cardiac_number_of_images=declared))
    number = 2 + slice_index  # the factory numbers the slice series 2, 3, ... base to apex
    (folder / f"{number:03d}_{phase + 1:04d}.dcm").unlink()
    out = tmp_path / "out"
    assert ingest(src, out, size=SIZE, fov_mm=FOV_MM).studies_written == 1
    report = _report(out)
    assert "rejected" not in set(report["level"])
    [line] = report.query("reason.str.contains('left out')", engine="python").to_dict("records")
    assert line["series"] == f"{number} FIESTA SA"
    assert line["reason"].startswith("slice left out, 5 phases") and reason in line["reason"]
    assert level_slices(out) == expected


def test_slice_series_with_their_own_even_phase_counts_are_all_kept(tmp_path: Path) -> None:
    """Breath-holds at different heart rates give slices different phase counts; a slice whose
    own phases are evenly spaced and as many as its CardiacNumberOfImages is complete."""
    folder = write_study(tmp_path, _spec())
    headers = [h for path in sorted(folder.iterdir()) for h in read_headers(path)]
    parts = list(group_series(headers).values())
    fewer = [
        dataclasses.replace(h, trigger_time=index * 180.0, cardiac_images=5)
        for index, h in enumerate(parts[2][:5])
    ]
    stacks = [build_series(images) for images in [*parts[:2], fewer, *parts[3:]]]
    assert [len(stack.locations[0].images) for stack in stacks] == [6, 6, 5, 6, 6, 6, 6]
    assert all(stack.locations[0].complete and not stack.warnings for stack in stacks)


def test_a_long_axis_cine_left_a_phase_short_is_masked_not_a_traceback(tmp_path: Path) -> None:
    """A long-axis cine is one slice: a gap inside its cycle (a middle phase dropped) leaves its
    view empty, one line says so, and the study keeps its other views (a cycle cut only at its
    end is kept: test_pacs_slice_series)."""
    src = tmp_path / "src"
    spec = _spec(series={"sax": "FIESTA SA", "4ch": "CINE_4CH"}, one_series_per_sax_slice=False)
    folder = write_study(src, spec)
    (folder / "003_0003.dcm").unlink()  # the 4ch series' third phase
    out = tmp_path / "out"
    ingest(src, out, size=SIZE, fov_mm=FOV_MM)
    rejected = _report(out).query("level == 'rejected'")
    assert rejected["reason"].tolist() == [
        "4ch: left empty, every slice of its series is incomplete"
    ]
    assert pd.read_parquet(out / "studies.parquet").iloc[0].views == "sax_base,sax_mid,sax_apex"


@pytest.mark.parametrize(
    ("per_slice", "dropped", "kept_line"),
    [
        (False, "003_0021.dcm", ("2 FIESTA SA", "3 FIESTA SA", "series 3", "series 2")),
        (True, "013_0003.dcm", ("5 FIESTA SA", "13 FIESTA SA", "series 13", "series 5")),
    ],
    ids=["one series per stack", "one series per slice"],
)
def test_a_position_acquired_again_keeps_the_newest_complete_slice(
    tmp_path: Path, per_slice: bool, dropped: str, kept_line: tuple[str, ...]
) -> None:
    """The stack acquired again, its re-acquisition an image short at the mid slice: that
    position kept the newest series' incomplete slice, and the level fell to a neighbour (or
    stayed empty). The earlier complete slice is kept there, and the report says which."""
    src = tmp_path / "src"
    spec = _spec(one_series_per_sax_slice=per_slice, extra_series=[("sax", "FIESTA SA")])
    folder = write_study(src, spec)
    (folder / dropped).unlink()  # slice 3 (base 0), a middle phase, of the second acquisition
    out = tmp_path / "out"
    ingest(src, out, size=SIZE, fov_mm=FOV_MM)
    assert level_slices(out) == {"sax_base": 1, "sax_mid": 3, "sax_apex": 5}
    older, newer, newer_name, older_name = kept_line
    warnings = _report(out).query("reason.str.contains('acquired again')", engine="python")
    lines = dict(zip(warnings["series"], warnings["reason"], strict=True))
    again = "acquired again in this series, its slice there incomplete; kept the earlier"
    assert (
        lines[newer] == f"1 sax slice position(s) {again} {older_name} there (the newest complete)"
    )
    if not per_slice:  # the other positions keep the newest, as before
        kept = f"acquired again in {newer_name}; kept {newer_name} there (the newest)"
        assert lines[older] == f"6 sax slice position(s) {kept}"


def test_the_kept_repeat_does_not_depend_on_file_order_or_series_numbers(tmp_path: Path) -> None:
    """Anonymisers strip SeriesNumber: the newest is then told by SeriesInstanceUID, and the
    choice at each position is the same whatever order the series were read in."""
    spec = _spec(one_series_per_sax_slice=False, extra_series=[("sax", "FIESTA SA")])
    folder = write_study(tmp_path, spec)
    uids = {read_headers(folder / f"{n:03d}_0001.dcm")[0].series_uid: n for n in (2, 3)}
    (folder / f"{uids[max(uids)]:03d}_0021.dcm").unlink()  # from the one its UID makes newest
    headers = [
        dataclasses.replace(h, series_number=0)
        for path in sorted(folder.iterdir())
        for h in read_headers(path)
    ]
    stacks = [build_series(images) for images in group_series(headers).values()]
    complete = next(s for s in stacks if all(loc.complete for loc in s.locations))
    later = max(stacks, key=lambda s: s.series_uid)
    choices = {
        tuple(stack.series_uid for _, stack in pooled_locations(order)[0])
        for order in (stacks, stacks[::-1])
    }
    expected = [later.series_uid] * SLICES
    expected[3] = complete.series_uid
    assert choices == {tuple(expected)}
    problems = build_study(headers, GridConfig(frames=4, size=16)).problems
    [line] = [reason for *_, reason in problems if "newest complete" in reason]
    named = f"series 0 (SeriesInstanceUID ...{complete.series_uid[-12:]})"
    assert line.endswith(f"kept the earlier {named} there (the newest complete)")


def test_a_cardiac_number_of_images_no_slice_reaches_is_not_held_against_them(
    tmp_path: Path,
) -> None:
    """A header whose CardiacNumberOfImages exceeds every slice's phase count is wrong, not an
    export that dropped a file from each slice: the stack is kept whole."""
    folder = write_study(tmp_path, _spec(one_series_per_sax_slice=False))
    headers = [
        dataclasses.replace(h, cardiac_images=8)
        for path in sorted(folder.iterdir())
        for h in read_headers(path)
    ]
    stack = build_series(headers)
    assert all(location.complete for location in stack.locations) and not stack.warnings
