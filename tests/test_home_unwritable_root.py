"""Home says first when the data root cannot take new files (read-only for this account, or its
disk nearly full), instead of letting each action find out; on a writable root it says nothing."""

from __future__ import annotations

import os
from pathlib import Path
from types import SimpleNamespace

import pytest

import dashboard.overview


def _warnings(at) -> list[str]:
    return [w.value for w in at.warning]


def test_home_names_a_read_only_data_root(
    app, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert not any("data root" in w for w in _warnings(app("pages/home.py")))
    real = os.access

    def access(path: str | Path, mode: int, **kwargs: object) -> bool:
        if Path(path) == data_root and mode & os.W_OK:
            return False  # as on a share mounted read-only
        return real(path, mode, **kwargs)

    monkeypatch.setattr(dashboard.overview.os, "access", access)
    [said] = [w for w in _warnings(app("pages/home.py")) if "data root" in w]
    assert "is read-only for this account" in said and "jobs" in said


def test_home_names_a_nearly_full_disk(
    app, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    disk = SimpleNamespace(f_bavail=5, f_frsize=4096, f_blocks=1000, f_bfree=5)
    monkeypatch.setattr("model.errors.os.statvfs", lambda folder: disk)
    [said] = [w for w in _warnings(app("pages/home.py")) if "free" in w]
    assert "has only 20 KB free" in said and "until some space is freed" in said
