"""./run.sh and scripts/setup.sh (run by ./run.sh and ./test.sh, which makes .venv and installs
only when needed).

The scripts run for real in a copy of the project, with a stand-in interpreter on PATH that makes
venvs and records pip calls instead of reaching the network.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from dashboard import jobs as jobs_module
from dashboard import launch
from dashboard.jobs import JobManager
from dashboard.settings import Settings
from model.demo import DEMO_TITLE
from model.schema import DATA_ROOT_ENV

REPO = Path(__file__).resolve().parent.parent
TOOLS = ("bash", "cat", "sha256sum", "cut", "mkdir", "cp", "rm", "dirname", "basename", "touch")
TOOLS += ("flock", "sleep")

# Stand-in for python3.11 and for the venv's python: `-m venv [--clear] DIR` makes DIR with pip
# (FAKE_NO_PIP: without, as a venv cut short before ensurepip), `-m pip` fails without pip, and
# FAKE_OLD_PYTHON makes it an interpreter older than 3.11; FAKE_SLOW_S makes venvs that long.
# Every call is logged.
FAKE_PYTHON = r"""#!/usr/bin/env bash
here="$(cd "$(dirname "$0")" && pwd)"
echo "$(basename "$0") $*" >> "$FAKE_LOG"
if [ "$1" = "-c" ]; then
  case "$2" in
    *"import pip"*) [ -f "$here/../has-pip" ] ;;
    *version_info*) [ -z "${FAKE_OLD_PYTHON:-}" ] ;;
    *) echo "3.9.2" ;;
  esac
  exit
fi
if [ "$1 $2" = "-m venv" ]; then
  dir="${*: -1}"
  if [ "$3" = "--clear" ]; then rm -rf "$dir"; fi
  mkdir -p "$dir/bin" && sleep "${FAKE_SLOW_S:-0}" && cp "$0" "$dir/bin/python"
  if [ -z "${FAKE_NO_PIP:-}" ]; then touch "$dir/has-pip"; fi
  exit
fi
if [ "$1 $2" = "-m pip" ] && [ ! -f "$here/../has-pip" ]; then
  echo "No module named pip" >&2
  exit 1
fi
"""


@pytest.fixture
def project(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    shutil.copy(REPO / "scripts" / "setup.sh", root / "scripts" / "setup.sh")
    (root / "requirements.txt").write_text("numpy>=1.26\n")
    (root / "requirements-dev.txt").write_text("-r requirements.txt\npytest>=8\n")
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    for tool in TOOLS:  # no real Python on PATH: a wrong fallback must not make a real venv
        (fake_bin / tool).symlink_to(shutil.which(tool))
    (fake_bin / "python3.11").write_text(FAKE_PYTHON)
    (fake_bin / "python3.11").chmod(0o755)
    return root


def run_setup(project: Path, **env: str) -> tuple[subprocess.CompletedProcess, list[str]]:
    """Source setup.sh as run.sh does; the process and the interpreter calls it made."""
    log = project.parent / "calls.log"
    log.write_text("")
    full_env = {
        "PATH": str(project.parent / "bin"),
        "HOME": str(project.parent),
        "FAKE_LOG": str(log),
        **env,
    }
    script = 'source scripts/setup.sh; echo "offline=$HF_HUB_OFFLINE python=$(command -v python)"'
    done = subprocess.run(
        ["bash", "-c", script], cwd=project, env=full_env, capture_output=True, text=True
    )
    return done, log.read_text().splitlines()


def installs(calls: list[str]) -> list[str]:
    return [call for call in calls if "-m pip install" in call and "-r" in call]


def test_first_run_installs_and_a_second_run_does_nothing(project: Path) -> None:
    first, calls = run_setup(project)
    assert first.returncode == 0, first.stderr
    assert f"offline=1 python={project / '.venv' / 'bin' / 'python'}" in first.stdout
    assert len(installs(calls)) == 1
    second, calls = run_setup(project)
    assert second.returncode == 0, second.stderr
    assert not installs(calls)
    assert not any("-m venv" in call for call in calls)


def test_two_first_runs_at_once_make_one_venv_and_the_second_reuses_it(project: Path) -> None:
    """./run.sh and ./test.sh started together on a fresh machine: one makes and fills .venv
    while the other waits for it (no venv cleared under the first, no second install)."""
    log = project.parent / "calls.log"
    env = {"PATH": str(project.parent / "bin"), "HOME": str(project.parent)}
    env.update(FAKE_LOG=str(log), FAKE_SLOW_S="1")
    script = 'source scripts/setup.sh; echo "python=$(command -v python)"'
    both = [
        subprocess.Popen(["bash", "-c", script], cwd=project, env=env, stdout=subprocess.PIPE)
        for _ in range(2)
    ]
    outputs = [done.communicate()[0].decode() for done in both]
    assert [done.returncode for done in both] == [0, 0], outputs
    calls = log.read_text().splitlines()
    assert sum("-m venv" in call for call in calls) == 1 and len(installs(calls)) == 1
    assert all(f"python={project / '.venv' / 'bin' / 'python'}" in out for out in outputs)
    assert any("waiting for it" in out for out in outputs)
    held = 'source scripts/setup.sh; flock -n .venv.lock sleep 0 && echo "released"'
    after = subprocess.run(["bash", "-c", held], cwd=project, env=env, capture_output=True)
    assert after.stdout == b"released\n", after.stderr  # the dashboard, the tests never hold it


def test_changed_requirements_are_installed_again(project: Path) -> None:
    run_setup(project)
    (project / "requirements.txt").write_text("numpy>=1.26\nscipy>=1.11\n")
    done, calls = run_setup(project)
    assert done.returncode == 0, done.stderr
    assert len(installs(calls)) == 1


def test_a_venv_left_without_pip_is_made_again(project: Path) -> None:
    cut_short, _ = run_setup(project, FAKE_NO_PIP="1")
    assert cut_short.returncode != 0
    assert (project / ".venv" / "bin" / "python").exists()
    done, calls = run_setup(project)
    assert done.returncode == 0, done.stderr
    assert "making it again" in done.stdout
    assert len(installs(calls)) == 1


def test_a_venv_whose_python_is_gone_is_made_again_and_filled(project: Path) -> None:
    run_setup(project)
    python = project / ".venv" / "bin" / "python"
    python.unlink()
    python.symlink_to(project.parent / "removed-python3.11")
    done, calls = run_setup(project)
    assert done.returncode == 0, done.stderr
    assert len(installs(calls)) == 1


def test_an_old_python_is_refused_before_any_venv_is_made(project: Path) -> None:
    fake_bin = project.parent / "bin"
    (fake_bin / "python3.11").rename(fake_bin / "python3")
    done, calls = run_setup(project, FAKE_OLD_PYTHON="1")
    assert done.returncode == 1
    assert "python3 is Python 3.9.2" in done.stderr and "3.11" in done.stderr
    assert not (project / ".venv").exists()
    assert not any("-m venv" in call for call in calls)


def test_a_python_named_in_PYTHON_that_does_not_exist_is_named(project: Path) -> None:
    done, _ = run_setup(project, PYTHON="/opt/missing/python3.11")
    assert done.returncode == 1
    assert "no /opt/missing/python3.11 found" in done.stderr
    assert not (project / ".venv").exists()


@pytest.fixture
def launcher(tmp_path: Path) -> Path:
    """A copy of run.sh whose setup puts a python on PATH that echoes what it was given."""
    root = tmp_path / "project"
    (root / "scripts").mkdir(parents=True)
    (root / "stub-bin").mkdir()
    shutil.copy(REPO / "run.sh", root / "run.sh")
    (root / "scripts" / "setup.sh").write_text('export PATH="$PWD/stub-bin:$PATH"\n')
    python = root / "stub-bin" / "python"
    python.write_text('#!/usr/bin/env bash\necho "cwd=$PWD root=${CMR_DATA_ROOT-unset} args=$*"\n')
    python.chmod(0o755)
    return root


@pytest.mark.parametrize(
    ("given", "expected"),
    [("my data/hospital", "{typed_in}/my data/hospital"), ("/srv/cmr", "/srv/cmr"), ("", "")],
)
def test_run_sh_reads_a_relative_data_root_from_where_it_was_typed(
    launcher: Path, tmp_path: Path, given: str, expected: str
) -> None:
    typed_in = tmp_path / "elsewhere"
    typed_in.mkdir()
    env = {**os.environ, "CMR_DATA_ROOT": given}
    done = subprocess.run(
        ["bash", str(launcher / "run.sh"), "--server.port", "8600"],
        cwd=typed_in,
        env=env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    root = expected.format(typed_in=typed_in)
    assert done.stdout.strip() == (
        f"cwd={launcher} root={root} args=-m dashboard.launch --server.port 8600"
    )


def test_an_empty_data_root_variable_is_the_default_not_the_current_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(DATA_ROOT_ENV, "")
    assert Settings.from_env().data_root == tmp_path / "data"
    monkeypatch.setenv(DATA_ROOT_ENV, "~/cmr")
    assert Settings.from_env().data_root == Path.home().resolve() / "cmr"


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """What ``launch.main`` starts: "demo" for the demo build, then the streamlit command."""
    calls: list[str] = []
    monkeypatch.setenv(DATA_ROOT_ENV, str(tmp_path / "data"))
    monkeypatch.delenv("STREAMLIT_SERVER_PORT", raising=False)
    monkeypatch.setattr(launch, "start_demo_build", lambda settings: calls.append("demo"))
    monkeypatch.setattr(launch.os, "execv", lambda exe, command: calls.append(" ".join(command)))
    return calls


def test_a_port_in_use_is_named_before_the_demo_build_starts(
    started: list[str], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert launch.main(["--server.port", str(port)]) == 1
        monkeypatch.setenv("STREAMLIT_SERVER_PORT", str(port))
        assert launch.main([]) == 1
    assert not started
    messages = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(messages) == 2
    assert all(f"port {port} is already in use" in m for m in messages)
    assert f"--server.port {port + 1}" in messages[0]
    assert launch.main([f"--server.port={port}"]) == 0 and started[0] == "demo"
    assert started[1].endswith(f"--server.port={port}")


def test_help_shows_streamlits_options_without_building_the_demo(started: list[str]) -> None:
    launch.main(["--help"])
    assert started == [f"{sys.executable} -m streamlit run {launch.APP} --help"]


@pytest.fixture
def demo_launches(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The titles of the jobs ``launch.start_demo_build`` starts (none really starts)."""
    titles: list[str] = []

    def fake_launch(self: object, kind: str, command: list[str], title: str = "") -> object:
        titles.append(title)
        return type("StartedJob", (), {"log_path": Path("log.txt")})()

    monkeypatch.setattr(launch.JobManager, "launch", fake_launch)
    return titles


def test_the_first_run_on_an_empty_data_root_builds_the_demo(
    tmp_path: Path, demo_launches: list[str]
) -> None:
    launch.start_demo_build(Settings(data_root=tmp_path / "data"))
    assert demo_launches == [DEMO_TITLE]  # as Home's button titles it: one name on its panel


def test_a_data_root_holding_a_hospitals_own_dataset_does_not_get_the_demo_built(
    tmp_path: Path, demo_launches: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    root = tmp_path / "hospital"
    (root / "ds" / "stmary").mkdir(parents=True)
    (root / "ds" / "stmary" / "studies.parquet").write_bytes(b"")
    with caplog.at_level("INFO", logger="dashboard.launch"):
        launch.start_demo_build(Settings(data_root=root))
    assert demo_launches == []
    said = caplog.text
    assert "ds/stmary" in said and "Build the demo" in said
    # a demo build begun there earlier (its datasets left by a build cut short) goes on
    (root / "demo" / "internal").mkdir(parents=True)
    (root / "demo" / "internal" / "studies.parquet").write_bytes(b"")
    launch.start_demo_build(Settings(data_root=root))
    assert len(demo_launches) == 1


def test_a_restart_during_the_demo_build_says_it_goes_on_not_that_it_was_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """./run.sh stopped and started again mid-build printed "another demo job is already
    running ...; wait for it or cancel it first", as if the restart had been refused."""
    settings = Settings(data_root=tmp_path / "data")
    jobs = JobManager(settings.jobs_dir)
    build = jobs.launch("demo", [sys.executable, "-c", "import time; time.sleep(60)"], title="B")
    try:
        with caplog.at_level("INFO", logger="dashboard.launch"):
            launch.start_demo_build(settings)
        assert [job.id for job in jobs.list("demo")] == [build.id]
    finally:
        jobs.cancel(build.id)
        jobs_module._CHILDREN.clear()
    assert "still running" in caplog.text and "follow it on the Home page" in caplog.text
    assert "already running" not in caplog.text


def test_the_launcher_imports_no_data_libraries() -> None:
    """``./run.sh`` runs ``dashboard.launch`` before Streamlit starts: naming the demo job's title
    through the Home page's module made it import pandas and pyarrow (0.1 s became 0.56 s)."""
    probe = "import sys, dashboard.launch; print(sorted({'pandas', 'pyarrow'} & set(sys.modules)))"
    found = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert found.stdout.strip() == "[]", found.stdout


def test_a_start_after_a_service_stop_says_the_demo_build_goes_on(
    tmp_path: Path, demo_launches: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    """systemctl stop stops the demo build with the dashboard: the next start said "it goes on
    when the dashboard is stopped", untrue of a service, and not that it went on."""
    settings = Settings(data_root=tmp_path / "data")
    folder = settings.jobs_dir / "demo-stopped"
    folder.mkdir(parents=True)
    (folder / "job.json").write_text('{"id": "demo-stopped", "kind": "demo", "pid": 1}')
    (folder / "result.json").write_text('{"returncode": 130}')  # stopped by SIGTERM
    with caplog.at_level("INFO", logger="dashboard.launch"):
        launch.start_demo_build(settings)
    assert demo_launches == [DEMO_TITLE]
    assert "going on building, from the first unfinished step" in caplog.text
    assert "a service stop stops it" in caplog.text
