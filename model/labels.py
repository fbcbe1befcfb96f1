"""Evaluation labels: one reader for the labels CSV, used by every command and page.

A labels file has an ``accession_number`` column and one column per label (the findings and the
one-hot diagnoses of ``model.schema``, or any others) holding 1, 0 or blank (unknown). Reports
and labels are keyed by accession number, studies by ``study_id``; a dataset's ``linkage.csv``
joins the two, and the accession numbers go no further than that join. Labels are read for
evaluation, for the dashboard's ROC curves and index filters, and for the val AUC training logs;
never for training or for choosing anything.

- ``read_labels_csv(path)``: the file validated and parsed, indexed by accession number;
- ``join_to_studies(labels, linkage)``: the same rows indexed by study_id (those linked only);
- ``labels_by_study(path, linkage)``: both, and an error when no row matches the dataset;
- ``lost_zeros_hint(given, known)``: what to do when accession numbers lost their leading zeros;
- ``partly_lost_zeros(given, known)``: the same when only some did, and how many;
- ``label_rows(path)``: the validated file as rows of text cells, to store beside a dataset;
- ``diagnosis_targets(labels, classes)``: each row's diagnosis from one-hot class columns.
"""

from __future__ import annotations

import difflib
import io
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import numpy as np
import pandas as pd

from model.errors import DataError, not_found
from model.labels_text import KEY, codec, decode, line, sep_hint, table
from model.schema import DatasetPaths

log = logging.getLogger(__name__)
VALUES = ("1", "0", "1.0", "0.0", "1,0", "0,0", "")  # a cell (blank: unknown; 1,0: decimal comma)
# Wrong cell values an error may quote: short numbers and the words a spreadsheet uses for yes,
# no or unknown. Any other text is not quoted: the file given may be a report or a patient list.
_QUOTABLE = re.compile(
    r"[-+]?\d{1,4}([.,]\d{1,3})?|yes|no|y|n|true|false|pos|neg|positive|negative|maybe|unknown|"
    r"na|n/a|nan|\?|x|-|\+|\.",
    re.IGNORECASE,
)
_WHAT_TO_DO = (
    "write 1 (present), 0 (absent) or leave it blank (unknown); a column of names (a diagnosis) "
    "needs one 1/0 column per name"
)
_UNNAMED = re.compile(r"Unnamed: \d+")  # a column without a name: a spreadsheet's row numbers
_SCIENTIFIC = re.compile(r"\d(\.\d+)?E[+-]?\d+", re.IGNORECASE)


def read_labels_csv(path: str | Path) -> pd.DataFrame:
    """``path`` -> float label columns (1.0 / 0.0 / NaN) indexed by accession number (str).

    Raises ``DataError`` naming the problem: a missing or unreadable file, no
    ``accession_number`` column, a cell other than 1, 0 or blank, an accession number twice.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(not_found("labels file", path))
    return read_labels(path, str(path))


def check_labels_header(path: str | Path) -> None:
    """``DataError`` unless ``path`` is a file whose first line is a labels header (it has an
    ``accession_number`` column): what ``read_labels_csv`` would say of a wrong file (a missing
    one, a folder, a prompt set given for it), without reading a large file's rows."""
    path = Path(path)
    if not path.is_file():
        raise DataError(not_found("labels file", path))
    try:
        with path.open("rb") as handle:
            head = line(handle, b"")
            if sep_hint(head.decode(codec(head), errors="replace")) is not None:
                head = line(handle, head)  # Excel's "sep=;" first: the header is the next line
    except OSError as err:
        raise DataError(f"labels file {path} cannot be read: {err}") from err
    read_labels(io.BytesIO(head), str(path))


def read_labels(source: Path | IO[bytes], path: str) -> pd.DataFrame:
    """``read_labels_csv`` of a file or an open one (a zip's entry, checked before it is
    unpacked), named ``path`` in its errors."""
    try:
        raw = source.read_bytes() if isinstance(source, Path) else source.read()
    except OSError as err:
        raise DataError(f"labels file {path} is not a readable CSV: {err}") from err
    header, rows = table(decode(raw, path), path)
    frame = pd.DataFrame(rows, columns=header, dtype=str)
    frame = frame.drop(columns=[c for c in header if _unnamed(c, frame[c], path)])
    frame = _drop_repeats(frame, path)
    parsed = {}
    for column in frame.columns.drop(KEY):
        text = frame[column].str.strip()
        bad = ~text.isin(VALUES)
        if bad.any():
            raise DataError(
                f"labels file {path}, column '{column}': {_cell_problem(text, bad)} is not 1, 0 "
                f"or blank: {_WHAT_TO_DO}"
            )
        parsed[column] = (
            pd.to_numeric(text.str.replace(",", ".").replace("", np.nan)).astype(float).to_numpy()
        )
    return pd.DataFrame(parsed, index=pd.Index(frame[KEY], name=KEY, dtype=object))


def _unnamed(name: str, cells: pd.Series, path: str) -> bool:
    """Whether ``name`` is a column without a name that holds nothing or row numbers (pandas'
    index, a spreadsheet's numbering): left out. One holding anything else is refused, since no
    command could ask for it by name and its values would be lost without a word."""
    if not _UNNAMED.fullmatch(name):
        return False
    text = cells.str.strip()
    numbers = pd.to_numeric(text, errors="coerce")
    if (text == "").all() or ((numbers.diff().iloc[1:] == 1).all() and numbers.notna().all()):
        return True
    raise DataError(
        f"labels file {path}: column {int(name.split()[-1]) + 1} has no name in the header row; "
        "name it (a finding, a diagnosis or one of your own) or delete it"
    )


def _drop_repeats(frame: pd.DataFrame, path: str) -> pd.DataFrame:
    """``frame`` with accession numbers checked and stripped (row numbers dropped): a row without
    one, one Excel wrote in scientific notation, a column name twice or an accession number twice
    is refused, naming the row."""
    repeated = frame.columns[frame.columns.duplicated()]
    if len(repeated):
        raise DataError(f"labels file {path}: column '{repeated[0]}' appears twice")
    frame[KEY] = frame[KEY].str.strip()
    wrong = (frame[KEY] == "") | frame[KEY].str.fullmatch(_SCIENTIFIC)
    if wrong.any():
        number, accession = frame.loc[wrong.idxmax(), ["_row", KEY]]
        problem = _accession_problem(accession)
        raise DataError(f"labels file {path}, row {number} after the header: {problem}")
    twice = frame[frame[KEY].duplicated(keep=False)]
    if len(twice):
        first = twice[twice[KEY] == twice[KEY].iloc[0]]["_row"].tolist()
        raise DataError(
            f"labels file {path}: accession number {twice[KEY].iloc[0]!r} appears twice (rows "
            f"{first[0]} and {first[1]} after the header); keep one row per accession number"
        )
    return frame.drop(columns="_row")


def _accession_problem(accession: str) -> str:
    if not accession:
        return "no accession number; fill it in or delete the row"
    return (
        f"accession number {accession!r} is in scientific notation (Excel turned it into a "
        "number); format the column as Text, type the numbers again and save"
    )


def _cell_problem(text: pd.Series, bad: pd.Series) -> str:
    """The first bad cell of a column, quoted only when it is a number or a yes/no word."""
    value = text[bad].iloc[0]
    if _QUOTABLE.fullmatch(value):
        return f"value {value!r}"
    row = int(np.flatnonzero(bad.to_numpy())[0]) + 1
    return f"the text in row {row} after the header (not shown: it may be patient data)"


def join_to_studies(labels: pd.DataFrame, linkage: pd.DataFrame) -> pd.DataFrame:
    """Labels indexed by accession number -> the same columns indexed by ``study_id``, for the
    studies ``linkage`` (study_id, accession_number) links to a labels row; may be empty."""
    link = linkage[["study_id", KEY]].astype({KEY: str})
    joined = link.merge(labels, left_on=KEY, right_index=True, how="inner")
    return joined.drop(columns=[KEY]).set_index("study_id")


def labels_by_study(
    path: str | Path, linkage: pd.DataFrame, parsed: pd.DataFrame | None = None
) -> pd.DataFrame:
    """``read_labels_csv(path)`` (or the same file already ``parsed``) joined to a dataset's
    studies (``join_to_studies``); raises ``DataError`` when no accession number of the file is
    in ``linkage``, and warns in the log when some match only with their leading zeros restored
    (``partly_lost_zeros``): those rows are left out."""
    labels = read_labels_csv(path) if parsed is None else parsed
    joined = join_to_studies(labels, linkage)
    known = linkage[KEY].astype(str)
    if joined.empty:
        raise DataError(
            f"no accession number in {path} matches the dataset's linkage.csv"
            + lost_zeros_hint(labels.index, known)
        )
    lost = partly_lost_zeros(labels.index, known)
    if lost:
        log.warning("labels file %s: %s", path, lost)
    return joined


def _without_zeros(given: Iterable[str], known: Iterable[str]) -> list[tuple[str, str]]:
    """(given, known) for each of the accession numbers ``given`` that is not one of ``known``
    but is one of them without its leading zeros (Excel reads "000123" as the number 123)."""
    known = set(known)
    stripped = {number.lstrip("0"): number for number in known if number.startswith("0")}
    return [(n, stripped[n]) for n in given if n not in known and n in stripped]


def lost_zeros_hint(given: Iterable[str], known: Iterable[str]) -> str:
    """ ": <what to do>" when a labels file's accession numbers ``given`` are the dataset's
    (``known``, its linkage's) without their leading zeros (Excel reads "000123" as the number
    123), else "": for the message saying that no row matches."""
    lost = _without_zeros(given, known)
    if not lost:
        return ""
    return (
        f": its {lost[0][0]!r} is the dataset's {lost[0][1]!r} without its leading zeros (Excel "
        "dropped them); format the column as Text, type the numbers again and save"
    )


def partly_lost_zeros(given: Iterable[str], known: Iterable[str]) -> str:
    """What to say when some of a labels file's accession numbers ``given`` match the dataset's
    (``known``) only with their leading zeros restored, while others match as they are (a column
    partly typed again after Excel dropped the zeros): how many such rows are left out, one of
    them and what to do; "" when there are none."""
    lost = _without_zeros(given, known)
    if not lost:
        return ""
    (number, full), many = lost[0], len(lost) > 1
    rows = f"{len(lost)} rows match no study and are left out, as their accession numbers are"
    return (
        f"{rows if many else '1 row matches no study and is left out, as its accession number is'}"
        f" the dataset's without the leading zeros (its {number!r} is the dataset's {full!r}: "
        "Excel dropped them); format the column as Text, type the numbers again and save"
    )


def label_rows(path: str | Path) -> list[dict[str, str]]:
    """``read_labels_csv(path)`` as rows of text cells ("1", "0", "" for unknown), one per
    accession number, for ``ingest --labels`` to store beside a dataset."""
    labels = read_labels_csv(path)
    text = labels.apply(lambda column: column.map({1.0: "1", 0.0: "0"}).fillna(""))
    return text.reset_index().to_dict("records")


def diagnosis_targets(labels: pd.DataFrame, classes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``labels`` (1 / 0 / NaN one-hot columns): (rows with exactly one diagnosis
    marked 1 bool [N], index into ``classes`` int [N] there, else -1). The classes are exclusive,
    so one 1 is a known diagnosis whether the other columns hold 0 or are blank."""
    present = [c for c in classes if c in labels.columns]
    if not present:
        return np.zeros(len(labels), dtype=bool), np.full(len(labels), -1)
    marked = labels[present].to_numpy(dtype=float) == 1
    usable = marked.sum(axis=1) == 1
    class_index = np.array([classes.index(c) for c in present])
    return usable, np.where(usable, class_index[marked.argmax(axis=1)], -1)


def label_file(dataset: Path) -> Path | None:
    """The dataset's labels CSV: ``DATASET/labels.csv`` (``ingest --labels``), else the diagnoses
    an ACDC ingest derived (``acdc_labels.csv``), else the demo layout's
    ``<parent>/raw/<name>/labels.csv`` (generator output beside the ingested dataset)."""
    paths = DatasetPaths(dataset)
    demo = dataset.parent / "raw" / dataset.name / "labels.csv"
    for candidate in (paths.labels, paths.acdc_labels, demo):
        if candidate.is_file():
            return candidate
    return None


def closest_name(name: str, candidates: Iterable[str], cutoff: float = 0.75) -> str | None:
    """The candidate ``name`` most likely misspells (``lv_dysfuntion`` -> ``lv_dysfunction``,
    ``LGE`` -> ``lge``: compared in lower case), None when none is close: the one rule by which
    the Zero-shot page, ``zeroshot`` and the import say "did you mean"."""
    by_lower = {str(c).lower(): str(c) for c in candidates}
    close = difflib.get_close_matches(str(name).lower(), list(by_lower), n=1, cutoff=cutoff)
    return by_lower[close[0]] if close else None


def unlabelled(names: Iterable[str], columns: Iterable[str]) -> list[tuple[str, str | None]]:
    """Each of ``names`` (a prompt set's findings or classes) with no labels column of its exact
    name, with the closest column no name takes (``closest_name``) or None."""
    names, columns = [str(n) for n in names], [str(c) for c in columns]
    unused = [c for c in columns if c not in names]
    return [(name, closest_name(name, unused)) for name in names if name not in columns]


def did_you_mean(close: str | None, quote: str = "'") -> str:
    """ " (did you mean 'X'?)" for a ``closest_name`` found, else "": the one wording of it."""
    return f" (did you mean {quote}{close}{quote}?)" if close else ""
