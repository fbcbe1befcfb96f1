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
CACHE_ENV = "CMR_CACHE_DIR"  # where this account's caches go (``cache_home``)
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
    folders = (_xdg_folder("XDG_CONFIG_HOME", ".config"), _xdg_folder("XDG_CACHE_HOME", ".cache"))
    return [folder / "matplotlib" if folder is not None else None for folder in folders]


def cache_home() -> Path | None:
    """This account's cache folder for the product (``model.data.fingerprint_memo``):
    ``$CMR_CACHE_DIR``, else ``$XDG_CACHE_HOME/cmr-clip``, else ``~/.cache/cmr-clip``; None
    when there is no home to put it in. Nothing is created."""
    if own := os.environ.get(CACHE_ENV):
        return Path(own).expanduser()
    base = _xdg_folder("XDG_CACHE_HOME", ".cache")
    return base / "cmr-clip" if base is not None else None


def _xdg_folder(variable: str, default: str) -> Path | None:
    """``$variable``, else the home's ``default`` folder (the XDG base directories); None when
    neither is known."""
    if base := os.environ.get(variable):
        return Path(base)
    try:
        return Path.home() / default
    except RuntimeError:  # no HOME and no passwd entry
        return None


def _could_write(folder: Path | None) -> bool:
    """Whether ``folder`` is, or could be made, a folder this account writes: its nearest
    existing ancestor is a writable folder. Nothing is created."""
    if folder is None:
        return False
    for path in (folder, *folder.parents):
        if path.exists():
            return path.is_dir() and os.access(path, os.W_OK | os.X_OK)
    return False
