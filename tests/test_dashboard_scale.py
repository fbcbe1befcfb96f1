"""The dashboard at a large hospital's scale (20,000-50,000 studies): what each rerun does must
not grow with a copy of the whole study table (bench/bench_scale.py measures the pages)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tiny_dataset import make_tiny_dataset

from dashboard import cache
from dashboard.studies import TABLE_ROWS, listed_selection
from model.schema import VIEW_SLOTS


def test_the_studies_table_is_shared_with_the_dataset_not_copied_per_call(tmp_path: Path) -> None:
    path = str(make_tiny_dataset(tmp_path / "ds", n=4))
    version = cache.version_of(Path(path) / "studies.parquet")
    held = cache.dataset(path, version).studies
    table = cache.studies(path, version)
    assert np.shares_memory(table["cine_phases"].to_numpy(), held["cine_phases"].to_numpy())
    before = held["cine_phases"].copy()
    table["cine_phases"] = -1  # a page changing its table ...
    table.loc[0, "site"] = "changed"
    assert held["cine_phases"].equals(before)  # ... leaves the cached dataset's as it was
    assert held.loc[0, "site"] != "changed"
    assert cache.studies(path, version)["cine_phases"].equals(before)


def test_a_case_cards_frames_are_found_without_reindexing_the_study_table(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each case card of the Case browser and Zero-shot pages, and the Studies case view, reads
    one study: by its row, not by a copy of the whole table indexed by study id."""
    path = str(make_tiny_dataset(tmp_path / "ds", n=4))
    version = cache.version_of(Path(path) / "studies.parquet")
    study_id = cache.studies(path, version)["study_id"].iloc[2]

    def reindexed(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the whole study table was indexed to read one study")

    monkeypatch.setattr(pd.DataFrame, "set_index", reindexed)
    frames = cache.study_frames(path, version, study_id)
    assert set(frames) == set(VIEW_SLOTS)
    assert frames["lge_4ch"].shape[0] == 1 and frames["sax_mid"].shape[0] > 1


def test_a_map_selection_of_many_studies_lists_a_bounded_table() -> None:
    """A lasso over a large site's embedding map picks tens of thousands of studies: the table
    below the map lists as many as the Studies page does, and says how many were picked."""
    chosen = pd.DataFrame(
        {"study_id": [f"s{i}" for i in range(TABLE_ROWS + 500)], "patient_key": "p", "site": "a"}
    )
    listed, caption = listed_selection(chosen)
    assert len(listed) == TABLE_ROWS and "patient_key" not in listed
    assert f"{TABLE_ROWS:,} of {TABLE_ROWS + 500:,} selected" in caption
    listed, caption = listed_selection(chosen.head(3))
    assert listed["study_id"].tolist() == ["s0", "s1", "s2"] and "of" not in caption
