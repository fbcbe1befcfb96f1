"""``forget`` finds a withdrawn study by a file's or folder's NAME (a whole token: ``ACC0001``
is not ``ACC00012``), in ``.npz``/``.npy`` arrays and in a ``.parquet``'s integer columns: a
per-study result so named is removed, an array file keyed by the studies loses their rows, the
rest is listed; the summary and the record hold neither the id nor the accession number."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.erasure import Targets
from model.erasure_files import wanted_of
from model.erasure_names import is_named
from model.erasure_report import Erasure, summary_text, write_record
from model.erasure_scan import find_mentions, rewrite_mentions

SID, KEPT, ACC, NEAR = "s00000000000000a", "s00000000000000b", "ACC0001", "ACC00012"


def _named_root(root: Path) -> Path:
    """Files and folders named after the withdrawn study (and one near miss)."""
    (root / "exports" / ACC).mkdir(parents=True)
    (root / "exports" / ACC / "image.dcm").write_bytes(b"dicom")
    for name in (f"{ACC}_attention.png", "acc0001-report.pdf", f"{SID}.json", f"{NEAR}.png"):
        (root / name).write_bytes(b"picture")
    (root / f"{ACC}.dcm").write_bytes(b"dicom")
    example_set = {"name": "lge", "positive": [KEPT], "negative": []}
    (root / f"{ACC}_set.json").write_text(json.dumps(example_set))  # an example set: listed
    pd.DataFrame({"study_id": [SID, KEPT]}).to_csv(root / f"{ACC}_scores.csv", index=False)
    pd.DataFrame({"study_id": [SID]}).to_csv(root / f"{ACC}_only.csv", index=False)
    (root / "other").mkdir()
    (root / "other" / "dataset.json").write_text("{}")
    (root / "other" / f"{ACC}.png").write_bytes(b"picture")
    return root


def test_names_per_study_results_removed_others_listed(tmp_path: Path) -> None:
    root = _named_root(tmp_path / "root")
    found = find_mentions(root, [], [SID], [ACC])
    removed = {f"{ACC}_attention.png", "acc0001-report.pdf", f"{SID}.json", f"{ACC}_only.csv"}
    assert {p.name for p in found.removed} == removed
    listed = {root / "exports" / ACC, root / f"{ACC}.dcm", root / f"{ACC}_scores.csv"}
    listed |= {root / f"{ACC}_set.json"}
    assert set(found.named) == listed | {root / "other" / f"{ACC}.png"}
    rewrite_mentions(found, {SID}, "now", 1, [ACC])
    assert not any((root / name).exists() for name in removed)
    assert (root / f"{NEAR}.png").is_file() and (root / "other" / f"{ACC}.png").is_file()
    assert (root / "exports" / ACC / "image.dcm").is_file() and (root / f"{ACC}.dcm").is_file()
    assert pd.read_csv(root / f"{ACC}_scores.csv")["study_id"].tolist() == [KEPT]


def test_a_name_holds_an_id_or_accession_number_as_a_whole_token() -> None:
    wanted = wanted_of([SID], [ACC, "2024-17"])
    for name in (f"{ACC}.png", "acc0001_x.pdf", f"{SID.upper()}.json", "scan_2024-17.png"):
        assert is_named(name, wanted), name
    for name in (f"{NEAR}.png", f"x{ACC}.png", "2024-170.png", "12024-17.png"):
        assert not is_named(name, wanted), name
    short = wanted_of([SID], ["1234", "A-12"])  # too short to tell from a step or a count
    assert not is_named("epoch_1234.png", short) and not is_named("fold_a-12.png", short)


def test_summary_and_record_hold_neither_id_nor_accession(tmp_path: Path) -> None:
    root = _named_root(tmp_path / "root")
    erasure = Erasure(tmp_path / "ds", root, Targets([SID], [ACC]), given=1)
    erasure.mentions = find_mentions(root, [], [SID], [ACC])
    texts = [summary_text(erasure, apply=False), write_record(erasure).read_text()]
    for text in texts:
        assert "[names a withdrawn study]" in text
        assert SID not in text and ACC.lower() not in text.lower()
    assert "would remove the file [names a withdrawn study] (a per-study result" in texts[0]
    assert "named after one of them (rename or remove it yourself): exports/[names" in texts[0]


def _arrays(root: Path) -> None:
    """A compressed ``.npz`` keyed by accession numbers, one keyed by study ids all withdrawn,
    one naming the study in an array of no key, one of object arrays, and an ``.npy``."""
    root.mkdir()
    features = np.arange(12, dtype=np.float32).reshape(3, 4)
    keyed = {"accession_numbers": np.array([ACC, NEAR, "ACC0002"]), "features": features}
    np.savez_compressed(root / "keyed.npz", **keyed, model=np.array("clip"))
    np.savez(root / "only.npz", study_ids=np.array([SID]), scores=np.ones((1, 2)))
    np.savez(root / "loose.npz", labels=np.array(["x", ACC]), matrix=np.eye(2))
    np.savez(root / "pickled.npz", ids=np.array([SID, 1], dtype=object))
    np.save(root / "names.npy", np.array([[KEPT], [SID]]))


def test_array_files_lose_their_keyed_rows_others_listed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _arrays(root)
    found = find_mentions(root, [], [SID], [ACC])
    assert found.rows == {root / "keyed.npz": 1, root / "only.npz": 1}
    assert found.removed == [root / "only.npz"]
    assert sorted(found.other) == [root / "loose.npz", root / "names.npy"]
    assert found.pickled == [root / "pickled.npz"]
    rewrite_mentions(found, {SID}, "now", 1, [ACC])
    with np.load(root / "keyed.npz") as data:
        assert data["accession_numbers"].tolist() == [NEAR, "ACC0002"]
        assert data["features"].tolist() == [[4, 5, 6, 7], [8, 9, 10, 11]]
        assert str(data["model"]) == "clip"
    with zipfile.ZipFile(root / "keyed.npz") as archive:
        assert archive.infolist()[0].compress_type == zipfile.ZIP_DEFLATED
    assert not (root / "only.npz").exists() and (root / "loose.npz").is_file()


def test_accession_numbers_of_digits_held_as_integers(tmp_path: Path) -> None:
    """A whole number: 70000001 is found, 700000012 is not; a key column loses its rows, a
    number in another column lists the table."""
    numbers = pa.array([70000001, 700000012, 70000002], pa.int64())
    pq.write_table(
        pa.table({"accession_number": numbers, "lge": [1, 0, 1]}), tmp_path / "l.parquet"
    )
    pq.write_table(pa.table({"prior": numbers, "id": ["a", "b", "c"]}), tmp_path / "p.parquet")
    np.savez(tmp_path / "k.npz", accession_number=numbers.to_numpy(), x=np.eye(3))
    found = find_mentions(tmp_path, [], [SID], ["70000001"])
    assert found.rows == {tmp_path / "l.parquet": 1, tmp_path / "k.npz": 1}
    assert found.other == [tmp_path / "p.parquet"]
    rewrite_mentions(found, {SID}, "now", 1, ["70000001"])
    kept = pq.read_table(tmp_path / "l.parquet").column("accession_number").to_pylist()
    assert kept == [700000012, 70000002]
    with np.load(tmp_path / "k.npz") as data:
        assert data["accession_number"].tolist() == [700000012, 70000002]
        assert data["x"].shape == (2, 3)


def test_accession_numbers_of_digits_held_as_floats_in_a_key_array(tmp_path: Path) -> None:
    """pandas makes an accession-number column with a gap float: a key array of floats loses
    the rows holding 70000001 exactly, and keeps 70000001.5, 700000010 and the gap; a float
    key of a number under 6 digits is not looked for (a count as likely); floats that are not
    a key are not read."""
    keys = np.array([70000001.0, np.nan, 70000001.5, 700000010.0, 70000002.0, 12345.0])
    np.savez(tmp_path / "k.npz", accession_number=keys, score=np.arange(6.0))
    np.savez(tmp_path / "k32.npz", accession_number=keys.astype(np.float32))
    np.savez(tmp_path / "prior.npz", prior=keys)
    found = find_mentions(tmp_path, [], [SID], ["70000001", "12345"])
    assert found.rows == {tmp_path / "k.npz": 1} and not found.other
    rewrite_mentions(found, {SID}, "now", 1, ["70000001", "12345"])
    with np.load(tmp_path / "k.npz") as data:
        assert np.array_equal(data["accession_number"], keys[1:], equal_nan=True)
        assert data["score"].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
