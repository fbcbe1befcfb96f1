"""Plain-language meanings of the evaluation's terms, for readers who are not ML engineers.

The Evaluate page's headline reads "few-shot prototype, mean AUC (k = 1)", "linear probe" and
"label-consistent precision@10 ceiling"; its Methods say how each is computed for a methods
section, but nothing on the page said what they mean to a cardiologist reading the results.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# (text that marks the term in a headline figure, what it means); in reading order. {draws} and
# {cross_validation} are filled from the evaluation's settings (``terms_used``).
TERMS: tuple[tuple[str, str], ...] = (
    (
        "AUC",
        "**AUC**: the chance that a study with the finding scores above one without it "
        "(0.5: a coin toss, 1.0: every study ranked right). The brackets are its 95% CI.",
    ),
    (
        "zero-shot",
        "**Zero-shot**: each study scored against the prompt set's wordings alone (e.g. "
        "“Dilated left ventricle” against “Normal left ventricular size”); no labelled study "
        "is used. A diagnosis goes to the class whose wording the study matches best.",
    ),
    (
        "few-shot",
        "**Few-shot (k)**: k labelled example studies of each class are given (k = 1: one "
        "with the finding, one without), {draws} at random; the AUC is over the other "
        "studies, averaged over the draws.",
    ),
    (
        "prototype",
        "**Prototype**: a study is called positive when it lies closer to the average of the "
        "positive examples than to the average of the negative ones.",
    ),
    (
        "logistic",
        "**Logistic**: a logistic regression fitted on the k examples of each class.",
    ),
    (
        "prompted",
        "**Prompted**: that logistic regression started from the zero-shot score, so with "
        "few examples it leans on the wordings and with more on the examples.",
    ),
    (
        "linear probe",
        "**Linear probe**: a logistic regression fitted on many labelled studies, a reference "
        "for how much of a label the model's representation holds: cross-validated "
        "({cross_validation}) or fitted once on the internal training studies and applied "
        "unchanged.",
    ),
    (
        "R@",
        "**R@10**: the share of reports whose own study (or one with the identical report "
        "text) is among the 10 studies the model puts closest to the report's text.",
    ),
    (
        "precision@10",
        "**Label-consistent precision@10**: of the 10 studies closest to a report's text, "
        "the share whose finding labels all match that report's study; its **ceiling** is the "
        "best any ranking could reach on these studies.",
    ),
)


def terms_used(figures: Iterable[str], config: object = None) -> list[str]:
    """The meanings of the terms the given headline figures use, once each, in ``TERMS``'
    order (AUC first, as every mean-AUC row uses it). The few-shot draws and the probe's folds
    are the evaluation's own (``config``: summary.json's ``config``, ``--episodes`` and
    ``--folds``); without them the words say no number rather than one that may be wrong."""
    text = " ".join(str(f) for f in figures)
    episodes = _setting(config, "fewshot", "episodes", least=1)
    folds = _setting(config, "probe", "folds", least=2)
    filled = {
        "draws": f"drawn {episodes} times" if episodes else "drawn many times",
        "cross_validation": (
            f"fitted on {folds - 1}/{folds} of the site's patients, tested on the rest, "
            f"{folds} times"
            if folds
            else "fitted on part of the site's patients and tested on the rest, each part in turn"
        ),
    }
    return [meaning.format(**filled) for mark, meaning in TERMS if mark in text]


def _setting(config: object, part: str, name: str, least: int) -> int | None:
    """``config["suite"][part][name]`` when it is a whole number of at least ``least``, else
    None (an older or hand-edited summary.json)."""
    suite = config.get("suite") if isinstance(config, Mapping) else None
    section = suite.get(part) if isinstance(suite, Mapping) else None
    value = section.get(name) if isinstance(section, Mapping) else None
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        return None
    return value
