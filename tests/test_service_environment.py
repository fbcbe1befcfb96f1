"""A model command run by a service account whose home cannot be written (a systemd unit with
``HOME`` unset or read-only) logs no matplotlib warning: every evaluation's log began with
"mkdir -p failed ..." and "Matplotlib created a temporary cache directory ... it is highly
recommended to set the MPLCONFIGDIR", lines a sysadmin pages on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from model import PROCESS_ENVIRONMENT
from model.process_setup import MATPLOTLIB_ENV, apply_process_environment

REPO = Path(__file__).resolve().parent.parent
# the entry point's set-up, then what an evaluation's figures do: matplotlib's folders in use
COMMAND_THEN_FIGURES = (
    "import contextlib, os\n"
    "from model.cli import main\n"
    "with contextlib.suppress(SystemExit):\n"
    "    main(['generate', '--help'])\n"
    "import matplotlib\n"
    "from matplotlib.figure import Figure\n"
    "print('FOLDER', matplotlib.get_cachedir())\n"
)


def _service_env(home: str) -> dict[str, str]:
    keep = ("PATH", "SYSTEMROOT")
    env = {k: v for k, v in os.environ.items() if k in keep}
    return env | {"HOME": home, "LANG": "C", "LC_ALL": "C", "PYTHONPATH": str(REPO)}


def test_a_home_that_cannot_be_written_gets_no_matplotlib_warning(tmp_path: Path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")  # nothing, root included, makes a folder below a file
    done = subprocess.run(
        [sys.executable, "-c", COMMAND_THEN_FIGURES],
        cwd="/",
        env=_service_env(str(blocked / "home")),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "matplotlib" not in done.stderr.lower(), done.stderr[-2000:]
    folder = Path(done.stdout.split("FOLDER ")[1].strip())
    assert not folder.exists()  # the process's own, removed when it ended


def test_a_writable_home_is_left_to_matplotlib(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for variable in (MATPLOTLIB_ENV, "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    for key, value in PROCESS_ENVIRONMENT.items():  # restored after the test
        monkeypatch.setenv(key, os.environ.get(key, value))
    apply_process_environment()
    assert MATPLOTLIB_ENV not in os.environ
    assert list(tmp_path.iterdir()) == []  # nothing made in the home to find that out


# a command's clean-up (an evaluation removing its hidden staging folder) with the SIGTERM that
# started it and a second one on its way: systemctl stop signals the job's runner, which passes
# it on, and the command itself
TWO_SIGTERMS = (
    "import os, signal, time\n"
    "from model.workers import sigterm_interrupts\n"
    "try:\n"
    "    with sigterm_interrupts():\n"
    "        try:\n"
    "            os.kill(os.getpid(), signal.SIGTERM)\n"
    "            time.sleep(5)\n"
    "        finally:\n"
    "            os.kill(os.getpid(), signal.SIGTERM)\n"
    "            time.sleep(0.2)\n"
    "            print('clean-up done', flush=True)\n"
    "except KeyboardInterrupt as err:\n"
    "    print(err, flush=True)\n"
)


def test_a_second_sigterm_does_not_cut_the_first_ones_clean_up_short() -> None:
    done = subprocess.run(
        [sys.executable, "-c", TWO_SIGTERMS],
        env=_service_env("/nonexistent"),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.stdout.splitlines() == ["clean-up done", "stopped by SIGTERM"], done.stderr
