"""A run launched (or resumed) on the Train page is the one shown below the runs table.

In a demo, Launch training started the new run while the panel below kept showing the run that
was on show before, its finished curves read as the new run's "live" ones.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.test_train_runs import APP, _finished_run, _shown
from tests.tiny_dataset import make_tiny_dataset


def _start(command: list[str]) -> None:
    """What the training job does first, seconds after its launch: its run folder's status
    says it is running."""
    run = Path(command[command.index("--out") + 1])
    run.mkdir(parents=True, exist_ok=True)
    (run / "status.json").write_text(json.dumps({"state": "running", "epoch": 0, "epochs": 1}))


def _train_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, runs: dict[str, float]
) -> tuple[AppTest, list[list[str]]]:
    """The Train page on a data root holding the tiny dataset and finished ``runs`` (name: time
    set up, seconds since the epoch), and the commands its Launch training hands the job runner."""
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    for name, age_s in runs.items():
        _finished_run(root, name, age_s)
    launched: list[list[str]] = []
    monkeypatch.setattr(
        "dashboard.ui.launch", lambda jobs, kind, cmd, *a, **kw: launched.append(cmd)
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    return at, launched


def test_a_launched_run_is_shown_not_the_one_shown_before(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    at, launched = _train_page(tmp_path, monkeypatch, {"demo": 1000.0})
    assert _shown(at) == "demo"
    name = next(t for t in at.text_input if t.label == "Run name").value
    next(b for b in at.button if b.label == "Launch training").click()
    _shown(at)  # the job has not started yet: its run is not listed
    _start(launched[0])
    assert _shown(at) == name  # the page's next refresh
    assert _shown(at) == name  # and it stays shown


def test_a_run_launched_after_one_was_picked_in_the_table_is_shown(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The table keeps its picked row across reruns until its rows change: that pick, made
    before Launch, is no pick of a run over the one launched (it dropped the launched run, and
    the picked one stayed on show once the new run was listed)."""
    at, launched = _train_page(tmp_path, monkeypatch, {"older": 1000.0, "newer": 2000.0})
    assert _shown(at) == "newer"
    table = at.dataframe[0]
    pick = list(table.value["run"]).index("runs/older")
    at.session_state[table.key] = {"selection": {"rows": [pick], "columns": []}}
    assert _shown(at) == "older"
    name = next(t for t in at.text_input if t.label == "Run name").value
    next(b for b in at.button if b.label == "Launch training").click()
    assert _shown(at) == "older"  # the job has not started yet: its run is not listed
    _start(launched[0])
    assert _shown(at) == name
    assert _shown(at) == name


def test_the_runs_table_stars_the_active_run_in_its_first_column(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """At 800 px the table scrolls sideways: the star, its last column, was off-screen. Its
    headers read as the other pages' tables write theirs (``Run``, not ``run``)."""
    from dashboard.runs import RUN_TABLE_HEADERS
    from dashboard.settings import Settings

    root = tmp_path / "data"
    for name in ("older", "newer"):
        (root / "runs" / name).mkdir(parents=True)
        (root / "runs" / name / "best.pt").write_bytes(b"")
    Settings(root).write_active(checkpoint=root / "runs" / "older" / "best.pt")
    at, _ = _train_page(tmp_path, monkeypatch, {})
    at.run()
    [shown] = [d for d in at.dataframe if "run" in d.value.columns]
    table, headers = shown.value, json.loads(shown.proto.columns)
    assert table.columns[0] == "active"
    assert {name: headers[name]["label"] for name in table.columns} == RUN_TABLE_HEADERS
    assert dict(zip(table["run"], table["active"], strict=True)) == {
        "runs/older": "★",
        "runs/newer": "",
    }
