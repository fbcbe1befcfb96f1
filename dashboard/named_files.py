"""Saving a set the user named (a prompt set, an example set) under the data root, so that of two
users saving one new name at once the first keeps it."""

from __future__ import annotations

from collections.abc import Callable, Collection
from pathlib import Path

from model.errors import UserError, storage_problem


def save_named_file(
    path: Path,
    write: Callable[[Path, bool], None],
    what: str,
    replaceable: Collection[Path] = (),
    overwrite: bool = False,
    taken_hint: str = "save under another name, or tick Overwrite to replace it",
) -> Path:
    """``write(path, replace)`` a set the user named (a prompt set, an example set) under the data
    root. An existing file is replaced only when it is one of ``replaceable`` (the sets this
    session saved or loaded) or when asked to ``overwrite``; else it is written only as a new file,
    so of two users saving one new name at once the first keeps it. UserError naming ``what`` when
    the name is taken (``taken_hint`` says what to do) or the file cannot be written."""
    replace = overwrite or path.resolve() in {p.resolve() for p in replaceable}
    try:
        write(path, replace)
    except FileExistsError as err:
        if not path.is_file():  # the folder's name is taken by a file
            raise UserError(
                f"cannot save the {what}: cannot write {path} ({err.strerror}: {err.filename})"
            ) from err
        article = "an" if what[:1] in "aeiou" else "a"
        raise UserError(
            f"{article} {what} called {path.stem} already exists; {taken_hint}"
        ) from None
    except OSError as err:  # a full disk or a read-only root also says what to do about it
        problem = storage_problem(OSError(err.errno, err.strerror, str(path)))
        said = problem or f"cannot write {path} ({err.strerror or err})"
        raise UserError(f"cannot save the {what}: {said}") from err
    return path
