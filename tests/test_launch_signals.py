"""``train --nproc`` run in a notebook's (or pytest's) own process: torch's elastic agent takes
over SIGTERM, SIGINT, SIGHUP and SIGQUIT when it starts its processes and never gives them back,
so a later SIGTERM (a CI timeout's) raised the agent's exception instead of stopping the
process. The launch puts every handler back as it was."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from model.training.launch import launch

_STOPS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1)


@pytest.mark.timeout(300)
def test_an_nproc_launch_in_this_process_leaves_its_signal_handlers_as_they_were(
    tmp_path: Path,
) -> None:
    before = [signal.getsignal(stop) for stop in _STOPS]
    argv = ["train", "--device", "cpu", "--data", str(tmp_path / "no-dataset")]
    assert launch(2, [*argv, "--out", str(tmp_path / "run")]) != 0  # each process refuses
    assert [signal.getsignal(stop) for stop in _STOPS] == before
