"""The Few-shot page over the tiny data root: examples added on the page, from the map's
selection and from case cards; the ranked table; the AUC against a label; saved sets."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from dashboard.few_shot import (
    SETS_KEY,
    add_examples,
    drop_unknown,
    example_set,
    keep_set,
    ranked_table,
    remove_examples,
    save_example_set,
)
from dashboard.settings import Settings
from model.errors import UserError
from model.example_set import ExampleSet

pytestmark = pytest.mark.slow


def texts(at: AppTest) -> str:
    return " ".join(str(p.value) for p in [*at.info, *at.caption, *at.warning, *at.markdown])


def add(at: AppTest, study_id: str, positive: bool) -> None:
    at.selectbox(key="fs-pick").set_value(study_id).run()
    at.button(key=f"fs-add-{positive}").click().run()


def only_set(at: AppTest) -> ExampleSet:
    (examples,) = at.session_state[SETS_KEY].values()
    return examples


def test_examples_picked_on_the_page_rank_the_others_and_meet_a_label(app) -> None:
    at = app("pages/fewshot.py")
    assert "add at least one example" in texts(at).lower()
    add(at, "s000001", True)
    add(at, "s000002", True)
    add(at, "s000003", False)
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert only_set(at).positive == ("s000001", "s000002")
    ranked = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    assert len(ranked) == 21 and not {"s000001", "s000002", "s000003"} & set(ranked["study_id"])
    assert ranked["score"].is_monotonic_decreasing
    assert {"site", "split", "impression"} <= set(ranked.columns)
    assert any(c.value.startswith("Score: cosine similarity") for c in at.caption)
    at.radio(key="fs-method").set_value("logistic").run()
    assert any(c.value.startswith("Score: the probability") for c in at.caption)
    assert (
        next(d.value for d in at.dataframe if "rank" in d.value.columns)["score"]
        .between(0, 1)
        .all()
    )
    at.selectbox(key="fs-label").set_value("lge").run()
    assert not at.exception and not at.error
    (auc,) = [m for m in at.metric if "AUC" in m.label]
    assert 0.0 <= float(auc.value) <= 1.0
    assert "over 21 studies with a known label" in texts(at)
    assert "the 3 examples and counter-examples and 0 other studies" in texts(at)


def test_the_logistic_method_asks_for_a_counter_example(app) -> None:
    at = app("pages/fewshot.py")
    add(at, "s000001", True)
    at.radio(key="fs-method").set_value("logistic").run()
    assert "needs at least one counter-example" in texts(at)
    assert not any("rank" in d.value.columns for d in at.dataframe)


def test_examples_gone_from_a_re_ingested_dataset_are_named_and_dropped(
    app, data_root: Path
) -> None:
    at = app("pages/fewshot.py")
    dataset = str(Settings.from_env().active_dataset())
    gone = "s0123456789abcde"  # shaped as ingest's IDs: named; gone-2 may be anything: not
    stale = ExampleSet("x", positive=("s000004", gone), negative=("gone-2",))
    at.session_state[SETS_KEY] = {dataset: stale}
    at.run()
    assert not at.exception and not at.error
    [warning] = [w.value for w in at.warning if "Dropped 2 example(s)" in w.value]
    assert f"{gone}, negative #1" in warning and "gone-2" not in warning
    assert only_set(at) == ExampleSet("x", positive=("s000004",))
    assert any("rank" in d.value.columns for d in at.dataframe)


def test_adding_from_the_map_or_a_card_and_removing() -> None:
    session: dict = {}
    _examples, said = add_examples(session, "ds-a", ["s1", "s2", "s3"], positive=True)
    assert "3 studies" in said and "examples" in said
    _examples, said = add_examples(session, "ds-a", ["s1", "s2", "s3"], positive=True)
    assert said == "all 3 studies already among the examples"  # not "Added 3"; no name yet
    _examples, said = add_examples(session, "ds-a", ["s2"], positive=False)  # moves across
    assert said == "Added s2 to the counter-examples (Few-shot page); 1 moved from the examples"
    keep_set(session, "ds-a", replace(example_set(session, "ds-a"), name="amyloidosis"))
    _examples, said = add_examples(session, "ds-a", ["s2"], positive=False)
    assert said == "s2 already among the counter-examples of “amyloidosis”"
    _examples, said = add_examples(session, "ds-a", ["s2", "s4"], positive=False)
    assert said.startswith("Added s4 to the counter-examples") and "; 1 already there" in said
    remove_examples(session, "ds-a", ["s4"])
    assert example_set(session, "ds-a") == ExampleSet("amyloidosis", ("s1", "s3"), ("s2",))
    assert example_set(session, "ds-b") == ExampleSet()  # each dataset its own set
    dropped = drop_unknown(session, "ds-a", ["s1", "s2"])
    assert dropped.startswith("Dropped 1 example(s) no longer in this dataset")
    assert "positive #2" in dropped and "s3" not in dropped  # not shaped like ingest's IDs
    assert drop_unknown(session, "ds-a", ["s1", "s2"]) == ""
    assert example_set(session, "ds-a").positive == ("s1",)


def test_the_ranked_table_leaves_out_the_examples() -> None:
    scores = pd.DataFrame(
        {"score": [0.1, 0.9, 0.5, 0.7], "example": ["", "example", "", "counter-example"]},
        index=pd.Index(["a", "b", "c", "d"], name="study_id"),
    )
    studies = pd.DataFrame(
        {"site": "x", "split": "test", "impression": list("ABCD")}, index=list("abcd")
    )
    table = ranked_table(scores, studies)
    assert table["study_id"].tolist() == ["c", "a"] and table["rank"].tolist() == [1, 2]
    assert list(table.columns) == ["rank", "study_id", "score", "site", "split", "impression"]
    np.testing.assert_allclose(table["score"], [0.5, 0.1])


def test_saved_sets_are_not_overwritten_silently(tmp_path: Path) -> None:
    settings = Settings(data_root=tmp_path)
    first = ExampleSet("amyloid", positive=("s1",))
    path = save_example_set(settings, first, "amyloid")
    assert path == tmp_path / "fewshot" / "amyloid.json" and ExampleSet.load(path) == first
    second = ExampleSet("amyloid", positive=("s2",))
    with pytest.raises(UserError, match="already exists"):
        save_example_set(settings, second, "amyloid")
    assert ExampleSet.load(path) == first
    save_example_set(settings, second, "amyloid", replaceable=[path])
    assert ExampleSet.load(path) == second
    with pytest.raises(UserError, match="class name '../out': use letters"):
        save_example_set(settings, second, "../out")


def test_a_case_card_adds_its_study_and_a_renamed_set_is_saved_and_loaded(
    app, data_root: Path
) -> None:
    zeroshot = app("pages/zeroshot.py")
    zeroshot.button(key="fs-examples-zs-0").click().run()
    zeroshot.button(key="fs-counter-examples-zs-1").click().run()
    assert not zeroshot.exception and not zeroshot.error
    carded = only_set(zeroshot)
    assert len(carded.positive) == 1 and len(carded.negative) == 1
    at = zeroshot.switch_page("pages/fewshot.py").run()
    assert only_set(at) == carded and any("rank" in d.value.columns for d in at.dataframe)
    dataset = str(Settings.from_env().active_dataset())
    at.text_input(key=f"fs-name:{dataset}").input("odd-ones").run()
    assert only_set(at).name == "odd-ones"
    at.button(key="fs-save").click().run()
    saved = data_root / "fewshot" / "odd-ones.json"
    assert ExampleSet.load(saved) == only_set(at)
    at.button(key="fs-clear").click().run()
    assert only_set(at).ids == ()
    at.selectbox(key="fs-saved").set_value("odd-ones").run()
    at.button(key="fs-load").click().run()
    assert only_set(at) == ExampleSet.load(saved)
    assert at.text_input(key=f"fs-name:{dataset}").value == "odd-ones"
    saved.unlink()


def test_the_maps_selection_is_added_as_counter_examples(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: [0, 1, 2])
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    listed = at.dataframe(key="e-table").value["study_id"].tolist()
    at.button(key="fs-counter-examples-e-map").click().run()
    assert not at.exception and not at.error
    assert only_set(at) == ExampleSet(negative=tuple(listed))
    assert any("3 studies" in t.proto.body for t in at.toast)


def test_selected_examples_are_removed_and_the_selection_does_not_outlive_them(app) -> None:
    at = app("pages/fewshot.py")
    for study_id in ("s000005", "s000006", "s000007"):
        add(at, study_id, True)
    (key,) = [d.key for d in at.dataframe if d.key and d.key.startswith("fs-list-Examples")]
    at.session_state[key] = {"selection": {"rows": [1, 2], "columns": [], "cells": []}}
    at.run()
    at.button(key="fs-remove-Examples").click().run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    assert only_set(at).positive == ("s000005",)
    assert not [b for b in at.button if b.key == "fs-remove-Examples"]  # nothing selected now


def test_the_method_and_label_survive_a_visit_to_add_from_another_page(app) -> None:
    at = app("pages/fewshot.py")
    add(at, "s000001", True)
    add(at, "s000002", False)
    at.radio(key="fs-method").set_value("logistic").run()
    at.selectbox(key="fs-label").set_value("nicm").run()
    at.switch_page("pages/zeroshot.py").run()
    at.button(key="fs-examples-zs-0").click().run()
    at.switch_page("pages/fewshot.py").run()
    assert not at.exception and not at.error
    assert at.radio(key="fs-method").value == "logistic"
    assert at.selectbox(key="fs-label").value == "nicm"
    assert [m.label for m in at.metric] == ["AUC against NICM"]


def upload(at: AppTest, examples: ExampleSet) -> None:
    box = next(u for u in at.get("file_uploader") if u.proto.id.endswith("fs-upload"))
    box.set_value((f"{examples.name}.json", examples.dumps().encode(), "application/json"))
    at.run()


def test_a_saved_set_chosen_after_an_upload_is_the_one_loaded(app, data_root: Path) -> None:
    at = app("pages/fewshot.py")
    box = next(u for u in at.get("file_uploader") if u.proto.id.endswith("fs-upload"))
    assert box.proto.max_upload_size_mb == 1  # its own limit: the app's is for DICOM zips
    uploaded = ExampleSet("uploaded", positive=("s000001",))
    upload(at, uploaded)
    at.button(key="fs-load-file").click().run()
    assert only_set(at) == uploaded
    saved = ExampleSet("chosen", positive=("s000002",), negative=("s000003",))
    saved.save(data_root / "fewshot" / "chosen.json")
    try:
        at.run()
        at.selectbox(key="fs-saved").set_value("chosen").run()
        at.button(key="fs-load").click().run()
        assert not at.exception and not at.error
        assert only_set(at) == saved  # not the upload, still in its box, again
    finally:
        (data_root / "fewshot" / "chosen.json").unlink()


def test_another_datasets_set_is_refused_and_the_set_in_hand_kept(app, data_root: Path) -> None:
    at = app("pages/fewshot.py")
    add(at, "s000001", True)
    path = data_root / "fewshot" / "elsewhere.json"
    ExampleSet("elsewhere", positive=("x-1", "x-2"), negative=("x-3",)).save(path)
    try:
        at.run()
        at.selectbox(key="fs-saved").set_value("elsewhere").run()
        at.button(key="fs-load").click().run()
        assert not at.exception
        errors = [e.value for e in at.error]
        assert any("none of the 3 studies" in e and "another dataset" in e for e in errors)
        assert only_set(at) == ExampleSet(positive=("s000001",))
        assert not at.warning  # not "dropped … re-imported since they were picked?"
    finally:
        path.unlink()


def test_a_large_sites_ranking_and_examples_list_only_their_first_rows(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every study of a large site, impressions and all, went to the browser on each rerun."""
    monkeypatch.setattr("dashboard.studies.TABLE_ROWS", 5)
    at = app("pages/fewshot.py")
    dataset = str(Settings.from_env().active_dataset())
    picked = tuple(f"s{i:06d}" for i in range(1, 8))
    at.session_state[SETS_KEY] = {dataset: ExampleSet(positive=picked)}
    at.run()
    assert not at.exception and not at.error
    ranked = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    assert ranked["rank"].tolist() == [1, 2, 3, 4, 5]
    assert any("17 other studies" in h.value for h in at.subheader)
    assert any("the first 5; the ranked CSV holds all 17" in c.value for c in at.caption)
    assert any("column header sorts only these 5, not all 17" in c.value for c in at.caption)
    (listed,) = [d.value for d in at.dataframe if d.key and d.key.startswith("fs-list-Examples")]
    assert listed["study_id"].tolist() == list(picked[:5])
    assert "**Examples** (7)" in [m.value for m in at.markdown]


def test_a_label_with_no_study_left_is_named_as_the_page_shows_it(app) -> None:
    at = app("pages/fewshot.py")
    dataset = str(Settings.from_env().active_dataset())
    ids = list(at.selectbox(key="fs-pick").options)
    at.session_state[SETS_KEY] = {
        dataset: ExampleSet(positive=tuple(ids[:12]), negative=tuple(ids[12:]))
    }
    at.run()
    at.radio(key="fs-method").set_value("logistic").run()
    at.selectbox(key="fs-label").set_value("lge").run()
    assert not at.exception and not at.error
    assert any(i.value.startswith("LGE: no studies with a known label are left") for i in at.info)


def test_the_label_comparison_can_cover_one_split(app) -> None:
    """The AUC of the test split alone counts only that split's studies (the model trained on
    the train split's reports), and says which studies it covers."""
    at = app("pages/fewshot.py")
    add(at, "s000001", True)
    add(at, "s000003", False)
    at.selectbox(key="fs-label").set_value("lge").run()
    assert "positive; all splits)" in texts(at)
    at.selectbox(key="fs-split").set_value("test").run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    ranked = next(d.value for d in at.dataframe if "rank" in d.value.columns)
    in_test = int((ranked["split"] == "test").sum())
    assert 0 < in_test < len(ranked)
    assert f"over {in_test} studies with a known label" in texts(at)
    assert "test split)" in texts(at)


def test_a_set_not_named_yet_is_worded_without_the_default_name(app) -> None:
    """Until the user names the class, the page says "the examples", not “class” (the set's
    default name, never typed: "most like “class” first" read as a class called class)."""
    at = app("pages/fewshot.py")
    dataset = str(Settings.from_env().active_dataset())
    add(at, "s000001", True)
    assert not at.exception and not at.error
    name_box = at.text_input(key=f"fs-name:{dataset}")
    assert name_box.value == "" and name_box.placeholder
    (heading,) = [s.value for s in at.subheader if "other studies" in s.value]
    assert "most like the examples first" in heading and "“" not in heading
    at.text_input(key=f"fs-name:{dataset}").input("amyloidosis").run()
    (heading,) = [s.value for s in at.subheader if "other studies" in s.value]
    assert "most like “amyloidosis” first" in heading
    assert at.text_input(key=f"fs-name:{dataset}").value == "amyloidosis"


def test_the_auc_interval_says_its_resamples_beside_the_commands(app) -> None:
    """The page's CI drew 300 patient resamples and ``fewshot --label`` 1,000: the same AUC over
    the same studies came with other bounds, and nothing said why."""
    at = app("pages/fewshot.py")
    add(at, "s000001", True)
    at.selectbox(key="fs-label").set_value("lge").run()
    assert not at.exception and not at.error
    assert "95% CIs from 300 resamples of patients" in texts(at)
    assert "`python -m model fewshot --label` draws 1,000" in texts(at)
