"""An output path checked before a command's work: nothing already there may be in its way.

A file where the output folder (or one of the folders above an output) must go, a folder where
an output file must go, or a folder this account cannot write in (a colleague's data root, a
read-only mount) would otherwise stop the command with an OS error only when it writes, after the
work is done.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable
from pathlib import Path

from model.errors import UserError, storage_problem


def check_output_path(path: str | Path, what: str, folder: bool) -> None:
    """UserError unless ``path`` can be written as a folder (``folder``) or as a file.

    ``what`` names the path in the message, e.g. ``"--out"``.
    """
    path = Path(path)
    if path.exists():
        if folder and not path.is_dir():
            raise UserError(f"{what} {path} is a file, not a folder; choose another path")
        if not folder and path.is_dir():
            raise UserError(f"{what} {path} is a folder; give a file name")
        _check_writable(path if folder else path.parent, what, path)
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{what} {path} cannot be created: {parent} is a file")
            _check_writable(parent, what, path)
            return


def check_not_an_input(
    path: str | Path, what: str, inputs: Iterable[Path | None], dataset: Path
) -> None:
    """UserError when writing ``path`` would overwrite what the command reads: one of ``inputs``
    (e.g. the labels file) or a file of the ``dataset`` folder (its linkage, its own labels)."""
    target = Path(path).resolve()
    if any(given is not None and target == Path(given).resolve() for given in inputs):
        raise UserError(f"{what} {path} is a file the command reads; write elsewhere")
    if target.is_relative_to(Path(dataset).resolve()):
        raise UserError(f"{what} {path} is inside the dataset folder {dataset}; write elsewhere")


def _check_writable(folder: Path, what: str, path: Path) -> None:
    """UserError unless a file can be created in ``folder`` (tried: a nameless file, gone at
    once), where ``path`` is to be written."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        problem = storage_problem(OSError(err.errno, err.strerror, str(folder)))
        raise UserError(
            f"{what} {path} cannot be written: {problem or f'{err.strerror or err}: {folder}'}"
        ) from err
