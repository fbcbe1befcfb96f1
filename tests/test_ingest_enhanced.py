"""Enhanced MR (multi-frame) files as current Philips, Siemens XA and GE scanners export them:
attributes read from the per-frame or shared functional groups, every frame landing in its own
view, slice and phase, intensities rescaled per frame."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_factory import EnhancedSpec, StudySpec, enhanced_image, write_enhanced, write_study

from model.data.dicom_read import read_headers, read_pixels
from model.data.ingest import ingest
from model.data.study import classify_study
from model.schema import VIEW_SLOTS

SPEC = StudySpec(rows=24, cols=20, spacing=6.0, series={"sax": "CINE_SAX"})


def _ingest(tmp_path: Path, enhanced: EnhancedSpec, description: str, spec: StudySpec = SPEC):
    """Ingest a classic cine SAX study plus one enhanced file -> (study row, tensor, report)."""
    folder = write_study(tmp_path / "src", spec)
    write_enhanced(folder / "enhanced.dcm", spec, enhanced, description, 30)
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, frames=8, size=32)
    row = pd.read_parquet(out / "studies.parquet").iloc[0]
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    return row, np.load(out / "tensors" / f"{row.study_id}.npy"), report


def _disc_means(view: np.ndarray, frames: int) -> list[float]:
    """Mean of the brightest quarter of each of a view's first ``frames`` frames."""
    return [float(np.sort(frame.ravel())[-frame.size // 4 :].mean()) for frame in view[:frames]]


@pytest.mark.parametrize("where", ["per_frame", "shared", "timing"])
def test_lge_with_its_inversion_time_in_the_functional_groups(tmp_path: Path, where: str) -> None:
    """No LGE keyword in the description: the InversionTimes an enhanced file keeps in its
    functional groups make it LGE, its slices base -> apex."""
    enhanced = EnhancedSpec(phases=1, inversion=where)
    row, video, _ = _ingest(tmp_path, enhanced, "tfl2d_ce myocardium")
    lge = VIEW_SLOTS.index("lge_sax")
    assert "lge_sax" in row.views.split(",") and row.view_frames[lge] == 3
    means = _disc_means(video[lge], 3)
    assert means[0] < means[1] < means[2]  # 300, 400, 500 from base to apex


def test_an_enhanced_file_without_inversion_time_is_not_lge(tmp_path: Path) -> None:
    (header, *_) = read_headers(
        write_enhanced(tmp_path / "a.dcm", SPEC, EnhancedSpec(phases=1), "tfl2d myocardium", 3)
    )
    assert header.inversion_time is None


@pytest.mark.parametrize("shared", [False, True])
def test_pixel_value_transformation_is_applied_per_frame(tmp_path: Path, shared: bool) -> None:
    enhanced = EnhancedSpec(stacks=[("sax", [-10.0, 10.0])], phases=2)
    if shared:
        enhanced.shared_rescale = (0.5, 40.0)
    else:
        enhanced.rescale = [(0.25, 0.0), (1.0, -20.0), (2.0, 50.0), (4.0, 0.0)]
    path = write_enhanced(tmp_path / "a.dcm", SPEC, enhanced, "CINE_SAX", 3)
    headers = read_headers(path)
    for pixels in (read_pixels(path, headers[0].layout), read_pixels(path)):
        for index, frame in enumerate(enhanced.frames()):
            np.testing.assert_allclose(pixels[index], enhanced_image(SPEC, enhanced, frame))


def test_lge_slices_rescaled_per_frame_keep_their_intensities(tmp_path: Path) -> None:
    """Stored values run 1200, 400, 125 and mean 300, 400, 500 once rescaled per frame."""
    enhanced = EnhancedSpec(phases=1, inversion="per_frame", rescale=[(0.25, 0), (1, 0), (4, 0)])
    row, video, _ = _ingest(tmp_path, enhanced, "LGE_PSIR_SAX")
    means = _disc_means(video[VIEW_SLOTS.index("lge_sax")], 3)
    assert means[0] < means[1] < means[2]


def _locations(tmp_path: Path, enhanced: EnhancedSpec, description: str):
    path = write_enhanced(tmp_path / "a.dcm", SPEC, enhanced, description, 3)
    problems: list = []
    slots = classify_study(read_headers(path), None, problems)
    frames = enhanced.frames()
    found = {
        slot: [[frames[image.frame] for image in loc.images] for s in stacks for loc in s.locations]
        for slot, stacks in slots.items()
    }
    return found, problems


@pytest.mark.parametrize("trigger_delays", [True, False])
@pytest.mark.parametrize("phase_major", [False, True])
def test_frames_land_in_their_slice_and_phase(
    tmp_path: Path, phase_major: bool, trigger_delays: bool
) -> None:
    """Frames stored phase by phase, timed by trigger delay or by TemporalPositionIndex alone."""
    enhanced = EnhancedSpec(phases=4, phase_major=phase_major, trigger_delays=trigger_delays)
    found, problems = _locations(tmp_path, enhanced, "CINE_SAX")
    expected = [[(0, s, p) for p in range(4)] for s in range(3)]
    assert found == {"sax": expected}
    if not trigger_delays:
        assert [p[3] for p in problems] == [
            "missing TriggerTime: phases ordered by TemporalPositionIdentifier"
        ]


@pytest.mark.parametrize("trigger_delays", [True, False])
@pytest.mark.parametrize("phase_major", [False, True])
def test_frames_without_a_position_land_in_the_slice_of_their_stack_position(
    tmp_path: Path, phase_major: bool, trigger_delays: bool
) -> None:
    """No PlanePositionSequence: the frames' InStackPositionNumber tells the slices apart (they
    were taken as one slice: two slices dropped as duplicates, or mixed into one cine)."""
    enhanced = EnhancedSpec(
        phases=4, phase_major=phase_major, trigger_delays=trigger_delays, plane_positions=False
    )
    found, problems = _locations(tmp_path, enhanced, "CINE_SAX")
    assert found == {"sax": [[(0, s, p) for p in range(4)] for s in range(3)]}
    assert [p[3] for p in problems][0] == (
        "no ImagePositionPatient: slices placed by InStackPositionNumber "
        "(base and apex may be swapped)"
    )


@pytest.mark.parametrize("stack_ids", [True, False])
def test_several_stacks_in_one_file_fill_their_own_views(tmp_path: Path, stack_ids: bool) -> None:
    """A multi-stack cine (StackID 1: short axis, 2: four-chamber, 3: two-chamber; or no
    StackID, the planes alone telling the stacks apart) whose description names planes of some
    of its stacks ("stack" is a short-axis keyword)."""
    enhanced = EnhancedSpec(
        stacks=[("sax", [-20.0, 0.0, 20.0]), ("4ch", [0.0]), ("2ch", [0.0])],
        phases=4,
        stack_ids=stack_ids,
    )
    found, problems = _locations(tmp_path, enhanced, "cine multi-stack 4ch 2ch")
    assert found == {
        "sax": [[(0, s, p) for p in range(4)] for s in range(3)],
        "4ch": [[(1, 0, p) for p in range(4)]],
        "2ch": [[(2, 0, p) for p in range(4)]],
    }
    assert problems == []


def test_stacks_of_one_file_filling_one_view_are_named_apart(tmp_path: Path) -> None:
    """Two stacks of one file in the same plane: the report names the stack kept."""
    enhanced = EnhancedSpec(stacks=[("4ch", [0.0]), ("4ch", [30.0])], phases=4)
    row, _, report = _ingest(tmp_path, enhanced, "CINE_4CH")
    assert "4ch" in row.views.split(",")
    warnings = report.query("level == 'warning'")
    assert warnings[["series", "reason"]].values.tolist() == [
        ["30 CINE_4CH (stack 1)", "another series also fills 4ch; kept series 30 (stack 2)"]
    ]


@pytest.mark.parametrize("per_frame", [False, True])
def test_spacing_from_the_pixel_measures_sequence(tmp_path: Path, per_frame: bool) -> None:
    enhanced = EnhancedSpec(stacks=[("4ch", [0.0])], spacing_per_frame=per_frame)
    spec = StudySpec(rows=24, cols=20, spacing=4.0, series={"sax": "CINE_SAX"})
    row, _, _ = _ingest(tmp_path, enhanced, "CINE_4CH", spec)
    assert "4ch" in row.views.split(",") and row.pixel_spacing_mm == 4.0


@pytest.mark.parametrize("per_frame", [False, True])
def test_an_implausible_spacing_in_the_pixel_measures_sequence_is_rejected(
    tmp_path: Path, per_frame: bool
) -> None:
    spec = StudySpec(rows=24, cols=20, spacing=6.0, series={"sax": "CINE_SAX"})
    folder = write_study(tmp_path / "src", spec)
    wrong = StudySpec(rows=24, cols=20, spacing=0.05, study_uid=spec.study_uid)
    enhanced = EnhancedSpec(stacks=[("4ch", [0.0])], spacing_per_frame=per_frame)
    write_enhanced(folder / "enhanced.dcm", wrong, enhanced, "CINE_4CH", 30)
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, frames=8, size=32)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    rejected = report.query("level == 'rejected'")
    assert rejected[["series", "reason"]].values.tolist() == [
        [
            "30 CINE_4CH",
            "pixel spacing 0.05 x 0.05 mm is outside the 0.2-10 mm a cardiac MR image has; "
            "the header is likely wrong, so the images are not resampled",
        ]
    ]
    assert "4ch" not in pd.read_parquet(out / "studies.parquet").iloc[0].views.split(",")
