"""``model.wording.counted``: a count and its noun in the right number."""

from __future__ import annotations

import numpy as np
import pytest

from model.wording import counted, plural_of


@pytest.mark.parametrize(
    ("value", "noun", "expected"),
    [
        (1, "study", "1 study"),
        (2, "study", "2 studies"),
        (0, "patient", "0 patients"),
        (1, "patient", "1 patient"),
        (1234, "study", "1,234 studies"),
        (np.int64(1), "epoch", "1 epoch"),
        (12, "epoch", "12 epochs"),
        (3, "day", "3 days"),
        (2, "class", "2 classes"),
        (1, "labelled study", "1 labelled study"),
        ("?", "study", "? studies"),
    ],
)
def test_counted(value, noun, expected):
    assert counted(value, noun) == expected


def test_an_irregular_plural_is_given():
    assert counted(2, "series", "series") == "2 series"
    assert plural_of("key") == "keys"


def test_a_tiny_sites_counts_read_in_the_singular():
    """Report sentences and messages on a one-study site said "1 studies of 1 patients"."""
    import pandas as pd

    from model.evaluation.headline_sentence import site_words
    from model.evaluation.inputs import SiteData
    from model.evaluation.label_checks import usable_findings
    from model.evaluation.methods import site_line

    one = {"name": "internal", "n_evaluated": 1, "n_patients": 1, "selection": "test split"}
    assert site_words(one) == "internal (1 study of 1 patient, test split)"
    line = site_line({**one, "n_total": 1, "n_labelled": 1})
    assert line.startswith("1 study of 1 patient evaluated (test split) of 1 in the dataset")
    studies = pd.DataFrame({"patient_key": ["p1", "p2"]}, index=["s1", "s2"])
    labels = pd.DataFrame({"lge": [1.0, 0.0], "lv_dilation": [np.nan, np.nan]}, index=studies.index)
    site = SiteData("x", True, None, studies, labels, n_total=2, n_labelled=2)
    problems: list[str] = []
    usable_findings(site, problems)
    said = " ".join(problems)
    assert "'lge' has 1 positive study and 1 negative study with a known value" in said
    assert "no known value among the 2 studies evaluated" in said


def test_a_one_epoch_run_is_past_1_epoch():
    from model.errors import UserError
    from model.training.budget import EpochBudget

    with pytest.raises(UserError, match=r"past 1 epoch \(step 5\)"):
        EpochBudget(budget_s=None, epochs=1, resolved=True).check_resume_step(5, steps_per_epoch=2)
