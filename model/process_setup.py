"""What ``python -m model`` sets up for its own process: ``model.PROCESS_ENVIRONMENT``'s
defaults, and a private matplotlib folder when the account's home cannot hold one (the
dashboard's process draws nothing with matplotlib and sets only the former: its jobs inherit its
environment, and would have been handed a folder removed when the dashboard stops).

A service account often has no writable home (a systemd unit with ``HOME`` unset or read-only,
``DynamicUser=``): matplotlib then logged "mkdir -p failed ..." and "Matplotlib created a
temporary cache directory ..., it is highly recommended to set the MPLCONFIGDIR" at the top of
every evaluation's log, warnings a sysadmin pages on. The folder given instead is what matplotlib
falls back to itself (a fresh owner-only one under the temporary folder, removed at exit), so two
dashboards on one host share nothing through it.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from model import PROCESS_ENVIRONMENT

MATPLOTLIB_ENV = "MPLCONFIGDIR"
_PREFIX = "cmr-matplotlib-"


def set_environment_defaults() -> None:
    """Set ``PROCESS_ENVIRONMENT``'s values the environment has none of (the CLI's process and
    the dashboard's: what ``import model`` once set for every process that imported it)."""
    for key, value in PROCESS_ENVIRONMENT.items():
        os.environ.setdefault(key, value)


def apply_process_environment() -> None:
    """``set_environment_defaults``, and ``MPLCONFIGDIR`` when matplotlib's own folders (config
    and cache, under the home) could not be written."""
    set_environment_defaults()
    if os.environ.get(MATPLOTLIB_ENV) or all(map(_could_write, _matplotlib_folders())):
        return
    scratch = tempfile.mkdtemp(prefix=_PREFIX)
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    os.environ[MATPLOTLIB_ENV] = scratch


def _matplotlib_folders() -> list[Path | None]:
    """The folders matplotlib uses on Linux without ``MPLCONFIGDIR`` (None: no home at all)."""
    try:
        home: Path | None = Path.home()
    except RuntimeError:
        home = None
    folders: list[Path | None] = []
    for variable, default in (("XDG_CONFIG_HOME", ".config"), ("XDG_CACHE_HOME", ".cache")):
        base = os.environ.get(variable) or (str(home / default) if home is not None else "")
        folders.append(Path(base, "matplotlib") if base else None)
    return folders


def _could_write(folder: Path | None) -> bool:
    """Whether ``folder`` is, or could be made, a folder this account writes: its nearest
    existing ancestor is a writable folder. Nothing is created."""
    if folder is None:
        return False
    for path in (folder, *folder.parents):
        if path.exists():
            return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    return False
