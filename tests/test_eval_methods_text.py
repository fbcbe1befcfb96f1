"""The methods text states how each figure a reviewer reads was computed: the paired model
comparison, the intervals of the threshold metrics and the probes, the probes' class balance and
the retrieval rule for identical reports and tied similarities."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.evaluation.methods import methods_lines
from model.evaluation.runner import EvaluationRequest, _config_record
from model.prompts import DEFAULT_PROMPTS


@pytest.fixture()
def config(tmp_path: Path) -> dict:
    labels = tmp_path / "labels.csv"
    labels.write_text("accession_number,lge\nA1,1\n", encoding="utf-8")
    request = EvaluationRequest(
        checkpoint=tmp_path / "main.pt",
        data=tmp_path / "internal",
        labels=[labels],
        prompts=DEFAULT_PROMPTS,
        out=tmp_path / "out",
        compare=[tmp_path / "baseline.pt"],
    )
    return _config_record(request, [labels])


def test_the_methods_state_the_paired_comparison(config: dict) -> None:
    text = " ".join(methods_lines(config))
    assert "DeLong" in text and "paired" in text and "Obuchowski" in text
    assert "Holm" in text and "main − baseline" in text
    assert "to the standard normal distribution, a large-sample approximation" in text
    alone = {**config, "compare": [], "general_clip": None}
    assert "DeLong" not in " ".join(methods_lines(alone))  # nothing compared, nothing said


def test_the_methods_say_which_resamples_the_threshold_metrics_leave_out(config: dict) -> None:
    text = " ".join(methods_lines(config))
    assert "no positive study has no sensitivity" in text
    assert "no negative study has no specificity" in text


def test_the_methods_say_the_probe_intervals_hold_the_fits_fixed(config: dict) -> None:
    text = " ".join(methods_lines(config))
    assert "not refitted" in text
    assert "standardised by the mean and SD of each fit's own training studies" in text
    assert "unweighted" in text and "n_positive" in text  # class balance: stated, not corrected


def test_the_methods_state_the_retrieval_rule_for_ties(config: dict) -> None:
    text = " ".join(methods_lines(config))
    assert "ignoring case and surrounding spaces" in text
    assert "tied in similarity in random order" in text
    old = {key: value for key, value in config.items() if key != "retrieval_ties"}
    assert "ties counted in the query's favour" in " ".join(methods_lines(old))


def test_the_methods_say_supports_are_drawn_by_study(config: dict) -> None:
    """k counts studies, not patients: a support's k studies may come from fewer patients."""
    assert "two of a support can be one patient's" in " ".join(methods_lines(config))
