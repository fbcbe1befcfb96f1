"""The Zero-shot page's score table at a large site's scale: sorted and searched over every
study on the server, then cut to ``TABLE_ROWS`` rows, instead of every study sent to the browser
on each prompt change (2.4-3.1 MB at 20,000 studies) for its header sort and search."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard import score_listing
from dashboard.score_listing import listed_scores, score_sort_columns
from dashboard.studies import TABLE_ROWS
from dashboard.study_order import DATASET_ORDER


def scores_table(n: int) -> pd.DataFrame:
    """``shown_score_table``'s shape: probabilities, a predicted class, site and split."""
    rng = np.random.default_rng(0)
    lge = rng.random(n) * 0.9
    lge[n - 3] = 0.99  # the top study, far beyond the first TABLE_ROWS
    lge[5] = np.nan
    return pd.DataFrame(
        {
            "LGE": lge,
            "dx: HCM": rng.random(n),
            "predicted diagnosis": np.where(np.arange(n) % 7, "Normal", "HCM"),
            "site": np.where(np.arange(n) % 5, "internal", "External"),
            "split": "test",
        },
        index=pd.Index([f"s{i:06d}" for i in range(n)], name="study_id"),
    )


def test_a_sort_reaches_every_study_and_sends_a_bounded_table() -> None:
    table = scores_table(TABLE_ROWS + 700)
    listed, caption = listed_scores(table, "LGE", descending=True)
    assert len(listed) == TABLE_ROWS and listed.columns[0] == "study_id"
    assert listed["study_id"].iloc[0] == f"s{TABLE_ROWS + 697:06d}"  # the top of all studies
    top = table["LGE"].sort_values(ascending=False).head(TABLE_ROWS)
    assert listed["LGE"].tolist() == top.tolist()
    assert f"the first {TABLE_ROWS:,} of {TABLE_ROWS + 700:,} studies by LGE, descending" in (
        caption
    )
    assert "CSV below holds every study" in caption
    assert f"sorts only these {TABLE_ROWS:,}" in caption
    ascending, _ = listed_scores(table, "LGE", descending=False)
    assert ascending["LGE"].is_monotonic_increasing and not ascending["LGE"].isna().any()
    everything, _ = listed_scores(table.head(50), "LGE", descending=False)
    assert everything["study_id"].iloc[-1] == "s000005"  # a blank score last either way


def test_text_columns_sort_without_case_and_the_dataset_order_is_kept_or_reversed() -> None:
    table = scores_table(40)
    by_site, _ = listed_scores(table, "site", descending=False)
    assert by_site["site"].iloc[0] == "External" and by_site["site"].iloc[-1] == "internal"
    assert by_site["study_id"].iloc[0] == "s000000"  # stable: ties in dataset order
    kept, caption = listed_scores(table, DATASET_ORDER, descending=False)
    assert kept["study_id"].tolist() == table.index.tolist()
    assert caption == "40 studies in dataset order"
    reverse, _ = listed_scores(table, DATASET_ORDER, descending=True)
    assert reverse["study_id"].iloc[0] == "s000039"
    by_id, _ = listed_scores(table, "study_id", descending=True)
    assert by_id["study_id"].iloc[0] == "s000039"
    gone, _ = listed_scores(table, "a finding edited away", descending=False)
    assert gone["study_id"].tolist() == table.index.tolist()


def test_a_search_reaches_studies_beyond_the_listed_rows() -> None:
    """The browser's own search found any study among all those sent; it now reaches every
    study on the server: by id, site, split or predicted diagnosis, ignoring case."""
    table = scores_table(TABLE_ROWS + 700)
    found, caption = listed_scores(table, DATASET_ORDER, False, f" S{TABLE_ROWS + 650:06d} ")
    assert found["study_id"].tolist() == [f"s{TABLE_ROWS + 650:06d}"]
    assert caption == f"1 of {TABLE_ROWS + 700:,} studies in dataset order"
    hcm, caption = listed_scores(table, "LGE", True, "hcm")
    assert set(hcm["predicted diagnosis"]) == {"HCM"} and len(hcm) == len(table[::7])
    external, _ = listed_scores(table, DATASET_ORDER, False, "external")
    assert set(external["site"]) == {"External"}
    nothing, caption = listed_scores(table, DATASET_ORDER, False, "(no such")
    assert nothing.empty and caption.startswith("0 of")


def test_the_sort_choices_are_the_study_id_and_every_column() -> None:
    table = scores_table(8)
    assert score_sort_columns(table) == [DATASET_ORDER, "study_id", *table.columns]


def score_frame(at) -> pd.DataFrame:
    """The page's per-study table as sent (the one with a split column)."""
    return next(d.value for d in at.dataframe if {"study_id", "split"} <= set(d.value.columns))


@pytest.mark.slow
def test_the_page_sends_at_most_the_listed_rows_sorted_over_every_study(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The tiny dataset's studies stand for a large site's once the listed rows are cut to 3."""
    at = app("pages/zeroshot.py")
    every = score_frame(at)  # the tiny dataset's studies all fit
    assert not at.exception and len(every) > 3
    finding = str(every.columns[1])
    monkeypatch.setattr(score_listing, "TABLE_ROWS", 3)
    at.selectbox(key="zs-sort").set_value(finding).run()
    at.radio(key="zs-order").set_value("Descending").run()
    frame = score_frame(at)
    top = every.sort_values(finding, ascending=False, kind="stable").head(3)
    assert frame["study_id"].tolist() == top["study_id"].tolist()
    assert any(f"the first 3 of {len(every):,} studies" in c.value for c in at.caption)
    at.text_input(key="zs-find").input(str(every["study_id"].iloc[-1])).run()
    assert score_frame(at)["study_id"].tolist() == [every["study_id"].iloc[-1]]
    assert "Download scores CSV" in [b.label for b in at.download_button]  # every study
