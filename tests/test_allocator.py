"""glibc allocator thresholds: raised by the commands, left alone where they should be."""

from __future__ import annotations

import ctypes
import sys
from pathlib import Path

import pytest

from model import allocator, cli

GLIBC = sys.platform.startswith("linux") and allocator._glibc_mallopt() is not None


@pytest.mark.skipif(not GLIBC, reason="mallopt is glibc's")
def test_tune_allocator_raises_the_thresholds_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in allocator.ENVIRONMENT_KEYS:
        monkeypatch.delenv(key, raising=False)
    assert allocator.tune_allocator() is True
    assert allocator.tune_allocator() is True  # idempotent


def test_environment_thresholds_win(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "131072")
    assert allocator.tune_allocator() is False


def test_without_glibc_nothing_is_called(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in allocator.ENVIRONMENT_KEYS:
        monkeypatch.delenv(key, raising=False)

    def not_found(name: str) -> None:
        raise OSError(f"{name}: no such library")

    monkeypatch.setattr(ctypes, "CDLL", not_found)
    assert allocator._glibc_mallopt() is None
    assert allocator.tune_allocator() is False


def test_other_platforms_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sys, "platform", "darwin")
    assert allocator.tune_allocator() is False


def test_every_command_tunes_the_allocator_before_it_runs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """``python -m model COMMAND`` raises the thresholds first, also when the command fails."""
    calls: list[str] = []
    monkeypatch.setattr(cli, "tune_allocator", lambda: calls.append("tuned") or True)
    missing = tmp_path / "no-such-dataset"
    assert cli.main(["embed", "--checkpoint", str(missing), "--data", str(missing), "--out",
                     str(tmp_path / "out.npz")]) == 2  # fmt: skip
    assert calls == ["tuned"]
