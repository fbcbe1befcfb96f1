"""``evaluate(request)``: every model on every site, then tables, figures, report and summary.

This is the Python API behind ``python -m model evaluate`` that the dashboard runs in a background
job (progress goes to ``CMR_PROGRESS_FILE``). Problems that spoil only part of the run (an
external dataset that cannot be opened, a ``--compare`` checkpoint from another model family,
labels that match no study) are collected; whatever could be computed is written, and then a
``DataError`` naming every such problem is raised.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from model.errors import DataError, UserError
from model.evaluation.baselines import (
    GeneralClipConfig,
    general_clip_encoder,
    random_weights_notice,
)
from model.evaluation.encoders import Encoder, checkpoint_encoder, unique_names
from model.evaluation.held_out import site_notes
from model.evaluation.inputs import (
    SiteData,
    check_external_sites,
    diagnosis_classes,
    grid_problems,
    labels_per_dataset,
    load_development,
    load_site,
)
from model.evaluation.outputs import prepare_out, write_outputs
from model.evaluation.probes import SplitProbes
from model.evaluation.recorded_paths import PathRecorder, portable_command
from model.evaluation.run_times import RunClock
from model.evaluation.site_probes import fit_train_split
from model.evaluation.subgroup_view import MIN_CLASS, SUBGROUP_VARIABLES
from model.evaluation.suite import SiteResult, SuiteConfig, evaluate_site
from model.output_path import check_output_path
from model.progress import Progress
from model.prompts import PromptSet
from model.provenance import file_sha256, run_context, software_versions
from model.schema import default_data_root

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvaluationRequest:
    """What to evaluate: the main checkpoint on ``data`` (test split) and ``external`` datasets,
    with the ``labels`` files, or each dataset's own labels file when ``labels`` is empty."""

    checkpoint: Path
    data: Path
    labels: list[Path]
    prompts: Path
    out: Path
    external: list[Path] = field(default_factory=list)
    compare: list[Path] = field(default_factory=list)
    general_clip: GeneralClipConfig | None = None
    suite: SuiteConfig = field(default_factory=SuiteConfig)
    device: str = "cpu"
    command: tuple[str, ...] | None = None  # the command line after python -m model, recorded


@dataclass
class _Collected:
    """Sites and models that could be opened, and the problems met on the way."""

    sites: list[SiteData] = field(default_factory=list)
    development: SiteData | None = None
    encoders: list[Encoder] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    fatal: list[str] = field(default_factory=list)

    def fail(self, message: str) -> None:
        log.error("%s", message)
        self.problems.append(message)
        self.fatal.append(message)


def _site_name(dataset: object, internal: bool, taken: set[str]) -> str:
    sites = dataset.studies["site"].dropna().astype(str)
    name = "internal" if internal else (sites.mode().iloc[0] if not sites.empty else "external")
    return name if name not in taken else f"{name}-{Path(dataset.root).name}"


def _open_sites(
    request: EvaluationRequest,
    site_labels: list[Any],
    diagnoses: tuple[str, ...],
    collected: _Collected,
) -> None:
    """Open the internal and external datasets, ``site_labels`` holding each one's labels."""
    from model.data.dataset import CMRDataset

    datasets = [(True, request.data)] + [(False, p) for p in request.external]
    failures: list[str] = []  # logged once: as the sites that failed, or in the final error
    for (internal, path), labels in zip(datasets, site_labels, strict=True):
        try:
            dataset = CMRDataset.open(path)
            name = _site_name(dataset, internal, {s.name for s in collected.sites})
            collected.sites.append(load_site(dataset, name, internal, labels, diagnoses))
            if internal and request.suite.train_split_probes:
                collected.development = load_development(dataset, labels, diagnoses)
                if collected.development is None:
                    collected.problems.append(
                        f"train-split probes skipped: no labelled train or val study in {path}"
                    )
        except UserError as err:
            failures.append(str(err))
    if not collected.sites:
        raise DataError("nothing to evaluate: " + "; ".join([*collected.problems, *failures]))
    for message in failures:
        collected.fail(message)
    unmatched = [p for site in collected.sites for p in site.problems]
    for message in unmatched:
        log.error("%s", message)
    collected.problems += unmatched
    collected.fatal += unmatched
    for message in grid_problems(collected.sites):
        log.warning("%s", message)
        collected.problems.append(message)


def _open_encoders(request: EvaluationRequest, collected: _Collected) -> None:
    collected.encoders.append(checkpoint_encoder(request.checkpoint, request.device))
    for path in request.compare:
        try:
            collected.encoders.append(checkpoint_encoder(path, request.device))
        except UserError as err:
            collected.fail(f"--compare {path} skipped: {err}")
    if request.general_clip is not None:
        try:
            config = replace(request.general_clip, device=request.device)
            collected.encoders.append(general_clip_encoder(config))
        except UserError as err:
            collected.fail(f"general CLIP baseline skipped: {err}")
        else:
            notice = random_weights_notice(config)
            if notice:
                log.warning("%s", notice)
                collected.problems.append(notice)
    collected.encoders = unique_names(collected.encoders)
    for message in same_weights(collected.encoders):
        log.warning("%s", message)
        collected.problems.append(message)


def same_weights(encoders: list[Encoder]) -> list[str]:
    """One message per group of models holding identical weights (a run's best.pt and last.pt
    when its last epoch was its best): their rows are equal and their comparison shows nothing."""
    groups: dict[str, list[str]] = {}
    for encoder in encoders:
        if encoder.weights:
            groups.setdefault(encoder.weights, []).append(encoder.name)
    return [
        f"{' and '.join(names)} hold the same weights ({weights[:12]}): their figures are "
        "identical and their comparison is no difference"
        for weights, names in groups.items()
        if len(names) > 1
    ]


def _config_record(
    request: EvaluationRequest, label_files: list[Path], paths: PathRecorder | None = None
) -> dict[str, Any]:
    """The summary's ``config``: its input paths as ``paths`` records them (relative to the
    data root: ``recorded_paths``), its command line likewise."""
    paths = paths or PathRecorder(default_data_root())
    general = asdict(request.general_clip) if request.general_clip else None
    if general and general.get("weights") is not None:
        general["weights"] = paths.record(general["weights"])
    command = None if request.command is None else portable_command(request.command, paths.root)
    return {
        "checkpoint": paths.record(request.checkpoint),
        "data": paths.record(request.data),
        "labels": paths.record_all(label_files),
        "external": paths.record_all(request.external),
        "compare": paths.record_all(request.compare),
        "prompts": paths.record(request.prompts),
        "paths": paths.marker(),
        "general_clip": general,
        "suite": asdict(request.suite),
        "bootstrap_unit": "patient",  # metrics.bootstrap_counts resamples patients
        "retrieval_intervals": True,  # retrieval.csv has R@k, median rank, precision@10 CIs
        "retrieval_ties": "random order, in expectation",  # retrieval.QueryRanks
        "fewshot_interval": "episodes and patients",  # fewshot_intervals: two-level bootstrap
        "mean_intervals": "shared patient draws",  # label_means: the headline means' CIs
        "subgroups": {"variables": list(SUBGROUP_VARIABLES), "min_class": MIN_CLASS},
        "sha256": _input_hashes(request, label_files),
        "versions": software_versions(),
        **run_context(command),  # command (read from the data root), code version, threads
        "device": request.device,  # where the studies were embedded: a GPU's sums differ in bits
    }


def _input_hashes(request: EvaluationRequest, label_files: list[Path]) -> dict[str, Any]:
    """SHA-256 of the input files a path alone does not pin down (they are edited in place): the
    prompt set and the labels files read (``--labels``, or each dataset's own)."""
    hashes: dict[str, Any] = {
        "prompts": file_sha256(request.prompts),
        "labels": [file_sha256(path) for path in label_files],
    }
    general = request.general_clip
    if general is not None and general.weights is not None:
        hashes["general_clip_weights"] = file_sha256(general.weights)
    return hashes


def _flag_trained_studies(collected: _Collected) -> None:
    """Note at each site the models that trained on some of its evaluated studies (or whose
    training data could not be checked at an internal site of another dataset): the report
    would otherwise give their figures as those of held-out studies."""
    notes = site_notes(collected.encoders, collected.sites)
    for site in collected.sites:
        site.not_held_out = notes.get(site.name, [])
        collected.problems += [f"site {site.name}: {note}" for note in site.not_held_out]
        for note in site.not_held_out:
            log.warning("site %s: %s", site.name, note)


def _train_split_probes(
    encoder: Encoder, config: SuiteConfig, collected: _Collected
) -> SplitProbes | None:
    """The encoder's probes fitted on the internal train/val studies, None without any."""
    if collected.development is None:
        return None
    try:
        return fit_train_split(encoder, collected.development, config.probe, config.blas_threads)
    except UserError as err:
        collected.fail(f"{encoder.name}: train-split probes skipped: {err}")
        return None


def evaluate(request: EvaluationRequest) -> dict[str, Any]:
    """Run the whole evaluation and write ``request.out``; returns the JSON summary.

    Raises DataError / CheckpointError for unusable inputs and UserError for an output folder that
    cannot be created; partial problems are raised after the outputs are written (see the module
    docstring).
    """
    clock = RunClock()
    check_external_sites(request.data, request.external)
    check_output_path(request.out, "output folder", folder=True)
    prompts = PromptSet.load(request.prompts)
    site_labels, label_files = labels_per_dataset(
        [request.data, *request.external], list(request.labels)
    )
    prepare_out(request.out)
    collected = _Collected()
    _open_encoders(request, collected)
    _open_sites(request, site_labels, diagnosis_classes(prompts), collected)
    _flag_trained_studies(collected)
    results: list[SiteResult] = []
    total = len(collected.encoders) * len(collected.sites)
    with Progress("evaluate", total=total, unit="model-site") as bar:
        for encoder in collected.encoders:
            train_split = _train_split_probes(encoder, request.suite, collected)
            for site in collected.sites:
                bar.update(0, message=f"{encoder.name} @ {site.name}")
                try:
                    results.append(
                        evaluate_site(encoder, site, prompts, request.suite, train_split)
                    )
                except UserError as err:
                    collected.fail(f"{encoder.name} at site {site.name} skipped: {err}")
                bar.update(1)
    problems = list(dict.fromkeys(collected.problems + [p for r in results for p in r.problems]))
    for message in problems[len(collected.problems) :]:
        log.warning("%s", message)
    paths = PathRecorder(default_data_root())
    config = _config_record(request, label_files, paths)
    summary = write_outputs(
        request.out, results, collected.sites, collected.encoders, problems, config, paths, clock
    )
    if collected.fatal:
        raise DataError(
            "; ".join(dict.fromkeys(collected.fatal)) + f" (partial results in {request.out})"
        )
    return summary
