"""The ``prompted`` few-shot method (model/few_shot.py) and an example set's prompts
(model/example_set.py): the fit against a plain scipy reference, the zero-shot ranking with no
examples, and the prompts in the JSON file."""

from __future__ import annotations

import json
import zlib

import numpy as np
import pytest
from scipy.optimize import minimize

from model.errors import DataError, UserError
from model.evaluation.fewshot import FewShotConfig
from model.example_set import ExampleSet
from model.few_shot import few_shot_scores, method_problem, prompt_logits
from model.prompts import FindingPrompts, PromptSet
from model.zeroshot import score_findings
from tests.test_few_shot import IDS, unit_rows

PROMPTS = FindingPrompts(("late enhancement", "scar in the wall"), ("no late enhancement",))


def text_encoder(texts: list[str]) -> np.ndarray:
    """A seeded random unit vector per text (8-d, as ``unit_rows``)."""
    return np.stack([unit_rows(1, seed=zlib.crc32(t.encode()))[0] for t in texts])


def reference_probabilities(
    vectors: np.ndarray, prior: np.ndarray, support: list[int], targets: list[int], c: float
) -> np.ndarray:
    """argmin C * sum(logloss(prior + [x, 1] w)) + |w|^2 / 2 by scipy, then every study's
    probability."""
    features = np.hstack([vectors, np.ones((len(vectors), 1))])
    x, y, offset = features[support], np.array(targets, float), prior[support]

    def objective(w: np.ndarray) -> float:
        z = offset + x @ w
        return c * float(np.sum(np.logaddexp(0.0, z) - y * z)) + 0.5 * float(w @ w)

    w = minimize(objective, np.zeros(features.shape[1]), method="BFGS", tol=1e-12).x
    return 1.0 / (1.0 + np.exp(-(prior + features @ w)))


@pytest.mark.parametrize(("positive", "negative"), [((1, 4, 9), (2, 20)), ((3, 7), ()), ((), (5,))])
def test_prompted_is_a_logistic_fit_with_the_zero_shot_logit_as_offset(
    positive: tuple[int, ...], negative: tuple[int, ...]
) -> None:
    vectors = unit_rows(30)
    prior = prompt_logits(vectors, PROMPTS, text_encoder, scale=20.0)
    examples = ExampleSet(
        "lge", tuple(IDS[i] for i in positive), tuple(IDS[i] for i in negative), PROMPTS
    )
    scores = few_shot_scores(vectors, IDS, examples, "prompted", prior_logits=prior)
    expected = reference_probabilities(
        vectors,
        prior.astype(float),
        [*positive, *negative],
        [1] * len(positive) + [0] * len(negative),
        FewShotConfig().prompted_c,
    )
    np.testing.assert_allclose(scores["score"].to_numpy(), expected, atol=1e-6)


def test_prompted_without_examples_is_the_zero_shot_classifier() -> None:
    vectors = unit_rows(30)
    prior = prompt_logits(vectors, PROMPTS, text_encoder, scale=20.0)
    scores = few_shot_scores(
        vectors, IDS, ExampleSet("lge", prompts=PROMPTS), "prompted", prior_logits=prior
    )
    prompt_set = PromptSet(findings={"lge": PROMPTS})
    zero_shot = score_findings(vectors, prompt_set, text_encoder, 20.0, ids=IDS)["lge"]
    np.testing.assert_allclose(scores["score"].to_numpy(), zero_shot.to_numpy(), atol=1e-6)
    assert (scores["example"] == "").all()


@pytest.mark.parametrize(
    ("prompts", "says"),
    [
        (None, "word the class and its absence"),
        (FindingPrompts(("scar",), ()), "word its absence too"),
        (FindingPrompts((), ("no scar",)), "word the class too"),
        (FindingPrompts(("Scar.",), ("scar",)), "say the same thing"),
    ],
)
def test_prompted_needs_both_wordings(prompts: FindingPrompts | None, says: str) -> None:
    examples = ExampleSet("lge", ("s01",), ("s02",), prompts)
    problem = method_problem(examples, "prompted")
    assert problem is not None and says in problem
    with pytest.raises(UserError, match=says):
        few_shot_scores(unit_rows(30), IDS, examples, "prompted", prior_logits=np.zeros(30))
    assert method_problem(ExampleSet("lge", prompts=PROMPTS), "prompted") is None


def test_prompts_round_trip_in_the_json_and_old_files_still_load() -> None:
    examples = ExampleSet("lge", ("s01",), ("s02",), PROMPTS)
    again = ExampleSet.loads(examples.dumps())
    assert again == examples
    assert json.loads(examples.dumps())["prompts"] == {
        "positive": list(PROMPTS.positive),
        "negative": list(PROMPTS.negative),
    }
    old = ExampleSet.loads('{"name": "lge", "positive": ["s01"], "negative": []}')
    assert old.prompts is None and "prompts" not in json.loads(old.dumps())
    half = ExampleSet("lge", ("s01",), (), FindingPrompts(("scar",), ()))
    assert "prompts" not in json.loads(half.dumps())  # only sound prompts are saved


@pytest.mark.parametrize(
    ("prompts", "says"),
    [
        ("scar", "expected 'positive' and 'negative'"),
        ({"positive": ["scar"]}, "missing negative prompts"),
        ({"positive": ["scar"], "negative": []}, "non-empty list"),
        ({"positive": ["scar"], "negative": ["no scar"], "neutral": ["x"]}, "unknown keys"),
        ({"positive": ["scar"], "negative": [1]}, r"must be non-empty text, got 1$"),  # no YAML
    ],
)
def test_bad_prompts_in_the_json_are_one_line_data_errors(prompts: object, says: str) -> None:
    text = json.dumps({"name": "lge", "positive": ["s01"], "prompts": prompts})
    with pytest.raises(DataError, match=says) as err:
        ExampleSet.loads(text, source="example set x.json")
    assert str(err.value).startswith("example set x.json: prompts")
    assert "\n" not in str(err.value)
