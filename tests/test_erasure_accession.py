"""``forget`` finds the withdrawn studies by accession number too: a copied labels, linkage or
reports table keyed by accession number loses their rows (a whole value: ``ACC0001`` is not
``ACC00012``), another dataset's is listed, and any other file naming one is listed. (That
``forget`` itself does so, printing and recording no accession number, not even in a path:
``test_erasure``'s dry-run and apply tests.)"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

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


def test_an_accession_number_of_digits_keeps_its_leading_zeros(tmp_path: Path) -> None:
    """Read as text, not as a number: ``00123`` is neither ``123`` nor ``001234``."""
    table = tmp_path / "linkage.csv"
    table.write_text("study_id,accession_number\nsa,00123\nsb,123\nsc,001234\n")
    found = find_mentions(tmp_path, [], ["s" + "0" * 15], ["00123"])
    assert found.rows == {table: 1} and not found.other
    rewrite_mentions(found, set(), "now", 1, ["00123"])
    assert table.read_text() == "study_id,accession_number\nsb,123\nsc,001234\n"
