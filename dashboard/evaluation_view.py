"""The Evaluate page's model: the evaluation command and the outputs of finished evaluations.

An evaluation folder (``python -m model evaluate ... --out DIR``) holds CSV tables, PNG figures,
``summary.json`` and a report; the page shows them and offers each one (and a zip of all) for
download.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from PIL import Image

from dashboard.jobs import model_command
from dashboard.settings import Settings, position_of
from model.clock import made_at, utc_stamp
from model.errors import DataError
from model.evaluation.headline import headline_text
from model.evaluation.headline_sentence import headline_sentence
from model.evaluation.inputs import check_external_sites
from model.evaluation.methods import methods_lines, site_line
from model.evaluation.tables import (
    COUNT_COLUMNS,
    STAGING_PREFIX,
    STUDY_SCORES,
    TABLE_TITLES,
    is_p_value,
    vector_path,
)
from model.labels import label_file
from model.provenance import shown_path

WORD_JOINER = "\u2060"  # invisible; no line break on either side of it
FEWSHOT_COLUMNS = frozenset({"model", "Label", "method", "k", "AUC", "auc_lo", "auc_hi"})
ZEROSHOT_COLUMNS = frozenset({"model", "Label", "setting", "AUC"})
# How the page shows a table's numbers (printf, as st.column_config takes them): figures to the
# headline's 3 decimals, p-values to 3 significant digits (a tiny one is not "0.000"), counts
# whole with thousands separators (one read back with blanks is a float column)
METRIC_FORMAT = "%.3f"
P_VALUE_FORMAT = "%.3g"
COUNT_FORMAT = "%,d"


@dataclass
class EvaluationOutputs:
    """Everything one evaluation folder holds, by kind."""

    folder: Path
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    images: list[Path] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    reports: list[Path] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)  # "name: why" of files left out
    vectors: list[Path] = field(default_factory=list)  # the figures' SVGs, for slides
    image_widths: dict[Path, int] = field(default_factory=dict)  # each PNG's, in pixels

    def key_figures(self) -> pd.DataFrame:
        """The headline table of the summary as text, single figures with their CIs
        (``model.evaluation.headline.headline_text``); empty without one,
        or when the summary is not in the shape this version writes (noted in ``unreadable``)."""
        results = self.summary.get("results")
        records = [r for r in results if isinstance(r, dict)] if isinstance(results, list) else []
        try:
            return headline_text(records)
        except (KeyError, TypeError, ValueError) as err:
            self.unreadable.append(f"summary.json: no headline ({type(err).__name__}: {err})")
            return pd.DataFrame()

    def sentence(self) -> str:
        """The headline as one quotable sentence (``headline_sentence``); "" when the summary
        has no zero-shot figure or is not in the shape this version writes."""
        try:
            return headline_sentence(self.summary)
        except (KeyError, TypeError, ValueError, AttributeError):
            return ""  # key_figures names the summary as unreadable

    def figure_files(self, image: Path) -> list[Path]:
        """A figure's files to offer: its PNG, and its SVG where the evaluation wrote one."""
        return [image, *(v for v in self.vectors if v == vector_path(image))]

    def key_figures_shown(self) -> pd.DataFrame:
        """``key_figures`` for a table that wraps its cells: an interval ``(0.645–0.761)`` is
        kept on one line (a narrow window broke it after its dash, "0.645–" over "0.761)")."""
        return self.key_figures().replace(r"(\d)–(\d)", rf"\1–{WORD_JOINER}\2", regex=True)

    def site_lines(self) -> list[str]:
        """Per site what was evaluated (``report.site_line``): studies and their patients,
        selection (test split / all), with labels."""
        sites = self.summary.get("sites")
        return [
            f"{site.get('name')}: {site_line(site)}"
            for site in (sites if isinstance(sites, list) else [])
            if isinstance(site, dict)
        ]

    def problems(self) -> list[str]:
        """The run's problems (skipped labels, k values, sites, baselines without weights)."""
        problems = self.summary.get("problems")
        return [str(p) for p in problems] if isinstance(problems, list) else []

    def methods(self) -> list[str]:
        """How the figures were computed (``model.evaluation.methods``), from the run's config."""
        config = self.summary.get("config")
        return methods_lines(config) if isinstance(config, dict) else []

    def fewshot_chart(self, name: str) -> tuple[pd.DataFrame, pd.DataFrame | None] | None:
        """(few-shot table ``name``, its site's zero-shot table or None) for the page's chart;
        None for a table without the columns the chart draws (another version's file)."""
        fewshot = self.tables.get(name)
        if fewshot is None or not set(fewshot.columns) >= FEWSHOT_COLUMNS or fewshot.empty:
            return None
        zeroshot = self.tables.get(str(Path(name).with_name("zeroshot.csv")))
        usable = zeroshot is not None and set(zeroshot.columns) >= ZEROSHOT_COLUMNS
        return fewshot, zeroshot if usable else None


def column_formats(table: pd.DataFrame) -> dict[str, str]:
    """Column -> display format of each numeric column of an evaluation table: counts
    (``COUNT_COLUMNS``, ``n_*``, whole-number columns) as ``COUNT_FORMAT``, p-values (``p``,
    ``p_*``) as ``P_VALUE_FORMAT``, every other figure as ``METRIC_FORMAT``."""
    formats = {}
    for column, values in table.items():
        name = str(column)
        if not pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values):
            continue
        if name in COUNT_COLUMNS or name.startswith("n_") or pd.api.types.is_integer_dtype(values):
            formats[name] = COUNT_FORMAT
        elif is_p_value(name):
            formats[name] = P_VALUE_FORMAT
        else:
            formats[name] = METRIC_FORMAT
    return formats


def evaluation_labels(settings: Settings, sites: list[Path], typed: str) -> list[Path]:
    """The ``--labels`` of an evaluation of ``sites`` (internal first): the ``typed`` file with
    the external sites' own, or none when blank, each site then read with its own labels file
    (two hospitals' accession numbers may coincide). DataError naming a file that is missing."""
    if typed.strip():
        labels = [settings.inside_root(typed), *filter(None, map(label_file, sites[1:]))]
        missing = [path for path in labels if not path.is_file()]
    else:
        labels = []
        missing = [site / "labels.csv" for site in sites if label_file(site) is None]
    if missing:
        raise DataError(f"{missing[0]} does not exist; give a labels CSV under the data root")
    return labels


def evaluation_command(
    settings: Settings,
    checkpoint: Path,
    dataset: Path,
    external: Path | None,
    labels: list[Path],
    prompts: Path,
    compare: list[Path] | None = None,
) -> tuple[Path, list[str]]:
    """(output folder, ``python -m model evaluate ...``) for a new evaluation; ``compare``
    checkpoints are evaluated beside ``checkpoint`` and compared with it on the same studies.
    Without ``labels`` each site is evaluated with its own labels file (``label_file``)."""
    check_external_sites(dataset, [] if external is None else [external])
    out = settings.evaluations_dir / f"eval-{utc_stamp()}"
    args = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(dataset)]
    if external is not None:
        args += ["--external", str(external)]
    if labels:
        args += ["--labels", *map(str, labels)]
    args += ["--prompts", str(prompts), "--out", str(out)]
    others = [path for path in compare or [] if path != checkpoint]
    if others:
        args += ["--compare", *map(str, others)]
    return out, model_command(*args)


def default_sites(datasets: list[Path], active: Path | None) -> tuple[int, int | None]:
    """The form's starting choice: (index of the internal dataset, index of the external one or
    None) in ``datasets``. Internal is the active dataset (else the first); external is its one
    sibling dataset (same parent folder, as the demo's ``internal`` and ``external`` sites are),
    or among several the one named ``external``, else None."""
    if not datasets:
        return 0, None
    internal = position_of(active, datasets)
    parent = datasets[internal].resolve().parent
    siblings = [
        i for i, path in enumerate(datasets) if i != internal and path.resolve().parent == parent
    ]
    named = [i for i in siblings if datasets[i].name == "external"]
    if named or len(siblings) == 1:
        return internal, (named or siblings)[0]
    return internal, None


def list_evaluations(settings: Settings) -> list[Path]:
    """Evaluation folders under the data root that hold at least one CSV, newest first: by the
    stamp of their names, older ``eval-YYYYMMDD-HHMMSS`` ones beside ``eval-...Z`` (``made_at``)."""
    root = settings.evaluations_dir
    if not root.is_dir():
        return []
    found = [p for p in root.iterdir() if p.is_dir() and _files(p, "*.csv")]
    return sorted(found, key=made_at, reverse=True)


def evaluation_named(folders: list[Path], name: str | None) -> Path | None:
    """The listed evaluation an address's ``?evaluation=`` names by its folder's name; None for
    no name or one not listed (a typo, an evaluation since removed, a path)."""
    return next((folder for folder in folders if folder.name == name), None) if name else None


def read_models(folder: Path) -> list[str] | None:
    """The checkpoints an evaluation folder's ``summary.json`` says it evaluated (main one
    first, then each compared one, as ``run/file.pt``, whether the summary gives the full path
    or one relative to the data root), None without a readable summary."""
    try:
        summary = json.loads((folder / "summary.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    config = summary.get("config") if isinstance(summary, dict) else None
    if not isinstance(config, dict):
        return None
    compare = config.get("compare")
    paths = [config.get("checkpoint"), *(compare if isinstance(compare, list) else [])]
    return [shown_path(p) for p in paths if isinstance(p, str) and p]


def evaluation_title(folder: Path, models: list[str] | None) -> str:
    """The evaluation picker's line: the folder's name and what it evaluated (``read_models``),
    so that evaluations of different checkpoints are told apart before one is opened."""
    if models is None:
        return f"{folder.name} · no summary.json (did not finish)"
    if not models:
        return folder.name
    compared = f" against {', '.join(models[1:])}" if models[1:] else ""
    return f"{folder.name} · {models[0]}{compared}"


def read_outputs(folder: Path) -> EvaluationOutputs:
    """Load every table, figure, summary and report of one evaluation folder; a file that cannot
    be read (damaged, not UTF-8, another shape) is left out and named in ``unreadable``."""
    outputs = EvaluationOutputs(folder=folder)
    for path in _files(folder, "*.csv"):
        name = str(path.relative_to(folder))
        if path.name == STUDY_SCORES:  # one row per study and label: a download, not a table
            outputs.reports.append(path)
            continue
        try:
            outputs.tables[name] = pd.read_csv(path)
        except (OSError, ValueError) as err:  # ParserError, EmptyDataError, UnicodeDecodeError
            outputs.unreadable.append(f"{name}: {_why(err)}")
    for path in _files(folder, "*.png"):
        try:
            with Image.open(path) as image:
                width = image.size[0]
                image.verify()
            outputs.images.append(path)
            outputs.image_widths[path] = width
        except (OSError, ValueError, SyntaxError) as err:  # what PIL raises for damaged files
            outputs.unreadable.append(f"{path.relative_to(folder)}: {_why(err)}")
    outputs.vectors = _files(folder, "*.svg")  # offered for download, never drawn here
    outputs.reports = sorted(
        [
            *outputs.reports,
            *(p for kind in ("*.md", "*.html", "*.pdf") for p in _files(folder, kind)),
        ]
    )
    summary = folder / "summary.json"
    if summary.is_file():
        try:
            loaded = json.loads(summary.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            outputs.unreadable.append(f"summary.json: {_why(err)}")
            loaded = {}
        outputs.summary = loaded if isinstance(loaded, dict) else {}
    return outputs


def _files(folder: Path, pattern: str) -> list[Path]:
    """``folder``'s paths matching ``pattern`` at any depth, sorted, less those of an evaluation
    still writing (or killed while writing) in its ``.incoming-*`` folder, and less links to
    anything outside ``folder`` (an evaluation writes none; one planted in a shared data root
    would be shown and offered for download, whatever file of this account it names)."""
    inside = folder.resolve()
    found = folder.rglob(pattern)
    return sorted(
        p
        for p in found
        if not p.relative_to(folder).parts[0].startswith(STAGING_PREFIX)
        and inside in p.resolve().parents
    )


def _why(err: BaseException) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text}"[:160]


def zip_folder(folder: Path) -> bytes:
    """The whole evaluation folder as zip bytes (for one download)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in _files(folder, "*"):
            if path.is_file():
                archive.write(path, path.relative_to(folder))
    return buffer.getvalue()


def download_name(folder: Path, path: Path) -> str:
    """The file name a download of ``path`` (inside evaluation ``folder``) gets: the evaluation
    and the site in it, e.g. ``eval-20260101-000000_internal_roc_m.png``, so that the same table
    or figure of two sites or two evaluations do not land in one Downloads folder under one
    name."""
    parts = [part for part in path.relative_to(folder).parts if part != "plots"]
    return "_".join([folder.name, *parts])


# A table file's section by a part of its name, in the order tried (a confusion matrix of a
# probe is Diagnosis, not Linear probe); the sections are the reports' table titles.
_SECTION_OF = (
    ("fewshot", "fewshot"), ("few_shot", "fewshot"), ("zeroshot", "zeroshot"),
    ("zero_shot", "zeroshot"), ("diagnosis", "diagnosis"), ("confusion", "diagnosis"),
    ("probe", "probe"), ("retrieval", "retrieval"), ("comparison", "comparison"),
    ("prompts", "prompts"), ("subgroups", "subgroups"),
)  # fmt: skip
GROUP_ORDER = (*TABLE_TITLES.values(), "Other")  # in the order a paper reads them


def table_group(name: str) -> str:
    """Section a table belongs to, from its file name (zero-shot, few-shot, probe, retrieval…)."""
    lowered = name.lower()
    found = next((table for part, table in _SECTION_OF if part in lowered), None)
    return TABLE_TITLES[found] if found else "Other"


def grouped_tables(names: list[str]) -> dict[str, list[str]]:
    """Table names by section (``table_group``), sections in the order a paper reads them
    (``GROUP_ORDER``: zero-shot first), names in their given order within each."""
    groups: dict[str, list[str]] = {group: [] for group in GROUP_ORDER}
    for name in names:
        groups[table_group(name)].append(name)
    return {group: members for group, members in groups.items() if members}
