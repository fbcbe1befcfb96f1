"""Pieces of ingest on their own: view classification, impression extraction, de-identification,
phase ordering, SAX level choice, resampling and the ACDC NIfTI layout."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from model.data.deid import age_band, pseudonym, sex_code
from model.data.dicom_read import SliceHeader
from model.data.ingest import ingest
from model.data.report_scrub import deidentify_report
from model.data.reports import extract_impression, load_impressions, scrub_text
from model.data.resample import (
    HIGH_PERCENTILE,
    LOW_PERCENTILE,
    PERCENTILE_SAMPLES,
    GridConfig,
    resample_cycle,
    resample_fov,
    to_uint8,
)
from model.data.series import (
    Location,
    SeriesStack,
    order_phases,
    pooled_locations,
    select_sax_levels,
)
from model.data.views import ViewMap, classify_series
from model.errors import DataError
from model.schema import VIEW_SLOTS
from sample_data.anatomy import make_frame
from sample_data.sites import EXTERNAL, INTERNAL
from sample_data.views import plan_views

SAX = (0.7071, 0.7071, 0.0, 0.4082, -0.4082, 0.8165)  # normal along (1, -1, -1)/sqrt(3)
AXIAL = (1.0, 0.0, 0.0, 0.0, 1.0, 0.0)


@pytest.mark.parametrize(
    ("description", "orientation", "inversion", "phases", "slot"),
    [
        ("CINE_SAX", None, False, 25, "sax"),
        ("FIESTA SA 3", None, False, 20, "sax"),
        ("CINE_4CH", None, False, 25, "4ch"),
        ("FIESTA LVOT", None, False, 20, "3ch"),
        ("cine 2ch", None, False, 25, "2ch"),
        ("LGE_PSIR_SAX", None, True, 1, "lge_sax"),
        ("MDE SA", None, True, 1, "lge_sax"),
        ("MDE 4CH", None, True, 1, "lge_4ch"),
        ("tf2d bh", SAX, False, 30, "sax"),
        ("delayed", SAX, True, 1, "lge_sax"),
        ("LOCALIZER", AXIAL, False, 1, None),
        ("T1MAP SAX", SAX, False, 1, None),
        ("whatever", AXIAL, False, 25, None),
        ("SA_PERFUSION_REST", SAX, False, 60, None),
        ("tfl_perf_sa", SAX, False, 60, None),
        ("T2*_SAX_mid", SAX, False, 8, None),
        ("T2_STIR_SAX", SAX, True, 1, None),
        ("t2_tirm_sa_db", SAX, True, 1, None),
        ("ShMOLLI_192i_SAX", SAX, True, 1, None),
        ("SAX T1 SASHA", SAX, True, 1, None),
        ("Tagging SAX", SAX, False, 20, None),
    ],
)
def test_view_classification(description, orientation, inversion, phases, slot) -> None:
    decision = classify_series(description, orientation, inversion, phases)
    assert decision.slot == slot
    if slot is None:
        assert "view" in decision.reason


@pytest.mark.parametrize("site", [INTERNAL, EXTERNAL])
def test_long_axis_planes_from_geometry_alone(site) -> None:
    """Planned 4/3/2-chamber planes of generated hearts (planning error, in-plane rotation),
    with descriptions that name no plane: the normal decides, never the wrong plane."""
    rng = np.random.default_rng(7)
    outcomes = []
    for _ in range(100):
        for plane in plan_views(make_frame(rng), 90.0, site, rng):
            if plane.slot.removeprefix("lge_") not in ("4ch", "3ch", "2ch"):
                continue
            orientation = (*plane.row_dir, *plane.col_dir)
            description = "ir bh" if plane.is_lge else "tf2d bh"
            decision = classify_series(description, orientation, plane.is_lge, 1 if plane.is_lge else 25)  # fmt: skip
            outcomes.append((plane.slot, decision.slot))
    assert all(found in (slot, None) for slot, found in outcomes)
    assert sum(slot == found for slot, found in outcomes) >= 0.97 * len(outcomes)


def test_view_map_csv(tmp_path: Path) -> None:
    path = tmp_path / "map.csv"
    path.write_text("pattern,slot\nsa_stack_*,sax\nlocal*,ignore\n")
    rules = ViewMap.load(path)
    assert classify_series("SA_STACK_7", None, False, 20, rules).slot == "sax"
    assert "ignored" in classify_series("Localizer", None, False, 1, rules).reason


def test_impression_only() -> None:
    report = (
        "Patient: Jane Doe DOB 01/01/1970\nFINDINGS:\nLVEF 35%.\n\nIMPRESSION:\n"
        "1. Dilated LV\n2. LVEF: 35%.\n\nReported by: Dr Who\n"
    )
    assert extract_impression(report) == "Dilated LV. LVEF: 35%."
    assert extract_impression("Conclusion: normal study") == "normal study."
    assert extract_impression("FINDINGS: all fine") == ""


def test_an_impression_ends_at_a_demographic_footer() -> None:
    """Reports printed to PDF and exported as text repeat the patient's details in a footer after
    the impression; the footer's labelled lines end the impression, whatever follows them."""
    report = (
        "IMPRESSION:\n1. Dilated LV.\n2. Patient to be referred to clinic.\n\n"
        "Patient: Jane Doe    MRN: PID0001    DOB: 01/01/1970\nReferrer: Dr A. Who\n"
        "NORTHFIELD HOSPITAL\n"
    )
    assert extract_impression(report) == "Dilated LV. Patient to be referred to clinic."
    footer = "IMPRESSION: Normal.\nDate of birth: 1970-01-01\nMedical record number: 1"
    assert extract_impression(footer) == "Normal."


def test_an_addendum_row_keeps_the_reports_impression(tmp_path: Path, caplog) -> None:
    reports = tmp_path / "reports.csv"
    pd.DataFrame(
        {
            "accession_number": ["A1", "A1", "A2", "A2"],
            "report": [
                "IMPRESSION: Dilated LV.",
                "ADDENDUM: images re-reviewed, no change.",
                "IMPRESSION: Normal study.",
                "IMPRESSION: Small pericardial effusion.",
            ],
        }
    ).to_csv(reports, index=False)
    with caplog.at_level("WARNING"):
        impressions = load_impressions(reports)
    assert impressions == {"A1": "Dilated LV.", "A2": "Small pericardial effusion."}
    assert "2 accession numbers have more than one row" in caplog.text


def test_reports_holding_the_impression_alone_say_which_heading_is_needed(
    tmp_path: Path, caplog
) -> None:
    """A RIS export of the conclusion text without its heading: every report is read as having
    no impression, and the warning tells the user what ingest looks for."""
    reports = tmp_path / "reports.csv"
    pd.DataFrame(
        {"accession_number": ["A1", "A2"], "report": ["Dilated LV.", "1. No LGE.\n2. Normal."]}
    ).to_csv(reports, index=False)
    with caplog.at_level("WARNING"):
        impressions = load_impressions(reports)
    assert impressions == {"A1": "", "A2": ""}
    assert "2 of 2 reports have no IMPRESSION section" in caplog.text
    assert "IMPRESSION:, CONCLUSION: or SUMMARY: heading" in caplog.text


def test_a_reports_csv_not_in_utf8_names_the_fix(tmp_path: Path) -> None:
    reports = tmp_path / "reports.csv"
    reports.write_bytes(
        "accession_number,report\nA1,IMPRESSION: Normal r\u00e9sum\u00e9.\n".encode("cp1252")
    )
    with pytest.raises(DataError, match="not UTF-8 text .*save it as UTF-8"):
        load_impressions(reports)


def test_a_reports_csv_without_its_header_row_is_refused_without_quoting_a_report(
    tmp_path: Path,
) -> None:
    reports = tmp_path / "reports.csv"
    report = "HOSPITAL CMR REPORT\nPatient: Aurelio Blackwood  MRN: 1522418200\nIMPRESSION: Normal."
    reports.write_text(f'I0040190438,"{report}"\nI0040190439,"{report}"\n', encoding="utf-8")
    with pytest.raises(DataError, match="needs columns accession_number,report") as raised:
        load_impressions(reports)
    assert "Blackwood" not in str(raised.value) and "1522418200" not in str(raised.value)
    assert "is the header row missing?" in str(raised.value)


def test_deid_helpers() -> None:
    assert age_band("045Y") == "40-49" and age_band("095Y") == "90+" and age_band("") == "unknown"
    assert age_band("", "19700615", "20240101") == "50-59"
    assert age_band("006M") == "0-9"
    assert sex_code("f") == "F" and sex_code("") == "unknown"
    salt, other = b"a" * 64, b"b" * 64
    assert pseudonym(salt, "study", "1.2.3") == pseudonym(salt, "study", "1.2.3")
    assert pseudonym(salt, "study", "1.2.3") != pseudonym(other, "study", "1.2.3")
    assert (
        scrub_text("Seen by DOE today, ref PID1", ["Doe^Jane", "PID1"])
        == "Seen by [removed] today, ref [removed]"
    )


def test_a_birth_date_written_with_separators_is_scrubbed(tmp_path: Path) -> None:
    """Exports spell the birth date 1970-01-31 or 31.01.1970 in folder and file names as often as
    DICOM's 19700131; a study date or another number with separators is kept."""
    src = tmp_path / "export"
    paths = ["Doe 1970-01-31/IM1", "scan 31.01.1970.pdf", "01_31_1970/x", "2019-07-31/1-2-3.txt"]
    rows = [{"path": str(src / path), "reason": "seen 31/1/1970"} for path in paths]
    out = deidentify_report(rows, src, {"DOE^JANE", "19700131"})
    assert [row["path"] for row in out] == [
        "[removed] [removed]/IM1",
        "scan [removed].pdf",
        "[removed]/x",
        "2019-07-31/1-2-3.txt",
    ]
    assert {row["reason"] for row in out} == {"seen [removed]"}
    impression = scrub_text("DOB 31/01/1970. Scar since 2019-07-31.", ["19700131"])
    assert impression == "DOB [removed]. Scar since 2019-07-31."


def test_chinese_and_japanese_names_are_scrubbed_as_written() -> None:
    """CJK names are written without a space and their given names are often two characters:
    a three-character minimum per name part kept them all."""
    identifiers = ["王^小明", "山田^太郎"]
    impression = scrub_text("王小明: LV normal. 山田 太郎 seen. 王 is a family name.", identifiers)
    assert impression == "[removed]: LV normal. [removed] [removed] seen. 王 is a family name."
    rows = [{"path": "/export/王小明/山田_太郎/IM1", "reason": "x"}]
    (row,) = deidentify_report(rows, Path("/export"), set(identifiers))
    assert row["path"] == "[removed]/[removed]_[removed]/IM1"


def _header(**changes) -> SliceHeader:
    base = SliceHeader(
        path="x", frame=-1, study_uid="1", series_uid="2", sop_uid="3", series_number=1,
        series_description="CINE_SAX", accession="", patient_id="", patient_name="",
        birth_date="", study_date="", patient_age="", sex="", manufacturer="", scanner="",
        field_strength=1.5, rows=8, cols=8, pixel_spacing=(1.0, 1.0), position=(0.0, 0.0, 0.0),
        orientation=SAX, trigger_time=None, temporal_index=None, instance_number=None,
        inversion_time=None,
    )  # fmt: skip
    return replace(base, **changes)


def test_phase_ordering_fallbacks() -> None:
    by_trigger = [
        _header(sop_uid=str(i), trigger_time=t, instance_number=i)
        for i, t in enumerate([50.0, 0.0, 25.0])
    ]
    ordered, note = order_phases(by_trigger)
    assert [h.trigger_time for h in ordered] == [0.0, 25.0, 50.0] and note is None
    by_temporal = [_header(temporal_index=t, instance_number=9 - t) for t in (3, 1, 2)]
    ordered, note = order_phases(by_temporal)
    assert [h.temporal_index for h in ordered] == [1, 2, 3] and "TemporalPositionIdentifier" in note
    by_instance = [_header(instance_number=n) for n in (2, 3, 1)]
    ordered, note = order_phases(by_instance)
    assert [h.instance_number for h in ordered] == [1, 2, 3] and "InstanceNumber" in note


def test_one_trigger_time_for_every_phase_orders_by_the_other_tags() -> None:
    """Non-gated (real-time) cine writes TriggerTime 0 on every image: those are phases, not
    duplicates; a repeated time among distinct ones still marks a duplicate."""
    ungated = [_header(sop_uid=str(n), trigger_time=0.0, instance_number=n) for n in (3, 1, 2)]
    ordered, note = order_phases(ungated)
    assert [h.instance_number for h in ordered] == [1, 2, 3]
    assert "the same TriggerTime" in note and "InstanceNumber" in note
    repeated = [
        _header(sop_uid=str(n), trigger_time=float(n // 2), instance_number=n) for n in (0, 1, 2)
    ]
    ordered, note = order_phases(repeated)
    assert [h.instance_number for h in ordered] == [0, 2] and "duplicate" in note


def test_sax_levels_from_geometry() -> None:
    pooled = [(Location(float(i), []), None) for i in range(10)]
    levels = select_sax_levels(pooled)  # type: ignore[arg-type]
    assert [levels[s][0].distance for s in ("sax_base", "sax_mid", "sax_apex")] == [2, 4, 7]
    assert list(select_sax_levels(pooled[:1])) == ["sax_mid"]  # type: ignore[arg-type]


def test_an_incomplete_sax_slice_fills_no_level_and_shifts_none() -> None:
    """Of three slices, an incomplete mid leaves base and apex on their own slices (choosing
    among the two complete ones alone would have called the mid slice base or apex)."""
    pooled = [(Location(float(i), [], complete=i != 1), None) for i in range(3)]
    levels = select_sax_levels(pooled)  # type: ignore[arg-type]
    assert {slot: pair[0].distance for slot, pair in levels.items()} == {
        "sax_base": 0.0,
        "sax_apex": 2.0,
    }


def _stack(number: int, distances: list[float]) -> SeriesStack:
    locations = [Location(d, [], number) for d in distances]
    return SeriesStack(
        f"uid{number}", "CINE_SAX", number, (8, 8), (1.0, 1.0), None, locations, False
    )


def test_a_repeated_slice_position_keeps_the_newest_series() -> None:
    """A stack acquired again (breath-hold failed) is replanned a little off the first one: its
    positions are within the tolerance but not equal, and the newer acquisition is the one kept."""
    first, again = _stack(5, [0.0, 10.0, 20.0]), _stack(9, [10.3, 19.8])
    pooled, repeats = pooled_locations([first, again])
    assert [(loc.distance, stack.series_number) for loc, stack in pooled] == [
        (0.0, 5),
        (10.3, 9),
        (19.8, 9),
    ]
    assert [(dropped.series_number, kept.series_number) for dropped, kept in repeats] == [
        (5, 9),
        (5, 9),
    ]


def test_resampling_keeps_millimetres_and_cycle() -> None:
    grid = GridConfig(frames=8, size=32, fov_mm=160.0)
    fine = np.zeros((1, 200, 200), np.float32)
    fine[0, 75:125, 75:125] = 1.0  # 50 x 0.8 mm = 40 mm square
    coarse = np.zeros((1, 40, 40), np.float32)
    coarse[0, 15:25, 15:25] = 1.0  # 10 x 4 mm = 40 mm square
    for image, spacing in ((fine, 0.8), (coarse, 4.0)):
        area = resample_fov(image, (spacing, spacing), grid).sum() * grid.spacing_mm**2
        assert abs(area - 1600.0) < 80.0
    phases = np.arange(4, dtype=np.float32)[:, None, None] * np.ones((4, 2, 2), np.float32)
    cycle = resample_cycle(phases, 8)[:, 0, 0]
    np.testing.assert_allclose(cycle, [0, 0.5, 1, 1.5, 2, 2.5, 3, 1.5])
    assert to_uint8(np.array([0.0, 1.0, 1000.0])).tolist()[:2] == [0, 0]


def test_to_uint8_sampled_percentiles_match_exact_ones() -> None:
    """A view larger than the percentile sample maps within a grey level of exact percentiles."""
    rng = np.random.default_rng(0)
    view = rng.gamma(2.0, 150.0, size=(16, 64, 64)).astype(np.float32)
    valid = np.zeros((64, 64), bool)
    valid[4:60, :] = True
    valid = np.broadcast_to(valid, view.shape)
    low, high = np.percentile(view[valid], [LOW_PERCENTILE, HIGH_PERCENTILE])
    exact = np.rint(np.clip((view - low) * 255.0 / (high - low), 0, 255)) * valid
    mapped = to_uint8(view, valid)
    assert view[valid].size > PERCENTILE_SAMPLES and mapped.dtype == np.uint8
    assert not mapped[~valid].any()
    difference = np.abs(mapped.astype(float) - exact)
    assert difference.mean() < 1.0 and difference.max() <= 6


def test_acdc_layout_ingests_sax_with_labels(tmp_path: Path) -> None:
    src = tmp_path / "acdc"
    for number, group in ((1, "DCM"), (2, "NOR")):
        case = src / f"patient{number:03d}"
        case.mkdir(parents=True)
        volume = np.zeros((40, 36, 6, 10), np.float32)  # X, Y, slices, phases
        volume[10:30, 8:28] = np.linspace(100, 400, 10)
        nib.save(
            nib.Nifti1Image(volume, np.diag([1.5, 1.5, 10.0, 1.0])),
            case / f"patient{number:03d}_4d.nii.gz",
        )
        (case / "Info.cfg").write_text(f"ED: 1\nES: 5\nGroup: {group}\nHeight: 180\nNbFrame: 10\n")
    out = tmp_path / "dataset"
    summary = ingest(src, out, site="acdc")
    assert summary.studies_written == 2
    studies = pd.read_parquet(out / "studies.parquet")
    assert set(studies["views"]) == {"sax_base,sax_mid,sax_apex"} and set(studies["source"]) == {
        "nifti"
    }
    assert (
        studies["cine_phases"].tolist() == [10, 10] and studies["matrix"].tolist() == ["36x40"] * 2
    )
    labels = pd.read_csv(out / "acdc_labels.csv").set_index("accession_number")
    assert labels.loc["patient001", "nicm"] == 1 and labels.loc["patient002", "normal"] == 1
    assert "Group" not in studies.columns and "nicm" not in studies.columns
    video = np.load(out / "tensors" / f"{studies.study_id[0]}.npy")
    assert video.shape == (len(VIEW_SLOTS), 16, 64, 64) and video[:3].any() and not video[3:].any()
