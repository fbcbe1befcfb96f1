"""Write everything an evaluation produced under ``OUT`` (layout in docs/ARCHITECTURE.md).

```
OUT/summary.json                         what the dashboard reads (paths relative to the data root)
OUT/run.json                             when it ran and how long it took (run_times.py)
OUT/report.html                          self-contained report (figures embedded)
OUT/report.md                            its sentence, models, headline and zero-shot tables
OUT/<site>/{zeroshot,diagnosis,fewshot,probe,retrieval,counts,prompts,subgroups}.csv
OUT/<site>/comparison.csv                the main model against each other one (DeLong)
OUT/<site>/confusion_<setting>_<model>.csv
OUT/<site>/plots/{roc,fewshot,confusion_<setting>}_<model>.png (and .svg, for slides)
OUT/<site>/plots/comparison_<model>.png  forest plot of comparison.csv (and .svg); a comparison
                                         too tall for a printed page goes on in -2.png, -3.png...
```

Writing into a folder an earlier evaluation wrote replaces its outputs: the tables and figures
its ``summary.json`` listed that this run did not write again are removed (other files stay).
Everything is first written into a hidden ``OUT/.incoming-*`` folder and moved into place once
complete, ``summary.json`` last: a full disk or a kill while writing leaves the earlier outputs
as they were, never some tables of this run beside the summary of the last one. The earlier
summary is removed before the moves start: a kill during them (milliseconds) leaves a folder
without one, which reads as not evaluated until the evaluation is run again. The moves hold
the datasets' ingest locks shared (``model.withdrawn_outputs``): studies a ``forget`` erased
while the evaluation ran lose their rows, and ``WITHDRAWN.json`` says so, before they move in.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_text, sync_folder
from model.erasure_scan import NOTE_FILE
from model.errors import UserError
from model.evaluation.compare import comparison_tables
from model.evaluation.encoders import Encoder
from model.evaluation.headline import headline_text
from model.evaluation.headline_sentence import headline_sentence
from model.evaluation.inputs import SiteData
from model.evaluation.methods import methods_lines
from model.evaluation.plots import plot_comparison, plot_confusion, plot_fewshot, plot_roc
from model.evaluation.recorded_paths import PathRecorder
from model.evaluation.report import build_summary, render_html, write_html, write_summary
from model.evaluation.report_markdown import render_markdown
from model.evaluation.run_times import RunClock, write_run_times
from model.evaluation.suite import SiteResult
from model.evaluation.tables import (
    STAGING_PREFIX,
    confusion_frame,
    slug,
    stack_tables,
    vector_path,
    write_study_scores,
    write_tables,
)
from model.schema import default_data_root
from model.withdrawn_outputs import committing, erase_from, withdrawn_since

log = logging.getLogger(__name__)


def _zeroshot_aucs(result: SiteResult) -> dict[str, float]:
    if result.zeroshot.empty:
        return {}
    return dict(zip(result.zeroshot["label_key"], result.zeroshot["auc"], strict=True))


def _zeroshot_intervals(result: SiteResult) -> dict[str, tuple[float, float]]:
    table = result.zeroshot
    if table.empty or not {"auc_lo", "auc_hi"} <= set(table.columns):
        return {}
    bounds = zip(table["auc_lo"], table["auc_hi"], strict=True)
    return dict(zip(table["label_key"], bounds, strict=True))


def _figures(out: Path, result: SiteResult) -> tuple[list[Path], list[Path]]:
    """Plots and confusion CSVs of one model at one site: (png paths, csv paths)."""
    folder = out / slug(result.site)
    name = slug(result.model)
    title = f"{result.model} · {result.site}"
    aucs = _zeroshot_aucs(result)
    plots, tables = [], []
    if result.roc:
        plots.append(
            plot_roc(
                result.roc,
                aucs,
                f"Zero-shot ROC · {title}",
                folder / "plots" / f"roc_{name}.png",
                _zeroshot_intervals(result),
            )
        )
    if not result.fewshot.empty:
        plots.append(
            plot_fewshot(
                result.fewshot,
                aucs,
                f"Few-shot · {title}",
                folder / "plots" / f"fewshot_{name}.png",
            )
        )
    for setting in result.diagnosis:
        matrix = confusion_frame(result, setting)
        setting_slug = slug(setting.replace(" ", "_"))
        csv = folder / f"confusion_{setting_slug}_{name}.csv"
        atomic_write_text(csv, matrix.to_csv())
        tables.append(csv)
        plots.append(
            plot_confusion(
                matrix,
                f"Diagnosis ({setting}) · {title}",
                folder / "plots" / f"confusion_{setting_slug}_{name}.png",
            )
        )
    return plots, tables


def prepare_out(out: Path) -> None:
    """Create the output folder, or raise UserError naming why it cannot hold the outputs (run
    before the evaluation, so a bad path fails at once rather than after every model ran).

    A file in the folder's way is caught before, by ``model.output_path.check_output_path``."""
    out = Path(out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"cannot create the output folder {out}: {err.strerror}") from err
    if not os.access(out, os.W_OK | os.X_OK):
        raise UserError(f"output folder {out} is not writable")


def previous_outputs(out: Path) -> set[Path]:
    """The tables and figures (inside ``out``) that the ``summary.json`` already there lists."""
    try:
        summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = summary.get("files") if isinstance(summary, dict) else None
    if not isinstance(files, dict):
        return set()
    root = out.resolve()
    listed = set()
    for kind, suffix in (("csv", ".csv"), ("plots", ".png"), ("vectors", ".svg")):
        names = files.get(kind)
        for name in names if isinstance(names, list) else []:
            path = (out / str(name)).resolve()
            if path.suffix == suffix and path.is_relative_to(root):
                listed.add(path)
    return listed


def remove_stale(out: Path, stale: set[Path]) -> None:
    """Delete files of an earlier evaluation, then the folders they leave empty."""
    root = out.resolve()
    for path in sorted(stale):
        try:
            path.unlink(missing_ok=True)
            for folder in path.parents:
                if folder == root or any(folder.iterdir()):
                    break
                folder.rmdir()
        except OSError as err:
            log.warning("could not remove %s of an earlier evaluation: %s", path, err)


def site_record(site: SiteData, paths: PathRecorder) -> dict[str, Any]:
    """Site description for the summary and the report (counts only, no identifiers; the
    dataset's folder as ``paths`` records it)."""
    return {
        "name": site.name,
        "dataset": paths.record(site.dataset.root),
        "selection": "test split" if site.internal else "all studies",
        "n_total": site.n_total,
        "n_evaluated": len(site.studies),
        "n_patients": int(site.studies["patient_key"].nunique()),
        "n_labelled": site.n_labelled,
        "fingerprint": site.dataset.fingerprint(),
        "not_held_out": site.not_held_out,  # models that trained on some of these studies
    }


def trained_on_words(fingerprint: str, sites: list[dict[str, Any]]) -> str:
    """What a checkpoint trained on, told against the sites evaluated (by dataset fingerprint):
    ``internal's train split`` (its test split is evaluated), ``external, the evaluated
    studies included`` (a site that is its training data), ``another dataset (cc9d1b2f)``;
    "–" for a model with no record of one (a baseline)."""
    if not fingerprint:
        return "–"
    for site in sites:
        if site.get("fingerprint") == fingerprint:
            if site.get("selection") == "test split":
                return f"{site['name']}'s train split"
            return f"{site['name']}, the evaluated studies included"
    return f"another dataset ({fingerprint[:8]})"


def current_trained_on(encoders: list[Encoder], datasets: list[Any]) -> list[Encoder]:
    """``encoders``, each one's ``trained_on`` given as the evaluated dataset it names gives its
    fingerprint now: a checkpoint trained before 2026-12 holds the size-and-mtime fingerprint
    of that dataset's unchanged files (``CMRDataset.matches_fingerprint``), which
    ``trained_on_words`` would otherwise read as another dataset."""
    out = []
    for encoder in encoders:
        same = [
            d for d in datasets if encoder.trained_on and d.matches_fingerprint(encoder.trained_on)
        ]
        out.append(replace(encoder, trained_on=same[0].fingerprint()) if same else encoder)
    return out


def model_records(encoders: list[Encoder], sites: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The summary's and the reports' model records, each with what it trained on."""
    return [
        {
            "name": e.name,
            "kind": e.kind,
            "description": e.description,
            "trained on": trained_on_words(e.trained_on, sites),
            "fingerprint": e.weights,
        }
        for e in encoders
    ]


def write_outputs(
    out: Path,
    results: list[SiteResult],
    sites: list[SiteData],
    encoders: list[Encoder],
    problems: list[str],
    config: dict[str, Any],
    paths: PathRecorder | None = None,
    clock: RunClock | None = None,
) -> dict[str, Any]:
    """Write CSVs, PNGs, the reports, ``run.json`` and ``summary.json``; returns the summary.
    ``paths`` records site folders (default: relative to the data root); ``clock`` began with it."""
    out = Path(out)
    clock = clock or RunClock()
    paths = paths or PathRecorder(default_data_root())
    earlier = previous_outputs(out)
    for leftover in out.glob(f"{STAGING_PREFIX}*"):  # of an evaluation killed while writing
        shutil.rmtree(leftover, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=STAGING_PREFIX, dir=out))
    try:
        summary = _write_all(staging, results, sites, encoders, problems, config, paths)
        write_run_times(staging, clock)  # apart from the outputs a repeat writes byte for byte
        datasets = [site.dataset.root for site in sites]
        with committing(datasets, "this evaluation"):
            gone = withdrawn_since([sid for site in sites for sid in site.ids], datasets)
            erase_from([staging], gone, "this evaluation")
            written = _move_in(staging, out)
    except OSError as err:  # a full disk: name the file asked for, not its hidden stage
        raise _named_in(err, staging, out) from err
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    remove_stale(out, earlier - {(out / name).resolve() for name in written})
    tables, figures = len(summary["files"]["csv"]), len(summary["files"]["plots"])
    log.info("evaluation written to %s (%d tables, %d figures)", out, tables, figures)
    return summary


def _move_in(staging: Path, out: Path) -> list[Path]:
    """Move every file of ``staging`` into ``out``, ``summary.json`` last; returns their names.
    An earlier ``WITHDRAWN.json`` goes unless replaced: it spoke of figures replaced now."""
    written = sorted(p.relative_to(staging) for p in staging.rglob("*") if p.is_file())
    # killed while moving, the folder has no summary: not this run's tables under the last's
    (out / "summary.json").unlink(missing_ok=True)
    if Path(NOTE_FILE) not in written:
        (out / NOTE_FILE).unlink(missing_ok=True)
    for name in sorted(written, key=lambda name: name == Path("summary.json")):
        if name == Path("summary.json"):  # the tables' new names on disk before its own
            for folder in sorted({(out / moved).parent for moved in written}):
                sync_folder(folder)
        (out / name).parent.mkdir(parents=True, exist_ok=True)
        os.replace(staging / name, out / name)
    sync_folder(out)  # a power cut now keeps the whole evaluation
    return written


def _named_in(err: OSError, staging: Path, out: Path) -> OSError:
    """``err`` naming the file's place in ``out`` rather than in the hidden ``staging`` folder
    (``OUT/.incoming-*``), which is gone by the time the user reads the message."""
    name = Path(err.filename) if isinstance(err.filename, str) else None
    if err.errno is None or name is None or not name.is_relative_to(staging):
        return err
    return OSError(err.errno, err.strerror, str(out / name.relative_to(staging)))


def _write_all(
    out: Path,
    results: list[SiteResult],
    sites: list[SiteData],
    encoders: list[Encoder],
    problems: list[str],
    config: dict[str, Any],
    paths: PathRecorder,
) -> dict[str, Any]:
    """Every output file but ``run.json``, written under ``out``; returns the summary."""
    tables = stack_tables(results)
    main = encoders[0].name if encoders else ""
    patients = {site.name: dict(zip(site.ids, site.groups, strict=True)) for site in sites}
    comparisons = comparison_tables(results, main, patients) if encoders else {}
    for site, comparison in comparisons.items():
        tables.setdefault(site, {})["comparison"] = comparison
    csv_paths = write_tables(out, tables) + write_study_scores(out, results)
    plots: dict[str, list[Path]] = {}
    for result in results:
        pngs, csvs = _figures(out, result)
        plots.setdefault(result.site, []).extend(pngs)
        csv_paths += csvs
    for site, comparison in comparisons.items():
        path = out / slug(site) / "plots" / f"comparison_{slug(main)}.png"
        title = f"{main} against each other model · {site}"
        plots.setdefault(site, []).extend(plot_comparison(comparison, title, path))
    site_records = [site_record(site, paths) for site in sites]
    models = model_records(current_trained_on(encoders, [s.dataset for s in sites]), site_records)
    all_plots = [path for site_plots in plots.values() for path in site_plots]
    files = {
        "report": ["report.html", "report.md"],
        "csv": sorted(str(p.relative_to(out)) for p in csv_paths),
        "plots": sorted(str(p.relative_to(out)) for p in all_plots),
        "vectors": sorted(str(vector_path(p).relative_to(out)) for p in all_plots),
    }
    summary = build_summary(results, site_records, models, files, problems, config, comparisons)
    key_figures, sentence = headline_text(summary["results"]), headline_sentence(summary)
    page = render_html(
        "CMR-CLIP evaluation",
        tables,
        plots,
        site_records,
        models,
        problems,
        key_figures,
        methods_lines(config),
        sentence,
    )
    write_html(out / "report.html", page)
    markdown = render_markdown(
        "CMR-CLIP evaluation", sentence, models, key_figures, site_records, tables
    )
    atomic_write_text(out / "report.md", markdown)  # the parts a slide or a wiki takes
    write_summary(out / "summary.json", summary)
    return summary
