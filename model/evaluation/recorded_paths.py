"""The input paths an evaluation's ``summary.json`` records: shareable, and read back here.

A summary is shared with collaborators, and a full path (``/home/alice/cmr/runs/a/best.pt``)
carries a user's name and names nothing on their machine. An input under the data root
(``CMR_DATA_ROOT``, else ``data/``: where the dashboard keeps everything) is recorded relative
to it (``runs/a/best.pt``); one outside it by its folder and name alone (``shown_path``), beside
the fingerprint or SHA-256 the summary keeps of it, and listed in ``config["paths"]["outside"]``
so that no reader takes it for a file under its own data root. ``config["paths"]`` marks the
form: a summary written before 2026-12 has none and holds each path as it was given (absolute,
or relative to the folder the command ran in), which ``recorded_path`` reads as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.provenance import shown_path

RELATIVE_TO = "data root"


def _under(path: Path, root: Path) -> Path | None:
    """``path`` relative to ``root`` when it lies under it, as written or once links are
    followed (a data root reached through a link); None otherwise."""
    for mine, base in (
        (Path(os.path.abspath(path)), Path(os.path.abspath(root))),
        (path.resolve(), root.resolve()),
    ):
        if mine.is_relative_to(base):
            return mine.relative_to(base)
    return None


def portable(path: str | Path, root: Path) -> tuple[str, bool]:
    """(``path`` as a summary keeps it, whether it lies outside ``root``): relative to the data
    root when under it, else ``shown_path`` (its folder and name)."""
    inside = _under(Path(path).expanduser(), root)
    if inside is None:
        return shown_path(path), True
    return (inside.as_posix() if inside.parts else "."), False


@dataclass
class PathRecorder:
    """Records the paths of one evaluation relative to ``root``, remembering those outside it."""

    root: Path
    outside: list[str] = field(default_factory=list)

    def record(self, path: str | Path) -> str:
        """``path`` as the summary keeps it (``portable``), noted when outside the data root."""
        kept, is_outside = portable(path, self.root)
        if is_outside and kept not in self.outside:
            self.outside.append(kept)
        return kept

    def record_all(self, paths: Sequence[str | Path]) -> list[str]:
        return [self.record(path) for path in paths]

    def marker(self) -> dict[str, Any]:
        """``config["paths"]``: how the summary's paths are to be read."""
        return {"relative_to": RELATIVE_TO, "outside": list(self.outside)}


def portable_command(argv: Sequence[str], root: Path) -> tuple[str, ...]:
    """``argv`` with each path in it as ``portable`` keeps it (to be run from the data root): a
    path is a word that is absolute, or holds a ``/`` and names a file or folder, alone, after
    ``--option=`` or after ``NAME:`` (``--general-clip ViT-B-32:/home/alice/w.pt``)."""

    def word(text: str) -> str:
        option, equals, value = text.partition("=") if text.startswith("--") else ("", "", text)
        if option and not equals:
            return text
        name, colon, rest = value.partition(":")
        if colon and Path(rest).expanduser().is_absolute():
            return f"{option}{equals}{name}:{portable(rest, root)[0]}"
        path = Path(value).expanduser()
        if path.is_absolute() or ("/" in value and path.exists()):
            return f"{option}{equals}{portable(value, root)[0]}"
        return text

    return tuple(word(str(text)) for text in argv)


def recorded_path(config: dict[str, Any], recorded: Any, root: Path) -> Path | None:
    """The file a summary's ``config`` names by ``recorded``, on this machine whose data root
    is ``root``: under ``root`` for a summary that records its paths relative to the data
    root, None for one it recorded outside the data root (only its folder and name are
    kept) or anything not a path; a path of an older summary as it is."""
    if not isinstance(recorded, str) or not recorded:
        return None
    paths = config.get("paths")
    if not isinstance(paths, dict) or paths.get("relative_to") != RELATIVE_TO:
        return Path(recorded)  # an older summary: the path as the command was given it
    outside = paths.get("outside")
    if (isinstance(outside, list) and recorded in outside) or Path(recorded).is_absolute():
        return None
    return root / recorded
