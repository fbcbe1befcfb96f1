"""bench/bench_storage_index.py on a tiny index (the figures are in RESULTS.md): the deleted
runs' collections and the segment folder a rebuild left are listed, cleaned and counted."""

from __future__ import annotations

from pathlib import Path

from bench.bench_storage_index import build, measure


def test_the_bench_lists_and_frees_the_deleted_checkpoints_indexes(tmp_path: Path) -> None:
    kept = build(tmp_path / "root", studies=6, dim=8, checkpoints=3, deleted=2)
    result = measure(tmp_path / "root")
    assert len(result["listing"]) == 2 and all("6 studies" in line for line in result["listing"])
    whys = sorted(why for why, _ in result["removals"].values())
    assert whys[0].endswith("Chroma deleted but left on disk")  # the rebuilt index's old files
    assert whys[1:] == ["case indexes: of a checkpoint no longer under the data root"] * 2
    assert result["before"]["segment_folders"] == 4 and result["after"]["segment_folders"] == 1
    assert result["freed_bytes"] > result["would_free_bytes"] > 0  # and the database compacted
    assert result["after"]["database_free"] == "0 B"
    assert not any(kept[0] in name for name in result["removals"])
