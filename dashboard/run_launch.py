"""Launching a training run from the Train page's form: the run folder's ``preset.json`` and
the job that trains it.

Several people may press Launch training at once on one dashboard (a class of students, each
with the same default run name of that minute). The preset is written under the job manager's
launch lock, once no training job runs (``JobManager.launch``'s ``prepare``): one who is refused
never writes over the preset of the run another's job is about to read.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dashboard.importer import check_name
from dashboard.job import Job
from dashboard.runs import TrainForm, job_for_run, launcher, with_val_labels
from dashboard.sweep_launch import SweepLaunch, sweep_runs
from model.atomic import atomic_write_json
from model.errors import CheckpointError, UserError
from model.wording import counted


@dataclass(frozen=True)
class RunPlan:
    """A run to launch (or a sweep: ``sweep``): its folder (a sweep's first run, shown once it
    starts), its preset (base preset + form overrides), its command."""

    run: Path
    preset: dict[str, Any]
    command: list[str]
    sweep: SweepLaunch | None = None

    @property
    def preset_file(self) -> Path:
        return self.run / "preset.json" if self.sweep is None else self.sweep.preset_file

    @property
    def title(self) -> str:
        if self.sweep is None:
            return f"Train {self.run.name}"
        return f"Sweep {self.sweep.name} ({counted(len(self.sweep.runs), 'run')})"

    def outputs(self, dataset: Path, gpus: str) -> dict[str, str]:
        """The job's outputs: its run (``job_for_run``), or its sweep's record."""
        where = {"run": str(self.run)} if self.sweep is None else {"sweep": str(self.sweep.record)}
        return where | {"dataset": str(dataset), "gpus": gpus}

    def write(self) -> None:
        """Write the preset file; UserError when a run of that name exists by now."""
        if self.sweep is None:
            _check_new(self.run)
            self.run.mkdir(parents=True, exist_ok=True)
        else:
            self.sweep.check()
            self.sweep.out_root.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.preset_file, self.preset)


def plan_run(form: TrainForm, runs_dir: Path, gpus: int) -> RunPlan:
    """The run (or sweep) ``form`` describes, checked (name, grid, preset overrides, the
    checkpoint it starts from) but not written yet. A sweep's grid is read and checked by
    ``model sweep``'s own code."""
    from model.nn.presets import load_preset, preset_from_dict, preset_to_dict

    name = check_name(form.name, "run name")
    sweep = _sweep_of(form, runs_dir, name)
    run = runs_dir / (name if sweep is None else sweep.runs[0].name)
    if sweep is None:
        _check_new(run)
    _check_micro_batches(form, gpus)
    preset = preset_to_dict(load_preset(form.preset))
    if form.init_from is None:
        video = preset["model"]["video"]
        video.update(kind=form.tower, frames=form.frames, image_size=form.image_size)
        preset["model"]["text"]["unlocked_layers"] = form.text_layers
    else:  # a checkpoint loads only into its own model: the form's model fields do not apply
        preset["model"] = checkpoint_model(form.init_from)
    _apply_schedule(preset, form)
    preset_from_dict(json.loads(json.dumps(preset)))
    plan = RunPlan(run, preset, [], sweep)
    args = ["--data", str(form.dataset), "--preset", str(plan.preset_file)]
    if sweep is None:
        args = ["train", *args, "--out", str(run)]
    else:
        args = ["sweep", *args, "--out-root", str(runs_dir), "--name", name, *sweep.arguments()]
    if form.init_from is not None:
        args += ["--init-from", str(form.init_from)]
    command = launcher(with_val_labels(args, form.dataset), gpus)
    return dataclasses.replace(plan, command=command)


def _sweep_of(form: TrainForm, runs_dir: Path, name: str) -> SweepLaunch | None:
    """The sweep the form's several values ask for (None: one run), checked as ``model sweep``
    checks it: its grid, and no run folder of its names that is not the sweep's."""
    if not form.is_sweep:
        return None
    sweep = SweepLaunch(runs_dir, name, form.dataset, sweep_runs(name, form.sweep))
    sweep.check()
    return sweep


def checkpoint_model(checkpoint: Path) -> dict[str, Any]:
    """The model section of the preset stored in ``checkpoint``, every key filled in: read
    without torch when its sidecar describes it; UserError in one line when it cannot be read
    or its model is not valid here."""
    from model.checkpoint_meta import checkpoint_facts
    from model.nn.presets import model_config_from_dict

    stored = checkpoint_facts(checkpoint).meta.config.get("model")
    try:
        return dataclasses.asdict(model_config_from_dict(stored))
    except UserError as err:
        raise CheckpointError(f"cannot start from {checkpoint}: {err}") from None


def _apply_schedule(preset: dict[str, Any], form: TrainForm) -> None:
    """The form's schedule and memory options on ``preset``'s train section; its frames and
    resolution are the model's."""
    video, train = preset["model"]["video"], preset["train"]
    train.update(epochs=form.epochs, batch_size=form.batch_size, lr=form.lr)
    train["grad_checkpointing"] = bool(form.grad_checkpointing)
    train["accum_freq"] = int(form.accum_freq)
    train["time_budget_s"] = max(float(form.time_budget_min), 0.0) * 60.0
    for key in ("frames", "image_size"):
        if key in train:
            train[key] = video[key]


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
