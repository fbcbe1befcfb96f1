"""Evaluation inputs: the labels CSV, and per site the studies evaluated with their labels.

Labels are keyed by ``accession_number`` and joined to studies through the dataset's
``linkage.csv``; the accession numbers never go further than this module. Without labels files
given, each dataset is evaluated with its own (``model.labels.label_file``), read for it alone.
Values are 1 / 0 / blank (unknown -> NaN). The internal dataset is evaluated on its ``test``
split, an external dataset on all of its studies; the train-split probes are fitted on the
internal dataset's labelled ``train`` and ``val`` studies (``load_development``). Label columns
named as diagnoses (``diagnosis_classes``: the standard ones and any class the prompt set adds)
are one-hot diagnoses; every other column is a binary finding.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from model.errors import DataError, UserError
from model.labels import (
    KEY,
    diagnosis_targets,
    label_file,
    lost_zeros_hint,
    partly_lost_zeros,
    read_labels_csv,
)
from model.prompts import PromptSet
from model.schema import DIAGNOSES, DatasetPaths
from model.wording import counted

log = logging.getLogger(__name__)

DEVELOPMENT_SPLITS = ("train", "val")


def load_labels(paths: list[Path]) -> pd.DataFrame:
    """One or more labels CSVs (``model.labels.read_labels_csv``, float 1.0 / 0.0 / NaN) in one
    frame indexed by accession number. An accession number in several files (the same file twice,
    a file of both sites beside a site's own) gets one row with every value the files know; files
    that give it different values are an error naming both."""
    tables = [(Path(path), read_labels_csv(path)) for path in paths]
    labels = pd.concat([table for _, table in tables], axis=0)
    by_accession = labels.groupby(level=0, sort=False)
    conflicts = by_accession.nunique() > 1
    if conflicts.any(axis=None):
        accession = conflicts.index[conflicts.any(axis=1)][0]
        column = conflicts.columns[conflicts.loc[accession]][0]
        files = [str(path) for path, table in tables if accession in table.index]
        raise DataError(
            f"labels: accession number {accession!r} has different '{column}' values in "
            f"{' and '.join(dict.fromkeys(files))}"
        )
    return by_accession.first() if labels.index.has_duplicates else labels


def labels_per_dataset(
    datasets: list[Path], given: list[Path]
) -> tuple[list[pd.DataFrame], list[Path]]:
    """The labels each of ``datasets`` is evaluated with, and the files they come from.

    With ``given`` files, those merged (``load_labels``) for every dataset. Without, each
    dataset's own labels file (``label_file``) read for that dataset alone, so two hospitals'
    accession numbers may coincide; DataError naming every dataset that has none. A path that
    is not a dataset gets an empty frame: opening it names the problem.
    """
    if given:
        labels = load_labels(list(given))
        return [labels] * len(datasets), list(given)
    is_dataset = [DatasetPaths(Path(path)).studies.is_file() for path in datasets]
    files = [
        label_file(Path(path)) if ok else None
        for path, ok in zip(datasets, is_dataset, strict=True)
    ]
    missing = [
        str(p) for p, f, ok in zip(datasets, files, is_dataset, strict=True) if ok and f is None
    ]
    if missing:
        raise DataError(
            f"no labels for {', '.join(missing)}: no labels.csv in the dataset (ingest "
            "--labels keeps one there); give --labels CSV [CSV ...]"
        )
    empty = pd.DataFrame(index=pd.Index([], name=KEY, dtype=str))
    labels = [read_labels_csv(path) if path else empty for path in files]
    return labels, [path for path in files if path is not None]


@dataclass
class SiteData:
    """The studies of one site that are evaluated, in a fixed order.

    ``studies``: rows of studies.parquet (index = study_id); ``labels``: float label columns aligned
    to the same index (all NaN where a study has no labels row); ``problems``: messages for the
    report; ``diagnoses``: the label columns read as diagnosis one-hots (``diagnosis_classes``).
    """

    name: str
    internal: bool
    dataset: object
    studies: pd.DataFrame
    labels: pd.DataFrame
    n_total: int
    n_labelled: int
    problems: list[str] = field(default_factory=list)
    diagnoses: tuple[str, ...] = DIAGNOSES
    not_held_out: list[str] = field(default_factory=list)  # model.evaluation.held_out.site_notes

    @property
    def ids(self) -> list[str]:
        return list(self.studies.index)

    def label_counts(self) -> pd.DataFrame:
        """Per label column: studies with a known value, positives, their share (prevalence
        among the known values) and blanks (excluded)."""
        rows = [
            {
                "label_key": column,
                "n": int(values.notna().sum()),
                "n_positive": int((values == 1).sum()),
                "prevalence": float((values == 1).sum() / values.notna().sum())
                if values.notna().any()
                else np.nan,
                "n_unknown": int(values.isna().sum()),
            }
            for column, values in self.labels.items()
        ]
        columns = ["label_key", "n", "n_positive", "prevalence", "n_unknown"]
        return pd.DataFrame(rows, columns=columns)

    @property
    def groups(self) -> np.ndarray:
        return self.studies["patient_key"].astype(str).to_numpy()

    def diagnosis_targets(self, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """``diagnosis_targets`` of this site's labels."""
        return diagnosis_targets(self.labels, classes)

    def finding_columns(self) -> list[str]:
        """This site's label columns that are binary findings."""
        return finding_columns(self.labels, self.diagnoses)

    def diagnosis_columns(self) -> list[str]:
        """This site's label columns that are diagnosis classes, in ``diagnoses`` order."""
        return [c for c in self.diagnoses if c in self.labels.columns]


def diagnosis_classes(prompts: PromptSet) -> tuple[str, ...]:
    """The label columns read as diagnosis one-hots: ``DIAGNOSES``, then every other class the
    prompt set names (a user's own diagnosis, e.g. ``sarcoidosis``)."""
    return DIAGNOSES + tuple(c for c in prompts.diagnoses if c not in DIAGNOSES)


def is_finding(label: str, diagnoses: tuple[str, ...] = DIAGNOSES) -> bool:
    """Whether a label is a binary finding: every label except the diagnosis one-hots."""
    return label not in diagnoses


def finding_columns(labels: pd.DataFrame, diagnoses: tuple[str, ...] = DIAGNOSES) -> list[str]:
    """Label columns that are binary findings (``is_finding``)."""
    return [c for c in labels.columns if is_finding(c, diagnoses)]


def load_site(
    dataset: object,
    name: str,
    internal: bool,
    labels: pd.DataFrame,
    diagnoses: tuple[str, ...] = DIAGNOSES,
) -> SiteData:
    """Select a site's evaluated studies and attach their labels.

    ``dataset`` is a ``CMRDataset``. Raises DataError when no study is left to evaluate; a
    labels file that matches none of the studies is recorded as a problem (retrieval still runs).
    """
    studies = dataset.studies.set_index("study_id", drop=False)
    where = "its test split" if internal else "it"
    if internal:
        studies = studies[studies["split"] == "test"]
    if studies.empty:
        raise DataError(
            f"site {name}: dataset {dataset.root} has no studies in {where} to evaluate"
        )
    site = _labelled(dataset, name, internal, studies, labels, diagnoses)
    if site.n_labelled == 0:
        site.problems.append(
            f"site {name}: none of the {len(labels)} rows of the labels file matches one of the "
            f"{counted(len(studies), 'study')} evaluated (accession numbers via "
            f"{dataset.root}/linkage.csv)"
            f"{lost_zeros_hint(labels.index, dataset.linkage()[KEY].astype(str))}; "
            "label-based metrics skipped"
        )
    elif lost := partly_lost_zeros(labels.index, dataset.linkage()[KEY].astype(str)):
        site.problems.append(f"site {name}: of the labels file's rows, {lost}")
    log.info(
        "site %s: %s evaluated, %d with labels",
        name,
        counted(len(studies), "study"),
        site.n_labelled,
    )
    return site


def load_development(
    dataset: object, labels: pd.DataFrame, diagnoses: tuple[str, ...] = DIAGNOSES
) -> SiteData | None:
    """The internal dataset's labelled ``train`` and ``val`` studies, which the train-split probes
    are fitted on (the test split and external sites are only scored); None when there are none.
    A patient with a study in the test split is left out, should a dataset's splits not be
    patient-grouped.
    """
    studies = dataset.studies.set_index("study_id", drop=False)
    tested = studies.loc[studies["split"] == "test", "patient_key"]
    studies = studies[
        studies["split"].isin(DEVELOPMENT_SPLITS) & ~studies["patient_key"].isin(tested)
    ]
    site = _labelled(dataset, "development", True, studies, labels, diagnoses)
    keep = site.labels.notna().any(axis=1).to_numpy()
    if not keep.any():
        return None
    log.info("train-split probes: %s", counted(int(keep.sum()), "labelled train/val study"))
    return _labelled(dataset, "development", True, studies[keep], labels, diagnoses)


def _labelled(
    dataset: object,
    name: str,
    internal: bool,
    studies: pd.DataFrame,
    labels: pd.DataFrame,
    diagnoses: tuple[str, ...],
) -> SiteData:
    linkage = dataset.linkage().astype(str).set_index("study_id")[KEY]
    accession = linkage.reindex(studies.index)
    site_labels = labels.reindex(accession.to_numpy())
    site_labels.index = studies.index
    return SiteData(
        name=name,
        internal=internal,
        dataset=dataset,
        studies=studies,
        labels=site_labels,
        n_total=len(dataset.studies),
        n_labelled=int(site_labels.notna().any(axis=1).sum()),
        diagnoses=diagnoses,
    )


def _grid(dataset: object) -> dict[str, float]:
    """The ingest grid of a dataset: field of view (mm), pixels per side, frames per view."""
    settings = dataset.settings
    return {
        "fov_mm": float(settings.get("fov_mm", 224.0)),
        "size": float(dataset.size),
        "frames": float(dataset.frames),
    }


def grid_problems(sites: list[SiteData]) -> list[str]:
    """One message per external site ingested on another grid than the internal site: its hearts
    reach the model at another scale or resolution, which the site comparison would otherwise
    silently confound with the site itself."""
    internal = next((site for site in sites if site.internal), None)
    if internal is None:
        return []
    reference = _grid(internal.dataset)
    problems = []
    for site in sites:
        if site.internal:
            continue
        grid = _grid(site.dataset)
        differ = [
            f"{key}={value:g} (internal {reference[key]:g})"
            for key, value in grid.items()
            if value != reference[key]
        ]
        if differ:
            problems.append(
                f"site {site.name}: ingested with {', '.join(differ)}; its studies reach the "
                "model at another scale or resolution than the internal site's"
            )
    return problems


def check_external_sites(data: Path, external: list[Path]) -> None:
    """UserError when an external dataset is the internal one or is given twice: its studies
    (the internal train split included, on which the train-split probes were fitted) would be
    reported as an unseen site."""
    seen = {Path(data).resolve(): "the internal dataset"}
    for path in external:
        earlier = seen.get(Path(path).resolve())
        if earlier is not None:
            raise UserError(
                f"external dataset {path} is {earlier}; an external site must be another dataset"
            )
        seen[Path(path).resolve()] = "already an external dataset"
