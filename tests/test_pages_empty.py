"""Every page on a fresh install (empty data root): no exception, a helpful empty state, and the
key widgets present. Pages run through app.py so navigation and page links resolve."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import jobs as jobs_module
from dashboard import launch
from dashboard.jobs import JobManager

APP = str(Path(__file__).resolve().parent.parent / "app.py")
PAGES = [
    "pages/home.py",
    "pages/studies.py",
    "pages/train.py",
    "pages/embeddings.py",
    "pages/zeroshot.py",
    "pages/fewshot.py",
    "pages/browser.py",
    "pages/evaluate.py",
]


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    return root


def _open(page: str, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    if page != PAGES[0]:
        at.switch_page(page).run()
    return at


def _texts(at: AppTest) -> str:
    parts = [*at.info, *at.markdown, *at.caption, *at.warning]
    return " ".join(str(p.value) for p in parts)


@pytest.mark.parametrize("page", PAGES)
def test_page_renders_empty_state(data_root: Path, page: str) -> None:
    at = _open(page)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title, "every page has a title"
    if page != "pages/home.py":
        assert at.info, f"{page} explains what to do next"


def test_home_offers_the_demo_build(data_root: Path) -> None:
    at = _open("pages/home.py")
    assert [b.label for b in at.button] == ["Build the demo"]
    assert "No dataset" not in _texts(at)
    assert str(data_root) in _texts(at)


def test_home_lists_every_page_of_the_navigation(data_root: Path) -> None:
    titles = re.findall(r'st\.Page\("pages/\w+\.py", title="([^"]+)"', Path(APP).read_text())
    listed = _texts(_open("pages/home.py"))
    assert len(titles) == len(PAGES)
    assert [t for t in titles if t != "Home" and f"**{t}**" not in listed] == []


def test_empty_states_point_at_the_next_step(data_root: Path) -> None:
    assert "Build the demo" in _texts(_open("pages/browser.py"))
    assert "Train a model" in _texts(_open("pages/evaluate.py"))
    zeroshot = _open("pages/zeroshot.py")
    assert zeroshot.selectbox(key="zs-source").value.startswith("shipped")
    assert "No dataset yet" in _texts(zeroshot)


def test_demo_build_runs_as_a_job_and_survives_a_refresh(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    monkeypatch.setattr("dashboard.overview.demo_command", lambda settings: sleep)
    at = _open("pages/home.py")
    at.button[0].click().run()
    jobs = JobManager(data_root / "jobs")
    job = jobs.latest("demo")
    try:
        assert job is not None and job.running and job.info["command"] == sleep
        refreshed = _open("pages/home.py")  # a new browser session
        assert refreshed.button(key=f"cancel-{job.id}") is not None
        assert any("Demo build" in m.value for m in refreshed.markdown)
        assert refreshed.button[0].disabled  # no second demo build while one runs
    finally:
        jobs.cancel(job.id)
        jobs_module._CHILDREN.clear()
    assert jobs.get(job.id).state == "cancelled"


def test_import_refuses_a_folder_outside_the_data_root(data_root: Path, tmp_path: Path) -> None:
    at = _open("pages/studies.py", studies_view="Import")
    folder = at.text_input(key="imp-folder")
    folder.input(str(tmp_path))
    at.button(key="FormSubmitter:import-Import and ingest").click().run()
    assert not at.exception
    assert any("outside the data root" in e.value for e in at.error)


def test_a_demo_killed_by_the_system_reads_failed_and_can_be_started_again(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed from outside (the kernel's out-of-memory killer sends SIGKILL), not cancelled."""
    killed = [sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGKILL)"]
    monkeypatch.setattr("dashboard.overview.demo_command", lambda settings: killed)
    at = _open("pages/home.py")
    at.button[0].click().run()
    jobs = JobManager(data_root / "jobs")
    job = jobs.latest("demo")
    deadline = time.monotonic() + 30
    while jobs.get(job.id).running and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs_module._CHILDREN.clear()
    assert jobs.get(job.id).state == "failed"
    home = _open("pages/home.py")
    assert [e.value for e in home.error] == [
        "Demo build failed (killed by SIGKILL, as when the machine runs out of memory)"
    ]
    assert [b.label for b in home.button] == ["Build the demo"] and not home.button[0].disabled


def test_a_demo_that_failed_after_training_is_not_called_ready(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Datasets and a checkpoint exist, but the build's last step (the index) failed: Home shows
    the failure and offers to finish the build, not a green "the demo is ready"."""
    (data_root / "demo" / "internal").mkdir(parents=True)
    (data_root / "demo" / "internal" / "studies.parquet").write_bytes(b"x")
    run = data_root / "runs" / "demo-cpu-small"
    run.mkdir(parents=True)
    (run / "status.json").write_text('{"state": "finished"}')
    (run / "best.pt").write_bytes(b"x")
    failing = [sys.executable, "-c", "import sys; sys.exit('demo step index failed')"]
    monkeypatch.setattr("dashboard.overview.demo_command", lambda settings: failing)
    JobManager(data_root / "jobs").launch("demo", failing, title="Demo build")
    jobs = JobManager(data_root / "jobs")
    deadline = time.monotonic() + 30
    while jobs.latest("demo").running and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs_module._CHILDREN.clear()
    home = _open("pages/home.py")
    assert not home.success, [s.value for s in home.success]
    assert [e.value for e in home.error] == ["Demo build failed (exit code 1)"]
    assert [b.label for b in home.button] == ["Build the demo"]


def test_run_sh_on_a_data_root_it_cannot_create_says_so_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data root should be")
    monkeypatch.setenv("CMR_DATA_ROOT", str(blocker / "data"))
    served: list[list[str]] = []
    monkeypatch.setattr(launch.os, "execv", lambda exe, command: served.append(command))
    monkeypatch.setattr(launch, "busy_port_message", lambda argv: None)  # a dashboard on 8501
    assert launch.main([]) != 0
    assert not served and not (blocker / "data").exists()
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == [
        f"cannot create the data root {blocker / 'data'} (Not a directory); set CMR_DATA_ROOT "
        "to a folder this user can write"
    ]


def test_a_built_demo_is_offered_a_repair_not_a_rebuild(data_root: Path) -> None:
    """A second build of a built demo redoes only damaged stages and the index: the button
    says so instead of promising a rebuild from scratch."""
    run = data_root / "runs" / "demo-cpu-small"
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(b"x")
    (data_root / "demo").mkdir()
    (data_root / "demo" / "ready.json").write_text("{}")
    home = _open("pages/home.py")
    assert [b.label for b in home.button] == ["Check and repair the demo"]
    assert "delete demo/ and runs/demo-cpu-small/" in home.button[0].help


def test_the_browser_tab_icon_is_drawn_locally(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A Material page icon is fetched by the browser from Google's font server on every page:
    a failed request on an offline hospital network, a call to Google on any other."""
    import streamlit
    from streamlit.commands.page_config import _get_favicon_string

    icons: list[str] = []
    real = streamlit.set_page_config

    def set_page_config(**kwargs: object) -> None:
        icons.append(str(kwargs.get("page_icon")))
        real(**kwargs)

    monkeypatch.setattr(streamlit, "set_page_config", set_page_config)
    at = _open(PAGES[0])
    assert not at.exception and icons
    favicon = _get_favicon_string(icons[0])
    assert favicon.startswith("emoji:"), f"{favicon} is fetched from a server"


def test_home_says_how_long_the_demo_takes_and_when_each_page_opens(data_root: Path) -> None:
    """A first run's Home said the build runs in the background, not for how long (about 15
    minutes on 2 cores) nor when the pages it lists would have something to show."""
    from dashboard.overview import demo_minutes
    from model.nn.presets import load_preset

    total, training = demo_minutes()
    assert training == round(load_preset("cpu-small").train.time_budget_s / 60) < total
    shown = _texts(_open("pages/home.py"))
    assert f"about {total} minutes on 2 idle CPU cores, {training} of them training" in shown
    assert "Studies opens after step 2 (ingest)" in shown


def test_home_points_to_the_first_things_to_try_once_the_demo_is_built(data_root: Path) -> None:
    """Once built, Home said only "open Zero-shot, Case browser or Embeddings in the sidebar"."""
    from dashboard_fixtures import finished_run

    from model.demo import DemoLayout

    finished_run(data_root, DemoLayout(data_root).run.name, 0)
    DemoLayout(data_root).ready_marker.parent.mkdir(parents=True)
    DemoLayout(data_root).ready_marker.write_text("{}")
    at = _open("pages/home.py")
    linked = [link.proto.page for link in at.get("page_link")]
    assert {"browser", "zeroshot", "embeddings"} <= set(linked)
    assert "minutes on 2 CPU cores" not in _texts(at)
