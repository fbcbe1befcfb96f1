"""Several people on one data root: when the checkpoint or dataset an open page uses is deleted
by someone else, the page moves on to another one and says so, instead of showing another
model's or dataset's results under the same headings without a word."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dashboard_fixtures import finished_run, make_tiny_dataset
from streamlit.testing.v1 import AppTest

from dashboard.settings import Settings

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "no longer exists" in w.value]


def test_a_page_says_its_checkpoint_was_deleted_and_which_it_uses_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    older, newer = finished_run(root, "older", 600), finished_run(root, "newer", 300)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    Settings(root).write_active(checkpoint=newer)
    home = AppTest.from_file(APP, default_timeout=60).run()  # Bob's page, on newer
    assert not home.exception and not _notices(home)
    Settings(root).write_active(checkpoint=older)  # Alice chooses another run...
    shutil.rmtree(newer.parent)  # ...and deletes the one Bob has open
    home.run()
    assert not home.exception, [e.value for e in home.exception]
    [notice] = _notices(home)
    assert "runs/newer/best.pt" in notice and "runs/older/best.pt" in notice
    home.run()  # said once: the page now shows older, as its status line says
    assert not _notices(home)
    [status] = [m.value for m in home.markdown if "**active checkpoint**" in m.value]
    assert "`runs/older/best.pt`" in status


def test_a_page_says_its_dataset_was_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    tiny = make_tiny_dataset(root / "ds" / "tiny", n=2)
    other = make_tiny_dataset(root / "ds" / "other", n=2, seed=1)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    Settings(root).write_active(dataset=other)
    home = AppTest.from_file(APP, default_timeout=60).run()
    assert home.selectbox(key="home-dataset").value == other
    shutil.rmtree(other)  # deleted on another dashboard
    home.run()
    assert not home.exception, [e.value for e in home.exception]
    [notice] = _notices(home)
    assert "ds/other" in notice and "ds/tiny" in notice
    assert home.selectbox(key="home-dataset").value == tiny


def test_the_last_checkpoint_deleted_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    only = finished_run(root, "only", 300)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    home = AppTest.from_file(APP, default_timeout=60).run()
    shutil.rmtree(only.parent)  # on another dashboard: no checkpoint is left
    home.run()
    [notice] = _notices(home)
    assert "runs/only/best.pt" in notice and "none" in notice
    home.run()
    assert not home.exception and not _notices(home)


def test_a_live_panel_reruns_its_page_when_the_checkpoint_it_shows_is_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The panels that redraw themselves every few seconds (a running job, the Train page's
    runs, the demo build's bar) are all a page left open shows: the notice was drawn only
    when the whole page ran, so a page left open there never said it."""
    from types import SimpleNamespace

    from dashboard import context

    root = tmp_path / "data"
    older, newer = finished_run(root, "older", 600), finished_run(root, "newer", 300)
    Settings(root).write_active(checkpoint=newer)
    session: dict = {}
    assert Settings(root, session=session).active_checkpoint() == newer  # a page showed it
    reruns: list[str] = []
    monkeypatch.setattr(context, "session_settings", lambda: Settings(root, session=session))
    monkeypatch.setattr(context, "st", SimpleNamespace(rerun=lambda scope: reruns.append(scope)))
    context.rerun_page_if_choice_gone()
    assert reruns == []  # still there: the panel just redraws
    shutil.rmtree(newer.parent)
    context.rerun_page_if_choice_gone()
    assert reruns == ["app"]  # the page runs whole, and its header says which it uses now
    assert Settings(root, session=session).active_checkpoint() == older


def test_every_self_redrawing_panel_checks_for_a_deleted_choice_first() -> None:
    import ast

    repo = Path(APP).parent
    found = []
    for path in [*repo.joinpath("dashboard").glob("*.py"), *repo.joinpath("pages").glob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.FunctionDef):
                continue
            timed = [
                d
                for d in node.decorator_list
                if isinstance(d, ast.Call) and any(k.arg == "run_every" for k in d.keywords)
            ]
            if timed:
                first = node.body[0]
                if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                    first = node.body[1]  # after the docstring
                found.append((path.name, node.name, ast.unparse(first)))
    assert len(found) >= 3
    assert all(call == "rerun_page_if_choice_gone()" for _, _, call in found), found
