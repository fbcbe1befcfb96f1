"""The Train page's run panel redraws itself every few seconds: what a button said (a refused
Resume on a read-only data root) stays until that run's next click or the page's next full run,
not two seconds (it was drawn once, and the next redraw dropped it)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

from dashboard import run_view


@pytest.fixture
def drawn(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    shown: list[tuple[str, str]] = []

    def drawer(kind: str):
        return lambda text, icon=None: shown.append((kind, text))

    fake = SimpleNamespace(session_state={}, **{k: drawer(k) for k in ("error", "info", "success")})
    monkeypatch.setattr(run_view, "st", fake)
    return shown


def test_a_refusal_stays_through_the_panels_redraws_until_the_page_runs_again(
    drawn: list[tuple[str, str]],
) -> None:
    run, other = Path("/data/runs/a"), Path("/data/runs/b")
    refusal = "cannot start the train job: cannot write /data/jobs (Read-only file system)"
    run_view.keep_notes(run, [("error", refusal)])
    for _ in range(3):  # the click's own run, then two redraws of the fragment
        run_view.show_notes(run)
    run_view.show_notes(other)  # another run's panel: not its message
    assert drawn == [("error", refusal)] * 3
    drawn.clear()
    run_view.keep_notes(
        run, [("success", "Active checkpoint: /data/runs/a/best.pt"), ("info", None)]
    )
    run_view.show_notes(run)  # the next click replaced it; a None note is left out
    assert drawn == [("success", "Active checkpoint: /data/runs/a/best.pt")]
    drawn.clear()
    run_view.forget_notes()
    run_view.show_notes(run)
    assert drawn == []
