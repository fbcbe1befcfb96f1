"""An output path checked before a command's work: nothing already there may be in its way.

A file where the output folder (or one of the folders above an output) must go, or a folder
where an output file must go, would otherwise stop the command with an OS error only when it
writes, after the work is done.
"""

from __future__ import annotations

from pathlib import Path

from model.errors import UserError


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
        return
    for parent in path.parents:
        if parent.exists():
            if not parent.is_dir():
                raise UserError(f"{what} {path} cannot be created: {parent} is a file")
            return
