"""``forget`` finds an accession number of digits written as a decimal (pandas writes an integer
column with a gap as floats): ``70000001.0`` or ``7.0000001e+07`` in a CSV, TSV or JSON, the
float 70000001.0 in a ``.parquet`` column of any name. A key column's rows go with ``--apply``
(the rows kept byte for byte); ``70000001.5``, ``700000010.0`` and a number under 6 digits do
not match."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from model.erasure_files import wanted_of
from model.erasure_numbers import cell_pattern, token_pattern
from model.erasure_scan import find_mentions, rewrite_mentions
from model.erasure_text import names_any

SID, ACC = "s00000000000000a", "70000001"
NEAR = [70000001.5, 700000010.0, 70000002.0]  # a decimal, a longer number, another study


def _tables(root: Path) -> None:
    """A labels table saved again by pandas (its accession column float: it had a gap), as CSV
    and TSV; a JSON and a CSV naming the number elsewhere; files of near misses only."""
    root.mkdir()
    labels = pd.DataFrame({"accession_number": [70000001.0, np.nan, *NEAR], "lge": [1, 0, 1, 0, 1]})
    labels.to_csv(root / "labels.csv", index=False)
    labels.to_csv(root / "labels.tsv", index=False, sep="\t")
    (root / "prior.json").write_text('{"prior": 7.0000001e+07}')  # numpy's savetxt writes so
    pd.DataFrame({"study_id": ["sb"], "prior": [f"{ACC}.00"]}).to_csv(
        root / "notes.csv", index=False
    )
    (root / "near.json").write_text(json.dumps({"a": NEAR, "b": "70000001.05"}))
    pd.DataFrame({"accession_number": NEAR}).to_csv(root / "near.csv", index=False)


def test_decimal_cells_found_rows_removed_others_kept_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "root"
    _tables(root)
    before = (root / "labels.csv").read_text().splitlines(keepends=True)
    found = find_mentions(root, [], [SID], [ACC])
    assert found.rows == {root / "labels.csv": 1, root / "labels.tsv": 1}
    assert sorted(found.other) == [root / "notes.csv", root / "prior.json"]
    rewrite_mentions(found, {SID}, "now", 1, [ACC])
    assert (root / "labels.csv").read_text().splitlines(keepends=True) == [
        line for line in before if not line.startswith("70000001.0,")
    ]
    kept = pd.read_csv(root / "labels.tsv", sep="\t")["accession_number"].tolist()
    assert kept[1:] == NEAR and np.isnan(kept[0])


def test_decimal_forms_and_near_misses() -> None:
    """The patterns themselves: whole cells of a key column, tokens of any text."""
    cell, token = re.compile(cell_pattern([ACC, "0070000002"]) or ""), token_pattern([ACC])
    for text in ("70000001.0", "70000001.00", "70000001.", "7.0000001e7", "7.0000001E+07"):
        assert cell.fullmatch(text) and re.search(token, f"x {text},"), text
    assert cell.fullmatch("70000002.0")  # 0070000002 as a number keeps no leading zeros
    for text in ("70000001.5", "700000010.0", "170000001.0", "70000001.05", "7.00000015e7"):
        assert not cell.fullmatch(text) and not re.search(token, f"x {text},"), text
    assert cell_pattern(["12345"]) is None  # under 6 digits: a count as likely


def test_parquet_float_columns_of_any_name(tmp_path: Path) -> None:
    """A float column holding the number exactly lists the table (or loses its rows, an
    accession-number column); a float32 column, a near miss or a short number does not."""
    floats = pa.array([70000001.0, None, *NEAR], pa.float64())
    pq.write_table(pa.table({"accession_number": floats, "lge": [1] * 5}), tmp_path / "l.parquet")
    pq.write_table(pa.table({"prior": floats, "id": list("abcde")}), tmp_path / "p.parquet")
    pq.write_table(pa.table({"score": pa.array(NEAR, pa.float64())}), tmp_path / "near.parquet")
    single = pa.array([70000000.0], pa.float32())  # 70000001 as float32 reads 70000000
    pq.write_table(pa.table({"x": single}), tmp_path / "f32.parquet")
    found = find_mentions(tmp_path, [], [SID], [ACC])
    assert found.rows == {tmp_path / "l.parquet": 1}
    assert found.other == [tmp_path / "p.parquet"]
    rewrite_mentions(found, {SID}, "now", 1, [ACC])
    kept = pq.read_table(tmp_path / "l.parquet").column("accession_number").to_pylist()
    assert kept == [None, *NEAR]
    short = tmp_path / "short"
    short.mkdir()
    pq.write_table(pa.table({"count": pa.array([12345.0], pa.float64())}), short / "c.parquet")
    (short / "c.csv").write_text("count,accession_number\n12345.0,12345.0\n")
    found = find_mentions(short, [], [SID], ["12345"])
    assert not found.rows and not found.other


def test_names_any_agrees_with_searching_the_whole_text_for_the_token() -> None:
    """``names_any`` tries the token only where a needle begins; on seeded random texts built
    of the numbers' forms, near misses and separators (XML's included) it finds exactly what a
    search of the whole text for the token finds, ids aside."""
    accessions = [ACC, "70000000", "ACC0001", "0070000002"]
    wanted = wanted_of([SID], accessions)
    assert wanted.accession_token is not None
    pieces = [
        "70000001", "70000001.0", "7.0000001e7", "7.0000001E+07", "70000000", "7e7", "7.E07",
        "7.0e+07", "ACC0001", "0070000002", "70000002.0", "70000001.5", "700000010.0",
        "170000001", "ACC00012", "XACC0001", "7.00000015e7", "70000001.05", "7.", "e", "0",
        "x", ".", "<v>", "</v>", '="', '"', ",", " ", "\n", "-", "+",
    ]  # fmt: skip
    rng = np.random.default_rng(7)
    found = 0
    for _ in range(3000):
        text = "".join(rng.choice(pieces, size=int(rng.integers(1, 12)))).encode()
        expected = wanted.accession_token.search(text) is not None
        assert names_any(text, wanted) == expected, text
        found += expected
    assert 300 < found < 2700  # both answers were tried often
    assert names_any(f"<t>{SID}</t>".encode(), wanted)
