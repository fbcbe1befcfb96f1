"""The Case browser as a student meets it: filters readable at 800 px, and a more-like-this
search (and the Few-shot picker) saying what its example study is."""

from __future__ import annotations

import pandas as pd

from dashboard.search import EXAMPLE_CHARS, example_line


def test_the_filters_wrap_at_a_readable_width_and_say_all_when_empty(app) -> None:
    """Six fixed columns cut an 800 px window's filter boxes to "Ch" (of "Choose options") and
    broke their labels letter by letter ("Manufact / urer", "dysfuncti / on")."""
    from dashboard_fixtures import block_holding

    at = app("pages/browser.py")
    boxes = [m for m in at.multiselect if m.key and m.key.startswith("b-")]
    assert {"b-site", "b-label-lge"} <= {m.key for m in boxes}, [m.key for m in boxes]
    for box in boxes:
        row = block_holding(at.main, lambda e, key=box.key: getattr(e, "key", None) == key)
        assert row is not None and row.proto.WhichOneof("type") != "column", (box.key, row.proto)
        assert box.placeholder == "All", box.key


def test_more_like_this_says_what_the_example_study_is(app) -> None:
    """The example was an ID in a picker: its own card is never a match, so nothing on the page
    said what the ranked studies were like."""
    from dashboard.settings import Settings

    studies = pd.read_parquet(Settings.from_env().active_dataset() / "studies.parquet")
    row = studies.iloc[3]
    at = app("pages/browser.py", like_id=str(row["study_id"]))
    assert at.radio(key="b-mode").value == "More like this"
    [line] = [c.value for c in at.caption if c.value.startswith("Example: ")]
    assert str(row["impression"])[:40] in line and str(row["site"]) in line, line


def test_the_example_line_is_short_and_names_a_missing_report() -> None:
    long = pd.DataFrame(
        {"study_id": ["a", "b"], "site": ["x", "y"], "impression": ["word " * 200, None]}
    )
    line = example_line(long, "a")
    assert line.startswith("x · word") and line.endswith("…") and len(line) < EXAMPLE_CHARS + 10
    assert example_line(long, "b") == "y · (no report impression)"
    assert example_line(long, "zzz") == ""


def test_the_few_shot_picker_says_what_the_picked_study_is(app) -> None:
    """The Few-shot page's study picker showed an ID only: nothing said what was being added."""
    from dashboard.settings import Settings

    studies = pd.read_parquet(Settings.from_env().active_dataset() / "studies.parquet")
    row = studies.iloc[5]
    at = app("pages/fewshot.py")
    at.selectbox(key="fs-pick").set_value(str(row["study_id"])).run()
    lines = [c.value for c in at.caption if str(row["impression"])[:40] in c.value]
    assert len(lines) == 1 and lines[0].startswith(str(row["site"])), lines


def test_the_results_say_what_their_similarity_means(app) -> None:
    """Cards read "similarity 0.999" (more like this) or "0.456" (text) with no word on the scale."""
    at = app("pages/browser.py")
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    captions = " ".join(c.value for c in at.caption)
    assert "Similarity: the cosine of the two embeddings" in captions, captions
