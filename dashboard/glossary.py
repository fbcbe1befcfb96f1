"""Plain-language meanings of the dashboard's technical words, for readers who are not ML engineers.

A clinician or a medical student meets "val", "R@k", "InfoNCE", "UMAP", "preset", "epoch" and
"prototype" on the pages; each word is defined once here (``WORDS``) and reused by every page
that shows it: a help tooltip (``meaning``), or a "Words on this page" list under the page's
title (``glossary_lines``). The Evaluate page's headline terms (``TERMS``) reuse the same
definitions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# word → its meaning, one sentence or two, in plain clinical words; the key is the word as the
# pages show it (case kept).
WORDS: dict[str, str] = {
    "AUC": "the chance that a study with the finding scores above one without it "
    "(0.5: a coin toss, 1.0: every study ranked right).",
    "ROC": "the curve of true-positive rate against false-positive rate as the score's "
    "threshold moves; the AUC is the area under it.",
    "95% CI": "a range built (by resampling patients) so that 95 times in 100 it holds the "
    "true value; a wide range means an uncertain figure (often: few studies).",
    "encoder": "the model: it turns a study's cine videos, and a report's text, into lists of "
    "numbers (embeddings) placed so that a study lies close to its own report.",
    "embedding": "the list of numbers the encoder gives a study or a text; studies whose "
    "embeddings lie close look alike to the model.",
    "checkpoint": "the model's learned weights saved to a file (best.pt, last.pt) during "
    "training; the active checkpoint is the one every page uses.",
    "preset": "a saved set of training settings (model size, frames, image size, epochs) to "
    "start from; cpu-small is sized for a computer without a GPU.",
    "epoch": "one pass of training over every training study.",
    "batch": "the studies the model sees together in one training step.",
    "learning rate": "how big a step training takes at each batch; too big and it "
    "diverges, too small and it learns slowly.",
    "tower": "the part of the encoder that reads the videos. multiview reads each view over "
    "time on its own, then combines the views; flat lays every view's frames on one long strip "
    "(the published design, slower); static reads only each view's first frame (no motion), a "
    "baseline.",
    "text layers unlocked": "the text side starts from a small pretrained language model "
    "(MiniLM, 6 layers); this many of its top layers learn from the reports, the rest stay as "
    "they were (0: only the final step that maps its output into the shared space learns).",
    "split": "which part a study belongs to: train (the model learns from it), val "
    "(checked after each epoch to pick the best checkpoint) or test (kept aside for the "
    "final evaluation), split by patient.",
    "val": "validation: studies kept out of training and checked after each epoch, to pick "
    "the best checkpoint without looking at the test studies.",
    "InfoNCE loss": "the training objective: within a batch each study must pick out its own "
    "report among the others' (and each report its study); lower is better.",
    "R@k": "recall at k: how often a study's own report is among the k reports the model "
    "ranks closest to it, and the other way round (R@1, R@5, R@10); higher is better, and it "
    "needs no labels.",
    "zero-shot": "each study scored against two wordings of a finding alone (e.g. "
    "“Dilated left ventricle” against “Normal left ventricular size”); no labelled study "
    "is used.",
    "few-shot": "a few labelled example studies (k of each class) are given, and every other "
    "study is ranked by its likeness to them.",
    "prompt": "a short sentence worded as a report would put it; the model compares each "
    "study with it.",
    "logit scale": "the model's learned sharpness: similarities are multiplied by it before "
    "they become probabilities, so a higher scale gives probabilities nearer 0 or 1.",
    "cosine similarity": "how close two embeddings point, from −1 to 1; the model's measure "
    "of likeness.",
    "prototype": "a study is called positive when it lies closer to the average of the "
    "positive examples than to the average of the negative ones.",
    "logistic": "a logistic regression fitted on the k examples of each class.",
    "prompted": "the logistic regression, started from the zero-shot score, so with few "
    "examples it leans on the wordings and with more on the examples.",
    "linear probe": "a logistic regression fitted on many labelled studies, a reference for "
    "how much of a label the model's representation holds.",
    "UMAP": "a method that draws the high-dimensional embeddings on a flat map, keeping "
    "neighbours together; distances between far-apart groups mean little.",
    "PCA": "principal component analysis: the flat view of the embeddings that keeps the "
    "most spread; instant, but groups usually overlap more than on UMAP.",
    "case index": "a search database (ChromaDB) of every study's embedding, so a search "
    "answers at once; without it the dashboard ranks every study in memory.",
    "ingest": "reading DICOM studies and their reports into the dataset's own files "
    "(videos, impressions, metadata) that every page uses.",
    "gradient checkpointing": "recomputes parts of the model during training instead of "
    "keeping them in GPU memory: much less memory, about a quarter more time.",
    "micro-batches": "a training step's batch computed in that many pieces, one at a time: "
    "the same step (the loss still compares every study with every report of the batch) in "
    "less GPU memory, for one more pass over the batch.",
}


def meaning(word: str) -> str:
    """``word``'s meaning as a help tooltip: "Word: meaning" (a KeyError names an unknown
    word, so a page cannot show a definition the glossary lacks)."""
    return f"{word}: {WORDS[word]}"


def glossary_lines(words: Iterable[str]) -> list[str]:
    """One markdown line per word, in the order given: "**word**: meaning"."""
    return [f"**{word}**: {WORDS[word]}" for word in words]


# (text that marks the term in a headline figure, what it means); in reading order. {draws} and
# {cross_validation} are filled from the evaluation's settings (``terms_used``).
TERMS: tuple[tuple[str, str], ...] = (
    (
        "AUC",
        f"**AUC**: {WORDS['AUC']} The brackets are its 95% CI.",
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
        f"**Prototype**: {WORDS['prototype']}",
    ),
    (
        "logistic",
        f"**Logistic**: {WORDS['logistic']}",
    ),
    (
        "prompted",
        f"**Prompted**: {WORDS['prompted']}",
    ),
    (
        "linear probe",
        f"**Linear probe**: {WORDS['linear probe'].removesuffix('.')}: cross-validated "
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
