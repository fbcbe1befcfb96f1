"""Result tables in the paper's format: ``model,Label,Accuracy,F1-score,AUC`` first, then ours.

One CSV per table and site (``OUT/<site>/<table>.csv``), all models stacked, written atomically.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from model.atomic import atomic_write_text
from model.evaluation.inputs import is_finding

if TYPE_CHECKING:  # annotations only: the dashboard reads table names without the suite
    from model.evaluation.metrics import DiagnosisScores
    from model.evaluation.suite import SiteResult

PAPER_COLUMNS: list[str] = ["model", "Label", "Accuracy", "F1-score", "AUC"]
DISPLAY_NAMES: dict[str, str] = {
    "lv_dysfunction": "Left ventricle dysfunction",
    "lv_dilation": "Left ventricle dilation",
    "lv_hypertrophy": "Left ventricle hypertrophy",
    "rv_dilation": "Right ventricle dilation",
    "rv_dysfunction": "Right ventricle dysfunction",
    "lge": "LGE",
    "pericardial_effusion": "Pericardial effusion",
    "normal": "Normal",
    "nicm": "NICM",
    "icm": "ICM",
    "hcm": "HCM",
    "amyloidosis": "Amyloidosis",
    "myocarditis": "Myocarditis",
    "rv": "Abnormal RV",
}
_RENAMES = {"accuracy": "Accuracy", "f1": "F1-score", "auc": "AUC"}
# a blank figure (no interval, no count) as report.html, report.md and the Evaluate page show it
MISSING = "–"
COUNT_COLUMNS: tuple[str, ...] = ("n", "n_positive", "n_fit", "k", "episodes", "auc_resamples")
TABLES: tuple[str, ...] = (
    "zeroshot", "diagnosis", "fewshot", "probe", "retrieval", "counts", "prompts", "subgroups"
)  # fmt: skip
# a per-label table's counts as a reader says them; the Evaluate page and reports head them alike
COUNT_LABELS = {"n": "studies", "n_positive": "with the label"}
# a comparison table's figures (``compare.py``): auc_a and auc_b said nothing of which model
# each one is; the Evaluate page and the reports head them alike
COMPARISON_LABELS = {
    "auc_a": "AUC, model",
    "auc_b": "AUC, baseline",
    "difference": "AUC difference (model − baseline)",
}


def count_labels(columns: list[str]) -> dict[str, str]:
    """``COUNT_LABELS`` of a per-label table's ``columns`` (one with ``n_positive``, where ``n``
    counts the studies whose label is known); {} for any other table, whose ``n`` may count
    something else (a retrieval's queries)."""
    if "n_positive" not in columns:
        return {}
    return {c: COUNT_LABELS[c] for c in columns if c in COUNT_LABELS}


def comparison_labels(columns: list[str]) -> dict[str, str]:
    """``COMPARISON_LABELS`` of a comparison table's ``columns`` (one with ``baseline``,
    ``auc_a`` and ``auc_b``); {} for any other table."""
    if not {"baseline", "auc_a", "auc_b"} <= set(columns):
        return {}
    return {c: COMPARISON_LABELS[c] for c in columns if c in COMPARISON_LABELS}


# How an evaluation's tables (by their CSV's name) are headed in report.html and report.md and
# named by the Evaluate page's tabs, in the order a paper reads them; another table by its
# name, capitalised.
TABLE_TITLES: dict[str, str] = {
    "zeroshot": "Zero-shot",
    "fewshot": "Few-shot",
    "probe": "Linear probe",
    "diagnosis": "Diagnosis",
    "retrieval": "Retrieval",
    "comparison": "Model comparison",
    "subgroups": "Subgroups",
    "prompts": "Prompt reading",
}


def table_title(name: str) -> str:
    """A table's heading in the reports (``zeroshot`` -> ``Zero-shot``; ``TABLE_TITLES``)."""
    return TABLE_TITLES.get(name, name.replace("_", " ").capitalize())


def display_name(key: str) -> str:
    """Paper-style label name (``lv_dilation`` -> ``Left ventricle dilation``)."""
    return DISPLAY_NAMES.get(key, key.replace("_", " ").capitalize())


def with_label_names(text: str) -> str:
    """A problem line of an evaluation with each quoted label key named as the tables name it
    (``'lv_hypertrophy'`` -> ``Left ventricle hypertrophy``); other quoted text is kept. The
    runner writes its keys, which a clinician reads as code beside tables that say the names."""
    return re.sub(
        r"'([a-z_]+)'",
        lambda m: display_name(m[1]) if m[1] in DISPLAY_NAMES else m[0],
        text,
    )


def vector_path(png: Path) -> Path:
    """Where a figure's vector copy (SVG) lies beside its PNG: slides and papers scale it to
    any size, where the 110-dpi PNG blurs on a projector."""
    return png.with_suffix(".svg")


def slug(text: str) -> str:
    """A file-name-safe version of a model or site name."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "model"


def paper_format(rows: pd.DataFrame, model: str, site: str) -> pd.DataFrame:
    """Metric rows (``label_key``, ``accuracy``, ``f1``, ``auc``, ...) -> paper columns first."""
    if rows.empty:
        return pd.DataFrame(columns=PAPER_COLUMNS)
    table = rows.rename(columns=_RENAMES).copy()
    table.insert(0, "model", model)
    table.insert(1, "Label", table["label_key"].map(display_name))
    if "task" in table.columns:  # the suite's rows say it; few-shot rows are all findings
        task = table.pop("task")
    else:
        task = ["finding" if is_finding(key) else "diagnosis" for key in table["label_key"]]
    table["site"] = site
    table["task"] = task
    for column in COUNT_COLUMNS:  # whole numbers, blank where a row has none (n_fit of CV rows)
        if column in table.columns:
            table[column] = table[column].astype("Int64")
    rest = [c for c in table.columns if c not in PAPER_COLUMNS]
    return table[PAPER_COLUMNS + rest]


def diagnosis_summary(result: SiteResult) -> pd.DataFrame:
    """One row per setting: accuracy, macro-F1, the number of studies and the two figures'
    95% CIs (``accuracy_lo/_hi``, ``macro_f1_lo/_hi``; blank for a run without bootstrap)."""
    rows = [
        {
            "model": result.model,
            "site": result.site,
            "setting": setting,
            "Accuracy": block["accuracy"],
            "macro-F1": block["macro_f1"],
            "n": block["n"],
            **{
                f"{metric}_{end}": block.get(f"{metric}_{end}", np.nan)
                for metric in ("accuracy", "macro_f1")
                for end in ("lo", "hi")
            },
        }
        for setting, block in result.diagnosis.items()
    ]
    return pd.DataFrame(rows)


def site_tables(result: SiteResult) -> dict[str, pd.DataFrame]:
    """Every table of one model at one site, keyed by ``TABLES`` names."""
    retrieval = result.retrieval.copy()
    if not retrieval.empty:
        retrieval.insert(0, "model", result.model)
        retrieval["site"] = result.site
    counts = result.counts.copy()
    counts.insert(0, "Label", counts["label_key"].map(display_name))
    counts["site"] = result.site
    prompts = result.prompts.copy()
    if not prompts.empty:
        prompts.insert(0, "model", result.model)
        prompts.insert(1, "Label", prompts["label_key"].map(display_name))
        prompts["site"] = result.site
    subgroups = result.subgroups.copy()
    if not subgroups.empty:  # model, site, variable, value, Label, label_key, counts, AUC ...
        subgroups.insert(0, "model", result.model)
        subgroups.insert(1, "site", result.site)
        subgroups.insert(5, "label_key", subgroups.pop("label_key"))
    return {
        "zeroshot": paper_format(result.zeroshot, result.model, result.site),
        "diagnosis": diagnosis_summary(result),
        "fewshot": paper_format(
            result.fewshot.rename(columns={"label": "label_key"}), result.model, result.site
        ),
        "probe": paper_format(result.probe, result.model, result.site),
        "retrieval": retrieval,
        "counts": counts,
        "prompts": prompts,
        "subgroups": subgroups,
    }


def stack_tables(results: list[SiteResult]) -> dict[str, dict[str, pd.DataFrame]]:
    """site -> table name -> all models' rows stacked (counts once per site)."""
    by_site: dict[str, dict[str, list[pd.DataFrame]]] = {}
    for result in results:
        tables = by_site.setdefault(result.site, {name: [] for name in TABLES})
        for name, table in site_tables(result).items():
            if name == "counts" and tables[name]:
                continue
            if not table.empty:
                tables[name].append(table)
    return {
        site: {name: pd.concat(parts, ignore_index=True) for name, parts in tables.items() if parts}
        for site, tables in by_site.items()
    }


def confusion_frame(result: SiteResult, setting: str) -> pd.DataFrame:
    """Confusion matrix of one setting as a labelled frame (rows true, columns predicted)."""
    block = result.diagnosis[setting]
    names = [display_name(c) for c in block["classes"]]
    return pd.DataFrame(block["confusion"], index=pd.Index(names, name="true"), columns=names)


STUDY_SCORES = "study_scores.csv"
# OUT/.incoming-*: an evaluation's files while it writes them (model/evaluation/outputs.py)
STAGING_PREFIX = ".incoming-"


STUDY_SCORE_COLUMNS: list[str] = [
    "model",
    "setting",
    "task",
    "label_key",
    "study_id",
    "score",
    "label",
]


def study_scores(results: list[SiteResult]) -> dict[str, pd.DataFrame]:
    """site -> the per-study scores behind the AUCs and the diagnosis accuracies, every model:
    ``model, setting, task, label_key, study_id, score, label``. Rows of task ``finding`` hold a
    finding's score and its 0/1 label (zero-shot and probes; those the model comparison pairs);
    rows of task ``diagnosis`` hold, per study, one row per class of that setting, in class
    order: ``score`` is the class's probability (softmax over class prompts, or the probe's) and
    ``label`` is 1 on the study's true class. The predicted class is the highest score (the
    first among equal ones), so a reader can recompute each AUC, accuracy and confusion. Study
    ids are the dataset's pseudonyms."""
    by_site: dict[str, list[pd.DataFrame]] = {}
    for result in results:
        parts = []
        for (setting, label), scores in result.scores.items():
            part = pd.DataFrame(
                {"study_id": scores.ids, "score": scores.scores, "label": scores.labels}
            )
            parts.append(part.assign(setting=setting, task="finding", label_key=label))
        for setting, diagnosis in result.diagnosis_scores.items():
            parts.append(_diagnosis_rows(diagnosis).assign(setting=setting, task="diagnosis"))
        by_site.setdefault(result.site, []).extend(p.assign(model=result.model) for p in parts)
    return {
        site: pd.concat(parts, ignore_index=True)[STUDY_SCORE_COLUMNS]
        for site, parts in by_site.items()
        if parts
    }


def _diagnosis_rows(diagnosis: DiagnosisScores) -> pd.DataFrame:
    """One row per study and class: ``study_id, label_key, score, label``."""
    n, n_classes = diagnosis.probabilities.shape
    is_true = diagnosis.targets[:, None] == np.arange(n_classes)[None, :]
    return pd.DataFrame(
        {
            "study_id": np.repeat(diagnosis.ids, n_classes),
            "label_key": np.tile(diagnosis.classes, n),
            "score": diagnosis.probabilities.reshape(-1),
            "label": is_true.astype(int).reshape(-1),
        }
    )


def write_study_scores(out: Path, results: list[SiteResult]) -> list[Path]:
    """Write ``OUT/<site>/study_scores.csv`` (``study_scores``) with every digit of the scores,
    so that the arg-max of close class probabilities reads back as the evaluation saw it;
    returns the paths written."""
    written = []
    for site, table in study_scores(results).items():
        path = out / slug(site) / STUDY_SCORES
        atomic_write_text(path, table.to_csv(index=False))
        written.append(path)
    return written


def write_tables(out: Path, tables: dict[str, dict[str, pd.DataFrame]]) -> list[Path]:
    """Write ``OUT/<site>/<table>.csv`` for every non-empty table; returns the paths written."""
    written = []
    for site, named in tables.items():
        for name, table in named.items():
            path = out / slug(site) / f"{name}.csv"
            atomic_write_text(path, _csv_text(table))
            written.append(path)
    return written


def is_p_value(column: str) -> bool:
    """Whether a table column holds p-values (``p_value``, ``p_holm``): figures that can be
    tiny, written and shown to significant digits, not to a fixed number of decimals."""
    return column == "p" or column.startswith("p_")


def _csv_text(table: pd.DataFrame) -> str:
    """A table as CSV: figures to 4 decimals, p-values to 4 significant digits (a DeLong p of
    1e-7 written as 0.0000 read as p = 0)."""
    p_values = {
        str(c): table[c].map(lambda v: f"{v:.4g}", na_action="ignore")
        for c in table.columns
        if is_p_value(str(c)) and pd.api.types.is_float_dtype(table[c])
    }
    return table.assign(**p_values).to_csv(index=False, float_format="%.4f")


# What each kind of figure (by its file name's start) shows: the figure's alt text on the
# Evaluate page and in report.html (a screen reader heard "plot internal/plots/roc_m.png"), and
# the short name its download buttons carry (each figure's read "PNG", "SVG" alike).
_FIGURES = {
    "roc_": ("ROC", "Zero-shot ROC curves, one per finding, each with its AUC and 95% CI"),
    "comparison_": ("Comparison", "AUC differences from each compared model, with 95% CIs"),
    "fewshot_": ("Few-shot", "Few-shot AUC by examples per class, beside the zero-shot AUC"),
    "confusion_": (
        "Confusion",
        "Confusion matrix of the {} diagnosis: true rows, predicted columns",
    ),
}
# a confusion figure's setting as its file name writes it (``confusion_<setting>_<model>``)
_CONFUSION_SETTINGS = ("zero-shot", "linear_probe", "train-split_probe")


def figure_text(path: str | Path) -> tuple[str, str]:
    """(short name, description) of an evaluation figure by its file: ``internal/plots/roc_m.png``
    -> ``ROC``, ``Zero-shot ROC curves, ... (the tables of internal hold the same figures)``; a
    figure of another kind is named by its file."""
    path = Path(path)
    site = path.parent.parent.name if path.parent.name == "plots" else ""
    where = f" (the tables of {site} hold the same figures)" if site else ""
    for start, (short, description) in _FIGURES.items():
        if not path.stem.startswith(start):
            continue
        rest = path.stem.removeprefix(start)
        setting = next((s for s in _CONFUSION_SETTINGS if rest.startswith(f"{s}_")), "")
        named = setting.replace("_", " ")
        short = f"{short}, {named}" if named else short
        return short, description.format(named or "").replace("  ", " ") + where
    return path.stem, f"Figure {path.name}{where}"
