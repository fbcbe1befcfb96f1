"""Every time a page shows is in one zone, the reader's browser's, named (``dashboard.reader_clock``):
the job panels wrote the server's zone above a runs table written in the browser's."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from dashboard_fixtures import APP, finished_run, tiny_writable_root
from streamlit.testing.v1 import AppTest

from dashboard.jobs import JobManager
from dashboard.run_state import run_state

pytestmark = pytest.mark.slow
STARTED = 1793521800.0  # 2026-11-01 08:30 UTC: 17:30 JST on the server, 09:30 CET in Berlin
PAGES = {"demo": "pages/home.py", "train": "pages/train.py", "evaluate": "pages/evaluate.py",
         "ingest": "pages/studies.py"}  # fmt: skip


@pytest.fixture
def tokyo_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The server's zone is Tokyo's for the test (``TZ``), restored afterwards."""
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def _jobs(root: Path) -> None:
    """A finished job of every kind a page shows a panel of, started by alice at ``STARTED``,
    and a run (the Train page lists it, Evaluate offers its checkpoint)."""
    finished_run(root, "done", 60)
    for kind in PAGES:
        folder = root / "jobs" / f"{kind}-1"
        folder.mkdir(parents=True)
        info = {"id": f"{kind}-1", "kind": kind, "title": kind, "pid": 1, "started": STARTED,
                "user": "alice", "command": []}  # fmt: skip
        (folder / "job.json").write_text(json.dumps(info))
        (folder / "result.json").write_text(json.dumps({"returncode": 0, "finished": STARTED + 90}))


def test_a_running_job_s_live_panel_writes_its_times_in_the_browser_zone(
    tokyo_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The live panel (a fragment redrawn every 2 s) reads the job again: in the same zone."""
    root = tiny_writable_root(tmp_path, monkeypatch)
    _jobs(root)
    (root / "jobs" / "train-1" / "result.json").unlink()
    info = json.loads((root / "jobs" / "train-1" / "job.json").read_text())
    info["pid"] = os.getpid()  # alive: the panel is the live one
    (root / "jobs" / "train-1" / "job.json").write_text(json.dumps(info))
    assert _started(_page("pages/train.py", "Europe/Berlin")) == (
        "Started by alice at 11-01 09:30:00 CET"
    )


def _page(page: str, browser_zone: str | None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=120)
    at.context["timezone"] = browser_zone
    at.session_state["studies_view"] = "Import"  # the Studies page's ingest panel
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _started(at: AppTest) -> str:
    [said] = [c.value for c in at.caption if c.value.startswith("Started by alice")]
    return said


@pytest.mark.parametrize("kind", list(PAGES))
def test_a_job_panel_writes_its_times_in_the_browser_zone(
    kind: str, tokyo_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reader in Berlin saw "started at 17:30:00 JST" above a runs table in CET."""
    _jobs(tiny_writable_root(tmp_path, monkeypatch))
    said = _started(_page(PAGES[kind], "Europe/Berlin"))
    assert "at 11-01 09:30:00 CET, ended at 11-01 09:31:30 CET after 1m 30s" in said, said


def test_the_train_page_writes_jobs_runs_and_updates_in_one_zone(
    tokyo_server: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without the browser's zone (a session's first run) the runs table wrote UTC and the job
    panel the server's JST; a zone no one knows is read as UTC too."""
    root = tiny_writable_root(tmp_path, monkeypatch)
    _jobs(root)
    for browser, named in (("Europe/Berlin", "CET"), (None, "UTC"), ("Mars/Olympus", "UTC")):
        at = _page("pages/train.py", browser)
        assert f"09:30:00 {named}" in _started(at) or f"08:30:00 {named}" in _started(at)
        [table] = [t for t in at.dataframe if "updated" in json.loads(t.proto.columns)]
        updated = json.loads(table.proto.columns)["updated"]["type_config"]
        assert updated["timezone"] == (browser if named == "CET" else "UTC")


def test_a_run_lost_on_another_machine_says_when_in_the_reader_zone(tokyo_server: None) -> None:
    status = {"state": "running", "pid": 4242, "host": "gpu1", "updated": time.time() - 7200}
    heard = run_state(status, None, "Europe/Berlin")
    assert heard.startswith("lost on gpu1 (last heard ") and heard.endswith(("CET)", "CEST)"))


def test_a_refusal_names_the_running_job_in_the_reader_zone(tmp_path: Path) -> None:
    folder = tmp_path / "jobs" / "train-1"
    folder.mkdir(parents=True)
    info = {"id": "train-1", "kind": "train", "pid": 1, "started": STARTED, "user": "alice"}
    (folder / "job.json").write_text(json.dumps(info))
    (folder / "result.json").write_text(json.dumps({"returncode": 0, "finished": STARTED}))
    [job] = JobManager(tmp_path / "jobs", "America/New_York").list()
    assert job.origin.startswith("started by alice at 11-01 03:30:00 EST")
