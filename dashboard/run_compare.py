"""What a training run trained, on what, and several runs side by side (the Train page).

The run panel said a run's name, its state and "done"; which tower it trained, on which dataset
and how many studies lived in config.json only, and two runs could not be compared but by
clicking between them. ``run_facts`` reads a run's own record (``config.json``, written when
training starts; ``preset.json`` before that), ``facts_line`` says it in a line, and
``comparison_table`` / ``comparison_figure`` put several runs' settings and validation curves
together.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dashboard.formatting import relative
from dashboard.inert_text import plotly_text
from dashboard.plots import PALETTE, TEMPLATE
from model.atomic import read_json_object
from model.relocate import is_dataset, locate
from model.training.sweep_grid import value_text
from model.training.sweep_record import (
    RECORD_SUFFIX,
    best_score,
    ranked,
    read_record,
    read_sweep_of,
)
from model.wording import counted

# the curves compared: the score best.pt is chosen by, and the label-using zero-shot AUC
COMPARED = {"selection_score": "val mean R@1/5/10", "val_auc": "val zero-shot AUC"}


@dataclass(frozen=True)
class RunFacts:
    """What a run trains: its tower and input size, its dataset and split sizes, its schedule."""

    tower: str = ""
    frames: int | None = None
    image_size: int | None = None
    dataset: str = ""
    n_train: int | None = None
    n_val: int | None = None
    epochs: int | None = None
    batch: int | None = None
    micro_batches: int | None = None  # train.accum_freq: a step computed in that many pieces
    device: str = ""
    init_from: str = ""  # the checkpoint a run started from (train --init-from), with its step
    lr: float | None = None  # the peak learning rate its optimiser used (train.lr)
    seed: int | None = None
    sweep: str = ""  # the sweep (``model sweep``) whose record lists it; read on request


def _whole(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _section(document: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        found = document.get(key)
        document = found if isinstance(found, dict) else {}
    return document


def run_facts(run: Path, root: Path, with_sweep: bool = False) -> RunFacts:
    """``run``'s facts from its config.json (preset.json for a run not yet started: its
    tower and schedule, no dataset or split sizes); blanks for what neither records.
    ``with_sweep``: also the sweep it belongs to (a look at the sweep records beside it: one
    run's panel, not every row of the runs table)."""
    config = read_json_object(run / "config.json")
    preset = _section(config, "preset") or read_json_object(run / "preset.json")
    video, train = _section(preset, "model", "video"), _section(preset, "train")
    data = config.get("data")
    return RunFacts(
        tower=str(video.get("kind") or ""),
        frames=_whole(train.get("frames")) or _whole(video.get("frames")),
        image_size=_whole(train.get("image_size")) or _whole(video.get("image_size")),
        dataset=_shown(data, root),
        n_train=_whole(config.get("n_train")),
        n_val=_whole(config.get("n_val")),
        epochs=_whole(config.get("epochs")) or _whole(train.get("epochs")),
        batch=_whole(config.get("global_batch")) or _whole(train.get("batch_size")),
        micro_batches=_whole(train.get("accum_freq")),
        device=str(config.get("device") or ""),
        init_from=_init_shown(_section(config, "init_from"), root),
        lr=_number(train.get("lr")),
        seed=_whole(train.get("seed")),
        sweep=read_sweep_of(run) if with_sweep else "",
    )


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def _shown(recorded: object, root: Path, fits: Callable[[Path], bool] = is_dataset) -> str:
    """A recorded dataset (or other path that ``fits``) as this data root holds it (its copy
    here when the root was copied or moved since the run: ``model.relocate``), relative to the
    root; else as recorded (relative to the root when inside it)."""
    found = locate(recorded, root, fits)
    if found is not None:
        return relative(found.path, root)
    return relative(Path(recorded), root) if isinstance(recorded, str) and recorded else ""


def _init_shown(record: dict[str, Any], root: Path) -> str:
    """``config.json``'s ``init_from`` as the facts say it: ``runs/site-a/best.pt (step 120)``."""
    shown = _shown(record.get("checkpoint"), root, Path.is_file)
    step = _whole(record.get("step"))
    return f"{shown} (step {step})" if shown and step is not None else shown


def open_estimate(status: dict[str, Any], live: bool) -> int | None:
    """The epochs a live run's time budget points to while it still chooses the count
    (``status.json``'s ``epochs_estimate``; its ``epochs`` is only the cap then), else None: a
    stopped run's resume counts from the cap, a chosen count is its ``epochs``."""
    estimate = status.get("epochs_estimate")
    return _whole(estimate) if live else None


def facts_line(facts: RunFacts, estimate: int | None = None) -> str:
    """The run's facts in a line, each part only when recorded: ``multiview tower, 8 frames at
    64 px · trained on demo/internal (699 train, 145 val studies) · 12 epochs, batch 32 · cpu``,
    with ``initialised from runs/site-a/best.pt (step 120)`` after the dataset for a run started
    from another run's checkpoint (``train --init-from``).
    ``estimate`` (``open_estimate``): the schedule says ``~14 epochs by its time budget (at
    most 200)``, as the runs table counts ``3/~14``, not the cap as if it were the count."""
    tower = f"{facts.tower} tower" if facts.tower else ""
    if tower and facts.frames and facts.image_size:
        tower += f", {facts.frames} frames at {facts.image_size} px"
    data = f"trained on {facts.dataset}" if facts.dataset else ""
    if data and facts.n_train is not None and facts.n_val is not None:
        data += f" ({facts.n_train:,} train, {facts.n_val:,} val studies)"
    start = f"initialised from {facts.init_from}" if facts.init_from else ""
    schedule = counted(facts.epochs, "epoch") if facts.epochs else ""
    if estimate is not None and facts.epochs:
        schedule = (
            f"~{estimate} epochs by its time budget (at most {facts.epochs})"
            if estimate < facts.epochs
            else f"at most {facts.epochs} epochs, chosen by its time budget"
        )
    if facts.batch:
        batch = f"batch {facts.batch}"
        if (facts.micro_batches or 1) > 1:
            batch += f" in {facts.micro_batches} micro-batches"
        schedule = f"{schedule}, {batch}" if schedule else batch
    sweep = f"run of sweep {facts.sweep} (its ranking: Compare runs)" if facts.sweep else ""
    parts = (tower, data, start, schedule, facts.device, sweep)
    return " · ".join(part for part in parts if part)


def _val(metrics: pd.DataFrame) -> pd.DataFrame:
    if metrics.empty or "kind" not in metrics or "epoch" not in metrics:
        return pd.DataFrame()
    return metrics[metrics["kind"] == "val"]


def _best(val: pd.DataFrame, column: str) -> str:
    """The highest value of ``column`` and the epoch it came at (counted from 1, as the runs
    table counts): ``0.205 at epoch 12``; "" when the run logged none."""
    if column not in val or not val[column].notna().any():
        return ""
    at = val[column].idxmax()
    return f"{float(val.at[at, column]):.3f} at epoch {int(val.at[at, 'epoch']) + 1}"


def comparison_table(
    runs: dict[str, Path], metrics: dict[str, pd.DataFrame], root: Path
) -> pd.DataFrame:
    """One row per run (name -> folder, name -> its metrics.jsonl): what it trained, on what,
    and its best validation figures with their epochs; best.pt holds the best R@1/5/10's."""
    rows = []
    for name, run in runs.items():
        facts, val = run_facts(run, root), _val(metrics.get(name, pd.DataFrame()))
        rows.append(
            {
                "Run": name,
                "Tower": facts.tower,
                "Dataset": facts.dataset,
                "Initialised from": facts.init_from,
                "Train studies": facts.n_train,
                "Epochs": facts.epochs,
                "Learning rate": value_text(facts.lr) if facts.lr is not None else "",
                "Seed": facts.seed,
                "Best val R@1/5/10 (best.pt)": _best(val, "selection_score"),
                "Best val zero-shot AUC": _best(val, "val_auc"),
            }
        )
    return pd.DataFrame(rows)


def sweeps_of(runs_dir: Path) -> dict[str, list[Path]]:
    """Each sweep recorded in ``runs_dir`` (``model sweep``'s ``NAME.sweep.json``): its name ->
    its run folders there, ranked by their best val R@1/5/10 as their metrics say now."""
    found = {}
    for path in sorted(Path(runs_dir).glob(f"*{RECORD_SUFFIX}")):
        record = read_record(path)
        if record is None:
            continue
        for entry in record.runs:
            entry.best, entry.best_epoch = best_score(path.parent / entry.name)
        runs = [path.parent / entry.name for entry in ranked(record)]
        found[record.name] = [run for run in runs if run.is_dir()]
    return found


def comparison_figure(metrics: dict[str, pd.DataFrame]) -> go.Figure:
    """Each run's validation curves on shared axes, one colour per run: mean R@1/5/10 (what
    chooses best.pt) on the left, the zero-shot AUC (when the run logged it) on the right."""
    fig = make_subplots(rows=1, cols=2, subplot_titles=list(COMPARED.values()))
    for index, (name, frame) in enumerate(metrics.items()):
        val, colour = _val(frame), PALETTE[index % len(PALETTE)]
        for column, (col, shown) in zip(COMPARED, ((1, True), (2, False)), strict=True):
            if column not in val or not val[column].notna().any():
                continue
            part = val[val[column].notna()]
            fig.add_trace(
                go.Scatter(
                    x=part["epoch"] + 1,
                    y=part[column],
                    mode="lines+markers",
                    name=plotly_text(name),
                    legendgroup=name,
                    showlegend=shown or "selection_score" not in val,
                    line={"color": colour},
                ),
                row=1,
                col=col,
            )
    epochs = [float(x) for trace in fig.data for x in trace.x]
    if epochs and max(epochs) - min(epochs) <= 10:  # whole epochs, not "1.5"
        fig.update_xaxes(dtick=1)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(range=[0, 1.02])
    legend = {"orientation": "h", "yanchor": "top", "y": -0.25}
    fig.update_layout(template=TEMPLATE, height=380, legend=legend, margin={"t": 40, "b": 40})
    return fig
