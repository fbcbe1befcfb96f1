"""Training runs as the Train page sees them: read-only views of run folders, and the command
that launches or resumes a run (a preset file with the form's overrides, then ``model train``,
under torchrun for several GPUs; which GPUs: ``dashboard/gpus.py``; whether it is live:
``dashboard/run_state.py``).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from dashboard import cache
from dashboard.formatting import format_eta
from dashboard.job import last_lines
from dashboard.jobs import model_command
from dashboard.run_compare import open_estimate, run_facts
from dashboard.run_state import read_status, run_is_live, run_state, state_with_job
from dashboard.settings import CHECKPOINT_FILES, Settings
from model import clock
from model.errors import OutOfDeviceMemory, UserError, storage_problem
from model.evaluation.retrieval import TOP_K, recalls_fixed_by
from model.file_lock import FileLock
from model.labels import label_file
from model.training.run_folder import LOCK_FILE, RunFolder
from model.training.sweep_record import training_now

CHECKPOINT_ONLY = "checkpoint only"


@dataclass(frozen=True)
class TrainForm:
    """What the Train page's form asks for; overrides applied on top of ``preset``."""

    dataset: Path
    name: str
    preset: str = "cpu-small"
    tower: str = "multiview"
    frames: int = 8
    image_size: int = 64
    batch_size: int = 32
    epochs: int = 8
    lr: float = 1e-3
    text_layers: int = 2
    time_budget_min: float = 0.0  # > 0: as many epochs as fit, at most ``epochs``
    grad_checkpointing: bool = False  # less GPU memory for about a quarter more time
    accum_freq: int = 1  # micro-batches per step: the same gradients in less GPU memory
    init_from: Path | None = None  # a checkpoint to start from; its model, not the fields'
    # the sweep's fields: train option (``lr``, ``seed``...) -> several values, comma-separated
    sweep: dict[str, str] = field(default_factory=dict)  # any given: a sweep (``model sweep``)

    @property
    def is_sweep(self) -> bool:
        return any(text.strip() for text in self.sweep.values())


def log_tail(run: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of the run's train.log; not a link out of the run folder (a
    training writes none; one planted in a shared data root would show another file here)."""
    log = RunFolder(run).log_path
    if not log.exists():
        return "(no log yet)"
    if run.resolve() not in log.resolve().parents:
        return "(train.log links outside the run folder; not shown)"
    with log.open("rb") as handle:
        return last_lines(handle, lines)


def suggested_run_name(preset: str) -> str:
    """``PRESET-YYYYMMDD-HHMMSSZ``: stamped in UTC, as job ids and evaluation folders are."""
    return f"{preset}-{clock.utc_stamp()}"


def preset_names() -> list[str]:
    """Names of the shipped presets (model/presets/*.json)."""
    from model.nn.presets import preset_names as shipped

    return shipped()


def read_metrics(run: Path) -> pd.DataFrame:
    """metrics.jsonl as a table (empty when the run has logged nothing yet), parsed again only
    when the file has changed."""
    return cache.run_metrics(str(run), cache.append_version(RunFolder(run).metrics_path))


# the runs table's headers, as the other pages' tables write theirs (``Study ID``, ``Age band``)
RUN_TABLE_HEADERS = {
    "active": "Active",
    "run": "Run",
    "state": "State",
    "epoch": "Epoch",
    "eta": "ETA",
    "best": "Best",
    "checkpoint": "Checkpoint",
    "updated": "Updated",
    "tower": "Tower",  # last: the status columns stay in sight on a laptop, these scroll in
    "dataset": "Trained on",
}


def runs_table(
    runs: list[Path], root: Path, jobs: list[Any] = (), zone: str | None = None
) -> pd.DataFrame:
    """One row per run folder: name, state (and its last job's failure, of ``jobs``:
    ``state_with_job``; a time in it in ``zone``, the reader's), epoch, ETA, best validation
    metric, last update, and what it trains on what (tower, dataset)."""
    rows = []
    for run in runs:
        status = read_status(run)
        metrics = read_metrics(run)
        best = _best_val(metrics)
        state = shown_state(status, run, zone)
        facts = run_facts(run, root)  # what it trains, on what: config.json's record
        rows.append(
            {
                "run": str(run.relative_to(root)) if root in run.parents else str(run),
                "state": state_with_job(state, status, job_for_run(list(jobs), run)),
                "epoch": "" if state == CHECKPOINT_ONLY else _epoch(status, run_is_live(state)),
                "eta": format_eta(status.get("eta_s")) if run_is_live(state) else "",
                "best": best,
                "checkpoint": _checkpoint_of(run),
                "updated": updated_at(status.get("updated") or _mtime(run)),
                "tower": facts.tower,
                "dataset": facts.dataset,
                "path": str(run),
            }
        )
    return pd.DataFrame(rows)


def shown_state(status: dict[str, Any], run: Path, zone: str | None = None) -> str:
    """``run_state``, or ``CHECKPOINT_ONLY`` for a folder that holds a checkpoint and no record
    of its training (no status.json, metrics or log: a best.pt copied here from another
    machine); a run folder copied without its status.json keeps its curves and resume."""
    folder = RunFolder(run)
    record = (folder.status_path, folder.metrics_path, folder.log_path)
    if not status and not any(path.exists() for path in record) and _checkpoint_of(run):
        return CHECKPOINT_ONLY
    return run_state(status, run, zone)


def _epoch(status: dict[str, Any], live: bool) -> str:
    """``3/84``; ``3/~16`` while a live run's time budget is still choosing its count (84 is
    only the cap then)."""
    estimate = open_estimate(status, live)
    if estimate is not None:
        return f"{status.get('epoch', 0)}/~{estimate}"
    return f"{status.get('epoch', 0)}/{status.get('epochs', '?')}"


def _checkpoint_of(run: Path) -> str:
    """The run's checkpoint the table names: best.pt, else last.pt, else ""."""
    return next((name for name in CHECKPOINT_FILES if (run / name).exists()), "")


def _best_val(metrics: pd.DataFrame) -> str:
    """What best.pt was kept for: the highest val selection score (mean R@1/5/10, label-free);
    the zero-shot AUC some runs log uses labels and never chose a checkpoint."""
    if "selection_score" in metrics and metrics["selection_score"].notna().any():
        return f"R@1/5/10 {metrics['selection_score'].max():.3f}"
    return ""


def updated_at(stamp: Any) -> pd.Timestamp:
    """``stamp`` (seconds since the epoch) as a UTC time, ``NaT`` for none: the table sorts it
    by time and the page writes it in the reader's zone, with the zone's name. A text column
    ("11-01 01:30") sorted by letters: a run updated at 01:10 after the clocks went back came
    before one at 01:30 an hour earlier, and January's runs before December's."""
    try:
        return pd.Timestamp(float(stamp), unit="s", tz="UTC")
    except (TypeError, ValueError, OverflowError):
        return pd.NaT


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def throughput_line(metrics: pd.DataFrame, last: int = 20) -> str:
    """Median studies/s of the last ``last`` logged steps, on the wall clock (each batch's
    loading included, what a user waits for) and for the step's compute alone; empty if unknown."""
    if "studies_per_s" not in metrics:
        return ""
    steps = metrics[metrics["kind"] == "train"].tail(last)
    compute = steps["studies_per_s"].dropna()
    if compute.empty:
        return ""
    line = f"{compute.median():.1f} studies/s for the step's compute alone"
    wall = steps["wall_studies_per_s"].dropna() if "wall_studies_per_s" in steps else compute[:0]
    if not wall.empty:  # runs logged before the wall clock was
        line = f"{wall.median():.1f} studies/s with loading, " + line
    over = "the first logged step" if len(steps) == 1 else f"the last {len(steps)} logged steps"
    return f"Training speed over {over}: {line}."


def with_val_labels(args: list[str], dataset: Path) -> list[str]:
    """``args`` + ``--val-labels`` when ``dataset`` has a labels CSV (``label_file``): the run
    then logs each epoch's val zero-shot AUC for the curves. Labels never choose a checkpoint."""
    labels = label_file(Path(dataset))
    return args if labels is None else [*args, "--val-labels", str(labels)]


def resume_command(
    run: Path, dataset: Path, gpus: int, grad_checkpointing: bool = False, accum_freq: int = 0
) -> list[str]:
    """The command that continues ``run`` from its last.pt (with gradient checkpointing or
    ``accum_freq`` micro-batches per step, e.g. after it ran out of GPU memory: the model and
    its gradients are unchanged, so the run resumes exactly; 0 keeps the run's). No
    ``--preset``: ``train --resume`` takes the run's own, overrides included, from its
    config.json, however the run was started (this page, ``model train``, ``model demo``)."""
    if not (run / "last.pt").exists():
        raise UserError(f"{run.name} has no last.pt to resume from")
    args = ["train", "--data", str(dataset), "--out", str(run), "--resume"]
    if grad_checkpointing:
        args.append("--grad-checkpointing")
    if accum_freq:
        args += ["--accum-freq", str(accum_freq)]
    return launcher(with_val_labels(args, dataset), gpus)


def selection_caption(run: Path) -> str:
    """How the run's best.pt was chosen, for its panel: by val retrieval, or (config.json's
    ``n_val`` 0: no val study with a report impression) as its last epoch; a val split of at
    most 10 studies has R@k fixed at 1 (``recalls_fixed_by``), which the caption names."""
    try:
        n_val = json.loads((run / "config.json").read_text(encoding="utf-8")).get("n_val")
    except (OSError, ValueError, AttributeError):
        n_val = None
    fixed = recalls_fixed_by(n_val) if isinstance(n_val, int) and n_val > 0 else []
    if n_val == 0:
        chosen = (
            "best.pt is the last epoch: the dataset's val split has no study with a report "
            "impression, so nothing was validated."
        )
    elif len(fixed) == len(TOP_K):
        chosen = "best.pt is the last epoch: with 1 val study every val R@k is 1 at every epoch."
    else:
        chosen = "best.pt is the epoch with the highest mean val R@1/5/10, which needs no labels."
    if fixed and len(fixed) < len(TOP_K):
        left = "/".join(str(k) for k in TOP_K if k not in fixed)
        chosen += (
            f" With {n_val} val studies R@{'/'.join(map(str, fixed))} "
            f"{'is' if len(fixed) == 1 else 'are'} 1 at every epoch, so R@{left} alone chose it."
        )
    over = f"the {n_val:,} val studies" if isinstance(n_val, int) and n_val > 0 else "val studies"
    return (
        f"{chosen} The zero-shot AUC, drawn when the dataset has a labels file, is logged only: "
        f"the mean over the shipped prompt set's findings on {over} (the Zero-shot page's val "
        "split gives each finding's; the Evaluate page reports the test split)."
    )


def ran_out_of_gpu_memory(status: dict[str, Any]) -> bool:
    """Whether the run's last message says a step ran out of GPU memory."""
    return str(status.get("message", "")).startswith(OutOfDeviceMemory.PREFIX)


def launcher(args: list[str], gpus: int) -> list[str]:
    """The training command on ``gpus`` GPUs: several through ``train --nproc`` (torchrun's
    launcher, on a free port, with a failed process said in one line instead of torchrun's
    traceback in the job's log)."""
    return model_command(*args, *(["--nproc", str(gpus)] if gpus > 1 else []))


def delete_run(run: Path, running: bool, settings: Settings | None = None) -> None:
    """Remove a finished run folder; refuse while it is still going, or while a training process
    holds its writer lock (one this dashboard cannot see: another host's, a status not yet
    written). With ``settings``, a session whose active checkpoint it held moves on at once:
    deleted here, so no "deleted, here or on another dashboard" notice (``gone_choices``)."""
    if running or run_is_live(run_state(read_status(run), run)):
        raise UserError(f"{run.name} is still running; stop it before deleting it")
    if not run.is_dir():
        raise UserError(f"{run.name} no longer exists (deleted already?)")
    busy = f"{run.name} is still training: another process (%s) is writing it; stop it first"
    try:
        with FileLock(run / LOCK_FILE, lambda holder: busy % holder):
            shutil.rmtree(run)
    except OSError as err:  # a read-only root also says what to do about it
        said = storage_problem(err) or f"{err.strerror or err} ({err.filename or run})"
        raise UserError(f"cannot delete {run.name}: {said}") from err
    if settings is not None and "checkpoint" in settings.gone_choices():
        settings.active_checkpoint()


def preset_defaults(name: str) -> dict[str, Any]:
    """The form fields' starting values taken from a shipped preset."""
    from model.nn.presets import load_preset, preset_to_dict

    preset = preset_to_dict(load_preset(name))
    video, text, train = preset["model"]["video"], preset["model"]["text"], preset["train"]
    return {
        "tower": video.get("kind", "multiview"),
        "frames": int(video.get("frames", 8)),
        "image_size": int(video.get("image_size", 64)),
        "batch_size": int(train.get("batch_size", 32)),
        "epochs": int(train.get("epochs", 8)),
        "lr": float(train.get("lr", 1e-3)),
        "text_layers": int(text.get("unlocked_layers", 2)),
        "time_budget_min": float(train.get("time_budget_s", 0.0)) / 60.0,
        "grad_checkpointing": bool(train.get("grad_checkpointing", False)),
        "accum_freq": int(train.get("accum_freq", 1)),
    }


def job_for_run(jobs: list[Any], run: Path) -> Any | None:
    """The dashboard job that trains ``run`` (latest first), if it was launched from here: its
    own, or a running sweep's while the sweep's record says it trains that run now."""
    for job in jobs:
        if job.outputs.get("run") == str(run):
            return job
        sweep = job.outputs.get("sweep")
        if sweep and job.running and training_now(Path(sweep), run.name):
            return job
    return None
