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
    # a header click in the browser reorders only the rows it was sent
    assert f"column header sorts only these {TABLE_ROWS:,}, not all {TABLE_ROWS + 500:,}" in caption
    listed, caption = listed_selection(chosen.head(3))
    assert listed["study_id"].tolist() == ["s0", "s1", "s2"] and "of" not in caption


def _counting(monkeypatch: pytest.MonkeyPatch, owner: object, name: str) -> list[int]:
    """Count the calls of ``owner.name`` (still made)."""
    calls: list[int] = []
    real = getattr(owner, name)

    def counted(*args: object, **kwargs: object) -> object:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(owner, name, counted)
    return calls


def test_a_findings_evaluation_is_looked_up_without_hashing_its_series(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Zero-shot page looks up every labelled finding's AUC on each rerun: the lookup reads
    the scores, labels and patient keys as bytes once, never through pandas' element-by-element
    hashing (0.37 s of a rerun at 20,000 studies), and a changed score is evaluated again."""
    import streamlit as st

    from dashboard.context import Studio
    from dashboard.settings import Settings

    root = tmp_path / "data"
    Settings(root).write_active(dataset=make_tiny_dataset(root / "ds" / "tiny", n=8))
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    ids = Studio().studies()["study_id"].to_numpy()
    probs = pd.Series(np.linspace(0.1, 0.9, 8), index=ids, name="lge")
    labels = pd.Series([0.0, 1.0] * 4, index=ids, name="lge")
    st.cache_data.clear()
    hashed = _counting(monkeypatch, pd.util, "hash_pandas_object")
    evaluated = _counting(monkeypatch, cache, "evaluate_finding")
    first = Studio().finding_evaluation(probs, labels, 0.5)
    again = Studio().finding_evaluation(probs.copy(), labels.copy(), 0.5)
    assert first is not None and again is not None and again.auc == first.auc
    assert len(evaluated) == 1
    changed = Studio().finding_evaluation(probs[::-1].set_axis(ids), labels, 0.5)
    assert len(evaluated) == 2 and changed is not None and changed.auc != first.auc
    Studio().finding_evaluation(probs, labels, 0.7)  # another threshold: its own metrics
    assert len(evaluated) == 3
    assert hashed == []
    st.cache_data.clear()


def test_a_few_shot_evaluation_is_looked_up_without_hashing_its_tables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Few-shot page's AUC against labels, looked up on each rerun, as the Zero-shot
    page's: by the bytes of its scores, truth and patient keys, not pandas' hashing."""
    import streamlit as st

    from dashboard import few_shot
    from dashboard.context import Studio
    from dashboard.settings import Settings

    root = tmp_path / "data"
    Settings(root).write_active(dataset=make_tiny_dataset(root / "ds" / "tiny", n=8))
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    ids = Studio().studies()["study_id"].to_numpy()
    example = ["example"] + [""] * 7
    scores = pd.DataFrame({"score": np.linspace(0.9, 0.1, 8), "example": example}, index=ids)
    truth = pd.Series([1.0, 0.0] * 4, index=ids)
    st.cache_data.clear()
    hashed = _counting(monkeypatch, pd.util, "hash_pandas_object")
    evaluated = _counting(monkeypatch, few_shot, "evaluate_ranking")
    first = Studio().few_shot_evaluation(scores, truth, "LGE")
    again = Studio().few_shot_evaluation(scores.copy(), truth.copy(), "LGE")
    assert again.auc == first.auc and len(evaluated) == 1
    Studio().few_shot_evaluation(scores, 1.0 - truth, "LGE")
    assert len(evaluated) == 2 and hashed == []
    st.cache_data.clear()


def test_the_maps_hover_text_is_escaped_column_by_column_not_study_by_study(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every rerun of the Embeddings page builds each study's hover text: escaped a column at a
    time (a few calls whatever the studies), as ``plotly_text`` would escape each value."""
    from dashboard import map_figure
    from dashboard.inert_text import plotly_text

    def coords(n: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "x": np.arange(n, dtype=float),
                "y": np.zeros(n),
                "study_id": [f"s{i}" for i in range(n)],
                "site": ["<b>north</b> & co", "south"] * (n // 2),
                "age": [float(i % 3) if i % 4 else np.nan for i in range(n)],
            }
        )

    calls = _counting(monkeypatch, map_figure, "plotly_text")
    small = map_figure.embedding_map(coords(10), hover=("site", "age")).data[0].customdata
    few = len(calls)
    large = map_figure.embedding_map(coords(400), hover=("site", "age")).data[0].customdata
    assert len(calls) - few == few, "escaping calls grew with the studies"
    assert [list(row) for row in small[:4]] == [
        ["s0", plotly_text("<b>north</b> & co"), "unknown"],
        ["s1", "south", "1"],
        ["s2", plotly_text("<b>north</b> & co"), "2"],
        ["s3", "south", "0"],
    ]
    assert len(large) == 400 and list(large[399]) == ["s399", "south", "0"]
