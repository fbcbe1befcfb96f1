"""What the Few-shot page computes, now in ``dashboard.few_shot`` (the page draws only): the
prompted method's wordings from its boxes and back, the note of a method that cannot rank yet,
the label truth restricted to a split, the ranked CSV and a loaded set."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.few_shot import (
    loaded_set,
    method_note,
    prompt_texts,
    ranked_csv,
    ranking_truth,
    reworded,
    uploaded_set,
)
from dashboard.scoring import ALL_STUDIES
from model.errors import DataError
from model.example_set import ExampleSet
from model.prompts import FindingPrompts


def test_the_wording_boxes_read_and_write_the_sets_prompts() -> None:
    empty = ExampleSet()
    assert prompt_texts(empty) == {"positive": "", "negative": ""}
    typed = reworded(empty, {"positive": " LGE in the septum \n\n Septal LGE", "negative": ""})
    assert typed.prompts == FindingPrompts(("LGE in the septum", "Septal LGE"), ())
    assert prompt_texts(typed) == {"positive": "LGE in the septum\nSeptal LGE", "negative": ""}
    assert reworded(typed, {"positive": " \n", "negative": ""}).prompts is None  # both cleared


def test_a_method_that_cannot_rank_yet_is_a_sentence() -> None:
    note = method_note(ExampleSet(), "prototype")
    assert note == "Add at least one example of the class to rank the studies."
    assert method_note(ExampleSet(positive=("a",)), "prototype") is None
    assert method_note(ExampleSet(positive=("a",)), "logistic").startswith("The logistic method")


def test_the_label_truth_of_one_split_leaves_the_others_unlabelled() -> None:
    labels = pd.DataFrame({"lge": [1.0, 0.0, 1.0, np.nan]}, index=list("abcd"))
    splits = pd.Series(["test", "train", "test", "test"], index=list("abcd"))
    whole = ranking_truth(labels, "lge", splits, ALL_STUDIES)
    assert whole.tolist()[:3] == [1.0, 0.0, 1.0]
    test = ranking_truth(labels, "lge", splits, "test")
    assert test.isna().tolist() == [False, True, False, True]
    with pytest.raises(DataError, match="no column 'rv'"):
        ranking_truth(labels, "rv", splits, ALL_STUDIES)


def test_the_ranked_csv_holds_every_study_best_first() -> None:
    scores = pd.DataFrame(
        {"score": [0.1, 0.9, 0.5], "example": ["", "example", ""]},
        index=pd.Index(["a", "b", "c"], name="study_id"),
    )
    studies = pd.DataFrame({"site": "x", "split": "test"}, index=list("abc"))
    table = pd.read_csv(io.StringIO(ranked_csv(scores, studies)))
    assert table["study_id"].tolist() == ["b", "c", "a"]
    assert list(table.columns) == ["study_id", "site", "split", "score", "example"]


def test_a_set_is_loaded_from_a_path_or_an_upload_and_another_datasets_refused(
    tmp_path: Path,
) -> None:
    path = tmp_path / "amyloid.json"
    ExampleSet("amyloid", ("s1",), ("s2",)).save(path)
    assert loaded_set(path, {"s1", "s2"}, "tiny").positive == ("s1",)
    upload = io.BytesIO(path.read_bytes())
    upload.name = "amyloid.json"
    assert loaded_set(upload, {"s1", "s2"}, "tiny") == uploaded_set(io.BytesIO(path.read_bytes()))
    with pytest.raises(DataError, match="none of the 2 studies .* dataset other"):
        loaded_set(path, {"x1"}, "other")
