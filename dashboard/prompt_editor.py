"""The Zero-shot page's prompt editor model: prompt sets <-> editable tables, and where sets live.

Findings edit as rows (finding, positive prompts, negative prompts) and diagnoses as rows
(class, prompts); several prompts in one cell are separated by ``|``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection, MutableMapping
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd

from dashboard.named_files import save_named_file
from dashboard.settings import Settings
from model.errors import DataError
from model.prompts import DEFAULT_PROMPTS, PromptSet

SEPARATOR = "|"
FINDING_COLUMNS = ("finding", "positive", "negative")
DIAGNOSIS_COLUMNS = ("class", "prompts")


def prompt_files(settings: Settings) -> dict[str, Path]:
    """Shipped prompt sets (``sample_data/prompts``) and those saved under the data root."""
    files = {f"shipped: {p.stem}": p for p in sorted(DEFAULT_PROMPTS.parent.glob("*.yaml"))}
    if settings.prompts_dir.is_dir():
        files.update({f"saved: {p.stem}": p for p in sorted(settings.prompts_dir.glob("*.yaml"))})
    return files


LAST_VALID_KEY = "zs-last-valid"  # session key: the YAML of the last prompt set the editor made
MAX_UPLOAD_MB = 1  # the prompt-set uploader's own limit (the app's is the DICOM zip import's)
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024  # Streamlit's megabyte


def load_prompt_set(path: Path, upload: BinaryIO | None = None) -> PromptSet:
    """An uploaded YAML file when given (``.name`` and ``.getvalue()``), else the set at ``path``."""
    if upload is None:
        return PromptSet.load(path)
    try:
        return _uploaded(upload)
    except DataError as err:  # the page shows only this: say the way back to a working set
        raise DataError(
            f"{err}. Fix the file and load it again, or remove it (×) to edit the prompt set "
            "chosen beside it"
        ) from err


def _uploaded(upload: BinaryIO) -> PromptSet:
    """The uploaded YAML file as a PromptSet; DataError naming what is wrong with it."""
    source = getattr(upload, "name", "uploaded prompt set")
    data = upload.getvalue()
    if len(data) > MAX_UPLOAD_BYTES:  # the page's uploader refuses these before they are sent
        raise DataError(
            f"{source} is {len(data) / 1024**2:.1f} MB; a prompt set is a few KB of YAML "
            f"(at most {MAX_UPLOAD_MB} MB is read)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:  # replacing the bytes would score mangled prompts
        raise DataError(
            f"{source} is not UTF-8 text (byte {err.start}); save it as UTF-8 and load it again"
        ) from err
    return PromptSet.loads(text, source=source)


def _join(prompts: tuple[str, ...] | list[str]) -> str:
    """One cell of prompts; DataError for a prompt holding the separator, which the cell would
    split into two prompts scored apart (the command line scores it whole)."""
    for prompt in prompts:
        if SEPARATOR in prompt:
            raise DataError(
                f"the prompt {prompt!r} contains {SEPARATOR!r}, which the editor puts between "
                "prompts; reword it (e.g. with '/') to edit this set here"
            )
    return f" {SEPARATOR} ".join(prompts)


def _text(cell: object) -> str:
    """A table cell as stripped text; an empty cell (None, or NaN in a row added with '+') is ''."""
    return (
        ""
        if cell is None or (pd.api.types.is_scalar(cell) and pd.isna(cell))
        else str(cell).strip()
    )


def _split(cell: object) -> list[str]:
    return [part.strip() for part in _text(cell).split(SEPARATOR) if part.strip()]


def findings_rows(prompts: PromptSet) -> pd.DataFrame:
    """One editable row per finding."""
    rows = [(name, _join(p.positive), _join(p.negative)) for name, p in prompts.findings.items()]
    return pd.DataFrame(rows, columns=list(FINDING_COLUMNS))


def diagnoses_rows(prompts: PromptSet) -> pd.DataFrame:
    """One editable row per diagnosis class."""
    rows = [(name, _join(texts)) for name, texts in prompts.diagnoses.items()]
    return pd.DataFrame(rows, columns=list(DIAGNOSIS_COLUMNS))


def prompt_set_from_rows(findings: pd.DataFrame, diagnoses: pd.DataFrame) -> PromptSet:
    """Validate the edited tables into a PromptSet (DataError naming the bad row otherwise)."""
    data: dict[str, dict] = {"findings": {}, "diagnoses": {}}
    for row in findings.to_dict("records"):
        name = _text(row.get("finding"))
        if not name:
            if _split(row.get("positive")) or _split(row.get("negative")):
                raise DataError("a findings row has prompts but no finding name")
            continue
        if name in data["findings"]:
            raise DataError(f"finding {name!r} appears twice")
        data["findings"][name] = {
            "positive": _split(row.get("positive")),
            "negative": _split(row.get("negative")),
        }
    for row in diagnoses.to_dict("records"):
        name = _text(row.get("class"))
        if not name:
            if _split(row.get("prompts")):
                raise DataError("a diagnoses row has prompts but no class name")
            continue
        if name in data["diagnoses"]:
            raise DataError(f"diagnosis {name!r} appears twice")
        data["diagnoses"][name] = _split(row.get("prompts"))
    return PromptSet.from_dict(data, source="edited prompts")


def trial_key(name: str) -> str:
    """The finding name a trial finding is scored under: the typed name in lower case with
    spaces and other characters a finding name cannot hold as ``_`` (``LGE inferior`` ->
    ``lge_inferior``, so that ``LGE`` meets the labels column ``lge``), ``custom`` when not
    named. A name typed as words was refused as a prompt-set error, and the set's last valid
    scores were shown under a caption saying the trial had been scored."""
    plain = unicodedata.normalize("NFKD", name.strip().lower())  # é -> e + its accent, dropped
    key = re.sub(r"[^a-z0-9_.-]+", "_", plain.encode("ascii", "ignore").decode()).strip("_.-")
    return key[:64] or "custom"


def trial_replaces(findings: pd.DataFrame, name: str) -> bool:
    """Whether a trial finding of this name takes the place of a row of the edited set (which
    ``with_trial`` then leaves out): the page says so, or a trial named ``lge`` silently
    changed the set's own LGE scores and AUC."""
    return bool(_named(findings, trial_key(name)).any())


def _named(findings: pd.DataFrame, key: str) -> pd.Series:
    """Which rows of the findings table are the finding ``key`` (its name cell as stripped text,
    blank for an empty cell): the one test of ``trial_replaces`` and ``with_trial``, so that the
    page never says a trial replaces a row it keeps, nor drops one it said nothing of (a trial
    named ``nan`` dropped the blank rows, read as the text "nan")."""
    return findings["finding"].map(_text) == key


def with_trial(findings: pd.DataFrame, name: str, positive: str, negative: str) -> pd.DataFrame:
    """The findings table plus a trial finding when both of its prompts are filled in."""
    if not (positive.strip() and negative.strip()):
        return findings
    from dashboard.scoring import clean_query

    row = {
        "finding": trial_key(name),
        "positive": clean_query(positive),
        "negative": clean_query(negative),
    }
    kept = findings[~_named(findings, row["finding"])]
    return pd.concat([kept, pd.DataFrame([row])], ignore_index=True)


def save_prompt_set(
    settings: Settings,
    prompts: PromptSet,
    name: str,
    replaceable: Collection[Path] = (),
    overwrite: bool = False,
) -> Path:
    """Write the set to ``DATA_ROOT/prompts/<name>.yaml`` (atomic, validated). An existing file
    is replaced only when it is one of ``replaceable`` (the set being edited, the sets this editor
    saved) or when asked to ``overwrite``; else the set is written only as a new file, so of two
    users saving one new name at once the first keeps it. UserError when it cannot be written."""
    from dashboard.importer import check_name

    path = settings.prompts_dir / f"{check_name(name, 'prompt set name')}.yaml"
    return save_named_file(
        path,
        prompts.save,
        "prompt set",
        replaceable,
        overwrite,
        "save under another name, load that set first to edit it, or tick Overwrite to replace it",
    )


def edited_or_last_valid(
    build: Callable[[], PromptSet], memory: MutableMapping[str, Any]
) -> tuple[PromptSet | None, str | None]:
    """(the prompt set ``build`` makes of the edited tables, None) — remembered in ``memory`` as
    the last valid one — or, while an edit does not make one (a name with spaces, identical
    prompts), (the last valid set, or None before any, and what is wrong): a typo being fixed
    keeps the page's scores instead of emptying it."""
    try:
        prompts = build()
    except DataError as err:
        last = memory.get(LAST_VALID_KEY)
        return (PromptSet.loads(last) if last else None), str(err)
    memory[LAST_VALID_KEY] = prompts.dumps()
    return prompts, None
