"""Launching a training run from the Train page's form: the run folder's ``preset.json`` and
the job that trains it.

Several people may press Launch training at once on one dashboard (a class of students, each
with the same default run name of that minute). The preset is written under the job manager's
launch lock, once no training job runs (``JobManager.launch``'s ``prepare``): one who is refused
never writes over the preset of the run another's job is about to read.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.importer import check_name
from dashboard.job import Job
from dashboard.runs import TrainForm, job_for_run, launcher, with_val_labels
from model.atomic import atomic_write_json
from model.errors import UserError


@dataclass(frozen=True)
class RunPlan:
    """A run to launch: its folder, its preset (base preset + form overrides), its command."""

    run: Path
    preset: dict[str, Any]
    command: list[str]

    def write(self) -> None:
        """Write ``RUN/preset.json``; UserError when a run of that name exists by now."""
        _check_new(self.run)
        self.run.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.run / "preset.json", self.preset)


def plan_run(form: TrainForm, runs_dir: Path, gpus: int) -> RunPlan:
    """The run ``form`` describes, checked (name, preset overrides) but not written yet."""
    from model.nn.presets import load_preset, preset_from_dict, preset_to_dict

    name = check_name(form.name, "run name")
    run = runs_dir / name
    _check_new(run)
    _check_micro_batches(form, gpus)
    preset = preset_to_dict(load_preset(form.preset))
    video, train = preset["model"]["video"], preset["train"]
    video.update(kind=form.tower, frames=form.frames, image_size=form.image_size)
    preset["model"]["text"]["unlocked_layers"] = form.text_layers
    train.update(epochs=form.epochs, batch_size=form.batch_size, lr=form.lr)
    train["grad_checkpointing"] = bool(form.grad_checkpointing)
    train["accum_freq"] = int(form.accum_freq)
    train["time_budget_s"] = max(float(form.time_budget_min), 0.0) * 60.0
    for key in ("frames", "image_size"):
        if key in train:
            train[key] = video[key]
    preset_from_dict(json.loads(json.dumps(preset)))
    args = ["train", "--data", str(form.dataset), "--preset", str(run / "preset.json")]
    args += ["--out", str(run)]
    return RunPlan(run, preset, launcher(with_val_labels(args, form.dataset), gpus))


def _check_micro_batches(form: TrainForm, gpus: int) -> None:
    """UserError when a step's share of each GPU (or the CPU) is cut into more micro-batches
    than it has studies (the train command would refuse the run once launched)."""
    per_process = form.batch_size // max(gpus, 1)
    if form.accum_freq > per_process:
        where = f"each of the {gpus} GPUs" if gpus > 1 else "the step"
        raise UserError(
            f"{form.accum_freq} micro-batches are more than the {per_process} studies {where} "
            f"takes from a batch of {form.batch_size}: use at most {per_process}"
        )


def prepare_run(form: TrainForm, runs_dir: Path, gpus: int) -> tuple[Path, list[str]]:
    """Write ``RUN/preset.json`` (base preset + form overrides) and return (run dir, command)."""
    plan = plan_run(form, runs_dir, gpus)
    plan.write()
    return plan.run, plan.command


def _check_new(run: Path) -> None:
    if (run / "last.pt").exists() or (run / "status.json").exists():
        raise UserError(f"a run called {run.name!r} already exists; pick another name or resume it")


def refusal_text(said: str, run: Path, jobs: list[Job], own: Collection[str] = ()) -> str:
    """What a refused launch of ``run`` says: ``said``, unless the training that runs is a run
    of that very name (two students with the default name of one minute): its refusal named
    "Train <the name on this form>" as the job that runs, read as this launch having started.
    ``own``: the ids of the jobs this page session started; one of them is not someone else's
    (``said`` tells its starter to cancel it)."""
    running = job_for_run([job for job in jobs if job.running and job.id not in own], run)
    if running is None:
        return said
    return (
        f"This launch did not start: a run with the same name, {run.name}, is already training "
        f"(launched by someone else, {running.origin}); one training runs at a time. Give "
        "yours another name and launch it once that one ends, or watch that one below."
    )
