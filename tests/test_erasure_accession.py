"""``forget`` finds the withdrawn studies by accession number too: a copied labels, linkage or
reports table keyed by accession number loses their rows (a whole value: ``ACC0001`` is not
``ACC00012``), another dataset's is listed, any other file naming one is listed, and no
accession number is printed or recorded, not even as part of a path."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from test_erasure import _forget, erasure_world

from model.erasure_scan import find_mentions, rewrite_mentions

GONE, NEAR, KEPT = "ACC0001", "ACC00012", "ACC0002"


def _root(root: Path) -> Path:
    """Copies of a dataset's tables keyed by accession number, and files merely naming one."""
    (root / "shared").mkdir(parents=True)
    accessions = [GONE, NEAR, KEPT]
    labels = pd.DataFrame({"accession_number": accessions, "lge": ["1", "0", "1"]})
    labels.to_csv(root / "shared" / "labels.csv", index=False)
    reports = pd.DataFrame({"AccessionNumber": [f" {GONE}", KEPT], "report": ["a", "b"]})
    reports.to_parquet(root / "shared" / "reports.parquet", index=False)
    noted = pd.DataFrame({"accession": [KEPT], "note": [f"same patient as {GONE}"]})
    noted.to_parquet(root / "shared" / "noted.parquet", index=False)
    (root / "near.txt").write_text(f"{NEAR} only\n")
    (root / "mail.txt").write_text(f"about {GONE}.\n")
    (root / "other").mkdir()
    (root / "other" / "dataset.json").write_text("{}")
    labels.to_csv(root / "other" / "labels.csv", index=False)
    return root


def test_tables_keyed_by_accession_lose_their_rows_whole_values_only(tmp_path: Path) -> None:
    root = _root(tmp_path / "root")
    found = find_mentions(root, [], ["s" + "0" * 15], [GONE])
    shared = root / "shared"
    assert found.rows == {shared / "labels.csv": 1, shared / "reports.parquet": 1}
    named = {root / "mail.txt", shared / "noted.parquet", root / "other" / "labels.csv"}
    assert set(found.other) == named  # near.txt (ACC00012) is not named
    rewrite_mentions(found, {"s" + "0" * 15}, "now", 1, [GONE])
    kept = pd.read_csv(shared / "labels.csv", dtype=str)["accession_number"].tolist()
    assert kept == [NEAR, KEPT]
    assert pd.read_parquet(shared / "reports.parquet")["AccessionNumber"].tolist() == [KEPT]
    assert len(pd.read_csv(root / "other" / "labels.csv")) == 3  # that dataset's own


def test_the_summary_and_record_never_show_an_accession_number(tmp_path, capsys) -> None:
    world = erasure_world(tmp_path)
    root = world["root"]
    (root / "shared").mkdir()
    pd.read_csv(world["src"].parent / "labels.csv", dtype=str).to_csv(
        root / "shared" / "labels.csv", index=False
    )
    (root / "shared" / f"{GONE}.txt").write_text(f"scan of {GONE}\n")
    assert _forget(world, "--accession", GONE) == 0
    dry = capsys.readouterr().out
    assert "would remove 1 rows of shared/labels.csv" in dry
    assert "shared/[names a withdrawn study]" in dry and GONE not in dry
    assert len(pd.read_csv(root / "shared" / "labels.csv")) == 2  # a dry run changes nothing

    assert _forget(world, "--accession", GONE, "--apply") == 0
    applied = capsys.readouterr().out
    assert GONE not in applied
    left = pd.read_csv(root / "shared" / "labels.csv", dtype=str)["accession_number"]
    assert left.tolist() == [KEPT]
    record = next((world["data"] / "erasures").glob("*.json")).read_text()
    assert GONE not in record and "shared/labels.csv" in json.dumps(json.loads(record))
