"""Interactive few-shot classification (model/few_shot.py, model/example_set.py): the scores
against plain numpy, the examples and their patients left out of the AUC, example-set files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from model.errors import DataError, UserError
from model.example_set import ExampleSet
from model.few_shot import evaluate_ranking, few_shot_scores, label_target, method_problem


def unit_rows(n: int, d: int = 8, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).normal(size=(n, d))
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def normalised_mean(rows: np.ndarray) -> np.ndarray:
    mean = rows.mean(axis=0)
    return mean / np.linalg.norm(mean)


IDS = [f"s{i:02d}" for i in range(30)]


def test_prototype_is_cosine_to_the_examples_minus_the_counter_examples() -> None:
    vectors = unit_rows(30)
    examples = ExampleSet("x", positive=("s01", "s04", "s09"), negative=("s02", "s20"))
    scores = few_shot_scores(vectors, IDS, examples, "prototype")
    expected = vectors @ (normalised_mean(vectors[[1, 4, 9]]) - normalised_mean(vectors[[2, 20]]))
    np.testing.assert_allclose(scores["score"].to_numpy(), expected, atol=1e-10)
    assert list(scores.index) == IDS
    marks = scores["example"]
    assert set(marks[marks == "example"].index) == {"s01", "s04", "s09"}
    assert set(marks[marks == "counter-example"].index) == {"s02", "s20"}
    assert (marks == "").sum() == 25


def test_prototype_without_counter_examples_uses_every_other_study() -> None:
    vectors = unit_rows(30, seed=1)
    scores = few_shot_scores(vectors, IDS, ExampleSet("x", positive=("s03", "s07")))
    others = [i for i in range(30) if i not in (3, 7)]
    expected = vectors @ (normalised_mean(vectors[[3, 7]]) - normalised_mean(vectors[others]))
    np.testing.assert_allclose(scores["score"].to_numpy(), expected, atol=1e-10)


def two_clusters(n: int = 40, seed: int = 2) -> tuple[np.ndarray, pd.Series]:
    """Unit vectors around two opposite centres; truth 1 for the first centre's."""
    rng = np.random.default_rng(seed)
    truth = (np.arange(n) % 2 == 0).astype(float)
    centre = np.zeros(8)
    centre[0] = 3.0
    vectors = rng.normal(size=(n, 8)) + np.where(truth[:, None] == 1, centre, -centre)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors, pd.Series(truth, index=[f"s{i:02d}" for i in range(n)])


def test_logistic_ranks_a_separable_set_perfectly_and_needs_both_kinds() -> None:
    vectors, truth = two_clusters()
    ids = list(truth.index)
    examples = ExampleSet("x", positive=("s00", "s02"), negative=("s01", "s03"))
    scores = few_shot_scores(vectors, ids, examples, "logistic")
    assert scores["score"].between(0, 1).all()
    result = evaluate_ranking(scores, truth, pd.Series(ids, index=ids), "x")
    assert result.auc == 1.0 and result.n == 36 and result.examples == 4
    with pytest.raises(UserError, match="needs at least one counter-example"):
        few_shot_scores(vectors, ids, ExampleSet("x", positive=("s00",)), "logistic")
    with pytest.raises(UserError, match="at least one example"):
        few_shot_scores(vectors, ids, ExampleSet("x", negative=("s00",)), "prototype")


def test_a_lasso_too_large_for_the_logistic_fit_is_refused_before_fitting() -> None:
    many = ExampleSet("x", positive=tuple(f"p{i}" for i in range(900)), negative=("n0", "n1"))
    assert method_problem(many, "logistic") is None
    larger = many.with_added([f"n{i}" for i in range(2, 200)], positive=False)
    assert "at most 1,000 examples and counter-examples, and this set has 1,100" in str(
        method_problem(larger, "logistic")
    )
    assert method_problem(larger, "prototype") is None


def test_examples_and_their_patients_studies_are_left_out_of_the_auc() -> None:
    vectors = unit_rows(30, seed=3)
    truth = pd.Series(np.random.default_rng(4).integers(0, 2, 30).astype(float), index=IDS)
    truth["s05"] = np.nan  # unknown: never counted
    # s00/s10/s20 are one patient, as are s01/s11/s21: examples s00 and s01 take four along
    patients = pd.Series([f"p{i % 10}" if i % 10 < 2 else f"q{i}" for i in range(30)], index=IDS)
    examples = ExampleSet("x", positive=("s00",), negative=("s01", "s02"))
    scores = few_shot_scores(vectors, IDS, examples)
    result = evaluate_ranking(scores, truth, patients, "x", resamples=200)
    kept = [i for i in IDS if i not in {"s00", "s01", "s02", "s10", "s20", "s11", "s21", "s05"}]
    assert (result.examples, result.same_patient, result.n) == (3, 4, len(kept))
    expected = roc_auc_score(truth[kept], scores.loc[kept, "score"])
    assert result.auc == pytest.approx(expected)
    assert result.auc_lo <= result.auc <= result.auc_hi
    assert result.n_positive == int(truth[kept].sum())


def test_no_auc_when_one_class_is_left() -> None:
    vectors = unit_rows(30)
    truth = pd.Series(1.0, index=IDS)
    scores = few_shot_scores(vectors, IDS, ExampleSet("x", positive=("s00",)))
    with pytest.raises(DataError, match="only positive studies"):
        evaluate_ranking(scores, truth, pd.Series(dtype=str), "x")


def test_a_diagnosis_label_is_one_class_against_the_rest() -> None:
    labels = pd.DataFrame(
        {"nicm": [1, 0, np.nan, np.nan, 0], "hcm": [0, 1, 1, np.nan, 0], "lge": [1, 0, 1, 0, 1]},
        index=list("abcde"),
    )
    nicm = label_target(labels, "nicm")
    # c is blank but has another known diagnosis (a negative), d is unknown, e says 0 itself
    assert nicm[["a", "b", "c", "e"]].tolist() == [1.0, 0.0, 0.0, 0.0] and np.isnan(nicm["d"])
    # a hospital's own file of one diagnosis column: its 0s are known negatives
    own = label_target(pd.DataFrame({"amyloidosis": [1, 0, 0, np.nan]}), "amyloidosis")
    assert own.tolist()[:3] == [1.0, 0.0, 0.0] and np.isnan(own.iloc[3])
    assert label_target(labels, "lge").tolist() == [1, 0, 1, 0, 1]
    with pytest.raises(DataError, match="no column 'amyloid'; their columns: nicm, hcm, lge"):
        label_target(labels, "amyloid")


def test_example_sets_round_trip_and_name_what_is_wrong(tmp_path: Path) -> None:
    examples = ExampleSet("amyloid", positive=("s01", "s02"), negative=("s03",))
    path = tmp_path / "amyloid.json"
    examples.save(path)
    assert ExampleSet.load(path) == examples
    with pytest.raises(FileExistsError):
        examples.save(path, replace=False)
    bad = {
        "is not valid JSON": "{",
        "expected an object": "[1, 2]",
        "unknown keys ['positives']": json.dumps({"positives": ["s01"]}),
        "positive must be a list of study IDs": json.dumps({"positive": "s01"}),
        "the study ID at positive #2 and negative #1 .not shown: not shaped": json.dumps(
            {"positive": ["s0123456789abcde", "s01"], "negative": ["s01"]}
        ),
        "study s0123456789abcde is both an example and a counter-example": json.dumps(
            {"positive": ["s0123456789abcde"], "negative": ["s01", "s0123456789abcde"]}
        ),
        "name must be a non-empty text": json.dumps({"name": 3}),
    }
    for message, text in bad.items():
        path.write_text(text)
        with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
            ExampleSet.load(path)
    with pytest.raises(DataError, match="does not exist"):
        ExampleSet.load(tmp_path / "none.json")
    with pytest.raises(DataError, match="is a folder"):
        ExampleSet.load(tmp_path)


def test_unknown_ids_are_named_and_adding_moves_an_id_across() -> None:
    examples = ExampleSet("x", positive=("s01", "gone1"), negative=("gone2",))
    with pytest.raises(
        DataError, match="2 study ID.* not in the dataset: positive #2, negative #1"
    ):
        few_shot_scores(unit_rows(30), IDS, examples)
    assert examples.unknown(IDS) == ["gone1", "gone2"]
    moved = examples.with_added(["gone2", "s05"], positive=True)
    assert moved.positive == ("s01", "gone1", "gone2", "s05") and moved.negative == ()
    assert moved.without(["s01", "s05"]).positive == ("gone1", "gone2")


def test_the_left_out_counts_cover_only_the_studies_checked() -> None:
    """Checked on one split (the other splits' labels blank), the examples of another split and
    their patients' studies were never among the studies checked: they are not counted as left
    out of it, and checked + left out = the studies with a known label."""
    vectors = unit_rows(30, seed=5)
    truth = pd.Series(np.random.default_rng(6).integers(0, 2, 30).astype(float), index=IDS)
    patients = pd.Series([f"p{i % 10}" if i % 10 < 2 else f"q{i}" for i in range(30)], index=IDS)
    in_split = [i for i in IDS if int(i[1:]) >= 22]  # s22..s29: no example, no example's patient
    scoped = truth.where(truth.index.isin(in_split))
    examples = ExampleSet("x", positive=("s00",), negative=("s01", "s02"))
    scores = few_shot_scores(vectors, IDS, examples)
    result = evaluate_ranking(scores, scoped, patients, "x", resamples=50)
    assert (result.examples, result.same_patient, result.n) == (0, 0, len(in_split))
    whole = evaluate_ranking(scores, truth, patients, "x", resamples=50)
    assert whole.n + whole.examples + whole.same_patient == truth.notna().sum()


def test_unknown_ids_are_named_by_their_place_unless_shaped_like_ingests(tmp_path: Path) -> None:
    """A user may paste anything where a study ID belongs (a medical record number, a name):
    messages name such an ID by its place in the set, and quote only IDs of the shape ingest
    gives (``model.data.deid.pseudonym``)."""
    from model.data.deid import pseudonym
    from model.schema import is_study_pseudonym

    ingested = pseudonym(b"0" * 64, "study", "1.2.840.1")
    assert is_study_pseudonym(ingested) and not is_study_pseudonym(pseudonym(b"0" * 64, "p", "x"))
    pasted = ("MRN 00123456", "Doe^Jane", ingested)
    examples = ExampleSet("x", positive=(IDS[0], *pasted[:2]), negative=pasted[2:])
    with pytest.raises(DataError) as err:
        few_shot_scores(unit_rows(30), IDS, examples)
    message = str(err.value)
    assert "3 study ID(s)" in message and f"positive #2, positive #3, {ingested}" in message
    assert "00123456" not in message and "Doe" not in message and "not shown" in message
    path = tmp_path / "pasted.json"
    path.write_text(json.dumps({"positive": ["MRN 00123456"], "negative": ["MRN 00123456"]}))
    with pytest.raises(DataError, match="positive #1 and negative #1") as err:
        ExampleSet.load(path)
    assert "00123456" not in str(err.value)
