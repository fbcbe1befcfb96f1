"""The evaluations a model card reports: ``summary.json``s computed with the very checkpoint.

An evaluation names its checkpoint by path, and a path keeps its name while its weights change
(a resumed run rewrites ``best.pt``); it also records the fingerprint of the weights it measured
(``models[i].fingerprint``). A folder is this checkpoint's when one of its models is a
checkpoint of this fingerprint; that model's results are the card's. A folder given that
evaluated other weights is refused, naming both; with none given, the evaluations the
dashboard lists (``DATA_ROOT/evaluations/``, and the one beside a run folder's ``runs/``) are
searched and the newest of this checkpoint used.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.atomic import read_json_object
from model.clock import made_at
from model.errors import UserError
from model.evaluation.headline import CV_SETTING, SPLIT_SETTING
from model.schema import default_data_root

SUMMARY = "summary.json"


@dataclass(frozen=True)
class SiteFigures:
    """One site's figures for the card's model, as its evaluation summary records them."""

    name: str
    role: str  # internal (its test split) / external (all its studies)
    trained_on: str
    n_evaluated: int
    n_patients: int
    not_held_out: list[str]  # notes of models that trained on some of its studies
    zeroshot: list[dict[str, Any]] = field(default_factory=list)  # finding rows: AUC, CI
    probes: dict[str, dict[str, Any]] = field(default_factory=dict)  # setting -> diagnosis
    retrieval: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class EvaluationFigures:
    """One evaluation folder's figures for the card's checkpoint."""

    folder: Path
    model: str
    sites: list[SiteFigures]
    problems: list[str]
    finished: str = ""  # run.json's UTC time, when recorded


def read_summary(folder: Path) -> dict[str, Any]:
    """``folder/summary.json``; UserError in one line when it is missing or unreadable."""
    path = Path(folder) / SUMMARY
    if not Path(folder).is_dir():
        raise UserError(f"evaluation folder {folder} does not exist")
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(
            f"evaluation folder {folder} has no {SUMMARY} (the evaluation did not finish, or "
            "it is not an evaluation folder); run python -m model evaluate again"
        ) from None
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{path} cannot be read ({type(err).__name__})") from None
    if not isinstance(summary, dict) or not isinstance(summary.get("models"), list):
        raise UserError(f"{path} is not an evaluation summary (no models recorded)")
    return summary


def model_of(summary: dict[str, Any], fingerprint: str) -> str | None:
    """The name of the summary's checkpoint model whose weights are ``fingerprint``."""
    for record in summary.get("models") or []:
        if isinstance(record, dict) and record.get("fingerprint") == fingerprint:
            return str(record.get("name", ""))
    return None


def given_evaluation(folder: Path, fingerprint: str, shown: str) -> EvaluationFigures:
    """The figures of evaluation ``folder`` for the checkpoint ``shown`` of weights
    ``fingerprint``; UserError naming both when the folder evaluated another checkpoint."""
    summary = read_summary(folder)
    name = model_of(summary, fingerprint)
    if name is None:
        config = summary.get("config") if isinstance(summary.get("config"), dict) else {}
        theirs = config.get("checkpoint") or "another checkpoint"
        measured = [str(m.get("fingerprint") or "")[:8] for m in summary["models"] if m]
        weights = ", ".join(filter(None, measured)) or "not recorded: run it again"
        raise UserError(
            f"evaluation {folder} measured {theirs} (weights {weights}), not {shown} "
            f"(weights {fingerprint[:8]}); give an evaluation of this checkpoint"
        )
    return figures(folder, summary, name)


def evaluation_roots(checkpoint: Path, data_root: Path | None = None) -> list[Path]:
    """Where the dashboard keeps evaluations: the data root's (default: ``$CMR_DATA_ROOT``),
    and the one beside the ``runs/`` folder holding the checkpoint's run."""
    roots = [(data_root or default_data_root()) / "evaluations"]
    run = checkpoint.resolve().parent
    if run.parent.name == "runs":
        roots.append(run.parent.parent / "evaluations")
    unique = {root.resolve(): root for root in roots}
    return list(unique.values())


def newest_evaluation(
    checkpoint: Path, fingerprint: str, data_root: Path | None = None
) -> EvaluationFigures | None:
    """The newest finished evaluation the dashboard lists that measured these weights."""
    found = []
    for root in evaluation_roots(checkpoint, data_root):
        folders = [p for p in root.iterdir() if p.is_dir()] if root.is_dir() else []
        for folder in folders:
            try:
                summary = read_summary(folder)
            except UserError:
                continue  # one still running, failed, or not an evaluation
            name = model_of(summary, fingerprint)
            if name is not None:
                found.append((made_at(folder), folder, summary, name))
    if not found:
        return None
    _, folder, summary, name = max(found, key=lambda item: (item[0], str(item[1])))
    return figures(folder, summary, name)


def figures(folder: Path, summary: dict[str, Any], model: str) -> EvaluationFigures:
    """The card's figures of ``model`` in an evaluation ``summary``."""
    records = {r.get("name"): r for r in summary.get("sites") or [] if isinstance(r, dict)}
    models = [m for m in summary["models"] if isinstance(m, dict) and m.get("name") == model]
    trained_on = str(models[0].get("trained on", "–")) if models else "–"
    sites = []
    for result in summary.get("results") or []:
        if not isinstance(result, dict) or result.get("model") != model:
            continue
        site = records.get(result.get("site"), {})
        sites.append(_site(result, site, trained_on))
    problems = [str(p) for p in summary.get("problems") or []]
    run = read_json_object(Path(folder) / "run.json")
    return EvaluationFigures(Path(folder), model, sites, problems, str(run.get("finished", "")))


def _site(result: dict[str, Any], site: dict[str, Any], trained_on: str) -> SiteFigures:
    """One site's figures: finding AUCs, probe diagnosis accuracies, retrieval."""
    diagnosis = result.get("diagnosis") if isinstance(result.get("diagnosis"), dict) else {}
    probes = {s: diagnosis[s] for s in (CV_SETTING, SPLIT_SETTING) if s in diagnosis}
    notes = site.get("not_held_out")
    return SiteFigures(
        name=str(result.get("site", "")),
        role="internal" if site.get("selection") == "test split" else "external",
        trained_on=trained_on,
        n_evaluated=int(site.get("n_evaluated") or 0),
        n_patients=int(site.get("n_patients") or 0),
        not_held_out=[str(n) for n in notes] if isinstance(notes, list) else [],
        zeroshot=[r for r in result.get("zeroshot") or [] if r.get("task") == "finding"],
        probes=probes,
        retrieval=list(result.get("retrieval") or []),
    )
